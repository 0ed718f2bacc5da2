// The forwarding matrix: NAT, DR, TUN and FULLNAT × IPv4/IPv6 × TCP/UDP/SCTP × in/out, with expected frames.
import LVSCore
import LVSPacket

/// The addresses of the fixtures' lab: a client, a virtual service, a real server, the director.
public struct FixtureNet: Sendable {
    public var client: Endpoint
    public var virtual: Endpoint
    public var server: Endpoint
    /// The director's inside address: tunnel source, FULLNAT local address.
    public var director: IPAddress
    /// A FULLNAT local endpoint.
    public var local: Endpoint
    /// A router on the client side that reports ICMP errors.
    public var router: IPAddress

    /// IPv4: client 203.0.113.5:40000, VIP 192.0.2.10:80, RS 10.0.2.11:8080, director 10.0.2.1.
    public static let v4 = FixtureNet(
        client: Endpoint(.v4(IPv4Address(203, 0, 113, 5)), 40000),
        virtual: Endpoint(.v4(IPv4Address(192, 0, 2, 10)), 80),
        server: Endpoint(.v4(IPv4Address(10, 0, 2, 11)), 8080), director: .v4(IPv4Address(10, 0, 2, 1)),
        local: Endpoint(.v4(IPv4Address(10, 0, 2, 1)), 20001), router: .v4(IPv4Address(198, 51, 100, 1)))

    /// IPv6: client 2001:db8:c::5, VIP 2001:db8:1::10, RS fd00:2::11, director fd00:2::1.
    public static let v6 = FixtureNet(
        client: Endpoint(IPAddress("2001:db8:c::5")!, 40000), virtual: Endpoint(IPAddress("2001:db8:1::10")!, 80),
        server: Endpoint(IPAddress("fd00:2::11")!, 8080), director: IPAddress("fd00:2::1")!,
        local: Endpoint(IPAddress("fd00:2::1")!, 20001), router: IPAddress("2001:db8:ffff::1")!)

    public static func of(v6: Bool) -> FixtureNet { v6 ? .v6 : .v4 }
}

/// The fixtures' egress links.
public enum FixtureLinks {
    /// Towards the real servers (director inside MAC → server MAC), MTU 1500.
    public static let inside = EgressLink(sourceMAC: Macs.directorInside, destinationMAC: Macs.server, mtu: 1500)
    /// Towards the clients (director MAC → gateway MAC), MTU 1500.
    public static let outside = EgressLink(sourceMAC: Macs.director, destinationMAC: Macs.gateway, mtu: 1500)
    /// Towards tunnelled real servers over a jumbo-frame inside network (MTU 9000), so 1500-byte
    /// frames fit with their tunnel header.
    public static let insideJumbo = EgressLink(sourceMAC: Macs.directorInside, destinationMAC: Macs.server, mtu: 9000)
}

extension PacketFixtures {
    /// The tunnel encapsulations of the matrix.
    public static let tunnelSpecs: [TunnelSpec] = [
        TunnelSpec(type: .ipip), TunnelSpec(type: .gue, port: 6080),
        TunnelSpec(type: .gue, port: 6080, flags: .checksum), TunnelSpec(type: .gre),
        TunnelSpec(type: .gre, flags: .checksum),
    ]

    /// The payload that makes a frame of `l4` over `v6` exactly `frameSize` bytes (or the
    /// smallest frame if headers alone are longer).
    public static func body(_ l4: PacketBuilder.L4, v6: Bool, frameSize: Int) -> [UInt8] {
        let l4h: Int
        switch l4 {
        case .tcp: l4h = 20
        case .udp: l4h = 8
        case .sctp: l4h = 28
        }
        return PacketBuilder.pattern(frameSize - 14 - (v6 ? 40 : 20) - l4h)
    }

