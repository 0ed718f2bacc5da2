// The packet worker: a batch of frames, one hold of the IPVS lock, classify → IPVS → transform → send.
import CLVSLinux
import LVSCore
import LVSPacket

/// Owns the IPVS model: packet workers take it once per batch, other threads through the owner.
public protocol IPVSOwner: AnyObject, Sendable {
    /// Runs `body` with exclusive access to the IPVS table, from any thread (while workers serve
    /// the owner's control queue, `body` runs on a worker between two batches).
    func withIPVS(_ body: (IPVS) -> Void)
    /// A packet worker's access, once per batch: the lock only workers take, then queued control
    /// work within a budget (`ControlQueue`). Defaults to `withIPVS`.
    func withIPVSAsWorker(_ body: (IPVS) -> Void)
    /// The queue control threads hand their work to while workers run (nil: they take the lock).
    var controlQueue: ControlQueue? { get }
}

extension IPVSOwner {
    public func withIPVSAsWorker(_ body: (IPVS) -> Void) { withIPVS(body) }
    public var controlQueue: ControlQueue? { nil }
}

/// Processes frames from a `PacketPort`.
///
/// ```
///  port.receive ─▶ [64 frames] ─▶ lock ─▶ for each: parse ─▶ classify ─┬▶ processInbound  ─▶ NAT/DR/TUN/FULLNAT in
///                                                                     ├▶ processOutbound ─▶ NAT/FULLNAT out
///                                                                     ├▶ ICMP error about a connection ─▶ rewrite
///                                                                     └▶ later fragment ─▶ FragmentTracker
///                                 advance(to: now) ─▶ unlock ─▶ sendmmsg ─▶ port.release
/// ```
/// Everything per packet works on preallocated memory: no allocation, no locking.
public final class DataPlaneWorker {
    public static let batchSize = 64
    static let transmitCapacity = 256
    static let scratchSize = 1 << 20
    static let slotHeadroom = 128

    let port: PacketPort
    let owner: IPVSOwner
    /// Kernel tables (interfaces, addresses, routes, neighbours); the worker's own copy.
    public var tables = KernelTables()
    /// Interfaces whose traffic is handled, by index (loopback included for local clients).
    private var attachedByIndex: [Bool] = []
    private var tablesGeneration: UInt64 = .max
    var egressCache = EgressCache()
    private var layoutGeneration: UInt64 = .max
    /// Whether the last `egress(to:)` that failed found a route but no MAC.
    var lastMissWasNeighbor = false
    /// Frames waiting for their next hop's MAC.
    let neighborQueue = NeighborWaitQueue()
    /// Neighbours whose resolution was asked for, and when (nanoseconds).
    private var resolving: [NeighborKey: UInt64] = [:]
    /// Real server endpoints whose replies the guard drops outside `lo`: a reply of theirs that
    /// IPVS passes (no connection: the director's own socket) is handed to the local stack.
    public var guardedSources: Set<GuardedSource> = []
    /// Virtual addresses whose services are not intercepted now (a VRRP backup acting as a real
    /// server): their packets are left to the local stack (`DataPlaneWorker+LocalNode.swift`).
    public var passiveAddresses: Set<IPAddress> = []
    /// `lo`'s index and the tables generation it was read at (`loopback`).
    var loopbackCache: (generation: UInt64, index: Int32) = (.max, 1)
    /// Called when a next hop's MAC is missing (the AF_PACKET build asks the kernel by netlink).
    public var resolveNeighbor: (NeighborKey) -> Void = { _ in }
    /// The fast path's flows (XDP mode; nil without a fast path). Shared by the workers.
    public var registry: FlowRegistry?
    /// The interface of the frame being handled (for the fast path's ingress check).
    var currentIngress: Int32 = 0
    /// The table and time of the batch being handled (set once per batch, under the lock).
    unowned(unsafe) var currentIPVS: IPVS?
    /// Set by the loop when every flow must be revalidated (taken under the lock in `runOnce`).
    public var pendingRevalidation = false
    /// True while the worker is behind and sheds new connections (`updateShedding`).
    public internal(set) var shedding = false
    /// The share of new connections' SYNs the port's kernel side (the XDP program) is told to
    /// drop (`ShedShare`), and until when (nanoseconds) without the worker falling behind again.
    public internal(set) var programShare: UInt32 = ShedShare.none
    var programShedsUntil: UInt64 = 0
    /// What the program drops while the worker sheds (15 SYNs in 16), and for how long after
    /// the worker was last behind (nanoseconds).
    static let programShedShare: UInt32 = ShedShare.all - ShedShare.all / 16
    static let programShedHold: UInt64 = 100_000_000
    /// The fast path's counts as of the last batch (copied under the lock).
    var fastPathCounts = FlowRegistry.Counts()

