// The fast-path flows of each connection, shared by the workers: install, fold counts back into IPVS, remove.
import LVSCore
import LVSPacket
import LVSPlatform

/// Which connections have flows in the kernel fast path, and what was folded back of their
/// counts. Shared by the workers and touched only under their lock (inside
/// `IPVSOwner.withIPVSAsWorker`), like the IPVS table it mirrors.
///
/// ```
///  worker forwards a packet of an eligible connection ─▶ install(direction) ─▶ FastPathFlows.install
///  sweep (every second, or at once after a table/route/passive change), a chunk per batch:
///     counts(key) ─▶ delta ─▶ IPVS.noteFastPathTraffic (stats, timer, sync)
///     not eligible any more / egress changed / VIP passive ─▶ remove (counts folded first)
///  IPVS.connectionLeaving(id) ─▶ remove;  IPVS.fastPathLastSeen(id) ─▶ the flows' latest packet
/// ```
public final class FlowRegistry: @unchecked Sendable {
    struct Direction {
        var flow: FastPathFlow
        var foldedPackets: UInt64 = 0
        var foldedBytes: UInt64 = 0
    }

    struct Entry {
        /// Client → VIP (and for FULLNAT, the flow as it arrives) / real server → client.
        var inbound: Direction?
        var reply: Direction?
        /// Not before this time (ns) is an install tried again after the map refused one.
        var retryAfter: UInt64 = 0
        var method: ForwardingMethod
        var server: Endpoint
        var client: Endpoint
    }

    /// What the registry counted.
    public struct Counts: Sendable, Equatable {
        public var installed: UInt64 = 0
        public var removed: UInt64 = 0
        /// Installs the full map refused (those connections stay on the slow path).
        public var rejectedFull: UInt64 = 0
        public var unsupported: UInt64 = 0
        public var failed: UInt64 = 0
        /// Flows in the map now.
        public var active: UInt64 = 0
        /// Packets and bytes the fast path forwarded (folded into IPVS so far).
        public var fastPackets: UInt64 = 0
        public var fastBytes: UInt64 = 0
        public init() {}
    }

    public let flows: FastPathFlows
    var entries: [UInt32: Entry] = [:]
    public internal(set) var counts = Counts()
    /// Egress interfaces the fast path may transmit on (the peer-NAPI probe passed), by ifindex.
    var capableEgress: [Bool] = []
    /// Ingress interfaces whose frames pass through the XDP program, by ifindex.
    var xdpIngress: [Bool] = []
    /// The sweep: the connections still to visit in this pass, and when the next pass starts.
    var sweepKeys: [UInt32] = []
    var nextSweep: UInt64 = 0
    /// A full revalidation was asked for (table, route or passive change), and the sweep under
    /// way is one (it also checks each flow's egress against the kernel tables).
    var revalidate = false
    var revalidating = false
    /// Seconds between sweeps.
    public var sweepIntervalNanoseconds: UInt64 = 1_000_000_000
    /// Inbound packets a TCP / UDP connection must have had before it gets flows: a short
    /// connection (an HTTP request with `Connection: close`, a DNS query) would cost more in map
    /// updates than the fast path saves.
    public var minimumTCPPackets: UInt32 = 4
    public var minimumUDPPackets: UInt32 = 2
    /// After the map refused a flow, how long a connection waits before it is tried again.
    public var retryNanoseconds: UInt64 = 1_000_000_000
    /// Last error text of a failed install (for the log).
    public internal(set) var lastError: String?

    public init(flows: FastPathFlows) {
        self.flows = flows
        entries.reserveCapacity(4096)
        sweepKeys.reserveCapacity(4096)
    }

    /// Sets the interfaces the fast path may use: `egress` (transmit into them works) and `ingress`
    /// (the program sees their frames).
    public func setInterfaces(egress: Set<Int32>, ingress: Set<Int32>) {
        let n = Int(max(egress.max() ?? 0, ingress.max() ?? 0)) + 1
        capableEgress = (0..<n).map { egress.contains(Int32($0)) }
        xdpIngress = (0..<n).map { ingress.contains(Int32($0)) }
        revalidate = true
    }

    @inline(__always) func isCapableEgress(_ i: Int32) -> Bool {
        let x = Int(i)
        return x >= 0 && x < capableEgress.count && capableEgress[x]
    }

    @inline(__always) func isXDPIngress(_ i: Int32) -> Bool {
        let x = Int(i)
        return x >= 0 && x < xdpIngress.count && xdpIngress[x]
    }

    /// Installs the table's hooks: a leaving connection's flows are removed, and a due timer asks
    /// for the flows' latest packet. Call with exclusive access to `ipvs`.
    public func attach(to ipvs: IPVS) {
        // The connection is still bound: its flows' last packets are counted before it goes.
        ipvs.connectionLeaving = { [unowned self, unowned ipvs] id in
            remove(id, ipvs: ipvs, now: MonotonicClock.nanoseconds())
        }
        ipvs.fastPathLastSeen = { [unowned self] id in lastSeen(id) }
    }

    /// Removes the hooks (with exclusive access to `ipvs`).
    public func detach(from ipvs: IPVS) {
        ipvs.connectionLeaving = nil
        ipvs.fastPathLastSeen = nil
    }

    /// Asks for a sweep that revalidates every flow at the next chance.
    public func requestRevalidation() { revalidate = true }

