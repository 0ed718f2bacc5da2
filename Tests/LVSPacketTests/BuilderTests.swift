// Frames the director originates: ICMP errors (and when not to send them), tunnel MTU relays, ARP and NA.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

func build(_ body: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 2048)
    let n = out.withUnsafeMutableBytes(body)
    return Array(out.prefix(n))
}

@Suite("Originated frames")
struct BuilderTests {
    @Test("no ICMP error about an ICMP error, a later fragment, or a broadcast/multicast destination (RFC 1122 §3.2.2)")
    func suppression() {
        let n = FixtureNet.v4
        let src = n.virtual.address
        func icmp(_ frame: [UInt8], _ kind: ICMPBuilder.Kind = .portUnreachable) -> Int {
            let (_, info) = parse(frame)
            return build { out in
                frame.withUnsafeBytes { ICMPBuilder.build(kind, about: $0, info, source: src, into: out) }
            }.count
        }
        let ok = PacketBuilder.frame(.udp, from: n.client, to: n.virtual)
        #expect(icmp(ok) > 0)
        let err = PacketBuilder.ethernet(
            dst: Macs.director, src: Macs.client, etherType: 0x0800,
            payload: PacketBuilder.ipv4(
                src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 1,
                payload: PacketBuilder.icmpv4(type: 3, code: 3, payload: PacketBuilder.ipPacket(ok))))
        #expect(icmp(err) == 0)
        let echo = PacketBuilder.ethernet(
            dst: Macs.director, src: Macs.client, etherType: 0x0800,
            payload: PacketBuilder.ipv4(
                src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 1,
                payload: PacketBuilder.icmpv4(type: 8, code: 0, payload: [1])))
        #expect(icmp(echo, .timeExceeded) > 0)
        let later = PacketBuilder.ethernet(
            dst: Macs.director, src: Macs.client, etherType: 0x0800,
            payload: PacketBuilder.ipv4(
                src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 17,
                payload: PacketBuilder.pattern(16), dontFragment: false, fragmentOffset: 1480))
        #expect(icmp(later) == 0)
        let bcast = PacketBuilder.frame(.udp, from: n.client, to: Endpoint(.v4(IPv4Address(255, 255, 255, 255)), 67))
        #expect(icmp(bcast) == 0)
        let l2bcast = PacketBuilder.frame(.udp, from: n.client, to: n.virtual, dstMAC: .broadcast)
        #expect(icmp(l2bcast) == 0)
        // IPv6 packet-too-big is sent even for multicast (RFC 4443 §2.4(e.2)).
        let n6 = FixtureNet.v6
        let mc6 = PacketBuilder.frame(
            .udp, from: n6.client, to: Endpoint(IPAddress("ff0e::1")!, 5000), dstMAC: MACAddress(0x3333_0000_0001))
        let (_, i6) = parse(mc6)
        let v6src = n6.virtual.address
        #expect(
            build { o in
                mc6.withUnsafeBytes { ICMPBuilder.build(.portUnreachable, about: $0, i6, source: v6src, into: o) }
            }.isEmpty)
        #expect(
            !build { o in
                mc6.withUnsafeBytes {
                    ICMPBuilder.build(.fragmentationNeeded(mtu: 1280), about: $0, i6, source: v6src, into: o)
                }
            }.isEmpty)
        // Too small an output buffer gives nothing.
        let (_, info) = parse(ok)
        var tiny = [UInt8](repeating: 0, count: 40)
        let written = tiny.withUnsafeMutableBytes { o in
            ok.withUnsafeBytes { ICMPBuilder.build(.portUnreachable, about: $0, info, source: src, into: o) }
        }
        #expect(written == 0)
    }

    @Test(
        "a frag-needed about an ipip/GUE/GRE tunnel packet is read down to the client and relayed with MTU − overhead")
    func tunnelRelay() {
        let n = FixtureNet.v4
        for spec in PacketFixtures.tunnelSpecs {
            let client = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual, frameSize: 1400)
            // Encapsulate it as the director would.
            let (_, outer) = withFrame(client) { f, info, _ in
                Forwarding.tunnel(
                    &f, info, source: n.director, destination: n.server.address, spec: spec, ipID: 1,
                    link: FixtureLinks.inside)
            }
            // A router on the way to the server reports MTU 1300, quoting 576 bytes as Linux does.
            let outerIP = PacketBuilder.ipPacket(outer)
            let err = PacketBuilder.ethernet(
                dst: Macs.directorInside, src: Macs.gateway, etherType: 0x0800,
                payload: PacketBuilder.ipv4(
                    src: IPv4Address(10, 0, 9, 1), dst: n.director.v4!, proto: 1,
                    payload: PacketBuilder.icmpv4(type: 3, code: 4, rest: 1300, payload: Array(outerIP.prefix(548))),
                    dontFragment: false))
            let (v, info) = parse(err)
            #expect(v == .ip)
            let q = err.withUnsafeBytes { ICMPBuilder.tunnelQuote($0, info) }
            let overhead = Forwarding.tunnelOverhead(spec, outerIsIPv6: false)
            #expect(q?.overhead == overhead, "\(spec.type)")
            #expect(
                q?.flow
                    == FlowKey(
                        protocolNumber: 6, source: n.client.address, sourcePort: 40000, destination: n.virtual.address,
                        destinationPort: 80))
            #expect(q?.tunnelDestination == n.server.address)
            guard let quote = q else { continue }
            let relayed = build { o in
                err.withUnsafeBytes {
                    ICMPBuilder.relayFragmentationNeeded(
                        $0, quote, source: n.virtual.address, link: FixtureLinks.outside, into: o)
                }
            }
            let innerQuote = Array(outerIP[overhead..<548])
            let want = PacketBuilder.ethernet(
                dst: Macs.gateway, src: Macs.director, etherType: 0x0800,
                payload: PacketBuilder.ipv4(
                    src: n.virtual.address.v4!, dst: n.client.address.v4!, proto: 1,
                    payload: PacketBuilder.icmpv4(type: 3, code: 4, rest: UInt32(1300 - overhead), payload: innerQuote),
                    tos: 0xC0, id: 0, dontFragment: false))
            #expect(relayed == want, "\(spec.type): \(firstDifference(relayed, want))")
        }
    }

    @Test(
        "gratuitous ARP as keepalived sends it: broadcast request, sender = target = VIP, target MAC ff:ff:ff:ff:ff:ff")
    func garp() {
        let f = build {
            NeighborFrames.gratuitousARP(address: IPv4Address(192, 0, 2, 10), mac: Macs.director, into: $0)
        }
        let want = PacketBuilder.ethernet(
            dst: .broadcast, src: Macs.director, etherType: 0x0806,
            payload: [0, 1, 8, 0, 6, 4, 0, 1] + PacketBuilder.mac(Macs.director) + [192, 0, 2, 10]
                + PacketBuilder.mac(.broadcast) + [192, 0, 2, 10])
        #expect(f == want)
        let tagged = build {
            NeighborFrames.gratuitousARP(address: IPv4Address(192, 0, 2, 10), mac: Macs.director, vlan: 7, into: $0)
        }
        #expect(tagged.count == 46 && tagged[12] == 0x81 && tagged[15] == 7)
    }

    @Test("ARP reply to a request for the VIP (RFC 826)")
    func arpReply() {
        let req = PacketBuilder.ethernet(
            dst: .broadcast, src: Macs.client, etherType: 0x0806,
            payload: [0, 1, 8, 0, 6, 4, 0, 1] + PacketBuilder.mac(Macs.client) + [192, 0, 2, 1] + [0, 0, 0, 0, 0, 0] + [
                192, 0, 2, 10,
            ])
        let a = try! req.withUnsafeBytes { ARPInfo.parse($0, l3Offset: 14) }.get()
        let f = build { NeighborFrames.arpReply(to: a, mac: Macs.director, into: $0) }
        let want = PacketBuilder.ethernet(
            dst: Macs.client, src: Macs.director, etherType: 0x0806,
            payload: [0, 1, 8, 0, 6, 4, 0, 2] + PacketBuilder.mac(Macs.director) + [192, 0, 2, 10]
                + PacketBuilder.mac(Macs.client) + [192, 0, 2, 1])
        #expect(f == want)
        var reply = a
        reply.operation = 2
        #expect(build { NeighborFrames.arpReply(to: reply, mac: Macs.director, into: $0) }.isEmpty)
    }

    @Test("unsolicited NA as keepalived sends it: to ff02::1, hop limit 255, Override (+Router), target LL option")
    func neighborAdvertisement() {
        let vip = IPv6Address("2001:db8:1::10")!
        for router in [false, true] {
            let f = build {
                NeighborFrames.unsolicitedNeighborAdvertisement(
                    address: vip, mac: Macs.director, router: router, into: $0)
            }
            let body: [UInt8] =
                [(router ? 0x80 : 0) | 0x20, 0, 0, 0] + PacketBuilder.bytes(.v6(vip)) + [2, 1]
                + PacketBuilder.mac(Macs.director)
            let want = PacketBuilder.ethernet(
                dst: MACAddress(0x3333_0000_0001), src: Macs.director, etherType: 0x86DD,
                payload: PacketBuilder.ipv6(
                    src: vip, dst: IPv6Address("ff02::1")!, nextHeader: 58,
                    payload: PacketBuilder.icmpv6(
                        src: vip, dst: IPv6Address("ff02::1")!, type: 136, code: 0,
                        rest: UInt32(body[0]) << 24, payload: Array(body[4...])),
                    hopLimit: 255))
            #expect(f == want, "\(firstDifference(f, want))")
        }
    }
}
