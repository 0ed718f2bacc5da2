// Runtime state of every real server, in slots that outlive deletion while connections use them.

/// Real-server status flags (`IP_VS_DEST_F_*`).
public struct DestinationFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// In its service's list (cleared when deleted and kept for its connections).
    public static let available = DestinationFlags(rawValue: 1)
    /// Over its upper connection threshold.
    public static let overload = DestinationFlags(rawValue: 2)
}

/// One real server's runtime state. Plain data with no references, so it lives in an unmanaged
/// buffer and the packet path reads it without reference counting.
public struct DestinationState: Sendable {
    public var endpoint: Endpoint
    public var forwarding: ForwardingMethod
    /// The owning service's key (a deleted server is revived by a service with the same key).
    public var serviceKey: ServiceKey
    /// Current weight (0 quiesces).
    public var weight: Int32
    /// The last non-zero weight (`last_weight`, used by mh).
    public var lastWeight: Int32
    public var activeConnections: Int32
    public var inactiveConnections: Int32
    public var persistentConnections: Int32
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
    /// The owning service's slot.
    public var service: Int32
    /// Position in the service's list (0 = head), or -1 when deleted.
    public var position: Int32
    /// References from connections, templates and scheduler caches.
    public var references: Int32
    public var flags: DestinationFlags
    /// True while the slot holds a server (listed or in the trash).
    public var inUse: Bool
    /// The identity of the owning service object (slots are reused; serials are not).
    public var serviceSerial: UInt64
    /// The tick since which a trashed server has had no references (for the trash period).
    public var idleSinceTick: UInt32
    public var stats: StatsBlock
}

/// The runtime state of all real servers by slot. A slot stays allocated after its server is
/// deleted ("the trash" in the kernel) while connections, templates or scheduler caches still
/// refer to it, so their counters keep working; re-adding the same server to the same service
/// revives the slot (`K:ip_vs_ctl.c ip_vs_trash_get_dest`).
@_spi(Internals) public final class DestinationStore {
    private var base: UnsafeMutablePointer<DestinationState>
    /// Number of slots ever allocated.
    public private(set) var capacity = 0
    private var allocated = 16
    private var freeSlots: [Int32] = []
    /// Deleted servers, by owning service key and endpoint ("the trash"). They stay while
    /// referenced and for a grace period after, so re-adding one revives it with its statistics.
    private var trash: [TrashKey: Int32] = [:]
    /// The current tick, kept up to date by the table, to date the trash.
    var nowTick: UInt32 = 0

    struct TrashKey: Hashable {
        var service: ServiceKey
        var endpoint: Endpoint
    }

    public init() {
        base = .allocate(capacity: 16)
    }

    deinit {
        base.deinitialize(count: capacity)
        base.deallocate()
    }

    /// The state of a slot.
    @inline(__always) public func state(_ d: Int32) -> UnsafeMutablePointer<DestinationState> { base + Int(d) }

    @inline(__always) public func endpoint(_ d: Int32) -> Endpoint { base[Int(d)].endpoint }
    @inline(__always) public func forwarding(_ d: Int32) -> ForwardingMethod { base[Int(d)].forwarding }
    @inline(__always) public func weight(_ d: Int32) -> Int32 { base[Int(d)].weight }
    @inline(__always) public func lastWeight(_ d: Int32) -> Int32 { base[Int(d)].lastWeight }
    @inline(__always) public func activeConnections(_ d: Int32) -> Int32 { base[Int(d)].activeConnections }
    @inline(__always) public func inactiveConnections(_ d: Int32) -> Int32 { base[Int(d)].inactiveConnections }
    @inline(__always) public func persistentConnections(_ d: Int32) -> Int32 { base[Int(d)].persistentConnections }
    @inline(__always) public func upperThreshold(_ d: Int32) -> UInt32 { base[Int(d)].upperThreshold }
    @inline(__always) public func lowerThreshold(_ d: Int32) -> UInt32 { base[Int(d)].lowerThreshold }
    @inline(__always) public func service(_ d: Int32) -> Int32 { base[Int(d)].service }
    @inline(__always) public func position(_ d: Int32) -> Int32 { base[Int(d)].position }
    @inline(__always) public func flags(_ d: Int32) -> DestinationFlags { base[Int(d)].flags }
    @inline(__always) public func stats(_ d: Int32) -> StatsBlock { base[Int(d)].stats }
    @inline(__always) public func inUse(_ d: Int32) -> Bool { base[Int(d)].inUse }

    /// Allocates a slot for a new real server of `serviceSlot`.
    func allocate(_ spec: RealServerSpec, serviceSlot: Int32, serviceSerial: UInt64, serviceKey key: ServiceKey)
        -> Int32
    {
        let fresh = DestinationState(
            endpoint: spec.endpoint, forwarding: spec.forwarding, serviceKey: key, weight: spec.weight,
            lastWeight: spec.weight, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0,
            upperThreshold: spec.upperThreshold, lowerThreshold: spec.lowerThreshold, service: serviceSlot,
            position: -1, references: 0, flags: [], inUse: true, serviceSerial: serviceSerial, idleSinceTick: 0,
            stats: StatsBlock())
        if let s = freeSlots.popLast() {
            base[Int(s)] = fresh
            return s
        }
        if capacity == allocated {
            let bigger = UnsafeMutablePointer<DestinationState>.allocate(capacity: allocated * 2)
            bigger.moveInitialize(from: base, count: capacity)
            base.deallocate()
            base = bigger
            allocated *= 2
        }
        (base + capacity).initialize(to: fresh)
        capacity += 1
        return Int32(capacity - 1)
    }

