// Fixtures for fragments and header variants: VLAN tags, IPv4 options, IPv6 extension headers, UDP checksum 0.
import LVSCore
import LVSPacket

extension PacketFixtures {
    /// `PacketBuilder.frame` as the director sends it on the inside link: from its inside MAC to
    /// the real server's, TTL (hop limit) 63.
    static func forwardedInside(
        _ l4: PacketBuilder.L4, from src: Endpoint, to dst: Endpoint, vlan: UInt16? = nil, payload: [UInt8]?,
        udpZeroChecksum: Bool = false, ipv4Options: [UInt8] = [], extensionHeaders: [PacketBuilder.ExtensionHeader] = []
    ) -> [UInt8] {
        PacketBuilder.frame(
            l4, from: src, to: dst, srcMAC: Macs.directorInside, dstMAC: Macs.server, vlan: vlan, ttl: 63,
            payload: payload, udpZeroChecksum: udpZeroChecksum, ipv4Options: ipv4Options,
            extensionHeaders: extensionHeaders)
    }
}

extension PacketFixtures {
    /// Fragments: the first carries the ports and the transport checksum, later ones only addresses.
    public static var fragments: [PacketFixture] {
        var out: [PacketFixture] = []
        let inside = FixtureLinks.inside
        let n4 = FixtureNet.v4
        let payload = PacketBuilder.pattern(2000)
        for l4 in [PacketBuilder.L4.udp, .tcp] {
            let dgram = PacketBuilder.ipPacket(
                PacketBuilder.frame(l4, from: n4.client, to: n4.virtual, dontFragment: false, payload: payload))
            let rewritten = PacketBuilder.ipPacket(
                PacketBuilder.frame(l4, from: n4.client, to: n4.server, ttl: 63, dontFragment: false, payload: payload))
            let inFrags = PacketBuilder.ipv4Fragments(dgram, sizes: [1480, 0])
            let outFrags = PacketBuilder.ipv4Fragments(rewritten, sizes: [1480, 0])
            for i in 0..<2 {
                out.append(
                    PacketFixture(
                        "nat-in IPv4 \(l4) fragment \(i + 1)/2: "
                            + (i == 0 ? "ports and checksum of the whole datagram updated" : "addresses only"),
                        input: PacketBuilder.ethernet(
                            dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: inFrags[i]),
                        action: .natInbound(server: n4.server), link: inside, verdict: .forward,
                        expected: [
                            PacketBuilder.ethernet(
                                dst: Macs.server, src: Macs.directorInside, etherType: 0x0800, payload: outFrags[i])
                        ]))
            }
        }
        // A UDP datagram without checksum, fragmented: it cannot be recomputed from one fragment, 0 stays.
        let z = PacketBuilder.ipv4(
            src: n4.client.address.v4!, dst: n4.virtual.address.v4!, proto: 17,
            payload: PacketBuilder.udp(
                src: n4.client.address, dst: n4.virtual.address, sport: n4.client.port, dport: n4.virtual.port,
                payload: payload, zeroChecksum: true), id: 0x2003, dontFragment: false)
        let zr = PacketBuilder.ipv4(
            src: n4.client.address.v4!, dst: n4.server.address.v4!, proto: 17,
            payload: PacketBuilder.udp(
                src: n4.client.address, dst: n4.server.address, sport: n4.client.port, dport: n4.server.port,
                payload: payload, zeroChecksum: true), ttl: 63, id: 0x2003, dontFragment: false)
        out.append(
            PacketFixture(
                "nat-in IPv4 UDP checksum 0, first fragment: 0 kept (the payload is in other fragments)",
                input: PacketBuilder.ethernet(
                    dst: Macs.director, src: Macs.client, etherType: 0x0800,
                    payload: PacketBuilder.ipv4Fragments(z, sizes: [1480, 0])[0]),
                action: .natInbound(server: n4.server), link: inside, verdict: .forward,
                expected: [
                    PacketBuilder.ethernet(
                        dst: Macs.server, src: Macs.directorInside, etherType: 0x0800,
                        payload: PacketBuilder.ipv4Fragments(zr, sizes: [1480, 0])[0])
                ]))
        // SCTP's CRC covers the whole packet, whose length a first fragment does not know.
        let s = PacketBuilder.ipPacket(
            PacketBuilder.frame(
                .sctp, from: n4.client, to: n4.virtual, dontFragment: false, payload: payload, id: 0x2004))
        out.append(
            PacketFixture(
                "nat-in IPv4 SCTP fragment: dropped as unsupported_fragment",
                input: PacketBuilder.ethernet(
                    dst: Macs.director, src: Macs.client, etherType: 0x0800,
                    payload: PacketBuilder.ipv4Fragments(s, sizes: [1480, 0])[0]),
                action: .natInbound(server: n4.server), link: inside, verdict: .drop(.unsupportedFragment),
                expected: []))
        // IPv6: fragment extension header.
        let n6 = FixtureNet.v6
        for l4 in [PacketBuilder.L4.udp, .tcp] {
            let seg = transport(l4, from: n6.client, to: n6.virtual, payload: payload)
            let newSeg = transport(l4, from: n6.client, to: n6.server, payload: payload)
            let split = 1448
            for i in 0..<2 {
                let hdr = PacketBuilder.ExtensionHeader.fragment(offset: i == 0 ? 0 : split, more: i == 0, id: 0xABCD)
                let part = { (b: [UInt8]) in i == 0 ? Array(b[0..<split]) : Array(b[split...]) }
                out.append(
                    PacketFixture(
                        "nat-in IPv6 \(l4) fragment \(i + 1)/2 (fragment header)",
                        input: PacketBuilder.ethernet(
                            dst: Macs.director, src: Macs.client, etherType: 0x86DD,
                            payload: PacketBuilder.ipv6(
                                src: n6.client.address.v6!, dst: n6.virtual.address.v6!, nextHeader: l4.number,
                                payload: part(seg), extensionHeaders: [hdr])),
                        action: .natInbound(server: n6.server), link: inside, verdict: .forward,
                        expected: [
                            PacketBuilder.ethernet(
                                dst: Macs.server, src: Macs.directorInside, etherType: 0x86DD,
                                payload: PacketBuilder.ipv6(
                                    src: n6.client.address.v6!, dst: n6.server.address.v6!, nextHeader: l4.number,
                                    payload: part(newSeg), hopLimit: 63, extensionHeaders: [hdr]))
                        ]))
            }
        }
        return out
    }

