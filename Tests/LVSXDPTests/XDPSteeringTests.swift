// The steering table: which frames the XDP program sends to lvsd, leaves to the kernel, or keeps off the fast path.
import LVSCore
import LVSPacket
import LVSTestSupport
import LVSXDP
import LVSXDPTestSupport
import Testing

/// One steering case: a frame and the counter it must move (with the action that goes with it).
struct SteeringCase: CustomTestStringConvertible, Sendable {
    var name: String
    var frame: [UInt8]
    var counter: XDPCounter
    var testDescription: String { name }
}

@Suite("XDP steering table (BPF_PROG_TEST_RUN)")
struct XDPSteeringTests {
    static let n4 = FixtureNet.v4
    static let n6 = FixtureNet.v6
    /// A VIP with a port-0 (every port) UDP service, and a passive VIP with a TCP :80 service.
    static let anyPortVIP = IPAddress("192.0.2.20")!
    static let passiveVIP = IPAddress("192.0.2.30")!
    /// A NAT real server of a firewall-mark service (port 0: it answers from the client's port).
    static let anyPortServer = IPAddress("198.51.100.40")!
    static let director = IPAddress("192.0.2.1")!

    static func tcp(_ s: Endpoint, _ d: Endpoint, flags: UInt8 = 0x18, ttl: UInt8 = 64, vlan: UInt16? = nil) -> [UInt8]
    {
        PacketBuilder.frame(
            .tcp, from: s, to: d, vlan: vlan, ttl: ttl, payload: PacketBuilder.pattern(20), tcpFlags: flags)
    }

    static func udp(_ s: Endpoint, _ d: Endpoint, zero: Bool = false) -> [UInt8] {
        PacketBuilder.frame(.udp, from: s, to: d, payload: PacketBuilder.pattern(20), udpZeroChecksum: zero)
    }

    /// A quoted packet (an ICMP error's payload) as it was sent.
    static func quoted(_ l4: PacketBuilder.L4, _ src: Endpoint, _ dst: Endpoint) -> [UInt8] {
        PacketBuilder.ipPacket(PacketBuilder.frame(l4, from: src, to: dst, ttl: 63, payload: PacketBuilder.pattern(20)))
    }

