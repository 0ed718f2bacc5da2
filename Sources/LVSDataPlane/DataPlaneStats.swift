// What the data plane counts: frames in and out by path, every drop by reason, allocations.
import LVSPacket
import Synchronization

/// Counters of the data plane's own outcomes (IPVS's per-service statistics live in the model).
public enum DataPlaneCounter: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Frames read from the ring.
    case received
    /// Frames on interfaces the data plane is not attached to, or not addressed to this host.
    case ignored
    /// Client → virtual service packets handled (`ip_vs_in`).
    case inbound
    /// Real server → client packets of NAT/FULLNAT connections handled (`ip_vs_out`).
    case outbound
    /// ICMP errors about tracked connections relayed.
    case icmpRelayed
    /// Later fragments forwarded through the fragment tracker.
    case fragmentsForwarded
    /// Frames handed to the kernel for transmission.
    case transmitted
    /// Frames the transmit path refused (interface down, queue full).
    case transmitFailed
    /// GSO super-frames split into segments.
    case gsoFrames
    /// Segments produced from GSO super-frames.
    case gsoSegments
    /// Partial checksums completed.
    case checksumsCompleted
    /// AF_XDP frames whose checksum field equalled the pseudo-header sum but whose whole sum
    /// verified (complete checksums left alone; see `completeIfPartial`).
    case checksumsLookedPartial
    /// ICMP errors the director generated (port unreachable, frag-needed, time exceeded).
    case icmpGenerated
    /// Packets dropped because no route leads to the destination.
    case noRoute
    /// Packets that found no next-hop MAC (resolution was started; the packet is held).
    case noNeighbor
    /// Packets held while their next hop's MAC is resolved (the kernel's neighbour queue).
    case heldForNeighbor
    /// Held packets sent once the MAC was known.
    case neighborQueueSent
    /// Packets the neighbour queue could not hold (full, frame too large) or held for 3 s in vain.
    case neighborQueueDropped
    /// Packets IPVS refused (table full, real server gone, port mismatch, no FULLNAT address).
    case ipvsDropped
    /// Packets to a "Local" real server (a director address): not supported by the user-space data plane.
    case localServerUnsupported
    /// Packets of a virtual service that matched no connection and no scheduling rule (`.pass`).
    case passed
    /// Replies from guarded real servers that belong to the director's own sockets, handed to
    /// the local stack through `lo`.
    case deliveredLocally
    /// Batches processed (one lock hold each).
    case batches
    /// Heap allocations while processing batches (only counted by builds with a malloc counter;
    /// lvsd-bench's counts the worker thread's own).
    case mallocs
    /// Frames the kernel dropped because the receive ring was full.
    case ringDrops
    /// ICMP errors not sent because of the rate limits (`lvsd_icmp_*`, as the kernel's icmp_ratelimit).
    case icmpRateLimited
    /// Neighbour resolutions not asked for because the bookkeeping is full (bounded, attacker-chosen addresses).
    case neighborRequestsSkipped
    /// Frames not held for a neighbour because that neighbour (or client neighbours together) used its quota.
    case neighborQuotaDropped
    /// Packets from a NAT real server matching no connection, answered with ICMP port unreachable (`nat_icmp_send`).
    case natICMPSent
    /// SYN proxy: SYNs answered with a cookie SYN/ACK (no entry made).
    case synProxyCookies
    /// SYN proxy: connections opened by a valid cookie ACK (a SYN sent to the server).
    case synProxyOpened
    /// SYN proxy: server SYN/ACKs that completed a proxied connection.
    case synProxyEstablished
    /// SYN proxy: SYNs to a server sent again (the client repeated its ACK).
    case synProxySynResent
    /// SYN proxy: client frames held for the server's SYN/ACK, and sent on after it.
    case synProxyHeld
    case synProxyReleased
    /// Packets that would have opened a new connection, dropped while the worker was behind
    /// (its receive ring half full after a full batch; see `DataPlaneWorker.updateShedding`).
    case overloadShed
    /// Times a worker fell behind and began shedding new connections.
    case overloadEpisodes
    /// Packets of firewall-mark services the kernel logged to lvsd (`FirewallMarkIntake`).
    case firewallMarkLogged

    public var description: String {
        switch self {
        case .received: return "received"
        case .ignored: return "ignored"
        case .inbound: return "inbound"
        case .outbound: return "outbound"
        case .icmpRelayed: return "icmp_relayed"
        case .fragmentsForwarded: return "fragments_forwarded"
        case .transmitted: return "transmitted"
        case .transmitFailed: return "transmit_failed"
        case .gsoFrames: return "gso_frames"
        case .gsoSegments: return "gso_segments"
        case .checksumsCompleted: return "checksums_completed"
        case .checksumsLookedPartial: return "checksums_looked_partial"
        case .icmpGenerated: return "icmp_generated"
        case .noRoute: return "no_route"
        case .noNeighbor: return "no_neighbor"
        case .heldForNeighbor: return "held_for_neighbor"
        case .neighborQueueSent: return "neighbor_queue_sent"
        case .neighborQueueDropped: return "neighbor_queue_dropped"
        case .ipvsDropped: return "ipvs_dropped"
        case .localServerUnsupported: return "local_server_unsupported"
        case .passed: return "passed"
        case .deliveredLocally: return "delivered_locally"
        case .batches: return "batches"
        case .mallocs: return "mallocs"
        case .ringDrops: return "ring_drops"
        case .icmpRateLimited: return "icmp_rate_limited"
        case .neighborRequestsSkipped: return "neighbor_requests_skipped"
        case .neighborQuotaDropped: return "neighbor_quota_dropped"
        case .natICMPSent: return "nat_icmp_sent"
        case .synProxyCookies: return "synproxy_cookies"
        case .synProxyOpened: return "synproxy_opened"
        case .synProxyEstablished: return "synproxy_established"
        case .synProxySynResent: return "synproxy_syn_resent"
        case .synProxyHeld: return "synproxy_held"
        case .synProxyReleased: return "synproxy_released"
        case .overloadShed: return "overload_shed"
        case .overloadEpisodes: return "overload_episodes"
        case .firewallMarkLogged: return "fwmark_logged"
        }
    }
}

