// Persistence templates: keys, timers, quiescing and rejection (K:ip_vs_core.c ip_vs_sched_persist,
// K:ip_vs_conn.c ip_vs_check_template).
import LVSCore
import LVSTestSupport
import Testing

@Suite struct PersistenceTests {
    let vip = Endpoint("192.168.0.240:80")
    let rs1 = Endpoint("192.168.0.223:80")
    let rs2 = Endpoint("192.168.0.224:80")
    var key: ServiceKey { .endpoint(.tcp, vip) }

    /// Seed 003: `ipvsadm -A -t 192.168.0.240:80 -s rr -p 20` with two DR servers.
    func seed003(persistence: UInt32 = 20, netmask: UInt32? = nil) throws -> IPVSDriver {
        let d = IPVSDriver()
        try d.ipvs.addService(
            VirtualServiceSpec(
                key: key, scheduler: "rr", flags: .persistent, persistenceTimeout: persistence, netmask: netmask))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs1), to: key)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs2), to: key)
        return d
    }

    func templates(_ d: IPVSDriver) -> [ConnectionEntry] {
        d.ipvs.connections(now: d.clock.now()).filter(\.isTemplate)
    }

    @Test("seed 003 -p 20: every connection of one client goes to one server; the template is <caddr, 0, vaddr, vport>")
    func oneClientOneServer() throws {
        let d = try seed003()
        let client = IPAddress(literal: "192.168.0.50")
        let first = d.connect(from: client, to: vip)
        for _ in 0..<10 { #expect(d.connect(from: client, to: vip) == first) }
        // Another client goes to the next server in rr.
        #expect(d.connect(from: IPAddress(literal: "192.168.0.51"), to: vip) != first)
        let t = templates(d).first { $0.client.address == client }!
        #expect(t.client == Endpoint(client, 0) && t.virtual == vip && t.destination == first && t.state == "NONE")
        #expect(t.protocolName == "TCP" && t.expiresInSeconds == 20)
        #expect(try d.ipvs.service(key).realServers.map(\.persistentConnections).reduce(0, +) == 2)
    }

    @Test("-M 255.255.255.0: clients of one /24 share a template")
    func netmask() throws {
        let d = try seed003(netmask: 0xFFFF_FF00)
        let a = d.connect(from: IPAddress(literal: "10.1.2.3"), to: vip)
        #expect(d.connect(from: IPAddress(literal: "10.1.2.200"), to: vip) == a)
        #expect(d.connect(from: IPAddress(literal: "10.1.3.3"), to: vip) != a)
        #expect(templates(d).map(\.client.address).contains(IPAddress(literal: "10.1.2.0")))
    }

    @Test("the template's timer restarts on each use and cannot expire while it controls connections")
    func templateTimer() throws {
        let d = try seed003()
        let client = IPAddress(literal: "192.168.0.50")
        let port = d.clientPort()
        d.tcp(Endpoint(client, port), vip, [.syn])
        d.tcp(Endpoint(client, port), vip, [.ack])  // ESTABLISHED, 900 s
        d.advance(seconds: 15)
        #expect(templates(d)[0].expiresInSeconds == 5)
        _ = d.connect(from: client, to: vip)  // a new connection uses the template
        #expect(templates(d)[0].expiresInSeconds == 20)
        d.advance(seconds: 25)  // expired, but it still controls: re-armed for 60 s
        #expect(templates(d).count == 1)
        #expect(templates(d)[0].expiresInSeconds <= 60 && templates(d)[0].expiresInSeconds >= 54)
        #expect(templates(d)[0].state == "ASSURED")  // its connection reached ESTABLISHED
    }

    @Test("weight 0 quiesces: clients with a template keep their server; expire_quiescent_template=1 moves them")
    func quiescing() throws {
        let d = try seed003()
        let client = IPAddress(literal: "192.168.0.50")
        let first = d.connect(from: client, to: vip)!
        try d.ipvs.editRealServer(RealServerSpec(endpoint: first, weight: 0), in: key)
        #expect(d.connect(from: client, to: vip) == first)
        #expect(d.connect(from: IPAddress(literal: "192.168.0.77"), to: vip) != first)
        d.ipvs.sysctls.expireQuiescentTemplate = true
        #expect(d.connect(from: client, to: vip) != first)
        // The rejected template was re-keyed to port 0xFFFF so it no longer matches.
        #expect(templates(d).contains { $0.virtual.port == 0xFFFF && $0.destination.port == 0xFFFF })
    }

    @Test("a template whose server was deleted is rejected; a new one is made")
    func deletedServer() throws {
        let d = try seed003()
        let client = IPAddress(literal: "192.168.0.50")
        let first = d.connect(from: client, to: vip)!
        try d.ipvs.deleteRealServer(first, from: key)
        let second = d.connect(from: client, to: vip)
        #expect(second != nil && second != first)
    }

    @Test("FTP (port 21): the template is <caddr, 0, vaddr, 0, daddr, 0> so data connections follow")
    func ftp() throws {
        let d = IPVSDriver()
        let ftp = Endpoint("192.168.0.240:21")
        try d.ipvs.addService(
            VirtualServiceSpec(key: .endpoint(.tcp, ftp), scheduler: "rr", flags: .persistent, persistenceTimeout: 300))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:21")), to: .endpoint(.tcp, ftp))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.224:21")), to: .endpoint(.tcp, ftp))
        let client = IPAddress(literal: "192.168.0.50")
        let control = d.connect(from: client, to: ftp)!
        // Passive data connection to a high port of the VIP: found via the FTP service, same server.
        let data = d.connect(from: client, to: Endpoint(ftp.address, 30_000))
        #expect(data?.address == control.address && data?.port == 30_000)
        let t = templates(d)[0]
        #expect(t.virtual.port == 0 && t.destination.port == 0)
    }

    @Test("port-0 persistent service: every port of the VIP goes to one server, template vport 0")
    func portZero() throws {
        let d = IPVSDriver()
        let any = Endpoint("192.168.0.240:0")
        try d.ipvs.addService(
            VirtualServiceSpec(key: .endpoint(.tcp, any), scheduler: "rr", flags: .persistent, persistenceTimeout: 60))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:0")), to: .endpoint(.tcp, any))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.224:0")), to: .endpoint(.tcp, any))
        let client = IPAddress(literal: "192.168.0.50")
        let a = d.connect(from: client, to: Endpoint(any.address, 80))
        let b = d.connect(from: client, to: Endpoint(any.address, 443))
        #expect(a?.address == b?.address && a?.port == 80 && b?.port == 443)
        #expect(templates(d)[0].virtual.port == 0)
    }

    @Test("a non-persistent port-0 service schedules nothing and ip_vs_leave answers ICMP port unreachable")
    func portZeroNonPersistent() throws {
        let d = IPVSDriver()
        let any = Endpoint("192.168.0.240:0")
        try d.ipvs.addService(VirtualServiceSpec(key: .endpoint(.tcp, any), scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:0")), to: .endpoint(.tcp, any))
        #expect(d.tcp(Endpoint("192.168.0.50:1000"), Endpoint(any.address, 80), [.syn]) == .unreachable)
        #expect(d.ipvs.counters.portMismatch == 1)
    }

    @Test("fwmark persistent service: the template has protocol IP and the fwmark as its virtual address")
    func firewallMark() throws {
        let d = IPVSDriver()
        let key = ServiceKey.firewallMark(7, .inet)
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr", flags: .persistent, persistenceTimeout: 60))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:0")), to: key)
        let v = d.ipvs.processInbound(
            PacketFacts(
                transport: .tcp, source: IPAddress(literal: "192.168.0.50"), sourcePort: 1000,
                destination: IPAddress(literal: "192.168.0.240"), destinationPort: 443, tcpFlags: [.syn],
                firewallMark: 7), now: d.clock.now())
        if case .forward(let f) = v { #expect(f.server == Endpoint("192.168.0.223:443")) } else { Issue.record() }
        let t = templates(d)[0]
        #expect(t.protocolName == "IP" && t.virtual == Endpoint("0.0.0.7:0"))
    }
}

