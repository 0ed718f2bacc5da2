// The parser's view of frames: fields, offsets, fragments, ICMP-quoted flows, ARP; and robustness to cut or mangled frames.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

@Suite("Parser")
struct ParserTests {
    @Test("IPv4 TCP SYN behind a VLAN tag: offsets, addresses, ports, flags, TTL")
    func ipv4Fields() {
        let n = FixtureNet.v4
        let f = PacketBuilder.frame(
            .tcp, from: n.client, to: n.virtual, vlan: 0x2064, ttl: 17, tos: 0x10, tcpFlags: 0x02)
        let (v, i) = parse(f)
        #expect(v == .ip)
        #expect(i.vlan == 0x2064)
        #expect(i.l3Offset == 18 && i.l4Offset == 38 && i.ipHeaderLength == 20)
        #expect(i.source == n.client.address && i.destination == n.virtual.address)
        #expect(i.sourcePort == 40000 && i.destinationPort == 80 && i.hasPorts)
        #expect(i.tcpFlags == 0x02 && i.ttl == 17 && i.tos == 0x10 && i.dontFragment)
        #expect(!i.isFragment && !i.isICMPError)
        #expect(
            f.withUnsafeBytes { i.flow(in: $0) }
                == FlowKey(
                    protocolNumber: 6, source: n.client.address, sourcePort: 40000, destination: n.virtual.address,
                    destinationPort: 80))
    }

    @Test("IPv6 with hop-by-hop, destination options and a fragment header: upper layer found, fragment info read")
    func ipv6Extensions() {
        let n = FixtureNet.v6
        let seg = PacketBuilder.udp(
            src: n.client.address, dst: n.virtual.address, sport: 5, dport: 53, payload: PacketBuilder.pattern(40))
        let ip = PacketBuilder.ipv6(
            src: n.client.address.v6!, dst: n.virtual.address.v6!, nextHeader: 17, payload: Array(seg.prefix(32)),
            extensionHeaders: [
                .padding(type: 0), .padding(type: 60), .fragment(offset: 0, more: true, id: 0xDEAD_BEEF),
            ])
        let (v, i) = parse(PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x86DD, payload: ip))
        #expect(v == .ip)
        #expect(i.isIPv6 && i.protocolNumber == 17 && i.ipHeaderLength == 40 + 8 + 8 + 8)
        #expect(i.isFragment && i.isFirstFragment && i.moreFragments && i.fragmentID == 0xDEAD_BEEF)
        #expect(i.hasPorts && i.sourcePort == 5 && i.destinationPort == 53)
        // A later fragment has no ports.
        let later = PacketBuilder.ipv6(
            src: n.client.address.v6!, dst: n.virtual.address.v6!, nextHeader: 17, payload: Array(seg[32...]),
            extensionHeaders: [.fragment(offset: 32, more: false, id: 0xDEAD_BEEF)])
        let (v2, j) = parse(
            PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x86DD, payload: later))
        #expect(v2 == .ip && j.isLaterFragment && !j.hasPorts && j.fragmentOffset == 32)
    }

    @Test("an ICMP error's flow is its quoted packet reversed (K:ip_vs_core.c ip_vs_in_icmp looks it up in reverse)")
    func icmpFlow() {
        let n = FixtureNet.v4
        let quote = PacketBuilder.ipPacket(PacketBuilder.frame(.udp, from: n.virtual, to: n.client))
        let f = PacketBuilder.ethernet(
            dst: Macs.director, src: Macs.client, etherType: 0x0800,
            payload: PacketBuilder.ipv4(
                src: n.router.v4!, dst: n.virtual.address.v4!, proto: 1,
                payload: PacketBuilder.icmpv4(type: 3, code: 4, rest: 1400, payload: quote)))
        let (v, i) = parse(f)
        let e0 = f.withUnsafeBytes { i.icmpError(in: $0) }
        #expect(v == .ip && i.icmpType == 3 && i.icmpCode == 4 && e0?.reportedMTU == 1400)
        #expect(e0?.hasPorts == true)
        #expect(
            f.withUnsafeBytes { i.flow(in: $0) }
                == FlowKey(
                    protocolNumber: 17, source: n.client.address, sourcePort: 40000, destination: n.virtual.address,
                    destinationPort: 80))
        // Echo requests are not errors: no quoted flow.
        let echo = PacketBuilder.ethernet(
            dst: Macs.director, src: Macs.client, etherType: 0x0800,
            payload: PacketBuilder.ipv4(
                src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 1,
                payload: PacketBuilder.icmpv4(type: 8, code: 0, payload: [1, 2, 3])))
        let (ve, e) = parse(echo)
        #expect(ve == .ip && !e.isICMPError && e.icmpType == 8)
    }

    @Test("ARP request, reply and gratuitous ARP are read; non-IP EtherTypes are left alone")
    func arp() {
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes {
            NeighborFrames.gratuitousARP(address: IPv4Address(192, 0, 2, 10), mac: Macs.director, into: $0)
        }
        let frame = Array(buf.prefix(n))
        let (v, i) = parse(frame)
        #expect(v == .arp)
        let a = try? frame.withUnsafeBytes { ARPInfo.parse($0, l3Offset: i.l3Offset) }.get()
        #expect(a?.operation == 1 && a?.isGratuitous == true && a?.senderMAC == Macs.director)
        #expect((try? frame.withUnsafeBytes { ARPInfo.parse($0, l3Offset: 14) }.get()) == a)
        let short = Array(frame.prefix(30))
        #expect(short.withUnsafeBytes { ARPInfo.parse($0, l3Offset: 14) } == .failure(ARPError(reason: .truncatedARP)))
        let lldp = PacketBuilder.ethernet(dst: .broadcast, src: Macs.client, etherType: 0x88CC, payload: [0, 0])
        #expect(parse(lldp).0 == .other)
    }

    @Test("every fixture cut short anywhere inside its IP packet is dropped, never read past the end")
    func truncation() {
        for f in PacketFixtures.all {
            let (v0, info) = parse(f.input)
            guard v0 == .ip else { continue }
            for cut in 0..<info.ipEnd {
                let (v, _) = parse(Array(f.input.prefix(cut)))
                if case .drop = v {} else { Issue.record("\(f.name) cut at \(cut): \(v)") }
            }
        }
    }

    @Test("200 000 mangled frames through the parser and every transform: no crash, verdicts only")
    func mangled() {
        var rng = SeededRandom(seed: 7)
        let seeds = PacketFixtures.all.map(\.input)
        let n = FixtureNet.v4
        var counters = PacketCounters()
        for k in 0..<200_000 {
            var f = seeds[k % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                f[Int.random(in: 0..<f.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { f = Array(f.prefix(Int.random(in: 0...f.count, using: &rng))) }
            let actions: [FixtureAction] = [
                .natInbound(server: n.server), .natOutbound(virtual: n.virtual), .directRoute,
                .tunnel(
                    source: n.director, destination: n.server.address, spec: TunnelSpec(type: .gue, port: 6080), ipID: 1
                ),
                .fullNATInbound(local: n.local, server: n.server),
                .fullNATOutbound(virtual: n.virtual, client: n.client),
            ]
            let act = actions[k % actions.count]
            let (v, _) = withFrame(f) { frame, info, pv -> ForwardVerdict in
                guard pv == .ip else { return .drop(.unsupportedPacket) }
                return PacketFixtures.apply(act, &frame, info, link: FixtureLinks.inside)
            }
            if case .drop(let r) = v { counters.count(r) }
        }
        #expect(counters.total > 0)
    }
}
