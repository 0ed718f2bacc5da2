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

/// The runtime state of all real servers, structure-of-arrays by slot. A slot stays allocated
/// after its server is deleted ("the trash" in the kernel) while connections, templates or
/// scheduler caches still refer to it, so their counters keep working; re-adding the same
/// server to the same service revives the slot (`K:ip_vs_ctl.c ip_vs_trash_get_dest`).
@_spi(Internals) public final class DestinationStore {
    public private(set) var endpoint: [Endpoint] = []
    public internal(set) var forwarding: [ForwardingMethod] = []
    /// Current weight (0 quiesces).
    public internal(set) var weight: [Int32] = []
    /// The last non-zero weight (`last_weight`, used by mh).
    public internal(set) var lastWeight: [Int32] = []
    public internal(set) var activeConnections: [Int32] = []
    public internal(set) var inactiveConnections: [Int32] = []
    public internal(set) var persistentConnections: [Int32] = []
    public internal(set) var flags: [DestinationFlags] = []
    public internal(set) var upperThreshold: [UInt32] = []
    public internal(set) var lowerThreshold: [UInt32] = []
    /// The owning service's slot.
    public internal(set) var service: [Int32] = []
    /// The owning service's key (a deleted server is revived by a service with the same key).
    public internal(set) var serviceKey: [ServiceKey] = []
    /// Position in the service's list (0 = head), or -1 when deleted.
    public internal(set) var position: [Int32] = []
    /// References from connections, templates and scheduler caches.
    public internal(set) var references: [Int32] = []
    public internal(set) var stats: [StatsBlock] = []
    /// True while the slot holds a server (listed or in the trash).
    public private(set) var inUse: [Bool] = []
    private var freeSlots: [Int32] = []
    /// Deleted servers still referenced, by owning service key and endpoint ("the trash").
    private var trash: [TrashKey: Int32] = [:]

    struct TrashKey: Hashable {
        var service: ServiceKey
        var endpoint: Endpoint
    }

    public init() {}

    /// Number of slots ever allocated.
    public var capacity: Int { endpoint.count }

    /// Allocates a slot for a new real server of `serviceSlot`.
    func allocate(_ spec: RealServerSpec, serviceSlot: Int32, serviceKey key: ServiceKey) -> Int32 {
        let slot: Int32
        if let s = freeSlots.popLast() {
            slot = s
            let i = Int(s)
            endpoint[i] = spec.endpoint
            forwarding[i] = spec.forwarding
            weight[i] = spec.weight
            lastWeight[i] = spec.weight
            activeConnections[i] = 0
            inactiveConnections[i] = 0
            persistentConnections[i] = 0
            flags[i] = []
            upperThreshold[i] = spec.upperThreshold
            lowerThreshold[i] = spec.lowerThreshold
            service[i] = serviceSlot
            serviceKey[i] = key
            position[i] = -1
            references[i] = 0
            stats[i] = StatsBlock()
            inUse[i] = true
        } else {
            slot = Int32(endpoint.count)
            endpoint.append(spec.endpoint)
            forwarding.append(spec.forwarding)
            weight.append(spec.weight)
            lastWeight.append(spec.weight)
            activeConnections.append(0)
            inactiveConnections.append(0)
            persistentConnections.append(0)
            flags.append([])
            upperThreshold.append(spec.upperThreshold)
            lowerThreshold.append(spec.lowerThreshold)
            service.append(serviceSlot)
            serviceKey.append(key)
            position.append(-1)
            references.append(0)
            stats.append(StatsBlock())
            inUse.append(true)
        }
        return slot
    }

    /// Takes a server off its service's list: it goes to the trash while referenced, else is freed.
    func unlist(_ slot: Int32) {
        let i = Int(slot)
        flags[i].remove(.available)
        position[i] = -1
        if references[i] > 0 {
            trash[TrashKey(service: serviceKey[i], endpoint: endpoint[i])] = slot
        } else {
            free(slot)
        }
    }

