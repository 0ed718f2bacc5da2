// What a kernel fast path (XDP) needs of the table: which connections it may carry, their traffic folded back, their leaving.
//
//   worker: processInbound/Outbound ─▶ fastPathState(id) == .eligible ─▶ install flow(s)
//   flows forward packets without the worker ─▶ noteFastPathTraffic(id, in, out, lastSeen)
//                                                 (stats, timer restarted from last-seen, sync)
//   timer due ─▶ fastPathLastSeen?(id) later than the last packet IPVS saw? ─▶ re-armed, not expired
//   expire ─▶ connectionLeaving?(id) ─▶ the flows are deleted (their last counts folded in first)

/// Whether a connection's established packets may be forwarded by a kernel fast path.
public enum FastPathEligibility: Equatable, Sendable {
    /// ESTABLISHED TCP or UDP, a bound and available real server: every packet that would change
    /// the connection's state (SYN, FIN, RST) still reaches IPVS.
    case eligible
    /// Not now (a TCP state other than ESTABLISHED, SCTP, a template, one-packet scheduling, a
    /// real server deleted or unbound).
    case ineligible
    /// The connection is not in the table.
    case gone
}

extension IPVS {
    /// Whether connection `id`'s packets may take the fast path now. IPVS keeps its semantics:
    /// only states whose packets change nothing but the counters and the timer qualify
    /// (K:ip_vs_proto_tcp.c: in ESTABLISHED an ACK or data segment keeps ESTABLISHED).
    public func fastPathEligibility(connection id: UInt32) -> FastPathEligibility {
        guard id != ConnectionTable.none, connections.isLive(id) else { return .gone }
        let r = connections.pointer(id).pointee
        if r.flags.contains(.template) || r.flags.contains(.onePacket) { return .ineligible }
        // A SYN-proxied connection needs its sequence numbers, SACK blocks and timestamps
        // translated on every packet, which the XDP program does not do.
        if connections.proxyEntry(id).packed != 0 { return .ineligible }
        let d = r.server
        guard d >= 0, store.flags(d).contains(.available) else { return .ineligible }
        switch r.protocolNumber {
        case TransportProtocol.udp.rawValue: return .eligible
        case TransportProtocol.tcp.rawValue:
            return TCPState(rawValue: r.state) == .established ? .eligible : .ineligible
        default: return .ineligible
        }
    }

    /// Folds the packets a fast path forwarded for connection `id` into the table, as if IPVS had
    /// seen them: the real server's, service's and total counters (`--stats`, `--rate`), the
    /// inbound count that drives connection sync (`noteInboundPackets`), and — with `lastSeen`,
    /// the time of the latest of them — the connection's timer, restarted from then with the
    /// state's timeout (a timer never moves earlier). A connection that is gone is ignored.
    public func noteFastPathTraffic(
        connection id: UInt32, inPackets: UInt64, inBytes: UInt64, outPackets: UInt64, outBytes: UInt64,
        lastSeen: Timestamp?, now: Timestamp
    ) {
        guard id != ConnectionTable.none, connections.isLive(id) else { return }
        let r = connections.pointer(id)
        countTraffic(
            r.pointee.server, inPackets: inPackets, inBytes: inBytes, outPackets: outPackets, outBytes: outBytes)
        let tick = ConnectionTable.tick(now)
        if inPackets > 0 { syncAfterInbound(id, count: UInt32(clamping: inPackets), tick: tick) }
        if let lastSeen, inPackets > 0 || outPackets > 0 {
            let due = ConnectionTable.tick(lastSeen) &+ ConnectionTable.ticks(seconds: r.pointee.timeout)
            if !ConnectionTable.notAfter(due, r.pointee.expires) { connections.arm(id, expires: due) }
        }
    }

    /// The inbound packets connection `id` has had (`in_pkts`, fast-path ones included once
    /// folded), or 0 if it is gone.
    public func inboundPackets(connection id: UInt32) -> UInt32 {
        guard id != ConnectionTable.none, connections.isLive(id) else { return 0 }
        return connections.pointer(id).pointee.inPackets
    }

    /// True if connection `id` is in the table.
    public func hasConnection(id: UInt32) -> Bool { id != ConnectionTable.none && connections.isLive(id) }
}