    let frames: UnsafeMutablePointer<ReceivedFrame>
    let transmit: UnsafeMutablePointer<TransmitFrame>
    var transmitCount = 0
    let scratch: UnsafeMutableRawPointer
    var scratchUsed = 0
    /// True while frames written to the scratch area wait to be queued (GSO segments): a flush
    /// then sends what is queued but keeps the scratch area.
    var scratchPinned = false
    let lengths: UnsafeMutableBufferPointer<Int>
    var fragments = FragmentTracker(capacity: 4096)
    var ipID: UInt16 = 1
    let counters = CounterBlock()
    let mallocCounter: (@Sendable () -> UInt64)?
    /// ICMP errors are rate limited as the kernel's (`DataPlaneWorker+Defence.swift`).
    var icmpLimiter: ICMPRateLimiter
    /// The limits and sysctls of the current batch (copied under the lock).
    var batchLimits = IPVSLimits()
    var natICMPSend = false
    var batchNow = Timestamp.zero
    /// SYN proxy: client frames waiting for their server's SYN/ACK. One store shared by the
    /// workers (the client's frame and the server's SYN/ACK may reach different ones), touched
    /// only within a batch, under the table's lock.
    var synProxyHold = SynProxyHold()

    /// Which interfaces to attach to: nil = every non-loopback interface that is not a bridge or
    /// bond port; otherwise these names. Loopback is always attached (local clients).
    public var interfaceNames: [String]?

    public init(port: PacketPort, owner: IPVSOwner) {
        self.port = port
        self.owner = owner
        frames = .allocate(capacity: Self.batchSize)
        transmit = .allocate(capacity: Self.transmitCapacity)
        scratch = .allocate(byteCount: Self.scratchSize, alignment: 64)
        lengths = .allocate(capacity: 128)
        lengths.initialize(repeating: 0)
        mallocCounter = AllocationCounter.current
        icmpLimiter = ICMPRateLimiter(key: Self.randomKey())
    }

    deinit {
        frames.deallocate()
        transmit.deallocate()
        scratch.deallocate()
        lengths.deallocate()
    }

    /// The counters so far.
    public func statistics() -> DataPlaneStatistics {
        var s = DataPlaneStatistics()
        publishStatistics(into: &s)
        return s
    }

    /// Writes the counters so far into `s` in place (the worker's periodic publication: no
    /// allocation).
    public func publishStatistics(into s: inout DataPlaneStatistics) {
        counters.counters[DataPlaneCounter.ringDrops.rawValue] = port.ringDrops
        counters.copy(into: &s)
        s.fastPath = fastPathCounts
    }

    /// The interfaces attached now (names), for the nftables guard.
    public var attachedInterfaceNames: [String] {
        refreshTables()
        return tables.links.values.filter { attachedByIndex.count > Int($0.index) && attachedByIndex[Int($0.index)] }
            .map(\.name).sorted()
    }

    /// Rebuilds what depends on the kernel tables after they changed.
    func refreshTables() {
        guard tables.generation != tablesGeneration else { return }
        tablesGeneration = tables.generation
        egressCache.removeAll()
        // A route or neighbour change only invalidates the egress cache (nothing allocated).
        guard tables.layoutGeneration != layoutGeneration else { return }
        layoutGeneration = tables.layoutGeneration
        let maxIndex = Int(tables.links.keys.max() ?? 0)
        var attached = [Bool](repeating: false, count: maxIndex + 1)
        for l in tables.links.values where l.index >= 0 {
            let on: Bool
            if l.isLoopback {
                on = true
            } else if let names = interfaceNames {
                on = names.contains(l.name)
            } else {
                on = l.master == 0
            }
            attached[Int(l.index)] = on
        }
        attachedByIndex = attached
        resolving = resolving.filter { tables.neighbors[$0.key] == nil }
    }

