// Connection limits (SwiftLVS): per service and per client source, concurrent and new per second.
//
//   new connection ─▶ service: live ≥ lvsd_service_conn_max? · new this second ≥ lvsd_service_cps_max?
//                  ─▶ source:  live ≥ lvsd_source_conn_max?  · new this second ≥ lvsd_source_cps_max?
//                     (sources counted in a keyed two-row count-min sketch: bounded memory, an
//                      attacker's addresses can only make a source look busier than it is)

/// The limits and ICMP rate limits lvsd adds to the kernel's sysctls (`net.ipv4.vs.lvsd_*`).
public struct IPVSLimits: Hashable, Sendable {
    /// Live connections one virtual service may hold (0 = no limit).
    public var serviceConnections = 0
    /// New connections per second one virtual service accepts (0 = no limit).
    public var serviceNewPerSecond = 0
    /// Live connections one client address may hold across all services (0 = no limit).
    public var sourceConnections = 0
    /// New connections per second one client address may open (0 = no limit).
    public var sourceNewPerSecond = 0
    /// Minimum interval between ICMP errors to one destination, in ms (the kernel's
    /// `net.ipv4.icmp_ratelimit`, default 1000).
    public var icmpRateLimitMilliseconds = 1000
    /// ICMP errors lvsd sends per second in all (`net.ipv4.icmp_msgs_per_sec`, default 1000).
    public var icmpMessagesPerSecond = 1000
    /// Burst of the global ICMP bucket (`net.ipv4.icmp_msgs_burst`, default 50).
    public var icmpMessagesBurst = 50

    public init() {}
}

/// Per-source counts in bounded memory: two rows of 2^16 slots, each slot a live-connection count
/// and the count of new connections in the current second.
final class SourceSketch {
    static let bits = 16
    static let slots = 1 << 16
    let live: UnsafeMutablePointer<UInt32>
    let recent: UnsafeMutablePointer<UInt32>
    let second: UnsafeMutablePointer<UInt32>
    let key0: UInt64
    let key1: UInt64

    init(key0: UInt64, key1: UInt64) {
        self.key0 = key0
        self.key1 = key1
        live = .allocate(capacity: 2 * Self.slots)
        live.initialize(repeating: 0, count: 2 * Self.slots)
        recent = .allocate(capacity: 2 * Self.slots)
        recent.initialize(repeating: 0, count: 2 * Self.slots)
        second = .allocate(capacity: 2 * Self.slots)
        second.initialize(repeating: 0, count: 2 * Self.slots)
    }

    deinit {
        live.deallocate()
        recent.deallocate()
        second.deallocate()
    }

    @inline(__always) func slots(_ a: RawAddress) -> (Int, Int) {
        var h0 = (a.high ^ key0) &* 0x9E37_79B9_7F4A_7C15
        h0 = (h0 ^ (h0 >> 29) ^ a.low) &* 0xC2B2_AE3D_27D4_EB4F
        var h1 = (a.low ^ key1) &* 0xC2B2_AE3D_27D4_EB4F
        h1 = (h1 ^ (h1 >> 31) ^ a.high) &* 0x1656_67B1_9E37_79F9
        return (Int(h0 >> 48), Self.slots + Int(h1 >> 48))
    }

    func liveCount(_ a: RawAddress) -> UInt32 {
        let (i, j) = slots(a)
        return min(live[i], live[j])
    }

    func addLive(_ a: RawAddress, _ delta: Int32) {
        let (i, j) = slots(a)
        live[i] = UInt32(max(0, Int64(live[i]) + Int64(delta)))
        live[j] = UInt32(max(0, Int64(live[j]) + Int64(delta)))
    }

    /// New connections of this source in second `sec` so far, after counting one more.
    func countNew(_ a: RawAddress, second sec: UInt32) -> UInt32 {
        let (i, j) = slots(a)
        bump(i, sec)
        bump(j, sec)
        return min(recent[i], recent[j])
    }

    @inline(__always) private func bump(_ k: Int, _ sec: UInt32) {
        if second[k] != sec {
            second[k] = sec
            recent[k] = 0
        }
        recent[k] &+= 1
    }
}

extension IPVS {
    /// Checks the limits for a new connection of `svc` from `p.source`; true when it may be made.
    /// Counts the refusal (`counters.limited`).
    func admitUnderLimits(_ svc: VirtualServiceRuntime, _ p: PacketFacts, now: Timestamp) -> Bool {
        let l = sysctls.limits
        let sec = UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000_000)
        if l.serviceConnections > 0 {
            var live = 0
            for d in svc.members { live += Int(store.activeConnections(d)) + Int(store.inactiveConnections(d)) }
            if live >= l.serviceConnections { return refuseForLimit() }
        }
        if l.serviceNewPerSecond > 0 {
            if svc.limitSecond != sec {
                svc.limitSecond = sec
                svc.newThisSecond = 0
            }
            svc.newThisSecond += 1
            if svc.newThisSecond > l.serviceNewPerSecond { return refuseForLimit() }
        }
        if l.sourceConnections > 0 || l.sourceNewPerSecond > 0 {
            let sketch = sourceSketch()
            let a = RawAddress(p.source)
            if l.sourceConnections > 0 && Int(sketch.liveCount(a)) >= l.sourceConnections { return refuseForLimit() }
            if l.sourceNewPerSecond > 0 && Int(sketch.countNew(a, second: sec)) > l.sourceNewPerSecond {
                return refuseForLimit()
            }
        }
        return true
    }

    private func refuseForLimit() -> Bool {
        counters.limited &+= 1
        return false
    }

    /// The per-source sketch, made on first use.
    func sourceSketch() -> SourceSketch {
        if let s = sources { return s }
        let s = SourceSketch(key0: configuration.hashSeed2 ^ 0x736F_7572_6365, key1: configuration.hashSeed &+ 1)
        sources = s
        return s
    }

    /// Counts a new connection against its source (while a source limit is set).
    func countSource(_ id: UInt32) {
        guard sysctls.limits.sourceConnections > 0 else { return }
        let r = connections.pointer(id)
        sourceSketch().addLive(r.pointee.client, 1)
        r.pointee.flags.insert(.sourceCounted)
    }

    /// Uncounts a connection that leaves the table.
    func uncountSource(_ id: UInt32) {
        let r = connections.pointer(id)
        guard r.pointee.flags.contains(.sourceCounted), let s = sources else { return }
        s.addLive(r.pointee.client, -1)
        r.pointee.flags.remove(.sourceCounted)
    }
}
