// The IPVS table: virtual services, real servers, connections and statistics of one director.

/// One director's IPVS table, with the kernel's semantics: the verbs of `ipvsadm` (add, edit and
/// delete services and real servers, flush, zero, timeouts, listings) and the packet path
/// (find or schedule a connection, follow TCP state, expire on the injected clock).
///
/// Not thread-safe: own it from one thread or task. Time never comes from the system; callers
/// pass `Timestamp`s.
public final class IPVS {
    /// The settings this table was created with.
    public let configuration: IPVSConfiguration
    /// Runtime sysctls (may be changed at any time; schedulers read them live).
    public var sysctls: IPVSSysctls {
        didSet {
            for slot in serviceOrder {
                service(slot: slot).lblcExpiration = sysctls.lblcExpiration
                service(slot: slot).lblcrExpiration = sysctls.lblcrExpiration
            }
        }
    }
    var nextServiceSerial: UInt64 = 0

    /// Every real server's runtime state.
    @_spi(Internals) public let store = DestinationStore()
    /// Services by slot (nil = free slot).
    @_spi(Internals) public internal(set) var serviceSlots: [VirtualServiceRuntime?] = []
    /// Slots in the order services were added.
    var serviceOrder: [Int32] = []
    var freeServiceSlots: [Int32] = []
    var serviceByKey: [ServiceKey: Int32] = [:]
    /// Table-wide statistics (`ipvs->tot_stats`).
    var totalStats = StatsBlock()
    var random: SchedulerRandom
    /// TCP state timeouts in seconds, by `TCPState` raw value (an unmanaged buffer: the packet
    /// path reads it without reference counting).
    let tcpTimeouts: UnsafeMutablePointer<UInt32>
    /// The UDP timeout in seconds.
    var udpTimeout: UInt32 = 300
    /// SCTP state timeouts in seconds, by `SCTPState` raw value.
    let sctpTimeouts: UnsafeMutablePointer<UInt32>
    /// Statistics of each service, by service slot.
    var serviceStats: UnsafeMutablePointer<StatsBlock>
    var serviceStatsCapacity = 16
    var daemons: [SyncDaemonSpec] = []
    /// The connection table.
    @_spi(Internals) public let connections: ConnectionTable
    /// When the estimator last ran, and the periodic scheduler timers.
    var nextEstimate: Timestamp?
    var nextSchedulerTick: Timestamp?
    /// Counted outcomes of the packet path.
    public internal(set) var counters = PacketPathCounters()
    /// The next FULLNAT local port to try.
    var localPortCursor: UInt32 = 0
    /// Persistence-engine data of templates that have it (the SIP Call-ID text), for listings.
    var persistenceEngineData: [UInt32: String] = [:]
    /// The defences the sysctls switched on (`IPVS+Defence.swift`).
    public internal(set) var defence = DefenceState()
    var nextDefence: Timestamp?
    var defenceRandom: SchedulerRandom
    /// `todrop_counter` of `todrop_entry`, by packets in (1–8).
    var dropEntryCounters = [Int](repeating: 0, count: 9)
    /// Why the last new connection was refused (for the packet's verdict).
    var lastRefusal: PacketDropReason = .tableFull
    /// Per-source counts for the source limits (made when a source limit is first used).
    var sources: SourceSketch?
    /// Set by a packet worker whose receive ring is backlogged: packets that would open a new
    /// connection are dropped (`overloadShed`) while those of existing connections go on.
    public var shedsNewConnections = false

    /// The system's available memory in 4 KiB pages (`MemAvailable`), or nil when unknown (set by
    /// the daemon). `amemthresh` is compared with the smaller of this and the table's headroom.
    public var systemAvailablePages: () -> Int? = { nil }
    /// Connection sync, master side: the connections the packet path decided to send, waiting for
    /// the master daemon to take them (nil while no master daemon runs).
    var syncQueue: [SyncConnection]? = nil
    /// The most entries `syncQueue` holds; beyond it entries are counted in `syncQueueDrops`.
    var syncQueueLimit = 1 << 16
    /// Connections the sync queue had no room for.
    public internal(set) var syncQueueDrops: UInt64 = 0
    /// Entries made by sync whose real server this table does not have (yet).
    public internal(set) var unboundSyncedCount = 0

    /// Starts and stops the sockets and threads of `--start-daemon` / `--stop-daemon` (set by the
    /// daemon). Without one, the table only records the settings.
    public var syncDaemonLauncher: (any SyncDaemonLauncher)?

    /// Tells whether an address belongs to this host (set by the data plane). Used where the
    /// kernel asks `inet_addr_type`: an IPv6 link-local real server is accepted only if local. As in
    /// modern kernels, a real server on a local address keeps its configured forwarding method in
    /// listings; the data plane delivers to the local stack by route.
    public var isLocalAddress: (IPAddress) -> Bool = { _ in false }

    /// A fast path's last packet of connection `id` (nil: none, or no flow), asked when the
    /// connection's timer is due: a later packet restarts the timer instead (set by the data plane).
    public var fastPathLastSeen: ((UInt32) -> Timestamp?)?

    /// Called when connection `id` is about to leave the table (still bound to its server), so a
    /// fast path deletes its flows and folds their last packets in (set by the data plane).
    public var connectionLeaving: ((UInt32) -> Void)?