    /// Connections with flows.
    public var connectionCount: Int { entries.count }

    /// Installs `flow` as connection `id`'s inbound or reply direction (unless it is there).
    func install(
        _ flow: FastPathFlow, reply: Bool, connection id: UInt32, decision d: ForwardingDecision, now: UInt64
    ) {
        var e =
            entries[id] ?? Entry(inbound: nil, reply: nil, method: d.method, server: d.server, client: d.client)
        if e.method != d.method || e.server != d.server || e.client != d.client {
            // The id now names another connection: the old one's flows go first.
            remove(id, ipvs: nil, now: now)
            e = Entry(inbound: nil, reply: nil, method: d.method, server: d.server, client: d.client)
        }
        if let have = reply ? e.reply : e.inbound, have.flow == flow { return }
        guard now >= e.retryAfter else { return }
        if let old = reply ? e.reply : e.inbound, old.flow.key != flow.key {
            if flows.remove(old.flow.key) != nil { counts.active &-= 1 }
        }
        switch flows.install(flow) {
        case .installed:
            let had = (reply ? e.reply : e.inbound) != nil
            if reply { e.reply = Direction(flow: flow) } else { e.inbound = Direction(flow: flow) }
            counts.installed &+= 1
            if !had { counts.active &+= 1 }
        case .full:
            counts.rejectedFull &+= 1
            e.retryAfter = now &+ retryNanoseconds
        case .unsupported:
            counts.unsupported &+= 1
            e.retryAfter = .max
        case .failed(let why):
            counts.failed &+= 1
            lastError = why
            e.retryAfter = now &+ retryNanoseconds
        }
        entries[id] = e
    }

    /// Removes connection `id`'s flows; with `ipvs`, folds their last counts in first.
    func remove(_ id: UInt32, ipvs: IPVS?, now: UInt64) {
        guard let e = entries.removeValue(forKey: id) else { return }
        let inbound = removeFlow(e.inbound)
        let reply = removeFlow(e.reply)
        guard let ipvs else { return }
        noteTraffic(id, inbound: inbound, reply: reply, lastSeen: nil, ipvs: ipvs, now: now)
    }

    /// Removes one direction's flow from the map; returns its counts not folded yet.
    private func removeFlow(_ direction: Direction?) -> Unfolded {
        guard let d = direction else { return Unfolded() }
        counts.removed &+= 1
        counts.active &-= 1
        guard let c = flows.remove(d.flow.key) else { return Unfolded() }
        return Unfolded(packets: c.packets &- d.foldedPackets, bytes: c.bytes &- d.foldedBytes)
    }

    /// The latest packet any flow of connection `id` forwarded (nil: none, or no flow).
    func lastSeen(_ id: UInt32) -> Timestamp? {
        guard let e = entries[id] else { return nil }
        var latest: UInt64 = 0
        if let d = e.inbound, let c = flows.counts(d.flow.key), c.packets > 0 { latest = c.lastSeenNanoseconds }
        if let d = e.reply, let c = flows.counts(d.flow.key), c.packets > 0 {
            latest = max(latest, c.lastSeenNanoseconds)
        }
        return latest == 0 ? nil : Timestamp(nanoseconds: latest)
    }

    /// Folds connection `id`'s new fast-path packets into IPVS (stats, timer from the last one, sync).
    func fold(_ id: UInt32, _ e: inout Entry, ipvs: IPVS, now: UInt64) {
        let inbound = takeUnfolded(&e.inbound)
        let reply = takeUnfolded(&e.reply)
        let latest = max(inbound.lastSeen, reply.lastSeen)
        noteTraffic(
            id, inbound: inbound, reply: reply, lastSeen: latest > 0 ? Timestamp(nanoseconds: latest) : nil,
            ipvs: ipvs, now: now)
    }

    /// A direction's packets and bytes not folded into IPVS yet, and its latest packet (ns).
    struct Unfolded {
        var packets: UInt64 = 0
        var bytes: UInt64 = 0
        var lastSeen: UInt64 = 0
    }

    /// One direction's new counts since the last fold, marked folded.
    private func takeUnfolded(_ direction: inout Direction?) -> Unfolded {
        guard var d = direction, let c = flows.counts(d.flow.key), c.packets != d.foldedPackets else {
            return Unfolded()
        }
        let new = Unfolded(
            packets: c.packets &- d.foldedPackets, bytes: c.bytes &- d.foldedBytes, lastSeen: c.lastSeenNanoseconds)
        d.foldedPackets = c.packets
        d.foldedBytes = c.bytes
        direction = d
        return new
    }

    /// Counts the fast path's new traffic and hands it to IPVS (stats, timer, sync); nothing if
    /// there is none. Direction by rewrite: a FULLNAT/NAT reply flow counts as outgoing.
    private func noteTraffic(
        _ id: UInt32, inbound: Unfolded, reply: Unfolded, lastSeen: Timestamp?, ipvs: IPVS, now: UInt64
    ) {
        guard inbound.packets | reply.packets != 0 else { return }
        counts.fastPackets &+= inbound.packets &+ reply.packets
        counts.fastBytes &+= inbound.bytes &+ reply.bytes
        ipvs.noteFastPathTraffic(
            connection: id, inPackets: inbound.packets, inBytes: inbound.bytes, outPackets: reply.packets,
            outBytes: reply.bytes, lastSeen: lastSeen, now: Timestamp(nanoseconds: now))
    }
}