    /// Reads one batch (non-blocking), processes it under one hold of the IPVS lock, sends what
    /// it produced and releases the frames. Returns the number of frames read. With no frame it
    /// still runs the IPVS timers.
    @discardableResult
    public func runOnce(now: Timestamp) -> Int {
        refreshTables()
        replayHeldFrames(now: now)
        let n = port.receive(into: frames, capacity: Self.batchSize)
        let before = n > 0 ? mallocCounter?() : nil
        batchNow = now
        updateShedding(received: n)
        owner.withIPVSAsWorker { ipvs in
            batchLimits = ipvs.sysctls.limits
            natICMPSend = ipvs.sysctls.natICMPSend
            currentIPVS = ipvs
            ipvs.shedsNewConnections = shedding
            for i in 0..<n { handle(&frames[i], ipvs, now) }
            ipvs.shedsNewConnections = false
            ipvs.advance(to: now)
            if let registry {
                if pendingRevalidation {
                    registry.revalidate = true
                    pendingRevalidation = false
                }
                sweepFastPath(ipvs, now: now)
                fastPathCounts = registry.counts
            }
            currentIPVS = nil
        }
        flush()
        port.release()
        if n > 0 {
            counters.add(.received, UInt64(n))
            counters.add(.batches)
            if let before, let after = mallocCounter?() { counters.add(.mallocs, after &- before) }
        }
        return n
    }

    /// Overload: after a full batch with half a receive ring still waiting, the worker is behind
    /// and sheds new connections (their packets are the costly ones: scheduling, a new entry)
    /// until less than an eighth waits. Packets of existing connections are forwarded all along.
    /// In XDP mode the program drops `programShedShare` of the SYNs to services (15 in 16, at
    /// random like the kernel's `drop_packet`) before they reach the ring, from the moment the
    /// worker falls behind until it has not been behind for `programShedHold`: a flood's SYNs
    /// then cost the program a look-up and a draw each, and the ring keeps room for the
    /// established connections' packets. New clients pay: one SYN in 16 reaches the worker,
    /// which sheds it too while still behind, so most connect after retransmitting. Letting
    /// every SYN through again as soon as the ring has drained would fill it again within
    /// milliseconds.
    ///
    /// ```
    ///   full batch, ≥ 4/8 of a ring waiting ──▶ shedding ──▶ < 1/8 waiting ──▶ not shedding
    ///   program: drops 15/16 of SYNs from the first "behind" until 100 ms after the last one
    /// ```
    @inline(__always)
    func updateShedding(received n: Int) {
        if shedding {
            if n < Self.batchSize || !port.isBacklogged(eighths: 1) { shedding = false }
        } else if n == Self.batchSize && port.isBacklogged(eighths: 4) {
            shedding = true
            counters.add(.overloadEpisodes)
        }
        let now = batchNow.nanoseconds
        if shedding {
            programShedsUntil = now &+ Self.programShedHold
            if programShare == ShedShare.none {
                programShare = Self.programShedShare
                port.setShedding(programShare)
            }
        } else if programShare != ShedShare.none && now >= programShedsUntil {
            programShare = ShedShare.none
            port.setShedding(programShare)
        }
    }

    /// Counts a packet IPVS refused: shed while the worker was behind, or refused for another
    /// reason (table full, real server gone, limits, …).
    @inline(__always)
    func countRefusal(_ reason: PacketDropReason) {
        counters.add(reason == .overload ? .overloadShed : .ipvsDropped)
    }

    /// Asks for resolution of next hops the worker will need (real servers just added).
    public func prepare(destinations: [IPAddress], now: Timestamp) {
        refreshTables()
        for d in destinations {
            if case .failure(.noNeighbor(let key)) = tables.egress(to: d) { requestResolution(key, now: now) }
        }
    }

    // MARK: one frame

    @inline(__always)
    func isAttached(_ index: Int32) -> Bool {
        let i = Int(index)
        return i >= 0 && i < attachedByIndex.count && attachedByIndex[i]
    }