/// How one attached interface is served.
public struct InterfaceStatus: Sendable, Equatable {
    public var name: String
    public var index: Int32
    public var mode: InterfaceMode
    /// True if the XDP fast path may transmit into it (native XDP, and for a veth a peer with NAPI).
    public var fastPathEgress: Bool
    /// Why it runs as it does (the attach error, the transmit probe's finding).
    public var note: String

    public init(name: String, index: Int32, mode: InterfaceMode, fastPathEgress: Bool, note: String) {
        self.name = name
        self.index = index
        self.mode = mode
        self.fastPathEgress = fastPathEgress
        self.note = note
    }
}

/// A counter with a name (the XDP program's counters).
public struct NamedCounter: Sendable, Equatable {
    public var name: String
    public var value: UInt64
    public init(name: String, value: UInt64) {
        self.name = name
        self.value = value
    }
}

/// A copy of the counters, published by the workers ten times a second (summed over them).
public struct DataPlaneStatistics: Sendable, Equatable {
    public var counters: [UInt64]
    public var drops: [UInt64]
    /// Every attached interface and its mode (XDP or AF_PACKET).
    public var interfaces: [InterfaceStatus] = []
    /// Packet workers running.
    public var workers = 0
    /// The XDP fast path's flows (all zero without one).
    public var fastPath = FlowRegistry.Counts()
    /// The XDP program's counters (`xdp_*`; empty without XDP).
    public var xdp: [NamedCounter] = []
    /// Control jobs the workers ran between batches.
    public var controlJobs: UInt64 = 0

    public init() {
        counters = [UInt64](repeating: 0, count: DataPlaneCounter.allCases.count)
        drops = [UInt64](repeating: 0, count: DropReason.allCases.count)
    }

    public subscript(_ c: DataPlaneCounter) -> UInt64 { counters[c.rawValue] }
    public subscript(_ r: DropReason) -> UInt64 { drops[Int(r.rawValue)] }

    /// A copy with storage of its own (taken by readers, so the worker's in-place publication
    /// never has to copy a shared buffer).
    public func copied() -> DataPlaneStatistics {
        var c = DataPlaneStatistics()
        for i in counters.indices { c.counters[i] = counters[i] }
        for i in drops.indices { c.drops[i] = drops[i] }
        c.fastPath = fastPath
        return c
    }

