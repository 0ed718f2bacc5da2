// Fixtures beyond the matrix: ICMP errors, TTL and MTU limits, fragments, VLANs, options, UDP zero checksums.
import LVSCore
import LVSPacket

extension PacketFixtures {
    /// An IP packet of `l4` from `src` to `dst` with a small payload (TTL 63: it went through the director).
    static func quoted(_ l4: PacketBuilder.L4, _ src: Endpoint, _ dst: Endpoint, ttl: UInt8 = 63) -> [UInt8] {
        PacketBuilder.ipPacket(
            PacketBuilder.frame(l4, from: src, to: dst, ttl: ttl, payload: PacketBuilder.pattern(20)))
    }

    /// An ICMP error frame from `from` to `to` quoting `quote` (v4: type/code/rest; v6 likewise).
    static func icmpErrorFrame(
        from: IPAddress, to: IPAddress, type: UInt8, code: UInt8, rest: UInt32 = 0, quote: [UInt8], ttl: UInt8 = 60,
        srcMAC: MACAddress, dstMAC: MACAddress, vlan: UInt16? = nil, tos: UInt8 = 0, id: UInt16 = 0x1234
    ) -> [UInt8] {
        switch (from, to) {
        case (.v4(let s), .v4(let d)):
            let m = PacketBuilder.icmpv4(type: type, code: code, rest: rest, payload: quote)
            return PacketBuilder.ethernet(
                dst: dstMAC, src: srcMAC, vlan: vlan, etherType: 0x0800,
                payload: PacketBuilder.ipv4(
                    src: s, dst: d, proto: 1, payload: m, ttl: ttl, tos: tos, id: id, dontFragment: false))
        case (.v6(let s), .v6(let d)):
            let m = PacketBuilder.icmpv6(src: s, dst: d, type: type, code: code, rest: rest, payload: quote)
            return PacketBuilder.ethernet(
                dst: dstMAC, src: srcMAC, vlan: vlan, etherType: 0x86DD,
                payload: PacketBuilder.ipv6(
                    src: s, dst: d, nextHeader: 58, payload: m, hopLimit: ttl, trafficClass: tos))
        default:
            preconditionFailure("mixed families")
        }
    }