    /// A trashed server of a service with this key and endpoint (`ip_vs_trash_get_dest`), taken out
    /// of the trash.
    func revive(service key: ServiceKey, endpoint e: Endpoint) -> Int32? {
        trash.removeValue(forKey: TrashKey(service: key, endpoint: e))
    }

    /// Rebinds a revived server to a (possibly new) service slot; a different service zeroes its
    /// statistics (`__ip_vs_update_dest`: `if (old_svc != svc) ip_vs_zero_stats`).
    func bind(_ slot: Int32, serviceSlot: Int32) {
        let i = Int(slot)
        if service[i] != serviceSlot {
            stats[i] = StatsBlock()
            service[i] = serviceSlot
        }
    }

    /// Frees a slot once nothing refers to it and it is not listed.
    func releaseIfUnused(_ slot: Int32) {
        let i = Int(slot)
        guard inUse[i], references[i] <= 0, position[i] < 0 else { return }
        trash.removeValue(forKey: TrashKey(service: serviceKey[i], endpoint: endpoint[i]))
        free(slot)
    }

    private func free(_ slot: Int32) {
        inUse[Int(slot)] = false
        freeSlots.append(slot)
    }

    /// Servers in the trash (deleted, still referenced).
    public var trashCount: Int { trash.count }

    /// `ip_vs_dest_conn_overhead`: active × 256 + inactive, in the kernel's 32-bit arithmetic.
    @inlinable public func overhead(_ slot: Int32) -> Int32 {
        (activeConnections[Int(slot)] &<< 8) &+ inactiveConnections[Int(slot)]
    }

    /// True when the server may take a new connection from the simple schedulers: weight > 0
    /// and not overloaded.
    @inlinable public func isEligible(_ slot: Int32) -> Bool {
        weight[Int(slot)] > 0 && !flags[Int(slot)].contains(.overload)
    }

    /// The configured description of a server.
    public func spec(_ slot: Int32) -> RealServerSpec {
        let i = Int(slot)
        return RealServerSpec(
            endpoint: endpoint[i], forwarding: forwarding[i], weight: weight[i],
            upperThreshold: upperThreshold[i], lowerThreshold: lowerThreshold[i])
    }

    func setSpec(_ spec: RealServerSpec, slot: Int32) {
        let i = Int(slot)
        forwarding[i] = spec.forwarding
        weight[i] = spec.weight
        upperThreshold[i] = spec.upperThreshold
        lowerThreshold[i] = spec.lowerThreshold
    }

    func setPosition(_ p: Int32, slot: Int32) { position[Int(slot)] = p }
    func setFlags(_ f: DestinationFlags, slot: Int32) { flags[Int(slot)] = f }
    func setLastWeight(_ w: Int32, slot: Int32) { lastWeight[Int(slot)] = w }
    func retain(_ slot: Int32) { references[Int(slot)] &+= 1 }
    func release(_ slot: Int32) {
        references[Int(slot)] &-= 1
        releaseIfUnused(slot)
    }
    func addActive(_ d: Int32, slot: Int32) { activeConnections[Int(slot)] &+= d }
    func addInactive(_ d: Int32, slot: Int32) { inactiveConnections[Int(slot)] &+= d }
    func addPersistent(_ d: Int32, slot: Int32) { persistentConnections[Int(slot)] &+= d }
    func withStats<R>(_ slot: Int32, _ body: (inout StatsBlock) -> R) -> R { body(&stats[Int(slot)]) }

    /// Test hook: sets a server's connection counts directly (scheduler differential tests).
    public func setLoad(slot: Int32, active: Int32, inactive: Int32) {
        activeConnections[Int(slot)] = active
        inactiveConnections[Int(slot)] = inactive
    }

    /// Test hook: sets a server's overload flag directly.
    public func setOverloaded(slot: Int32, _ on: Bool) {
        if on { flags[Int(slot)].insert(.overload) } else { flags[Int(slot)].remove(.overload) }
    }
}