    /// NAT, DR, TUN and FULLNAT for every family, protocol and direction at one frame size.
    public static func forwarding(frameSize: Int) -> [PacketFixture] {
        var out: [PacketFixture] = []
        for v6 in [false, true] {
            let n = FixtureNet.of(v6: v6)
            let fam = v6 ? "IPv6" : "IPv4"
            for l4 in [PacketBuilder.L4.tcp, .udp, .sctp] {
                let b = body(l4, v6: v6, frameSize: frameSize)
                let inbound = PacketBuilder.frame(l4, from: n.client, to: n.virtual, payload: b)
                let size = "\(inbound.count)B"
                let tag = "\(fam) \(l4) \(size)"
                // The real server's reply to `destination`, as it reaches the director.
                let fromServer = { (destination: Endpoint) in
                    PacketBuilder.frame(
                        l4, from: n.server, to: destination, srcMAC: Macs.server, dstMAC: Macs.directorInside,
                        payload: b)
                }
                let inside = FixtureLinks.inside
                let outside = FixtureLinks.outside
                // The packet from `source` to `destination` as it leaves by `link`: its MACs, TTL − 1.
                let forwarded = { (source: Endpoint, destination: Endpoint, link: EgressLink) in
                    PacketBuilder.frame(
                        l4, from: source, to: destination, srcMAC: link.sourceMAC, dstMAC: link.destinationMAC,
                        ttl: 63, payload: b)
                }
                out.append(
                    PacketFixture(
                        "nat-in \(tag): K:ip_vs_xmit.c ip_vs_nat_xmit, dst → RS:rport, TTL−1", input: inbound,
                        action: .natInbound(server: n.server), link: inside, verdict: .forward,
                        expected: [forwarded(n.client, n.server, inside)]))
                let reply = fromServer(n.client)
                out.append(
                    PacketFixture(
                        "nat-out \(tag): K:ip_vs_core.c handle_response, src → VIP:vport", input: reply,
                        action: .natOutbound(virtual: n.virtual), link: outside, verdict: .forward,
                        expected: [forwarded(n.virtual, n.client, outside)]))
                out.append(
                    PacketFixture(
                        "dr \(tag): K:ip_vs_xmit.c ip_vs_dr_xmit, MACs only, TTL−1", input: inbound,
                        action: .directRoute, link: inside, verdict: .forward,
                        expected: [forwarded(n.client, n.virtual, inside)]))
                out.append(
                    PacketFixture(
                        "fullnat-in \(tag): client:cport→VIP:vport ⇒ LIP:lport→RS:rport", input: inbound,
                        action: .fullNATInbound(local: n.local, server: n.server), link: inside, verdict: .forward,
                        expected: [forwarded(n.local, n.server, inside)]))
                let fnReply = fromServer(n.local)
                out.append(
                    PacketFixture(
                        "fullnat-out \(tag): RS:rport→LIP:lport ⇒ VIP:vport→client:cport", input: fnReply,
                        action: .fullNATOutbound(virtual: n.virtual, client: n.client), link: outside,
                        verdict: .forward,
                        expected: [forwarded(n.virtual, n.client, outside)]))
                for outerV6 in [false, true] {
                    let o = FixtureNet.of(v6: outerV6)
                    for spec in tunnelSpecs {
                        // Every encapsulation for TCP; all protocols for ipip.
                        if l4 != .tcp && spec.type != .ipip { continue }
                        let act = FixtureAction.tunnel(
                            source: o.director, destination: o.server.address, spec: spec, ipID: 0x4242)
                        out.append(
                            PacketFixture(
                                "\(act.name) \(tag) over \(outerV6 ? "IPv6" : "IPv4"): K:ip_vs_xmit.c ip_vs_tunnel_xmit",
                                input: inbound, action: act, link: FixtureLinks.insideJumbo, verdict: .forward,
                                expected: [
                                    tunnelled(
                                        inbound, l4: l4, net: n, outer: o, spec: spec, ipID: 0x4242, payload: b,
                                        link: FixtureLinks.insideJumbo)
                                ]))
                    }
                }
            }
        }
        return out
    }

    /// The expected frame of a tunnelled packet, built field by field.
    public static func tunnelled(
        _ input: [UInt8], l4: PacketBuilder.L4, net n: FixtureNet, outer o: FixtureNet, spec: TunnelSpec,
        ipID: UInt16, payload b: [UInt8], tos: UInt8 = 0, dontFragment: Bool = true, link: EgressLink
    ) -> [UInt8] {
        let innerV6 = n.client.address.family == .inet6
        let outerV6 = o.director.family == .inet6
        let inner = PacketBuilder.ipPacket(
            PacketBuilder.frame(
                l4, from: n.client, to: n.virtual, ttl: 63, tos: tos, dontFragment: dontFragment, payload: b))
        let innerProto: UInt8 = innerV6 ? 41 : 4
        let ecn = tos & 3
        let outerTOS = (tos & 0xFC) | (ecn == 3 ? 2 : ecn)
        var payload: [UInt8]
        var proto: UInt8
        switch spec.type {
        case .ipip:
            payload = inner
            proto = innerProto
        case .gue:
            var info = PacketInfo()
            _ = input.withUnsafeBytes { PacketParser.parse($0, into: &info) }
            // The source port is a flow hash by definition; its spread is tested on its own.
            let sport = Forwarding.tunnelSourcePort(info)
            payload = PacketBuilder.udp(
                src: o.director, dst: o.server.address, sport: sport, dport: spec.port,
                payload: [0, innerProto, 0, 0] + inner, zeroChecksum: !outerV6 && !spec.flags.contains(.checksum))
            proto = 17
        case .gre:
            let et = PacketBuilder.be16(innerV6 ? 0x86DD : 0x0800)
            if spec.flags.contains(.checksum) {
                var g: [UInt8] = [0x80, 0] + et + [0, 0, 0, 0] + inner
                let c = PacketBuilder.internetChecksum(g)
                g[4] = UInt8(c >> 8)
                g[5] = UInt8(c & 0xFF)
                payload = g
            } else {
                payload = [0, 0] + et + inner
            }
            proto = 47
        }
        let ip: [UInt8]
        switch (o.director, o.server.address) {
        case (.v4(let s), .v4(let d)):
            ip = PacketBuilder.ipv4(
                src: s, dst: d, proto: proto, payload: payload, ttl: 63, tos: outerTOS, id: ipID,
                dontFragment: !innerV6 && dontFragment)
        case (.v6(let s), .v6(let d)):
            ip = PacketBuilder.ipv6(
                src: s, dst: d, nextHeader: proto, payload: payload, hopLimit: 63, trafficClass: outerTOS)
        default:
            preconditionFailure("mixed families")
        }
        return PacketBuilder.ethernet(
            dst: link.destinationMAC, src: link.sourceMAC, vlan: link.vlan, etherType: outerV6 ? 0x86DD : 0x0800,
            payload: ip)
    }
}