    /// ICMP errors about tracked connections, rewritten inside and out (K:ip_vs_core.c
    /// ip_vs_in_icmp / ip_vs_out_icmp, ip_vs_nat_icmp).
    public static var icmpErrors: [PacketFixture] {
        var out: [PacketFixture] = []
        let inside = FixtureLinks.inside
        let outside = FixtureLinks.outside
        for v6 in [false, true] {
            let n = FixtureNet.of(v6: v6)
            let fam = v6 ? "IPv6" : "IPv4"
            let (tooBigType, tooBigCode): (UInt8, UInt8) = v6 ? (2, 0) : (3, 4)
            let (unreachType, unreachCode): (UInt8, UInt8) = v6 ? (1, 4) : (3, 3)
            for l4 in [PacketBuilder.L4.tcp, .udp] {
                // From the client side about a reply VIP:vport → client (NAT in).
                let reply = quoted(l4, n.virtual, n.client)
                for cut in [nil, 28 + (v6 ? 20 : 0)] as [Int?] {
                    let q = cut.map { Array(reply.prefix($0)) } ?? reply
                    let qs = cut == nil ? "whole quote" : "8-byte transport quote"
                    let input = icmpErrorFrame(
                        from: n.router, to: n.virtual.address, type: tooBigType, code: tooBigCode, rest: 1400,
                        quote: q, srcMAC: Macs.client, dstMAC: Macs.director)
                    let newQuote = quoted(l4, n.server, n.client)
                    out.append(
                        PacketFixture(
                            "nat-in ICMP \(fam) \(l4) too-big, \(qs): outer dst and quoted src → RS:rport",
                            input: input, action: .natInbound(server: n.server), link: inside, verdict: .forward,
                            expected: [
                                icmpErrorFrame(
                                    from: n.router, to: n.server.address, type: tooBigType, code: tooBigCode,
                                    rest: 1400, quote: cut.map { Array(newQuote.prefix($0)) } ?? newQuote, ttl: 59,
                                    srcMAC: inside.sourceMAC, dstMAC: inside.destinationMAC)
                            ]))
                    // FULLNAT in: the server must see LIP → RS quoting RS:rport → LIP:lport.
                    let fnQuote = quoted(l4, n.server, n.local)
                    out.append(
                        PacketFixture(
                            "fullnat-in ICMP \(fam) \(l4) too-big, \(qs): outer LIP→RS, quote RS:rport→LIP:lport",
                            input: input, action: .fullNATInbound(local: n.local, server: n.server), link: inside,
                            verdict: .forward,
                            expected: [
                                icmpErrorFrame(
                                    from: n.local.address, to: n.server.address, type: tooBigType, code: tooBigCode,
                                    rest: 1400, quote: cut.map { Array(fnQuote.prefix($0)) } ?? fnQuote, ttl: 59,
                                    srcMAC: inside.sourceMAC, dstMAC: inside.destinationMAC)
                            ]))
                    // DR forwards the error unchanged but for TTL and MACs.
                    out.append(
                        PacketFixture(
                            "dr ICMP \(fam) \(l4) too-big, \(qs): forwarded as is", input: input, action: .directRoute,
                            link: inside, verdict: .forward,
                            expected: [
                                icmpErrorFrame(
                                    from: n.router, to: n.virtual.address, type: tooBigType, code: tooBigCode,
                                    rest: 1400, quote: q, ttl: 59, srcMAC: inside.sourceMAC,
                                    dstMAC: inside.destinationMAC)
                            ]))
                }
                // From the server side about a packet client → RS:rport (NAT out).
                let fwd = quoted(l4, n.client, n.server)
                out.append(
                    PacketFixture(
                        "nat-out ICMP \(fam) \(l4) unreachable: outer src and quoted dst → VIP:vport",
                        input: icmpErrorFrame(
                            from: n.server.address, to: n.client.address, type: unreachType, code: unreachCode,
                            quote: fwd, ttl: 64, srcMAC: Macs.server, dstMAC: Macs.directorInside),
                        action: .natOutbound(virtual: n.virtual), link: outside, verdict: .forward,
                        expected: [
                            icmpErrorFrame(
                                from: n.virtual.address, to: n.client.address, type: unreachType, code: unreachCode,
                                quote: quoted(l4, n.client, n.virtual), ttl: 63, srcMAC: outside.sourceMAC,
                                dstMAC: outside.destinationMAC)
                        ]))
                // FULLNAT out: RS → LIP about LIP:lport → RS:rport becomes VIP → client about client → VIP.
                out.append(
                    PacketFixture(
                        "fullnat-out ICMP \(fam) \(l4) unreachable: VIP→client quoting client→VIP:vport",
                        input: icmpErrorFrame(
                            from: n.server.address, to: n.local.address, type: unreachType, code: unreachCode,
                            quote: quoted(l4, n.local, n.server), ttl: 64, srcMAC: Macs.server,
                            dstMAC: Macs.directorInside),
                        action: .fullNATOutbound(virtual: n.virtual, client: n.client), link: outside,
                        verdict: .forward,
                        expected: [
                            icmpErrorFrame(
                                from: n.virtual.address, to: n.client.address, type: unreachType, code: unreachCode,
                                quote: quoted(l4, n.client, n.virtual), ttl: 63, srcMAC: outside.sourceMAC,
                                dstMAC: outside.destinationMAC)
                        ]))
            }
            // A corrupted ICMP error is verified before NAT recomputes its checksum.
            var bad = icmpErrorFrame(
                from: n.router, to: n.virtual.address, type: tooBigType, code: tooBigCode, rest: 1400,
                quote: quoted(.tcp, n.virtual, n.client), srcMAC: Macs.client, dstMAC: Macs.director)
            bad[bad.count - 1] ^= 0xFF
            out.append(
                PacketFixture(
                    "nat-in ICMP \(fam) with a bad checksum: K:ip_vs_core.c ip_vs_in_icmp checks it, dropped",
                    input: bad, action: .natInbound(server: n.server), link: inside,
                    verdict: .drop(.badICMPChecksum), expected: []))
            // An ICMP error at TTL 1 dies without an error about it (RFC 1122 §3.2.2).
            out.append(
                PacketFixture(
                    "dr ICMP \(fam) at TTL 1: dropped, no ICMP about an ICMP error",
                    input: icmpErrorFrame(
                        from: n.router, to: n.virtual.address, type: tooBigType, code: tooBigCode, rest: 1400,
                        quote: quoted(.tcp, n.virtual, n.client), ttl: 1, srcMAC: Macs.client,
                        dstMAC: Macs.director), action: .directRoute, link: inside, verdict: .drop(.ttlExpired),
                    expected: []))
        }
        return out
    }