    /// A TCP or UDP header and payload between two endpoints, with its checksum.
    static func transport(_ l4: PacketBuilder.L4, from s: Endpoint, to d: Endpoint, payload: [UInt8]) -> [UInt8] {
        l4 == .tcp
            ? PacketBuilder.tcp(src: s.address, dst: d.address, sport: s.port, dport: d.port, payload: payload)
            : PacketBuilder.udp(src: s.address, dst: d.address, sport: s.port, dport: d.port, payload: payload)
    }

    /// VLAN tags, IPv4 options, IPv6 extension headers, TCP options, Ethernet padding, UDP checksum 0
    /// and 0xFFFF, and ECN through a tunnel.
    public static var variants: [PacketFixture] {
        var out: [PacketFixture] = []
        let inside = FixtureLinks.inside
        let n4 = FixtureNet.v4
        let n6 = FixtureNet.v6
        let b = PacketBuilder.pattern(26)
        // VLAN.
        let tagged = PacketBuilder.frame(.tcp, from: n4.client, to: n4.virtual, vlan: 100, payload: b)
        let tagLink = EgressLink(sourceMAC: Macs.directorInside, destinationMAC: Macs.server, mtu: 1500, vlan: 100)
        out.append(
            PacketFixture(
                "nat-in 802.1Q VLAN 100 in and out", input: tagged, action: .natInbound(server: n4.server),
                link: tagLink, verdict: .forward,
                expected: [
                    forwardedInside(.tcp, from: n4.client, to: n4.server, vlan: 100, payload: b)
                ]))
        out.append(
            PacketFixture(
                "dr VLAN 100 in, untagged out", input: tagged, action: .directRoute, link: inside, verdict: .forward,
                expected: [
                    forwardedInside(.tcp, from: n4.client, to: n4.virtual, payload: b)
                ]))
        let pcp = EgressLink(sourceMAC: Macs.directorInside, destinationMAC: Macs.server, mtu: 1500, vlan: 0xA0C8)
        out.append(
            PacketFixture(
                "dr IPv6 untagged in, VLAN 200 PCP 5 out (tag pushed into the headroom)",
                input: PacketBuilder.frame(.udp, from: n6.client, to: n6.virtual, payload: b), action: .directRoute,
                link: pcp, verdict: .forward,
                expected: [
                    forwardedInside(.udp, from: n6.client, to: n6.virtual, vlan: 0xA0C8, payload: b)
                ]))
        // IPv4 options: router alert and record route.
        let opts: [UInt8] = [0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00]
        out.append(
            PacketFixture(
                "nat-in IPv4 with options (router alert, record route)",
                input: PacketBuilder.frame(.udp, from: n4.client, to: n4.virtual, payload: b, ipv4Options: opts),
                action: .natInbound(server: n4.server), link: inside, verdict: .forward,
                expected: [
                    forwardedInside(.udp, from: n4.client, to: n4.server, payload: b, ipv4Options: opts)
                ]))
        // IPv6 hop-by-hop and destination options.
        let ext: [PacketBuilder.ExtensionHeader] = [.padding(type: 0), .padding(type: 60)]
        out.append(
            PacketFixture(
                "nat-in IPv6 with hop-by-hop and destination options headers",
                input: PacketBuilder.frame(.tcp, from: n6.client, to: n6.virtual, payload: b, extensionHeaders: ext),
                action: .natInbound(server: n6.server), link: inside, verdict: .forward,
                expected: [
                    forwardedInside(.tcp, from: n6.client, to: n6.server, payload: b, extensionHeaders: ext)
                ]))
        // TCP options (MSS, SACK permitted, timestamps, window scale) on a SYN.
        let tcpOpts: [UInt8] = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
        let syn = { (s: Endpoint, d: Endpoint, ttl: UInt8, src: MACAddress, dst: MACAddress) -> [UInt8] in
            PacketBuilder.ethernet(
                dst: dst, src: src, etherType: 0x0800,
                payload: PacketBuilder.ipv4(
                    src: s.address.v4!, dst: d.address.v4!, proto: 6,
                    payload: PacketBuilder.tcp(
                        src: s.address, dst: d.address, sport: s.port, dport: d.port, flags: 0x02, options: tcpOpts),
                    ttl: ttl))
        }
        out.append(
            PacketFixture(
                "nat-in IPv4 SYN with TCP options", input: syn(n4.client, n4.virtual, 64, Macs.client, Macs.director),
                action: .natInbound(server: n4.server), link: inside, verdict: .forward,
                expected: [syn(n4.client, n4.server, 63, Macs.directorInside, Macs.server)]))
        // Ethernet padding beyond the IP packet is not forwarded.
        var padded = PacketBuilder.frame(.udp, from: n4.client, to: n4.virtual, payload: [1, 2, 3, 4])
        padded += [UInt8](repeating: 0, count: 60 - padded.count)
        out.append(
            PacketFixture(
                "nat-in IPv4 minimum frame with Ethernet padding: padding dropped, IP length kept", input: padded,
                action: .natInbound(server: n4.server), link: inside, verdict: .forward,
                expected: [
                    forwardedInside(.udp, from: n4.client, to: n4.server, payload: [1, 2, 3, 4])
                ]))
        // UDP checksum 0.
        for v6 in [false, true] {
            let n = FixtureNet.of(v6: v6)
            let fam = v6 ? "IPv6" : "IPv4"
            out.append(
                PacketFixture(
                    "nat-in \(fam) UDP checksum 0: K:ip_vs_proto_udp.c recomputes it in full",
                    input: PacketBuilder.frame(.udp, from: n.client, to: n.virtual, payload: b, udpZeroChecksum: true),
                    action: .natInbound(server: n.server), link: inside, verdict: .forward,
                    expected: [
                        forwardedInside(.udp, from: n.client, to: n.server, payload: b)
                    ]))
            // A payload whose rewritten checksum computes to 0, which goes out as 0xFFFF (RFC 768).
            var p = PacketBuilder.pattern(18) + [0, 0]
            let probe = PacketBuilder.udp(
                src: n.client.address, dst: n.server.address, sport: n.client.port, dport: n.server.port, payload: p)
            let c0 = UInt16(probe[6]) << 8 | UInt16(probe[7])
            p[18] = UInt8(c0 >> 8)
            p[19] = UInt8(c0 & 0xFF)
            let expected = forwardedInside(.udp, from: n.client, to: n.server, payload: p)
            out.append(
                PacketFixture(
                    "nat-in \(fam) UDP whose new checksum computes to 0: sent as 0xFFFF (CSUM_MANGLED_0)",
                    input: PacketBuilder.frame(.udp, from: n.client, to: n.virtual, payload: p),
                    action: .natInbound(server: n.server), link: inside, verdict: .forward, expected: [expected]))
        }
        out.append(
            PacketFixture(
                "dr IPv4 UDP checksum 0: untouched, 0 stays (IPv4's \"no checksum\")",
                input: PacketBuilder.frame(.udp, from: n4.client, to: n4.virtual, payload: b, udpZeroChecksum: true),
                action: .directRoute, link: inside, verdict: .forward,
                expected: [
                    forwardedInside(.udp, from: n4.client, to: n4.virtual, payload: b, udpZeroChecksum: true)
                ]))
        // ECN through a tunnel: CE inside becomes ECT(0) outside (RFC 6040).
        let ce = PacketBuilder.frame(.tcp, from: n4.client, to: n4.virtual, tos: 0xA3, payload: b)
        out.append(
            PacketFixture(
                "tun-ipip IPv4 DSCP 40 + CE: outer DS copied, CE → ECT(0) (INET_ECN_encapsulate)", input: ce,
                action: .tunnel(source: n4.director, destination: n4.server.address, spec: TunnelSpec(), ipID: 3),
                link: inside, verdict: .forward,
                expected: [
                    tunnelled(
                        ce, l4: .tcp, net: n4, outer: n4, spec: TunnelSpec(), ipID: 3, payload: b, tos: 0xA3,
                        link: inside)
                ]))
        return out
    }
}
