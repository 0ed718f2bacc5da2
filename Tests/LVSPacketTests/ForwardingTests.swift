// Forwarding details beyond the table: headroom, families, the GUE source port, counters.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

@Suite("Forwarding")
struct ForwardingTests {
    @Test("without headroom a tunnel or a new VLAN tag is refused, and the frame is left as it was")
    func headroom() {
        let n = FixtureNet.v4
        let f = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual)
        let (v, out) = withFrame(f, headroom: 0) { fr, info, _ in
            Forwarding.tunnel(
                &fr, info, source: n.director, destination: n.server.address, spec: TunnelSpec(), ipID: 0,
                link: FixtureLinks.inside)
        }
        #expect(v == .drop(.noHeadroom))
        #expect(out == f)
        let tag = EgressLink(sourceMAC: Macs.director, destinationMAC: Macs.server, vlan: 9)
        let (v2, out2) = withFrame(f, headroom: 3) { fr, info, _ in Forwarding.directRoute(&fr, info, link: tag) }
        #expect(v2 == .drop(.noHeadroom) && out2 == f)
        // Ipip over IPv4 needs 20 bytes in front of the IP header; the old Ethernet header gives 14.
        let (v3, _) = withFrame(f, headroom: 20) { fr, info, _ in
            Forwarding.tunnel(
                &fr, info, source: n.director, destination: n.server.address, spec: TunnelSpec(), ipID: 0,
                link: FixtureLinks.inside)
        }
        #expect(v3 == .forward)
    }

    @Test("NAT to an address of the other family is refused (only tunnels may cross families)")
    func family() {
        let n = FixtureNet.v4
        let f = PacketBuilder.frame(.udp, from: n.client, to: n.virtual)
        let (v, out) = withFrame(f) { fr, info, _ in
            Forwarding.natInbound(
                &fr, info, server: FixtureNet.v6.server.address, serverPort: 1, link: FixtureLinks.inside)
        }
        #expect(v == .drop(.familyMismatch) && out == f)
        let (v2, _) = withFrame(f) { fr, info, _ in
            Forwarding.tunnel(
                &fr, info, source: n.director, destination: FixtureNet.v6.server.address, spec: TunnelSpec(), ipID: 0,
                link: FixtureLinks.inside)
        }
        #expect(v2 == .drop(.familyMismatch))
    }

    @Test("GUE source ports: in 32768..<61000, spread over flows, the same for every fragment of a datagram")
    func gueSourcePort() {
        let n = FixtureNet.v4
        var seen = Set<UInt16>()
        for port in UInt16(1000)..<UInt16(3000) {
            let (_, info) = parse(PacketBuilder.frame(.tcp, from: Endpoint(n.client.address, port), to: n.virtual))
            let p = Forwarding.tunnelSourcePort(info)
            #expect((32768..<61000).contains(p))
            seen.insert(p)
        }
        #expect(seen.count > 1900)
        let d = PacketBuilder.ipPacket(
            PacketBuilder.frame(
                .udp, from: n.client, to: n.virtual, dontFragment: false, payload: PacketBuilder.pattern(2000)))
        let ports = PacketBuilder.ipv4Fragments(d, sizes: [1480, 0]).map {
            Forwarding.tunnelSourcePort(
                parse(PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: $0)).1)
        }
        #expect(ports[0] == ports[1])
    }

    @Test("a tunnel MTU under 68 (IPv4) or 1280 (IPv6) is refused")
    func tunnelMinimumMTU() {
        let n = FixtureNet.v6
        let f = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual)
        let link = EgressLink(sourceMAC: Macs.director, destinationMAC: Macs.server, mtu: 1300)
        let (v, _) = withFrame(f) { fr, info, _ in
            Forwarding.tunnel(
                &fr, info, source: n.director, destination: n.server.address, spec: TunnelSpec(), ipID: 0, link: link)
        }
        #expect(v == .drop(.tunnelMTUTooSmall))
    }

    @Test("drop counters: one per reason, named, summed")
    func counters() {
        #expect(DropReason.allCases.count == DropReason.allCases.map(\.description).count)
        #expect(Set(DropReason.allCases.map(\.description)).count == DropReason.allCases.count)
        #expect(DropReason.truncatedIPv4Header.description == "truncated_ipv4_header")
        var c = PacketCounters()
        c.count(.badIPv4Checksum)
        c.count(.badIPv4Checksum)
        c.count(.ttlExpired)
        #expect(c[.badIPv4Checksum] == 2 && c[.ttlExpired] == 1 && c.total == 3)
        var d = PacketCounters()
        d.add(c)
        d.add(c)
        #expect(d.total == 6 && d.nonZero.count == 2)
    }

    @Test("MAC addresses parse and print")
    func mac() {
        #expect(MACAddress("02:00:00:00:00:0d") == Macs.director)
        #expect(Macs.director.description == "02:00:00:00:00:0d")
        #expect(MACAddress("02:00:00:00:00") == nil && MACAddress("zz:00:00:00:00:00") == nil)
        #expect(MACAddress.broadcast.isGroup && !Macs.director.isGroup)
    }
}