    func handle(_ f: inout ReceivedFrame, _ ipvs: IPVS, _ now: Timestamp) {
        currentIngress = f.interface
        // Only frames addressed to this host at the link layer, on attached interfaces.
        guard f.packetType == 0, isAttached(f.interface) else {
            counters.add(.ignored)
            return
        }
        // Our own frames for a local real server, looped back by `lo`: already scheduled.
        if f.interface == loopback && isLocalNodeEcho(f) {
            counters.add(.ignored)
            return
        }
        var info = PacketParser.parse(UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length))
        switch info.verdict {
        case .ip: break
        case .drop(let r):
            counters.drop(r)
            return
        case .arp, .other:
            counters.add(.ignored)
            return
        }
        if info.isICMPError {
            handleICMPError(&f, info, ipvs, now)
            return
        }
        if info.isLaterFragment {
            handleLaterFragment(&f, &info, ipvs, now)
            return
        }
        guard info.hasPorts, let transport = TransportProtocol(rawValue: info.protocolNumber) else {
            counters.add(.ignored)
            return
        }
        if f.firewallMark != 0 { counters.add(.firewallMarkLogged) }
        let facts = PacketFacts(
            transport: transport, source: info.source, sourcePort: info.sourcePort, destination: info.destination,
            destinationPort: info.destinationPort, tcpFlags: TCPFlags(rawValue: info.tcpFlags),
            sctpChunkType: transport == .sctp ? sctpChunk(f, info) : 0, length: UInt32(info.ipTotalLength),
            firewallMark: f.firewallMark, ttl: info.ttl)
        var inbound = true
        var verdict: PacketVerdict
        if ipvs.hasVirtualService(
            transport: transport, address: info.destination, port: info.destinationPort, firewallMark: f.firewallMark)
        {
            if f.firewallMark == 0 && !passiveAddresses.isEmpty && passiveAddresses.contains(info.destination) {
                // A passive VIP (this director is a VRRP backup): the local stack serves it.
                counters.add(.passed)
                return
            }
            if transport == .tcp && ipvs.isSynProxied(address: info.destination, port: info.destinationPort)
                && synProxyInbound(&f, info, ipvs, now)
            {
                return
            }
            verdict = ipvs.processInbound(facts, now: now)
        } else {
            verdict = ipvs.processOutbound(facts, now: now)
            inbound = false
            if verdict == .pass,
                let mark = ipvs.firewallMarkOfConnection(
                    protocolNumber: info.protocolNumber, client: info.source, clientPort: info.sourcePort,
                    virtual: info.destination, virtualPort: info.destinationPort)
            {
                // A firewall-mark service's connection: the kernel marks its own copy of this
                // frame and logs it to lvsd (FirewallMarkIntake), which forwards that one.
                if mark != 0 && f.kernelHasCopy {
                    counters.add(.ignored)
                    return
                }
                // A connection whose service was deleted still carries its packets (ip_vs_in
                // looks connections up before services).
                verdict = ipvs.processInbound(facts, now: now)
                inbound = true
            }
        }
        if !inbound, transport == .tcp, case .forward(let d) = verdict, synProxyOutbound(&f, info, d, ipvs, now) {
            return
        }
        switch verdict {
        case .pass:
            if inbound {
                counters.add(.passed)
            } else if f.interface != tables.loopbackIndex && !guardedSources.isEmpty
                && (guardedSources.contains(
                    GuardedSource(protocolNumber: info.protocolNumber, address: info.source, port: info.sourcePort))
                    || guardedSources.contains(
                        GuardedSource(protocolNumber: info.protocolNumber, address: info.source, port: 0)))
            {
                if natICMPSend && !tables.isLocal(info.destination) {
                    answerStrayReply(f, info)
                } else {
                    deliverLocally(&f, info)
                }
            } else {
                counters.add(.ignored)
            }
        case .drop(.ttlExpired):
            // Checked before scheduling: no entry was made. Time exceeded goes back, rate limited.
            counters.drop(.ttlExpired)
            sendError(.timeExceeded, about: f, info, source: info.destination)
        case .drop(let reason):
            countRefusal(reason)
        case .unreachable:
            counters.drop(.noServerAvailable)
            sendError(.portUnreachable, about: f, info, source: info.destination)
        case .forward(let d):
            counters.add(inbound ? .inbound : .outbound)
            if info.isFirstFragment && d.isTracked {
                let value = UInt64(d.connection) | (inbound ? 0 : 1 << 32)
                if !fragments.recordFirst(info, value: value, now: now) { counters.drop(.fragmentTrackerOverflow) }
            }
            forward(&f, info, d, inbound: inbound, now: now)
        }
    }

    /// Completes a partial (offloaded) checksum before the frame is rewritten or handed on;
    /// false (the drop counted) when the offload metadata does not fit the frame.
    func completePartialChecksum(_ f: ReceivedFrame, _ info: PacketInfo) -> Bool {
        guard f.needsChecksum else { return f.checksumStateUnknown ? completeIfPartial(f, info) : true }
        let whole = UnsafeMutableRawBufferPointer(start: f.buffer + f.start, count: f.length)
        if let r = PartialChecksum.complete(
            whole, start: Int(f.checksumStart), offset: Int(f.checksumOffset), end: info.ipEnd,
            isUDP: info.protocolNumber == IPProtocolNumber.udp)
        {
            counters.drop(r)
            return false
        }
        counters.add(.checksumsCompleted)
        return true
    }

    /// Hands a frame the guard dropped, but which is not IPVS's, to the local stack through `lo`
    /// (where the reply rules do not apply): finished checksum, zero MACs.
    func deliverLocally(_ f: inout ReceivedFrame, _ info: PacketInfo) {
        guard info.l3Offset == 14, info.ipEnd <= f.length else {
            counters.add(.ignored)
            return
        }
        guard completePartialChecksum(f, info) else { return }
        let p = f.buffer + f.start
        p.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: 0, toByteOffset: 8, as: UInt32.self)
        counters.add(.deliveredLocally)
        queue(p, info.ipEnd, tables.loopbackIndex)
    }

    /// The first chunk type of an SCTP packet (what the state machine reads).
    func sctpChunk(_ f: ReceivedFrame, _ info: PacketInfo) -> UInt8 {
        let off = f.start + info.l4Offset + 12
        guard info.l4Length >= 13 else { return 0 }
        return f.buffer.load(fromByteOffset: off, as: UInt8.self)
    }

    /// Later fragments carry no ports: the tracker gives the first fragment's connection.
    func handleLaterFragment(_ f: inout ReceivedFrame, _ info: inout PacketInfo, _ ipvs: IPVS, _ now: Timestamp) {
        guard let value = fragments.resolve(&info, now: now) else {
            // Not one of ours unless it is addressed to a virtual service.
            counters.add(.ignored)
            return
        }
        let id = UInt32(truncatingIfNeeded: value)
        let inbound = value >> 32 == 0
        // The slot may have been reused by another connection since the first fragment: the
        // fragment must still name this connection's addresses.
        guard let d = ipvs.forwarding(ofConnection: id), d.matchesFragment(info, inbound: inbound) else {
            counters.drop(.untrackedFragment)
            return
        }
        counters.add(.fragmentsForwarded)
        forward(&f, info, d, inbound: inbound, now: now)
    }

    /// An ICMP error about a connection's packet: relayed with the connection's rewriting.
    func handleICMPError(_ f: inout ReceivedFrame, _ info: PacketInfo, _ ipvs: IPVS, _ now: Timestamp) {
        let bytes = UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length)
        let flow = info.flow(in: bytes)
        guard
            flow.protocolNumber == IPProtocolNumber.tcp || flow.protocolNumber == IPProtocolNumber.udp
                || flow.protocolNumber == IPProtocolNumber.sctp
        else {
            counters.add(.ignored)
            return
        }
        guard
            let (d, inbound) = ipvs.connection(
                ofQuotedPacket: flow.protocolNumber, source: flow.source, sourcePort: flow.sourcePort,
                destination: flow.destination, destinationPort: flow.destinationPort)
        else {
            counters.add(.ignored)
            return
        }
        if !inbound && !d.method.repliesPassThroughDirector {
            counters.add(.ignored)
            return
        }
        counters.add(.icmpRelayed)
        forward(&f, info, d, inbound: inbound, now: now)
    }

    // MARK: forwarding

    /// Finishes offloads (partial checksum, GSO) and rewrites and sends the frame, or each segment.
    func forward(_ f: inout ReceivedFrame, _ info: PacketInfo, _ d: ForwardingDecision, inbound: Bool, now: Timestamp) {
        // Where it goes: the real server (inbound) or the client (outbound).
        let target: IPAddress
        if inbound {
            if case .local = d.method {
                deliverToLocalServer(&f, info)
                return
            }
            target = d.server.address
        } else {
            guard d.method.repliesPassThroughDirector else {
                counters.add(.ignored)
                return
            }
            target = d.client.address
        }
        guard let egress = egress(to: target, now: now) else {
            if lastMissWasNeighbor { holdForNeighbor(f, info, d, inbound: inbound, target: target, now: now) }
            return
        }
        if inbound && egress.interface == loopback && Self.deliversUnchanged(d.method) {
            // A real server on an address of the director (the kernel's LOCALNODE).
            deliverToLocalServer(&f, info)
            return
        }
        if f.firewallMark != 0 && !f.isGSO { markMergedSegments(&f, info, d, egress: egress) }
        if f.isGSO {
            forwardSegments(&f, info, d, inbound: inbound, egress: egress)
            return
        }
        guard completePartialChecksum(f, info) else { return }
        var frame = Frame(
            buffer: UnsafeMutableRawBufferPointer(start: f.buffer, count: f.capacity), start: f.start,
            length: f.length)
        rewrite(&frame, info, d, inbound: inbound, egress: egress)
    }

    /// Splits a GSO super-frame into MSS segments (each with full checksums) and forwards each.
    func forwardSegments(
        _ f: inout ReceivedFrame, _ info: PacketInfo, _ d: ForwardingDecision, inbound: Bool, egress: Egress
    ) {
        guard let (base, stride, made) = segmentIntoScratch(f, info, headroom: Self.slotHeadroom) else { return }
        scratchPinned = true
        defer { scratchPinned = false }
        for i in 0..<made {
            let slot = base + i * stride
            let len = lengths[i]
            let seg = PacketParser.parse(UnsafeRawBufferPointer(start: slot + Self.slotHeadroom, count: len))
            guard case .ip = seg.verdict else { continue }
            var frame = Frame(
                buffer: UnsafeMutableRawBufferPointer(start: slot, count: stride), start: Self.slotHeadroom,
                length: len)
            rewrite(&frame, seg, d, inbound: inbound, egress: egress)
        }
    }

    /// Splits a GSO super-frame into TCP segments of `gso_size` (full checksums) in the scratch
    /// area: segment i starts `headroom` bytes into the slot at `base + i * stride`, its length in
    /// `lengths[i]`. Nil (the drop counted) when the frame cannot be split or does not fit.
    func segmentIntoScratch(_ f: ReceivedFrame, _ info: PacketInfo, headroom: Int) -> (
        base: UnsafeMutableRawPointer, stride: Int, count: Int
    )? {
        guard info.protocolNumber == IPProtocolNumber.tcp, f.gsoSize > 0 else {
            counters.drop(.badGSO)
            return nil
        }
        let doff = Int(f.buffer.load(fromByteOffset: f.start + info.l4Offset + 12, as: UInt8.self) >> 4) * 4
        let headers = info.l4Offset + doff
        let stride = (headroom + headers + Int(f.gsoSize) + 63) & ~63
        let payload = info.ipEnd - headers
        let count = max(1, (payload + Int(f.gsoSize) - 1) / Int(f.gsoSize))
        guard count <= lengths.count, count * stride <= Self.scratchSize else {
            counters.drop(.badGSO)
            return nil
        }
        guard let base = reserveScratch(count * stride) else {
            counters.drop(.outputTooSmall)
            return nil
        }
        let r = TCPSegmenter.segment(
            UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length), info, gsoSize: Int(f.gsoSize),
            into: UnsafeMutableRawBufferPointer(start: base + headroom, count: count * stride - headroom),
            stride: stride, lengths: lengths)
        guard case .split(let made) = r else {
            if case .drop(let reason) = r { counters.drop(reason) }
            return nil
        }
        counters.add(.gsoFrames)
        counters.add(.gsoSegments, UInt64(made))
        return (base, stride, made)
    }

    /// Applies the connection's forwarding method to one frame and queues the result.
    func rewrite(_ frame: inout Frame, _ info: PacketInfo, _ d: ForwardingDecision, inbound: Bool, egress: Egress) {
        let verdict: ForwardVerdict
        // The same rewrite, for the fast path's flow of this direction.
        let fast: FastPathRewrite
        if inbound {
            switch d.method {
            case .masquerade:
                fast = .translate(source: nil, destination: d.server, reply: false)
                verdict = Forwarding.natInbound(
                    &frame, info, server: d.server.address, serverPort: d.server.port, link: egress.link)
            case .route:
                fast = .directRoute
                verdict = Forwarding.directRoute(&frame, info, link: egress.link)
            case .tunnel(let spec):
                guard let source = egress.sourceAddress, source.family == d.server.address.family else {
                    counters.add(.noRoute)
                    return
                }
                ipID &+= 1
                fast = .tunnel(
                    source: source, destination: d.server.address, spec: spec,
                    gueSourcePort: spec.type == .gue ? Forwarding.tunnelSourcePort(info) : 0, firstIPID: ipID &+ 1)
                verdict = Forwarding.tunnel(
                    &frame, info, source: source, destination: d.server.address, spec: spec, ipID: ipID,
                    link: egress.link)
            case .fullNAT:
                guard let local = d.local else {
                    counters.drop(.localPortsExhausted)
                    return
                }
                fast = .translate(source: local, destination: d.server, reply: false)
                verdict = Forwarding.fullNATInbound(
                    &frame, info, localAddress: local.address, localPort: local.port, server: d.server.address,
                    serverPort: d.server.port, link: egress.link)
            case .local:
                counters.add(.localServerUnsupported)
                return
            }
        } else {
            switch d.method {
            case .fullNAT:
                fast = .translate(source: d.virtual, destination: d.client, reply: true)
                verdict = Forwarding.fullNATOutbound(
                    &frame, info, virtualAddress: d.virtual.address, virtualPort: d.virtual.port,
                    client: d.client.address, clientPort: d.client.port, link: egress.link)
            default:
                fast = .translate(source: d.virtual, destination: nil, reply: true)
                verdict = Forwarding.natOutbound(
                    &frame, info, virtualAddress: d.virtual.address, virtualPort: d.virtual.port, link: egress.link)
            }
        }
        switch verdict {
        case .forward:
            queue(frame.buffer + frame.start, frame.length, egress.interface)
            if registry != nil, let ipvs = currentIPVS {
                considerFastPath(info, d, inbound: inbound, egress: egress, rewrite: fast, ipvs: ipvs, now: batchNow)
            }
        case .fragment(let mtu):
            fragment(frame, mtu: mtu, interface: egress.interface)
        case .timeExceeded:
            counters.drop(.ttlExpired)
            errorBack(.timeExceeded, frame, info, inbound: inbound, d: d)
        case .fragmentationNeeded(let mtu):
            counters.drop(.mtuExceeded)
            errorBack(.fragmentationNeeded(mtu: mtu), frame, info, inbound: inbound, d: d)
        case .drop(let r):
            counters.drop(r)
        }
    }

    /// An ICMP error about a packet the transform refused, back where the packet came from; the
    /// source is the address the packet was sent to (the VIP for inbound packets).
    func errorBack(_ kind: ICMPBuilder.Kind, _ frame: Frame, _ info: PacketInfo, inbound: Bool, d: ForwardingDecision) {
        // The frame is untouched when these verdicts come back; its ingress is unknown here, so the
        // error leaves by the route to the packet's source.
        let source = inbound ? d.virtual.address : info.destination
        guard allowICMP(to: info.source) else { return }
        guard case .success(let back) = tables.egress(to: info.source) else { return }
        guard let p = reserveScratch(1400) else { return }
        let out = UnsafeMutableRawBufferPointer(start: p, count: 1400)
        ipID &+= 1
        let n = ICMPBuilder.build(
            kind, about: frame.bytes, info, source: source, ipID: ipID, link: back.link, into: out)
        guard n > 0 else { return }
        counters.add(.icmpGenerated)
        queue(out.baseAddress!, n, back.interface)
    }

    /// An ICMP error back out of the interface the frame came in on (MACs swapped).
    func sendError(_ kind: ICMPBuilder.Kind, about f: ReceivedFrame, _ info: PacketInfo, source: IPAddress) {
        guard allowICMP(to: info.source) else { return }
        guard let p = reserveScratch(1400) else { return }
        let out = UnsafeMutableRawBufferPointer(start: p, count: 1400)
        ipID &+= 1
        if f.needsChecksum {
            // The quote should carry a finished checksum; ignore failure (it is only a quote).
            _ = PartialChecksum.complete(
                UnsafeMutableRawBufferPointer(start: f.buffer + f.start, count: f.length),
                start: Int(f.checksumStart), offset: Int(f.checksumOffset), end: info.ipEnd,
                isUDP: info.protocolNumber == IPProtocolNumber.udp)
        }
        let n = ICMPBuilder.build(
            kind, about: UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length), info, source: source,
            ipID: ipID, into: out)
        guard n > 0 else { return }
        counters.add(.icmpGenerated)
        queue(out.baseAddress!, n, f.interface)
    }

    /// Splits an IPv4 packet without DF into fragments for `mtu` and queues them.
    func fragment(_ frame: Frame, mtu: Int, interface: Int32) {
        guard let info = Optional(PacketParser.parse(frame.bytes)), case .ip = info.verdict else { return }
        let stride = (info.l3Offset + mtu + 63) & ~63
        let count = (info.ipTotalLength / max(8, mtu - 60)) + 2
        guard count <= lengths.count, count * stride <= Self.scratchSize else {
            counters.drop(.outputTooSmall)
            return
        }
        guard let p = reserveScratch(count * stride) else {
            counters.drop(.outputTooSmall)
            return
        }
        let out = UnsafeMutableRawBufferPointer(start: p, count: count * stride)
        let r = IPv4Fragmenter.fragment(frame.bytes, info, mtu: mtu, into: out, stride: stride, lengths: lengths)
        guard case .split(let made) = r else {
            if case .drop(let reason) = r { counters.drop(reason) }
            return
        }
        for i in 0..<made { queue(out.baseAddress! + i * stride, lengths[i], interface) }
    }

    /// The egress toward `destination`, from the cache or the kernel tables; nil (counted, and
    /// neighbour resolution started) when it cannot be used yet.
    func egress(to destination: IPAddress, now: Timestamp) -> Egress? {
        if let e = egressCache.lookup(destination) { return e }
        switch tables.egress(to: destination) {
        case .success(let e):
            egressCache.store(destination, e)
            return e
        case .failure(.noNeighbor(let key)):
            counters.add(.noNeighbor)
            requestResolution(key, now: now)
            lastMissWasNeighbor = true
            return nil
        case .failure:
            counters.add(.noRoute)
            lastMissWasNeighbor = false
            return nil
        }
    }

    /// Asks the kernel to resolve a next hop, at most every 500 ms per neighbour. The bookkeeping
    /// is bounded (`maxResolving`): when full, entries older than the retry interval are forgotten;
    /// if none is, the request is skipped and counted (addresses may be attacker-chosen: the
    /// clients NAT replies go to).
    func requestResolution(_ key: NeighborKey, now: Timestamp) {
        let t = now.nanoseconds
        if let last = resolving[key], t &- last < 500_000_000 { return }
        if resolving[key] == nil && resolving.count >= Self.maxResolving {
            resolving = resolving.filter { t &- $0.value < 500_000_000 }
            if resolving.count >= Self.maxResolving {
                counters.add(.neighborRequestsSkipped)
                return
            }
        }
        resolving[key] = t
        resolveNeighbor(key)
    }

    /// The most neighbours being resolved at once (the kernel's gc_thresh3 is 1024).
    static let maxResolving = 1024

    /// `bytes` of scratch space (64-byte aligned), flushing first if needed and allowed; nil if full.
    func reserveScratch(_ bytes: Int) -> UnsafeMutableRawPointer? {
        if scratchUsed + bytes > Self.scratchSize {
            guard !scratchPinned else { return nil }
            flush()
            guard bytes <= Self.scratchSize else { return nil }
        }
        let p = scratch + scratchUsed
        scratchUsed += (bytes + 63) & ~63
        return p
    }

    // MARK: transmit

    @inline(__always)
    func queue(_ p: UnsafeMutableRawPointer, _ length: Int, _ interface: Int32) {
        if transmitCount == Self.transmitCapacity { flush(keepScratch: true) }
        transmit[transmitCount] = TransmitFrame(data: p, len: UInt32(length), ifindex: interface)
        transmitCount += 1
    }

    /// Sends everything queued and frees the scratch space (unless `keepScratch`: frames written
    /// there may still wait to be queued).
    func flush(keepScratch: Bool = false) {
        if transmitCount > 0 {
            let sent = port.transmit(transmit, count: transmitCount)
            counters.add(.transmitted, UInt64(sent))
            if sent < transmitCount { counters.add(.transmitFailed, UInt64(transmitCount - sent)) }
            transmitCount = 0
        }
        if !keepScratch && !scratchPinned { scratchUsed = 0 }
    }
}