    /// Adds another worker's counters.
    public mutating func add(_ o: DataPlaneStatistics) {
        for i in counters.indices { counters[i] &+= o.counters[i] }
        for i in drops.indices { drops[i] &+= o.drops[i] }
    }

    /// The mode of interface `name` (nil if it is not attached).
    public func mode(of name: String) -> InterfaceMode? { interfaces.first { $0.name == name }?.mode }

    /// Heap allocations per million received frames (nil before any frame, or without a counter).
    public var mallocsPerMillionPackets: Double? {
        let n = self[.received]
        guard n > 0 else { return nil }
        return Double(self[.mallocs]) * 1_000_000 / Double(n)
    }

    /// `name value` lines: every counter, then `drop_<reason>` for non-zero drops. Built in one
    /// buffer reserved up front, from pieces that fit Swift's inline small strings (the statistics
    /// thread writes it every second: a handful of allocations, not one per line).
    public var text: String {
        var s = ""
        s.reserveCapacity(4096 + 48 * (interfaces.count + xdp.count))
        for c in DataPlaneCounter.allCases { Self.line(&s, c.description, self[c]) }
        if let m = mallocsPerMillionPackets { Self.line(&s, "mallocs_per_million_packets", UInt64(Int(m))) }
        for r in DropReason.allCases where self[r] != 0 {
            s += "drop_"
            Self.line(&s, r.description, self[r])
        }
        Self.line(&s, "workers", UInt64(workers))
        for i in interfaces {
            s += "interface_"
            s += i.name
            s += " "
            s += i.mode.rawValue
            if i.mode.isXDP { s += i.fastPathEgress ? " fast-path-egress" : " no-fast-path-egress" }
            s += "\n"
        }
        let f = fastPath
        Self.line(&s, "fast_path_flows", f.active)
        Self.line(&s, "fast_path_installed", f.installed)
        Self.line(&s, "fast_path_removed", f.removed)
        Self.line(&s, "fast_path_rejected_full", f.rejectedFull)
        Self.line(&s, "fast_path_packets", f.fastPackets)
        Self.line(&s, "control_jobs", controlJobs)
        for c in xdp { Self.line(&s, c.name, c.value) }
        return s
    }

    /// Appends `name value\n` to `s`.
    private static func line(_ s: inout String, _ name: String, _ value: UInt64) {
        s += name
        s += " "
        s += String(value)
        s += "\n"
    }
}

/// Fixed counter storage for the worker: plain increments, no allocation, no locking.
final class CounterBlock {
    let counters: UnsafeMutablePointer<UInt64>
    let drops: UnsafeMutablePointer<UInt64>

    init() {
        counters = .allocate(capacity: DataPlaneCounter.allCases.count)
        counters.initialize(repeating: 0, count: DataPlaneCounter.allCases.count)
        drops = .allocate(capacity: DropReason.allCases.count)
        drops.initialize(repeating: 0, count: DropReason.allCases.count)
    }

    deinit {
        counters.deallocate()
        drops.deallocate()
    }

    @inline(__always) func add(_ c: DataPlaneCounter, _ n: UInt64 = 1) { counters[c.rawValue] &+= n }
    @inline(__always) func drop(_ r: DropReason) { drops[Int(r.rawValue)] &+= 1 }

    /// Writes the counters into `s` in place (no allocation while `s`'s arrays are its own).
    func copy(into s: inout DataPlaneStatistics) {
        for i in 0..<s.counters.count { s.counters[i] = counters[i] }
        for i in 0..<s.drops.count { s.drops[i] = drops[i] }
    }
}

/// How a build counts heap allocations (bench builds link `CMallocCounter` and set this). The
/// counter is read on the worker's thread, so a per-thread count (`lvs_malloc_thread_count`)
/// makes `DataPlaneCounter.mallocs` the worker's own allocations.
public enum AllocationCounter {
    private static let hook = Mutex<(@Sendable () -> UInt64)?>(nil)

    /// Installs the process-wide allocation counter (call before the data plane starts).
    public static func install(_ counter: @escaping @Sendable () -> UInt64) { hook.withLock { $0 = counter } }

    static var current: (@Sendable () -> UInt64)? { hook.withLock { $0 } }
}
