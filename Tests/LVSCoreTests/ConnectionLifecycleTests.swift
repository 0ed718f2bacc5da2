// Connections through the table: states, counts, timeouts, both lookup directions, reuse, limits.
@_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

@Suite struct ConnectionLifecycleTests {
    let vip = Endpoint("10.0.0.1:80")
    let rs1 = Endpoint("192.168.0.2:8080")
    let rs2 = Endpoint("192.168.0.3:8080")
    let client = Endpoint("172.16.0.9:40000")
    var key: ServiceKey { .endpoint(.tcp, vip) }

    func director(_ method: ForwardingMethod, scheduler: String = "rr", configuration: IPVSConfiguration = .init())
        throws -> IPVSDriver
    {
        let d = IPVSDriver(IPVS(configuration: configuration))
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: scheduler))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs1, forwarding: method), to: key)
        return d
    }

    func only(_ d: IPVSDriver) -> ConnectionEntry? {
        let all = d.ipvs.connections(now: d.clock.now())
        return all.count == 1 ? all[0] : nil
    }

    func counts(_ d: IPVSDriver) -> (UInt32, UInt32) {
        let s = try! d.ipvs.service(key).realServers.first { $0.spec.endpoint == rs1 }!
        return (s.activeConnections, s.inactiveConnections)
    }

    @Test("NAT: SYN→SYN_RECV, SYN-ACK out, ACK→ESTABLISHED, FIN in→CLOSE_WAIT, FIN out→TIME_WAIT (INPUT/OUTPUT tables)")
    func natHandshake() throws {
        let d = try director(.masquerade)
        guard case .forward(let f) = d.tcp(client, vip, [.syn]) else {
            Issue.record("not forwarded")
            return
        }
        #expect(f.server == rs1 && f.method == .masquerade && f.client == client && f.virtual == vip)
        #expect(only(d)?.state == "SYN_RECV" && only(d)?.expiresInSeconds == 60)
        #expect(counts(d) == (1, 0))
        #expect(d.tcpReply(rs1, client, [.syn, .ack]) == .forward(f))
        #expect(only(d)?.state == "SYN_RECV")
        d.tcp(client, vip, [.ack])
        #expect(only(d)?.state == "ESTABLISHED" && only(d)?.expiresInSeconds == 900)
        d.tcp(client, vip, [.fin, .ack])
        #expect(only(d)?.state == "CLOSE_WAIT")
        #expect(counts(d) == (0, 1))
        d.tcpReply(rs1, client, [.fin, .ack])
        #expect(only(d)?.state == "TIME_WAIT" && only(d)?.expiresInSeconds == 120)
        d.advance(seconds: 119)
        #expect(only(d) != nil)
        d.advance(seconds: 1.1)
        #expect(d.ipvs.connections(now: d.clock.now()).isEmpty)
        #expect(counts(d) == (0, 0))
    }

    @Test("DR: no output is seen, so the IN-ONLY table applies: FIN→FIN_WAIT, listed with 2:00 left (seed 003 -Lnc)")
    func directRoutingFinWait() throws {
        let d = try director(.route)
        d.tcp(client, vip, [.syn])
        d.tcp(client, vip, [.ack])
        #expect(only(d)?.state == "ESTABLISHED")
        d.tcp(client, vip, [.fin, .ack])
        #expect(only(d)?.state == "FIN_WAIT" && only(d)?.expiresInSeconds == 120)
        d.tcp(client, vip, [.ack])
        #expect(only(d)?.state == "FIN_WAIT")
        #expect(counts(d) == (0, 1))
        // A reply through the director is not expected for DR: nothing matches a NAT lookup of it…
        // …but if one comes, NOOUTPUT clears and the OUTPUT table takes over.
        d.tcpReply(rs1, client, [.ack])
        #expect(only(d)?.state == "FIN_WAIT")
    }

    @Test("a new connection starts inactive with a 3 s timeout until its first transition")
    func newConnectionInactive() throws {
        let d = try director(.route)
        // A SYN+RST is not scheduled at all.
        #expect(d.tcp(client, vip, [.syn, .rst]) == .pass)
        // A bare ACK for no connection is left to the local stack.
        #expect(d.tcp(client, vip, [.ack]) == .pass)
        #expect(d.ipvs.counters.notScheduled == 2)
    }

    @Test("UDP has one state, \"UDP\", 300 s refreshed by every packet, always counted as InActConn")
    func udp() throws {
        let d = IPVSDriver()
        let uvip = Endpoint("10.0.0.1:53")
        try d.ipvs.addService(VirtualServiceSpec(key: .endpoint(.udp, uvip), scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:53")), to: .endpoint(.udp, uvip))
        d.udp(client, uvip)
        var e = d.ipvs.connections(now: d.clock.now())
        #expect(e.count == 1 && e[0].state == "UDP" && e[0].protocolName == "UDP" && e[0].expiresInSeconds == 300)
        d.advance(seconds: 200)
        d.udp(client, uvip)
        e = d.ipvs.connections(now: d.clock.now())
        #expect(e[0].expiresInSeconds == 300)
        let rs = try d.ipvs.service(.endpoint(.udp, uvip)).realServers[0]
        #expect(rs.activeConnections == 0 && rs.inactiveConnections == 1)
        d.advance(seconds: 301)
        #expect(d.ipvs.connections(now: d.clock.now()).isEmpty)
    }

    @Test(
        "--set tcp tcpfin udp changes ESTABLISHED, FIN_WAIT and UDP only; 0 leaves a value unchanged (seed 003 --set 30 5 60)"
    )
    func setTimeouts() throws {
        let d = try director(.route)
        #expect(d.ipvs.timeouts == IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300))
        d.ipvs.setTimeouts(IPVSTimeouts(tcp: 30, tcpFin: 5, udp: 60))
        #expect(d.ipvs.timeouts == IPVSTimeouts(tcp: 30, tcpFin: 5, udp: 60))
        d.ipvs.setTimeouts(IPVSTimeouts(tcp: 0, tcpFin: 7, udp: 0))
        #expect(d.ipvs.timeouts == IPVSTimeouts(tcp: 30, tcpFin: 7, udp: 60))
        d.tcp(client, vip, [.syn])
        #expect(only(d)?.expiresInSeconds == 60)  // SYN_RECV is not affected
        d.tcp(client, vip, [.ack])
        #expect(only(d)?.expiresInSeconds == 30)
        d.tcp(client, vip, [.fin, .ack])
        #expect(only(d)?.expiresInSeconds == 7)
    }

    @Test("conn_reuse_mode 1: a SYN meeting an uncontrolled TIME_WAIT connection is scheduled afresh")
    func connectionReuse() throws {
        let d = try director(.masquerade)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs2, forwarding: .masquerade), to: key)
        guard case .forward(let first) = d.tcp(client, vip, [.syn]) else {
            Issue.record()
            return
        }
        d.tcp(client, vip, [.ack])
        d.tcp(client, vip, [.fin, .ack])
        d.tcpReply(first.server, client, [.fin, .ack])
        #expect(only(d)?.state == "TIME_WAIT")
        // Same client port again: rr moves on to the other server.
        guard case .forward(let second) = d.tcp(client, vip, [.syn]) else {
            Issue.record()
            return
        }
        #expect(second.server != first.server)
        #expect(only(d)?.state == "SYN_RECV")
        // An ESTABLISHED connection is not reused: the SYN stays on it.
        d.tcp(client, vip, [.ack])
        guard case .forward(let third) = d.tcp(client, vip, [.syn]) else {
            Issue.record()
            return
        }
        #expect(third.server == second.server)
    }

    @Test("both lookup directions use one table: NAT replies are found by the client key, strangers are not")
    func lookups() throws {
        let d = try director(.masquerade)
        d.tcp(client, vip, [.syn])
        #expect(d.tcpReply(Endpoint("192.168.0.99:8080"), client, [.ack]) == .pass)
        #expect(d.tcpReply(rs1, Endpoint("172.16.0.9:40001"), [.ack]) == .pass)
        if case .forward = d.tcpReply(rs1, client, [.syn, .ack]) {} else { Issue.record("reply not matched") }
    }

    @Test("the table refuses new connections at its maximum with a counted \"table full\" and keeps the live ones")
    func tableFull() throws {
        var c = IPVSConfiguration()
        c.maxConnections = 2
        let d = try director(.route, configuration: c)
        for port: UInt16 in [1, 2] { d.tcp(Endpoint(client.address, port), vip, [.syn]) }
        #expect(d.tcp(Endpoint(client.address, 3), vip, [.syn]) == .drop(.tableFull))
        #expect(d.ipvs.counters.tableFull == 1)
        #expect(d.ipvs.connectionCount == 2)
        if case .forward = d.tcp(Endpoint(client.address, 1), vip, [.ack]) {} else { Issue.record("live one lost") }
        d.advance(seconds: 61)  // SYN_RECV expires: room again
        if case .forward = d.tcp(Endpoint(client.address, 3), vip, [.syn]) {} else { Issue.record("no room") }
    }

    @Test("a deleted server's connections are dropped (expire_nodest_conn 0) or expired and rescheduled (1)")
    func deletedServer() throws {
        let d = try director(.route)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs2), to: key)
        guard case .forward(let f) = d.tcp(client, vip, [.syn]) else {
            Issue.record()
            return
        }
        try d.ipvs.deleteRealServer(f.server, from: key)
        #expect(d.tcp(client, vip, [.ack]) == .drop(.destinationGone))
        // The deleted server lives on in the trash while its connection does.
        d.ipvs.sysctls.expireNodestConn = true
        guard case .forward(let g) = d.tcp(client, vip, [.syn]) else {
            Issue.record()
            return
        }
        #expect(g.server != f.server)
    }

    @Test("an unavailable service answers with ICMP port unreachable (ip_vs_leave)")
    func unreachable() throws {
        let d = try director(.route)
        try d.ipvs.editRealServer(RealServerSpec(endpoint: rs1, weight: 0), in: key)
        #expect(d.tcp(client, vip, [.syn]) == .unreachable)
        #expect(d.ipvs.counters.noDestination == 1)
    }

    @Test("upper threshold: overloaded at active+inactive ≥ u; cleared below 3/4·u, or below l when set")
    func thresholds() throws {
        let d = IPVSDriver()
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "wlc"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs1, upperThreshold: 4), to: key)
        for p: UInt16 in 1...4 { d.tcp(Endpoint(client.address, p), vip, [.syn]) }
        #expect(d.tcp(Endpoint(client.address, 5), vip, [.syn]) == .unreachable)
        // Expire connections one by one: ESTABLISHED, then RST → CLOSE (10 s). (An RST in SYN_RECV
        // would keep SYN_RECV: INPUT rst from SR is SR.)
        for p: UInt16 in 1...4 { d.tcp(Endpoint(client.address, p), vip, [.ack]) }
        d.tcp(Endpoint(client.address, 1), vip, [.rst])
        d.advance(seconds: 11)
        // 3 left: 3·4 = 12 is not < 4·3 = 12: still overloaded.
        #expect(d.tcp(Endpoint(client.address, 6), vip, [.syn]) == .unreachable)
        d.tcp(Endpoint(client.address, 2), vip, [.rst])
        d.advance(seconds: 11)
        // 2 left: 8 < 12: cleared.
        let v = d.tcp(Endpoint(client.address, 7), vip, [.syn])
        if case .forward = v {
        } else {
            Issue.record("still overloaded: \(v) \(d.ipvs.connections(now: d.clock.now()))")
        }
    }

    @Test("statistics: conns, in/out packets and bytes per server, per service and in total")
    func statistics() throws {
        let d = try director(.masquerade)
        d.tcp(client, vip, [.syn], length: 60)
        d.tcpReply(rs1, client, [.syn, .ack], length: 60)
        d.tcp(client, vip, [.ack], length: 52)
        d.tcp(client, vip, [.psh, .ack], length: 152)
        let svc = try d.ipvs.service(key)
        #expect(svc.counters == IPVSCounters(connections: 1, inPackets: 3, outPackets: 1, inBytes: 264, outBytes: 60))
        #expect(svc.realServers[0].counters == svc.counters)
        #expect(d.ipvs.totals.counters == svc.counters)
        try d.ipvs.zero(key)
        #expect(try d.ipvs.service(key).counters == IPVSCounters())
        #expect(d.ipvs.totals.counters.inPackets == 3)  // only -Z without a service zeroes the totals
        try d.ipvs.zero(nil)
        #expect(d.ipvs.totals.counters == IPVSCounters())
    }
}