    static func icmpError(from: IPAddress, to: IPAddress, quoting q: [UInt8]) -> [UInt8] {
        let ip = PacketBuilder.ipv4(
            src: from.v4!, dst: to.v4!, proto: 1,
            payload: PacketBuilder.icmpv4(type: 3, code: 4, rest: 1400, payload: q))
        return PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: ip)
    }

    static var cases: [SteeringCase] {
        let c4 = n4.client
        let v4 = n4.virtual
        let c6 = n6.client
        let v6 = n6.virtual
        let dgram = PacketBuilder.ipPacket(
            PacketBuilder.frame(.udp, from: c4, to: v4, dontFragment: false, payload: PacketBuilder.pattern(2000)))
        let frags = PacketBuilder.ipv4Fragments(dgram, sizes: [1480, 0])
        let toOther = PacketBuilder.ipPacket(
            PacketBuilder.frame(
                .udp, from: c4, to: Endpoint(director, 53), dontFragment: false, payload: PacketBuilder.pattern(2000)))
        let otherFrags = PacketBuilder.ipv4Fragments(toOther, sizes: [1480, 0])
        let eth = { (p: [UInt8]) in
            PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: p)
        }
        var arp = PacketBuilder.ethernet(
            dst: .broadcast, src: Macs.client, etherType: 0x0806, payload: [UInt8](repeating: 0, count: 28))
        arp[21] = 1
        var qinq = tcp(c4, v4, vlan: 100)
        qinq[12] = 0x88
        qinq[13] = 0xA8
        let stacked = Array(tcp(c4, v4, vlan: 100)[0..<16]) + [0x81, 0x00, 0x00, 0x05] + Array(tcp(c4, v4)[12...])
        let echo = eth(
            PacketBuilder.ipv4(
                src: c4.address.v4!, dst: v4.address.v4!, proto: 1,
                payload: PacketBuilder.icmpv4(type: 8, code: 0, rest: 0x0001_0001, payload: PacketBuilder.pattern(8))))
        return [
            SteeringCase(name: "ARP: not IP, to the kernel", frame: arp, counter: .passNotIP),
            SteeringCase(
                name: "802.1ad outer tag: LVSPacket drops it (stacked_vlan), the kernel decides", frame: qinq,
                counter: .passStackedVLAN),
            SteeringCase(name: "two 802.1Q tags: as QinQ", frame: stacked, counter: .passStackedVLAN),
            SteeringCase(
                name: "a runt IPv4 header: the kernel drops it", frame: Array(tcp(c4, v4)[0..<30]),
                counter: .passMalformed),
            SteeringCase(name: "TCP to VIP:80 (a service)", frame: tcp(c4, v4), counter: .steerService),
            SteeringCase(
                name: "TCP to VIP:80 with one 802.1Q tag", frame: tcp(c4, v4, vlan: 7), counter: .steerService),
            SteeringCase(name: "IPv6 TCP to [VIP]:80", frame: tcp(c6, v6), counter: .steerService),
            SteeringCase(
                name: "TCP to VIP:22 (no service there): the kernel's", frame: tcp(c4, Endpoint(v4.address, 22)),
                counter: .passNotOurs),
            SteeringCase(name: "ICMP echo to the VIP: the kernel answers pings", frame: echo, counter: .passNotOurs),
            SteeringCase(
                name: "UDP to VIP2:5353 (a port-0 service: every port)", frame: udp(c4, Endpoint(anyPortVIP, 5353)),
                counter: .steerService),
            SteeringCase(
                name: "TCP to VIP2:80 (the port-0 service is UDP only)", frame: tcp(c4, Endpoint(anyPortVIP, 80)),
                counter: .passNotOurs),
            SteeringCase(
                name: "TCP to a passive VIP:80 (a VRRP backup): the kernel's", frame: tcp(c4, Endpoint(passiveVIP, 80)),
                counter: .passPassive),
            SteeringCase(name: "reply from a NAT real server RS:8080", frame: tcp(n4.server, c4), counter: .steerReply),
            SteeringCase(name: "IPv6 reply from [RS]:8080", frame: tcp(n6.server, c6), counter: .steerReply),
            SteeringCase(
                name: "reply from a firewall-mark service's NAT server (RS:0, any port) from :8080",
                frame: tcp(Endpoint(anyPortServer, 8080), c4), counter: .steerReply),
            SteeringCase(
                name: "from the real server's port 22 (its ssh): the kernel's",
                frame: tcp(Endpoint(n4.server.address, 22), c4), counter: .passNotOurs),
            SteeringCase(name: "first fragment to VIP:80", frame: eth(frags[0]), counter: .steerFragment),
            SteeringCase(
                name: "later fragment to the VIP (no ports): by address", frame: eth(frags[1]), counter: .steerFragment),
            SteeringCase(
                name: "later fragment to another address: the kernel's", frame: eth(otherFrags[1]),
                counter: .passNotOurs),
            SteeringCase(
                name: "ICMP frag-needed quoting VIP:80 → client",
                frame: icmpError(from: n4.router, to: v4.address, quoting: Self.quoted(.tcp, v4, c4)),
                counter: .steerICMP),
            SteeringCase(
                name: "ICMP error quoting client → RS:8080 (a NAT reply source)",
                frame: icmpError(from: n4.server.address, to: c4.address, quoting: Self.quoted(.tcp, c4, n4.server)),
                counter: .steerICMP),
            SteeringCase(
                name: "ICMP error quoting another flow: the kernel's",
                frame: icmpError(from: n4.router, to: director, quoting: Self.quoted(.tcp, Endpoint(director, 22), c4)),
                counter: .passNotOurs),
            SteeringCase(
                name: "ICMP error quoting a passive VIP's flow: the kernel's",
                frame: icmpError(
                    from: n4.router, to: passiveVIP, quoting: Self.quoted(.tcp, Endpoint(passiveVIP, 80), c4)),
                counter: .passPassive),
        ]
    }

    static func setUp(_ xdp: XDPProgram) throws {
        try XDPFixtureFlows.installSteering(xdp.maps)
        try xdp.maps.putService(XDPServiceKey(protocolNumber: IPProtocolNumber.udp, address: anyPortVIP, port: 0))
        try xdp.maps.setAddress(anyPortVIP, flags: .virtual)
        try xdp.maps.putService(XDPServiceKey(protocolNumber: IPProtocolNumber.tcp, address: passiveVIP, port: 80))
        try xdp.maps.setAddress(passiveVIP, flags: [.virtual, .passive])
        try xdp.maps.putReplySource(
            XDPServiceKey(protocolNumber: IPProtocolNumber.tcp, address: anyPortServer, port: 0))
    }

    /// A small instance of the program, or nil (the reason printed) where BPF programs cannot run.
    static func loadProgram() throws -> XDPProgram? {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return nil
        }
        return try XDPProgram(limits: .init(flows: 256, services: 256, addresses: 256, serverSlots: 16))
    }

    @Test("steering")
    func steering() throws {
        guard let xdp = try Self.loadProgram() else { return }
        defer { xdp.close() }
        try Self.setUp(xdp)
        for c in Self.cases {
            let before = xdp.maps.counters()
            let run = try xdp.testRun(c.frame)
            let moved = xdp.maps.counters().since(before).nonZero.filter { $0.0 != .received }
            let want: [XDPCounter] = c.counter.steersToLVSD ? [c.counter, .steerNoSocket] : [c.counter]
            #expect(moved.map(\.0) == want && moved.allSatisfy { $0.1 == 1 }, "\(c.name): \(moved)")
            #expect(run.action == (c.counter.steersToLVSD ? .drop : .pass), "\(c.name): \(run.action)")
            #expect(run.output == c.frame, "\(c.name): modified")
        }
    }

    @Test(
        "overload: while a queue's worker is behind, SYNs to a service on that queue are dropped with its share (xdp_shed_new; all at 65,536, about half at 32,768, like drop_packet's rate); ACKs, SYNs to no service and SYNs on other queues are not"
    )
    func shedding() throws {
        guard let xdp = try Self.loadProgram() else { return }
        defer { xdp.close() }
        try Self.setUp(xdp)
        let c4 = Self.n4.client
        let v4 = Self.n4.virtual
        // BPF_PROG_TEST_RUN receives on the namespace's lo (ifindex 1), queue 0.
        func moved(_ frame: [UInt8]) throws -> ([XDPCounter], XDPAction) {
            let before = xdp.maps.counters()
            let run = try xdp.testRun(frame, ingress: 1, queue: 0)
            #expect(run.output == frame)
            return (xdp.maps.counters().since(before).nonZero.map(\.0).filter { $0 != .received }, run.action)
        }
        let syn = Self.tcp(c4, v4, flags: 0x02)
        let steered: [XDPCounter] = [.steerService, .steerNoSocket]
        try xdp.maps.setShedding(interface: 99, queue: 0, share: 65_536)  // another interface's worker
        #expect(try moved(syn).0 == steered)
        try xdp.maps.setShedding(interface: 1, queue: 0, share: 65_536)
        #expect(try moved(syn) == ([.shedNew], .drop))
        #expect(try moved(Self.tcp(c4, v4, flags: 0x10)).0 == steered)  // a connection's ACK
        #expect(try moved(Self.tcp(c4, v4, flags: 0x12)).0 == steered)  // SYN|ACK: not a new connection
        #expect(try moved(Self.tcp(c4, Endpoint(v4.address, 22), flags: 0x02)).0 == [.passNotOurs])
        #expect(try moved(Self.udp(c4, Endpoint(Self.anyPortVIP, 53))).0 == steered)  // UDP: the worker decides
        // Half: a draw per SYN (400 SYNs, 200 expected; outside 130…270 is 7 standard deviations).
        try xdp.maps.setShedding(interface: 1, queue: 0, share: 32_768)
        var shed = 0
        for _ in 0..<400 where try moved(syn).0 == [.shedNew] { shed += 1 }
        #expect(shed > 130 && shed < 270, "\(shed) of 400 shed")
        try xdp.maps.setShedding(interface: 1, queue: 0, share: 0)
        #expect(try moved(syn).0 == steered)
    }

    /// Frames of an installed flow that the fast path leaves to lvsd (untouched), with why.
    @Test("slow path: SYN/FIN/RST, TTL 1, IPv6 extension headers, malformed, too big, egress not in the devmap")
    func slowPath() throws {
        guard let xdp = try Self.loadProgram() else { return }
        defer { xdp.close() }
        let c4 = Self.n4.client
        let v4 = Self.n4.virtual
        let link = FixtureLinks.inside
        let tcpKey = XDPFlowKey(
            protocolNumber: 6, source: c4.address, sourcePort: c4.port, destination: v4.address,
            destinationPort: v4.port)
        let udpKey = XDPFlowKey(
            protocolNumber: 17, source: c4.address, sourcePort: c4.port, destination: v4.address,
            destinationPort: v4.port)
        try xdp.maps.putFlow(
            tcpKey, XDPFlow.translate(tcpKey, destination: Self.n4.server, link: link, interface: 1, serverSlot: 1)!)
        try xdp.maps.putFlow(
            udpKey, XDPFlow.translate(udpKey, destination: Self.n4.server, link: link, interface: 1, serverSlot: 1)!)
        let c6 = Self.n6.client
        let v6 = Self.n6.virtual
        let v6Key = XDPFlowKey(
            protocolNumber: 6, source: c6.address, sourcePort: c6.port, destination: v6.address,
            destinationPort: v6.port)
        try xdp.maps.putFlow(
            v6Key, XDPFlow.translate(v6Key, destination: Self.n6.server, link: link, interface: 1, serverSlot: 1)!)
        let withOptions = PacketBuilder.frame(
            .tcp, from: c6, to: v6, payload: PacketBuilder.pattern(20), extensionHeaders: [.padding(type: 0)])
        var badUDPLength = Self.udp(c4, v4)
        badUDPLength[14 + 20 + 4] = 0x7F  // a UDP length beyond the datagram
        let big = PacketBuilder.frame(.tcp, from: c4, to: v4, frameSize: 1500)
        let cases: [(String, [UInt8], XDPCounter)] = [
            ("SYN (K:ip_vs_proto_tcp.c state change)", Self.tcp(c4, v4, flags: 0x02), .slowTCPFlags),
            ("FIN|ACK", Self.tcp(c4, v4, flags: 0x11), .slowTCPFlags),
            ("RST", Self.tcp(c4, v4, flags: 0x04), .slowTCPFlags),
            ("TTL 1 (time exceeded from lvsd)", Self.tcp(c4, v4, ttl: 1), .slowTTL),
            ("IPv6 with a hop-by-hop header", withOptions, .slowUnsupported),
            ("UDP length beyond the datagram (LVSPacket: bad_udp_length)", badUDPLength, .slowMalformed),
            (
                "a corrupted IPv4 header checksum (LVSPacket counts bad_ipv4_checksum)",
                {
                    var f = Self.tcp(c4, v4)
                    f[24] ^= 0xFF
                    return f
                }(), .slowMalformed
            ),
        ]
        for (name, frame, counter) in cases {
            let before = xdp.maps.counters()
            let run = try xdp.testRun(frame)
            let moved = xdp.maps.counters().since(before)
            #expect(moved[counter] == 1 && moved[.fastTX] == 0, "\(name): \(moved.nonZero)")
            #expect(run.output == frame, "\(name): modified")
        }
        // Egress MTU 1400 for a 1500-byte frame: fragment or frag-needed is lvsd's.
        let small = EgressLink(sourceMAC: link.sourceMAC, destinationMAC: link.destinationMAC, mtu: 1400)
        try xdp.maps.putFlow(
            tcpKey, XDPFlow.translate(tcpKey, destination: Self.n4.server, link: small, interface: 1, serverSlot: 1)!)
        var before = xdp.maps.counters()
        _ = try xdp.testRun(big)
        #expect(xdp.maps.counters().since(before)[.slowMTU] == 1)
        // An egress interface that is not the ingress and not in lvs_tx_ports.
        try xdp.maps.putFlow(
            tcpKey, XDPFlow.translate(tcpKey, destination: Self.n4.server, link: link, interface: 9, serverSlot: 1)!)
        before = xdp.maps.counters()
        let f = Self.tcp(c4, v4)
        let run = try xdp.testRun(f)
        #expect(xdp.maps.counters().since(before)[.slowNoEgress] == 1)
        #expect(run.output == f)
    }

    @Test("a full flow map refuses new flows: .mapFull, counted; they stay on the slow path")
    func flowMapFull() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let xdp = try XDPProgram(limits: .init(flows: 4, services: 16, addresses: 16, serverSlots: 4))
        defer { xdp.close() }
        let link = FixtureLinks.inside
        var refused = 0
        for port in UInt16(1000)..<1006 {
            let k = XDPFlowKey(
                protocolNumber: 6, source: Self.n4.client.address, sourcePort: port,
                destination: Self.n4.virtual.address,
                destinationPort: 80)
            do {
                try xdp.maps.putFlow(k, .directRoute(link: link, interface: 1, serverSlot: nil))
            } catch {
                #expect(error.code == .mapFull)
                refused += 1
            }
        }
        #expect(refused == 2)
        #expect(xdp.maps.flowsRejected == 2)
        #expect(xdp.maps.flowKeys().count == 4)
    }
}