    /// The MTU of a network interface, or nil when there is no such interface (set by the daemon).
    /// `--start-daemon` on an unknown interface fails with ENODEV, and the sync message size derives
    /// from the MTU, as in `start_sync_thread`.
    public var interfaceMTU: (String) -> Int? = { _ in 1500 }

    /// Creates an empty table.
    public init(configuration: IPVSConfiguration = .init()) {
        self.configuration = configuration
        sysctls = configuration.sysctls
        random = SchedulerRandom(seed: configuration.randomSeed)
        defenceRandom = SchedulerRandom(seed: configuration.hashSeed ^ 0x6465_6665_6E63_6521)
        connections = ConnectionTable(
            maxConnections: configuration.maxConnections, seed: configuration.hashSeed,
            seed2: configuration.hashSeed2, maxChain: configuration.maxChainLength)
        tcpTimeouts = .allocate(capacity: TCPState.defaultTimeouts.count)
        tcpTimeouts.initialize(from: TCPState.defaultTimeouts, count: TCPState.defaultTimeouts.count)
        sctpTimeouts = .allocate(capacity: SCTPState.defaultTimeouts.count)
        sctpTimeouts.initialize(from: SCTPState.defaultTimeouts, count: SCTPState.defaultTimeouts.count)
        serviceStats = .allocate(capacity: 16)
        serviceStats.initialize(repeating: StatsBlock(), count: 16)
    }

    deinit {
        tcpTimeouts.deallocate()
        sctpTimeouts.deallocate()
        serviceStats.deinitialize(count: serviceStatsCapacity)
        serviceStats.deallocate()
    }

    /// Makes room for statistics of service slot `slot` and zeroes them.
    func resetServiceStats(_ slot: Int32) {
        if Int(slot) >= serviceStatsCapacity {
            let n = max(serviceStatsCapacity * 2, Int(slot) + 1)
            let bigger = UnsafeMutablePointer<StatsBlock>.allocate(capacity: n)
            bigger.moveInitialize(from: serviceStats, count: serviceStatsCapacity)
            (bigger + serviceStatsCapacity).initialize(repeating: StatsBlock(), count: n - serviceStatsCapacity)
            serviceStats.deallocate()
            serviceStats = bigger
            serviceStatsCapacity = n
        }
        serviceStats[Int(slot)] = StatsBlock()
    }

    /// Version and sizes for the listing header.
    public var info: IPVSInfo {
        IPVSInfo(
            versionCode: 0x01_02_01, connectionTableSize: UInt32(1) << UInt32(configuration.connectionTableBits),
            serviceCount: UInt32(serviceOrder.count))
    }

    @_spi(Internals) public func service(slot: Int32) -> VirtualServiceRuntime { serviceSlots[Int(slot)]! }

    /// The slot of a service by its exact key.
    @_spi(Internals) public func serviceSlot(_ key: ServiceKey) -> Int32? { serviceByKey[key] }

    /// The service a packet belongs to, as `ip_vs_service_find` looks it up: by fwmark first, then
    /// `<protocol, VIP, port>`, then the FTP control service for FTP data (port 20 or ≥ 1024) on
    /// TCP, then the VIP's port-0 service.
    @_spi(Internals) public func findService(
        transport: TransportProtocol, address: IPAddress, port: UInt16, firewallMark: UInt32 = 0
    ) -> Int32? {
        if firewallMark != 0, let s = serviceByKey[.firewallMark(firewallMark, address.family)] { return s }
        if let s = serviceByKey[.endpoint(transport, Endpoint(address, port))] { return s }
        if transport == .tcp && (port == 20 || port >= 1024),
            let s = serviceByKey[.endpoint(transport, Endpoint(address, 21))]
        {
            return s
        }
        if port != 0, let s = serviceByKey[.endpoint(transport, Endpoint(address, 0))] { return s }
        return nil
    }
}

/// Counted outcomes of the packet path that are not a connection: every packet IPVS refuses is
/// counted under one of these.
public struct PacketPathCounters: Hashable, Sendable {
    /// A new connection was refused because the table is at its maximum.
    public var tableFull: UInt64 = 0
    /// A service had no available real server (the kernel sends ICMP port unreachable).
    public var noDestination: UInt64 = 0
    /// A packet for a connection whose real server was deleted was dropped (`expire_nodest_conn` 0).
    public var destinationGone: UInt64 = 0
    /// A non-SYN TCP packet matched no connection (left to the local stack).
    public var notScheduled: UInt64 = 0
    /// A non-persistent service received a packet for another port (port-0 service misuse).
    public var portMismatch: UInt64 = 0
    /// A FULLNAT connection found no local address or free local port.
    public var noLocalAddress: UInt64 = 0
    /// A persistence engine could not key a packet (`--pe sip`: not UDP, or no Call-ID).
    public var persistenceEngine: UInt64 = 0
    /// A new connection's hash chain was already at its bound (a hash-flooding attempt).
    public var chainTooLong: UInt64 = 0
    /// A new connection was dropped by `drop_packet`.
    public var defenceDropped: UInt64 = 0
    /// A new connection was dropped because its worker was overloaded (`shedsNewConnections`).
    public var overloadShed: UInt64 = 0
    /// A new connection was refused by a service or source limit (`lvsd_*_max`).
    public var limited: UInt64 = 0
    /// A packet with TTL ≤ 1 would have made a new connection.
    public var ttlExpired: UInt64 = 0

    public init() {}
}
