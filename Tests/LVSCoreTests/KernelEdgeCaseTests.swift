// Edge cases where the kernel's behaviour is easy to get wrong, each checked against its source.
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

@Suite struct KernelEdgeCaseTests {
    let vip = Endpoint("10.0.0.1:80")
    var key: ServiceKey { .endpoint(.tcp, vip) }

    func code(_ body: () throws -> Void) -> IPVSError.Code? {
        do {
            try body()
            return nil
        } catch let e as IPVSError { return e.code } catch { return nil }
    }

    @Test("K:ip_vs_leave: with an FTP service on VIP:21, other ports of the VIP are left to the local stack")
    func ftpLeave() throws {
        let d = IPVSDriver()
        let ftp = ServiceKey.endpoint(.tcp, Endpoint("10.0.0.1:21"))
        try d.ipvs.addService(VirtualServiceSpec(key: ftp, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:21")), to: ftp)
        #expect(d.tcp(Endpoint("172.16.0.1:40000"), Endpoint("10.0.0.1:8080"), [.syn]) == .pass)
    }

    @Test("K:ip_vs_schedule: \"Not scheduling FTPDATA\": a SYN from client port 20 is left alone")
    func ftpData() throws {
        let d = IPVSDriver()
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:80")), to: key)
        #expect(d.tcp(Endpoint("172.16.0.1:20"), vip, [.syn]) == .pass)
        #expect(d.ipvs.connectionCount == 0)
    }

    @Test("K:ip_vs_pe_sip.c: a packet the SIP engine cannot key (no Call-ID, or TCP) is dropped")
    func sipUnkeyed() throws {
        let d = IPVSDriver()
        let uvip = Endpoint("10.0.0.1:5060")
        for (proto, k) in [(TransportProtocol.udp, ServiceKey.endpoint(.udp, uvip)), (.tcp, .endpoint(.tcp, uvip))] {
            try d.ipvs.addService(
                VirtualServiceSpec(
                    key: k, scheduler: "rr", flags: .persistent, persistenceTimeout: 60, persistenceEngine: "sip"))
            try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:5060")), to: k)
            let body = Array("OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n".utf8)
            let v = body.withUnsafeBytes { payload in
                d.ipvs.processInbound(
                    PacketFacts(
                        transport: proto, source: IPAddress(literal: "172.16.0.1"), sourcePort: 5060,
                        destination: uvip.address, destinationPort: 5060, tcpFlags: [.syn], payload: payload),
                    now: d.clock.now())
            }
            #expect(v == .drop(.persistenceEngine))
        }
    }

    @Test(
        "K:ip_vs_sync.c start_sync_thread fills defaults: 224.0.0.81, 8848, TTL 1, maxlen 1500−28 (master) / MTU−28 (backup), a given maxlen clamped; EEXIST; ENODEV"
    )
    func syncDaemonDefaults() throws {
        let ipvs = IPVS()
        ipvs.interfaceMTU = { $0 == "eth0" ? 1500 : nil }
        try ipvs.startSyncDaemon(SyncDaemonSpec(role: .master))
        try ipvs.startSyncDaemon(SyncDaemonSpec(role: .backup, maxLength: 1000))
        let m = ipvs.syncDaemons.first { $0.role == .master }!
        #expect(m.group == IPAddress(literal: "224.0.0.81") && m.port == 8848 && m.ttl == 1 && m.maxLength == 1472)
        // A requested size is the message size itself, clamped to 1024 (backup) … 65535 − headers
        // (`c->sync_maxlen = clamp_t(.., min_mtu, 65535 - hlen)`); the MTU only sets the default.
        #expect(ipvs.syncDaemons.first { $0.role == .backup }!.maxLength == 1024)
        try ipvs.stopSyncDaemon(.backup)
        ipvs.interfaceMTU = { $0 == "eth0" ? 9000 : nil }
        try ipvs.startSyncDaemon(SyncDaemonSpec(role: .backup))
        #expect(ipvs.syncDaemons.first { $0.role == .backup }!.maxLength == 9000 - 28)
        // A master's default is 1500 − 28 whatever the MTU (`mtu = ... : 1500U`).
        #expect(code { try ipvs.startSyncDaemon(SyncDaemonSpec(role: .master)) } == .daemonRunning)
        try ipvs.stopSyncDaemon(.master)
        #expect(
            code { try ipvs.startSyncDaemon(SyncDaemonSpec(role: .master, multicastInterface: "nope0")) }
                == .noSuchDevice)
        #expect(IPVSError(.noSuchDevice).message == "No such device")
    }

    @Test("K:ip_vs_new_dest: a real server must be unicast: 0.x, broadcast, multicast, ::, ff00::/8, fe80:: → EINVAL")
    func unicastOnly() throws {
        let ipvs = IPVS()
        try ipvs.addService(VirtualServiceSpec(key: key))
        for bad in ["0.0.0.0:80", "0.1.2.3:80", "255.255.255.255:80", "224.0.0.1:80"] {
            #expect(
                code { try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(bad)), to: key) } == .invalidArgument)
        }
        let v6 = ServiceKey.endpoint(.tcp, Endpoint("[2001:db8::1]:80"))
        try ipvs.addService(VirtualServiceSpec(key: v6))
        for bad in ["[::]:80", "[ff02::1]:80", "[fe80::1]:80"] {
            #expect(
                code { try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(bad)), to: v6) } == .invalidArgument)
        }
        ipvs.isLocalAddress = { $0 == IPAddress(literal: "fe80::1") }
        try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("[fe80::1]:80")), to: v6)
    }

    @Test("ip_vs_genl_set_cmd: -A of an existing service says EEXIST before looking at the scheduler")
    func existsFirst() throws {
        let ipvs = IPVS()
        try ipvs.addService(VirtualServiceSpec(key: key))
        #expect(code { try ipvs.addService(VirtualServiceSpec(key: key, scheduler: "bogus")) } == .serviceExists)
    }

    @Test("K:udp_state_transition assures the template on a reply; K:set_sctp_state on ESTABLISHED")
    func udpAndSCTPAssured() throws {
        let d = IPVSDriver()
        let uvip = Endpoint("10.0.0.1:53")
        let k = ServiceKey.endpoint(.udp, uvip)
        try d.ipvs.addService(VirtualServiceSpec(key: k, scheduler: "rr", flags: .persistent, persistenceTimeout: 60))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:53"), forwarding: .masquerade), to: k)
        let client = Endpoint("172.16.0.1:3000")
        d.udp(client, uvip)
        #expect(d.ipvs.connections(now: d.clock.now()).first(where: \.isTemplate)?.state == "NONE")
        _ = d.ipvs.processOutbound(
            PacketFacts(
                transport: .udp, source: IPAddress(literal: "192.168.0.2"), sourcePort: 53,
                destination: client.address, destinationPort: client.port), now: d.clock.now())
        #expect(d.ipvs.connections(now: d.clock.now()).first(where: \.isTemplate)?.state == "ASSURED")

        let svip = Endpoint("10.0.0.1:9")
        let sk = ServiceKey.endpoint(.sctp, svip)
        try d.ipvs.addService(VirtualServiceSpec(key: sk, scheduler: "rr", flags: .persistent, persistenceTimeout: 60))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:9")), to: sk)
        func sctp(_ chunk: UInt8) {
            _ = d.ipvs.processInbound(
                PacketFacts(
                    transport: .sctp, source: IPAddress(literal: "172.16.0.2"), sourcePort: 7,
                    destination: svip.address,
                    destinationPort: 9, sctpChunkType: chunk), now: d.clock.now())
        }
        sctp(1)  // INIT (IN-ONLY for DR): INIT1
        sctp(10)  // COOKIE ECHO: ESTABLISHED on the IN-ONLY table
        let t = d.ipvs.connections(now: d.clock.now()).first { $0.isTemplate && $0.protocolName == "SCTP" }
        #expect(t?.state == "ASSURED")
    }

    @Test("deleted servers stay in the trash ~60 s: re-added soon, they keep their statistics (K:__ip_vs_del_dest)")
    func trashGrace() throws {
        let d = IPVSDriver()
        let rs = Endpoint("192.168.0.2:80")
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        d.tcp(Endpoint("172.16.0.1:1000"), vip, [.syn])
        d.advance(seconds: 70)  // the SYN_RECV connection (60 s) expires
        try d.ipvs.deleteRealServer(rs, from: key)
        d.advance(seconds: 10)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        #expect(try d.ipvs.service(key).realServers[0].counters.connections == 1)
        try d.ipvs.deleteRealServer(rs, from: key)
        d.advance(seconds: 130)  // past the trash period
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        #expect(try d.ipvs.service(key).realServers[0].counters.connections == 0)
    }

    @Test("a server revived into a new service object (same key, reused slot) has its statistics zeroed")
    func revivedIntoNewService() throws {
        let d = IPVSDriver()
        let rs = Endpoint("192.168.0.2:80")
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        d.tcp(Endpoint("172.16.0.1:1000"), vip, [.syn])
        try d.ipvs.deleteService(key)
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        #expect(try d.ipvs.service(key).realServers[0].counters.connections == 0)
    }

    @Test("expire_nodest_conn=1 flushes a deleted server's connections at once (ip_vs_expire_nodest_conn_flush)")
    func nodestFlush() throws {
        let d = IPVSDriver()
        d.ipvs.sysctls.expireNodestConn = true
        let rs = Endpoint("192.168.0.2:80")
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        d.tcp(Endpoint("172.16.0.1:1000"), vip, [.syn])
        d.tcp(Endpoint("172.16.0.1:1000"), vip, [.ack])
        try d.ipvs.deleteRealServer(rs, from: key)
        #expect(d.ipvs.connectionCount == 0)
    }

    @Test("ip_vs_out_hook ignores non-NAT connections; ip_vs_out_stats counts only available servers")
    func outputDirection() throws {
        let d = IPVSDriver()
        let rs = Endpoint("192.168.0.2:80")
        let client = Endpoint("172.16.0.1:1000")
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs, forwarding: .route), to: key)
        d.tcp(client, vip, [.syn])
        #expect(d.tcpReply(rs, client, [.syn, .ack]) == .pass)
        // A NAT connection whose server was deleted: the reply is matched but not counted.
        let natKey = ServiceKey.endpoint(.tcp, Endpoint("10.0.0.2:80"))
        let nrs = Endpoint("192.168.0.3:80")
        try d.ipvs.addService(VirtualServiceSpec(key: natKey, scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: nrs, forwarding: .masquerade), to: natKey)
        d.tcp(client, Endpoint("10.0.0.2:80"), [.syn])
        try d.ipvs.deleteRealServer(nrs, from: natKey)
        let before = d.ipvs.totals.counters.outPackets
        d.tcpReply(nrs, client, [.syn, .ack])
        #expect(d.ipvs.totals.counters.outPackets == before)
    }

    @Test("twos with huge weights (a raw control client may send any int) neither crashes nor divides by zero")
    func twosHugeWeights() throws {
        let d = IPVSDriver()
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "twos"))
        for (i, w) in [Int32.max, Int32.max, 1].enumerated() {
            try d.ipvs.addRealServer(
                RealServerSpec(endpoint: Endpoint(.v4(IPv4Address(192, 168, 0, UInt8(i + 2))), 80), weight: w), to: key)
        }
        for _ in 0..<50 { #expect(d.connect(from: IPAddress(literal: "172.16.0.1"), to: vip) != nil) }
    }

    @Test("lblc_expiration is read live, as the kernel's sysctl is")
    func liveExpiration() throws {
        let f = try SchedulerFixture("lblc", weights: [1, 1])
        let first = f.pick(to: "10.9.9.9")!
        f.load(first, active: 1)
        f.ipvs.sysctls.lblcExpiration = .seconds(60)
        var t = Timestamp.zero
        for _ in 0..<30 {
            t = t + .seconds(61)
            f.ipvs.runSchedulerTimers(now: t)
        }
        #expect(f.pick(to: "10.9.9.9") != first)
    }
}