    /// TTL expiry, MTU limits and "no server": the verdict and the ICMP error or fragments that go out.
    public static var limits: [PacketFixture] {
        var out: [PacketFixture] = []
        let inside = FixtureLinks.inside
        for v6 in [false, true] {
            let n = FixtureNet.of(v6: v6)
            let fam = v6 ? "IPv6" : "IPv4"
            let b = PacketBuilder.pattern(20)
            // TTL 1: time exceeded from the VIP, quoting the packet (K:ip_vs_xmit.c decrement_ttl).
            let dying = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual, ttl: 1, payload: b)
            let teType: UInt8 = v6 ? 3 : 11
            for act in [
                FixtureAction.natInbound(server: n.server), .directRoute,
                .fullNATInbound(local: n.local, server: n.server),
            ] {
                out.append(
                    PacketFixture(
                        "\(act.name) \(fam) TTL 1: K:ip_vs_xmit.c decrement_ttl sends time exceeded", input: dying,
                        action: act, link: inside, verdict: .timeExceeded,
                        expected: [
                            icmpErrorFrame(
                                from: n.virtual.address, to: n.client.address, type: teType, code: 0,
                                quote: PacketBuilder.ipPacket(dying), ttl: 64, srcMAC: Macs.director,
                                dstMAC: Macs.client, tos: v6 ? 0 : 0xC0, id: 0)
                        ], icmpSource: n.virtual.address))
            }
            // Too big for the egress: DF (and every IPv6 packet) gets frag-needed / packet-too-big.
            let mtu = v6 ? 1280 : 1400
            let big = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual, frameSize: 1500)
            let maxQuote = v6 ? 1280 - 48 : 576 - 28
            let link = EgressLink(sourceMAC: inside.sourceMAC, destinationMAC: inside.destinationMAC, mtu: mtu)
            out.append(
                PacketFixture(
                    "nat-in \(fam) 1500B, DF, egress MTU \(mtu): K:ip_vs_xmit.c ensure_mtu_is_adequate, ICMP too-big",
                    input: big, action: .natInbound(server: n.server), link: link,
                    verdict: .fragmentationNeeded(mtu: mtu),
                    expected: [
                        icmpErrorFrame(
                            from: n.virtual.address, to: n.client.address, type: v6 ? 2 : 3, code: v6 ? 0 : 4,
                            rest: UInt32(mtu), quote: Array(PacketBuilder.ipPacket(big).prefix(maxQuote)), ttl: 64,
                            srcMAC: Macs.director, dstMAC: Macs.client, tos: v6 ? 0 : 0xC0, id: 0)
                    ], icmpSource: n.virtual.address))
            // A tunnel's MTU is the link's less the encapsulation.
            for spec in [TunnelSpec(type: .ipip), TunnelSpec(type: .gue, port: 6080)] {
                let o = FixtureNet.v4
                let act = FixtureAction.tunnel(source: o.director, destination: o.server.address, spec: spec, ipID: 7)
                let tmtu = 1500 - Forwarding.tunnelOverhead(spec, outerIsIPv6: false)
                out.append(
                    PacketFixture(
                        "\(act.name) \(fam) 1500B over IPv4, link MTU 1500: frag-needed with MTU \(tmtu)",
                        input: big, action: act, link: inside, verdict: .fragmentationNeeded(mtu: tmtu),
                        expected: [
                            icmpErrorFrame(
                                from: n.virtual.address, to: n.client.address, type: v6 ? 2 : 3, code: v6 ? 0 : 4,
                                rest: UInt32(tmtu), quote: Array(PacketBuilder.ipPacket(big).prefix(maxQuote)),
                                ttl: 64, srcMAC: Macs.director, dstMAC: Macs.client, tos: v6 ? 0 : 0xC0, id: 0)
                        ], icmpSource: n.virtual.address))
            }
            // No server available: port unreachable (K:ip_vs_core.c ip_vs_leave).
            let syn = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual, tcpFlags: 0x02)
            out.append(
                PacketFixture(
                    "no-server \(fam): K:ip_vs_core.c ip_vs_leave answers ICMP port unreachable", input: syn,
                    action: .noServer(source: n.virtual.address), link: inside, verdict: .drop(.noServerAvailable),
                    expected: [
                        icmpErrorFrame(
                            from: n.virtual.address, to: n.client.address, type: v6 ? 1 : 3, code: v6 ? 4 : 3,
                            quote: PacketBuilder.ipPacket(syn), ttl: 64, srcMAC: Macs.director, dstMAC: Macs.client,
                            tos: v6 ? 0 : 0xC0, id: 0)
                    ]))
        }
        // IPv4 without DF: fragmented after the rewrite (K:ip_vs_xmit.c ignore_df → ip_fragment).
        let n = FixtureNet.v4
        let b = body(.udp, v6: false, frameSize: 1500)
        let big = PacketBuilder.frame(.udp, from: n.client, to: n.virtual, dontFragment: false, payload: b)
        let rewritten = PacketBuilder.ipPacket(
            PacketBuilder.frame(.udp, from: n.client, to: n.server, ttl: 63, dontFragment: false, payload: b))
        let link = EgressLink(sourceMAC: Macs.directorInside, destinationMAC: Macs.server, mtu: 1400)
        out.append(
            PacketFixture(
                "nat-in IPv4 1500B without DF, egress MTU 1400: rewritten, then fragmented (RFC 791)",
                input: big, action: .natInbound(server: n.server), link: link, verdict: .fragment(mtu: 1400),
                expected: PacketBuilder.ipv4Fragments(rewritten, sizes: [1376, 90]).map {
                    PacketBuilder.ethernet(dst: Macs.server, src: Macs.directorInside, etherType: 0x0800, payload: $0)
                }))
        // Tunnelled without DF: the outer packet is fragmented.
        let tb = body(.tcp, v6: false, frameSize: 1500)
        let tin = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual, dontFragment: false, payload: tb)
        let outer = PacketBuilder.ipPacket(
            tunnelled(
                tin, l4: .tcp, net: n, outer: n, spec: TunnelSpec(type: .ipip), ipID: 9, payload: tb,
                dontFragment: false, link: FixtureLinks.inside))
        out.append(
            PacketFixture(
                "tun-ipip IPv4 1500B without DF, link MTU 1500: outer DF copied (0), outer fragmented",
                input: tin,
                action: .tunnel(
                    source: n.director, destination: n.server.address, spec: TunnelSpec(type: .ipip), ipID: 9),
                link: FixtureLinks.inside, verdict: .fragment(mtu: 1500),
                expected: PacketBuilder.ipv4Fragments(outer, sizes: [1480, 6]).map {
                    PacketBuilder.ethernet(dst: Macs.server, src: Macs.directorInside, etherType: 0x0800, payload: $0)
                }))
        return out
    }
}