@Suite struct SIPPersistenceTests {
    func message(_ callID: String, compact: Bool = false) -> [UInt8] {
        Array(
            ("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.example.com\r\n"
                + (compact ? "i: " : "Call-ID: ") + callID + "\r\nCSeq: 1 INVITE\r\n\r\n").utf8)
    }

    @Test("K:ip_vs_pe_sip.c: the Call-ID (or compact i:) header value, word[@word], followed by CR/LF")
    func extraction() {
        func callID(_ bytes: [UInt8]) -> String? {
            bytes.withUnsafeBytes { SIPCallID.extract($0).map { String(decoding: $0, as: UTF8.self) } }
        }
        #expect(callID(message("a84b4c76e66710@pc33.example.com")) == "a84b4c76e66710@pc33.example.com")
        #expect(callID(message("f81d4fae-7dec", compact: true)) == "f81d4fae-7dec")
        #expect(callID(Array("CALL-ID:x1\r\n".utf8)) == "x1")
        #expect(callID(Array("Call-ID: x1".utf8)) == nil)  // no line terminator after it
        #expect(callID(Array("Call-ID: bad@\r\n".utf8)) == nil)  // '@' without a domain word
        #expect(callID(Array("From: x\r\n".utf8)) == nil)
        #expect(callID(Array(("Call-ID: " + String(repeating: "a", count: 256) + "\r\n").utf8)) == nil)
    }

    @Test("--pe sip: UDP messages of one Call-ID share a server; another Call-ID from the same client may not")
    func scheduling() throws {
        let d = IPVSDriver()
        let vip = Endpoint("10.0.0.1:5060")
        let key = ServiceKey.endpoint(.udp, vip)
        try d.ipvs.addService(
            VirtualServiceSpec(
                key: key, scheduler: "rr", flags: .persistent, persistenceTimeout: 360, persistenceEngine: "sip"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.2:5060")), to: key)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.3:5060")), to: key)
        func send(_ callID: String, port: UInt16) -> Endpoint? {
            message(callID).withUnsafeBytes { payload in
                let v = d.ipvs.processInbound(
                    PacketFacts(
                        transport: .udp, source: IPAddress(literal: "172.16.0.1"), sourcePort: port,
                        destination: vip.address, destinationPort: 5060, payload: payload), now: d.clock.now())
                if case .forward(let f) = v { return f.server }
                return nil
            }
        }
        let a = send("call-a@host", port: 5060)
        let b = send("call-b@host", port: 5061)
        #expect(a != nil && b != nil && a != b)  // rr: a new Call-ID gets its own template
        #expect(send("call-a@host", port: 5062) == a)
        #expect(send("call-b@host", port: 5063) == b)
        let templates = d.ipvs.connections(now: d.clock.now()).filter(\.isTemplate)
        #expect(Set(templates.compactMap(\.persistenceEngineData)) == ["call-a@host", "call-b@host"])
        #expect(templates.allSatisfy { $0.persistenceEngine == "sip" })
    }
}