    /// Takes a server off its service's list into the trash (`__ip_vs_del_dest`).
    func unlist(_ slot: Int32) {
        let s = state(slot)
        s.pointee.flags.remove(.available)
        s.pointee.position = -1
        s.pointee.idleSinceTick = nowTick
        trash[TrashKey(service: s.pointee.serviceKey, endpoint: s.pointee.endpoint)] = slot
    }

    /// A trashed server of a service with this key and endpoint (`ip_vs_trash_get_dest`), taken out
    /// of the trash.
    func revive(service key: ServiceKey, endpoint e: Endpoint) -> Int32? {
        trash.removeValue(forKey: TrashKey(service: key, endpoint: e))
    }

    /// Rebinds a revived server to a (possibly new) service; a different service object zeroes its
    /// statistics (`__ip_vs_update_dest`: `if (old_svc != svc) ip_vs_zero_stats`).
    func bind(_ slot: Int32, serviceSlot: Int32, serviceSerial: UInt64) {
        let s = state(slot)
        if s.pointee.serviceSerial != serviceSerial {
            s.pointee.stats = StatsBlock()
        }
        s.pointee.service = serviceSlot
        s.pointee.serviceSerial = serviceSerial
    }

    /// Notes that a trashed server has lost its last reference (the grace period starts).
    func releaseIfUnused(_ slot: Int32) {
        let s = state(slot)
        if s.pointee.inUse && s.pointee.references <= 0 && s.pointee.position < 0 { s.pointee.idleSinceTick = nowTick }
    }

    /// Frees trashed servers unreferenced for at least `idleTicks` (`ip_vs_dest_trash_expire`, run
    /// every `IP_VS_DEST_TRASH_PERIOD` = 60 s, frees those idle for a period).
    func purgeTrash(idleTicks: UInt32) {
        for (key, slot) in trash {
            let s = state(slot)
            if s.pointee.references <= 0 && nowTick &- s.pointee.idleSinceTick >= idleTicks {
                trash.removeValue(forKey: key)
                free(slot)
            }
        }
    }

    private func free(_ slot: Int32) {
        state(slot).pointee.inUse = false
        freeSlots.append(slot)
    }

    /// Servers in the trash (deleted, still referenced).
    public var trashCount: Int { trash.count }

    /// `ip_vs_dest_conn_overhead`: active × 256 + inactive, in the kernel's 32-bit arithmetic.
    @inline(__always) public func overhead(_ d: Int32) -> Int32 {
        (base[Int(d)].activeConnections &<< 8) &+ base[Int(d)].inactiveConnections
    }

    /// True when the server may take a new connection from the simple schedulers: weight > 0
    /// and not overloaded.
    @inline(__always) public func isEligible(_ d: Int32) -> Bool {
        base[Int(d)].weight > 0 && !base[Int(d)].flags.contains(.overload)
    }

    /// The configured description of a server.
    public func spec(_ d: Int32) -> RealServerSpec {
        let s = base[Int(d)]
        return RealServerSpec(
            endpoint: s.endpoint, forwarding: s.forwarding, weight: s.weight, upperThreshold: s.upperThreshold,
            lowerThreshold: s.lowerThreshold)
    }

    func setSpec(_ spec: RealServerSpec, slot: Int32) {
        let s = state(slot)
        s.pointee.forwarding = spec.forwarding
        s.pointee.weight = spec.weight
        s.pointee.upperThreshold = spec.upperThreshold
        s.pointee.lowerThreshold = spec.lowerThreshold
    }

    func setPosition(_ p: Int32, slot: Int32) { state(slot).pointee.position = p }
    func setFlags(_ f: DestinationFlags, slot: Int32) { state(slot).pointee.flags = f }
    func setLastWeight(_ w: Int32, slot: Int32) { state(slot).pointee.lastWeight = w }
    func retain(_ slot: Int32) { state(slot).pointee.references &+= 1 }
    func release(_ slot: Int32) {
        state(slot).pointee.references &-= 1
        releaseIfUnused(slot)
    }
    func addActive(_ d: Int32, slot: Int32) { state(slot).pointee.activeConnections &+= d }
    func addInactive(_ d: Int32, slot: Int32) { state(slot).pointee.inactiveConnections &+= d }
    func addPersistent(_ d: Int32, slot: Int32) { state(slot).pointee.persistentConnections &+= d }

    func setLoad(slot: Int32, active: Int32, inactive: Int32) {
        state(slot).pointee.activeConnections = active
        state(slot).pointee.inactiveConnections = inactive
    }

    func setOverloaded(slot: Int32, _ on: Bool) {
        if on { state(slot).pointee.flags.insert(.overload) } else { state(slot).pointee.flags.remove(.overload) }
    }
}
