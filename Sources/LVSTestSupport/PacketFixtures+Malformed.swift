// Malformed frames: each classified and dropped with its reason, never read out of bounds.
import LVSCore
import LVSPacket

extension PacketFixtures {
    static func setByte(_ f: [UInt8], _ i: Int, _ v: UInt8) -> [UInt8] {
        var g = f
        g[i] = v
        return g
    }

    /// A valid IPv4 frame with the IP header checksum recomputed after a change (so only the
    /// intended field is wrong).
    static func fixIPv4Checksum(_ f: [UInt8], l3: Int = 14) -> [UInt8] {
        var g = f
        let ihl = Int(g[l3] & 0xF) * 4
        g[l3 + 10] = 0
        g[l3 + 11] = 0
        let c = PacketBuilder.internetChecksum(Array(g[l3..<min(g.count, l3 + ihl)]))
        g[l3 + 10] = UInt8(c >> 8)
        g[l3 + 11] = UInt8(c & 0xFF)
        return g
    }

    /// Frames that lie, stop short or break the rules, with the reason each is dropped.
    public static var malformed: [PacketFixture] {
        let n4 = FixtureNet.v4
        let n6 = FixtureNet.v6
        let v4 = PacketBuilder.frame(.tcp, from: n4.client, to: n4.virtual, payload: PacketBuilder.pattern(10))
        let v6 = PacketBuilder.frame(.tcp, from: n6.client, to: n6.virtual, payload: PacketBuilder.pattern(10))
        let udp4 = PacketBuilder.frame(.udp, from: n4.client, to: n4.virtual, payload: PacketBuilder.pattern(10))
        let c4 = n4.client.address.v4!
        let vip4 = n4.virtual.address.v4!
        let c6 = n6.client.address.v6!
        let vip6 = n6.virtual.address.v6!
        func eth4(_ ip: [UInt8]) -> [UInt8] {
            PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: ip)
        }
        func eth6(_ ip: [UInt8]) -> [UInt8] {
            PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x86DD, payload: ip)
        }
        /// A UDP datagram to the VIP whose header claims `length`.
        func udp4Length(_ length: Int) -> [UInt8] {
            eth4(
                PacketBuilder.ipv4(
                    src: c4, dst: vip4, proto: 17,
                    payload: PacketBuilder.udp(
                        src: n4.client.address, dst: n4.virtual.address, sport: 1, dport: 53, length: length)))
        }
        let tcpSeg = PacketBuilder.tcp(
            src: n4.client.address, dst: n4.virtual.address, sport: 1, dport: 80, payload: PacketBuilder.pattern(10))
        let tcpSeg6 = PacketBuilder.tcp(
            src: n6.client.address, dst: n6.virtual.address, sport: 1, dport: 80, payload: PacketBuilder.pattern(10))
        let rows: [(String, [UInt8], DropReason)] = [
            ("10-byte frame", Array(v4.prefix(10)), .truncatedEthernet),
            (
                "VLAN tag cut short",
                Array(PacketBuilder.frame(.tcp, from: n4.client, to: n4.virtual, vlan: 5).prefix(16)),
                .truncatedEthernet
            ),
            ("802.1ad outer tag (QinQ)", setByte(setByte(v4, 12, 0x88), 13, 0xA8), .stackedVLAN),
            (
                "two 802.1Q tags",
                PacketBuilder.ethernet(
                    dst: Macs.director, src: Macs.client, vlan: 5, etherType: 0x8100,
                    payload: [0, 6, 8, 0] + PacketBuilder.ipPacket(v4)),
                .stackedVLAN
            ),
            ("IPv4 header cut at 10 bytes", Array(v4.prefix(24)), .truncatedIPv4Header),
            ("version 6 in an IPv4 EtherType", setByte(v4, 14, 0x65), .badIPVersion),
            ("IHL 4", fixIPv4Checksum(setByte(v4, 14, 0x44)), .badIPv4HeaderLength),
            ("IHL 15 past the frame", setByte(v4, 14, 0x4F), .truncatedIPv4Header),
            ("bad IPv4 header checksum", setByte(v4, 24, v4[24] ^ 0x01), .badIPv4Checksum),
            (
                "total length beyond the frame (a lying length)",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: tcpSeg, totalLength: 200)),
                .truncatedIPPacket
            ),
            (
                "total length below the header length",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: tcpSeg, totalLength: 16)), .badIPLength
            ),
            (
                "an option running off the end of the header",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: tcpSeg, options: [0x44, 0x10, 5, 0])),
                .badIPv4Options
            ),
            (
                "an option of length 1",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: tcpSeg, options: [0x07, 0x01, 0, 0])),
                .badIPv4Options
            ),
            (
                "source 127.0.0.1 (martian)",
                eth4(PacketBuilder.ipv4(src: IPv4Address(127, 0, 0, 1), dst: vip4, proto: 6, payload: tcpSeg)),
                .martianSource
            ),
            (
                "source 224.0.0.5 (martian)",
                eth4(PacketBuilder.ipv4(src: IPv4Address(224, 0, 0, 5), dst: vip4, proto: 6, payload: tcpSeg)),
                .martianSource
            ),
            (
                "TCP header cut at 10 bytes",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: Array(tcpSeg.prefix(10)))),
                .truncatedTCPHeader
            ),
            (
                "TCP data offset 4",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: setByte(tcpSeg, 12, 0x40))),
                .badTCPDataOffset
            ),
            (
                "TCP data offset past the segment",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 6, payload: setByte(tcpSeg, 12, 0xF0))),
                .badTCPDataOffset
            ),
            (
                "UDP header cut at 5 bytes",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 17, payload: Array(PacketBuilder.ipPacket(udp4)[20..<25]))),
                .truncatedUDPHeader
            ),
            (
                "UDP length 4",
                udp4Length(4),
                .badUDPLength
            ),
            (
                "UDP length beyond the IP payload",
                udp4Length(100),
                .badUDPLength
            ),
            (
                "SCTP common header cut at 8 bytes",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 132, payload: PacketBuilder.pattern(8))),
                .truncatedSCTPHeader
            ),
            (
                "ICMP header cut at 4 bytes",
                eth4(PacketBuilder.ipv4(src: c4, dst: vip4, proto: 1, payload: [3, 3, 0, 0])), .truncatedICMPHeader
            ),
            (
                "ICMP error quoting 10 bytes",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 1,
                        payload: PacketBuilder.icmpv4(type: 3, code: 1, payload: PacketBuilder.pattern(10)))),
                .badICMPEmbedded
            ),
            (
                "ICMP error quoting a header with IHL 3",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 1,
                        payload: PacketBuilder.icmpv4(type: 11, code: 0, payload: [0x43] + PacketBuilder.pattern(27)))),
                .badICMPEmbedded
            ),
            (
                "first fragment too short for the TCP header (RFC 1858)",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 6, payload: Array(tcpSeg.prefix(8)), dontFragment: false,
                        moreFragments: true)),
                .tinyFragment
            ),
            (
                "TCP fragment at offset 8 (RFC 1858 overlap)",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 6, payload: PacketBuilder.pattern(16), dontFragment: false,
                        fragmentOffset: 8)),
                .tinyFragment
            ),
            (
                "fragment ending past 65535",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 17, payload: PacketBuilder.pattern(16), dontFragment: false,
                        fragmentOffset: 65528)),
                .badFragment
            ),
            (
                "non-last fragment not a multiple of 8",
                eth4(
                    PacketBuilder.ipv4(
                        src: c4, dst: vip4, proto: 17, payload: PacketBuilder.pattern(13), dontFragment: false,
                        moreFragments: true, fragmentOffset: 16)),
                .badFragment
            ),
            ("IPv6 header cut at 30 bytes", Array(v6.prefix(44)), .truncatedIPv6Header),
            ("version 4 in an IPv6 EtherType", setByte(v6, 14, 0x40), .badIPVersion),
            (
                "IPv6 payload length beyond the frame",
                eth6(PacketBuilder.ipv6(src: c6, dst: vip6, nextHeader: 6, payload: tcpSeg6, payloadLength: 500)),
                .truncatedIPPacket
            ),
            (
                "IPv6 jumbogram (payload length 0, hop-by-hop)",
                eth6(
                    PacketBuilder.ipv6(
                        src: c6, dst: vip6, nextHeader: 6, payload: tcpSeg6, extensionHeaders: [.padding(type: 0)],
                        payloadLength: 0)),
                .badIPLength
            ),
            (
                "IPv6 multicast source (martian)",
                eth6(PacketBuilder.ipv6(src: IPv6Address("ff02::1")!, dst: vip6, nextHeader: 6, payload: tcpSeg6)),
                .martianSource
            ),
            (
                "IPv6 extension header running off the end",
                eth6(PacketBuilder.ipv6(src: c6, dst: vip6, nextHeader: 60, payload: [6, 9, 0, 0, 0, 0, 0, 0])),
                .truncatedExtensionHeader
            ),
            (
                "nine IPv6 destination-options headers",
                eth6(
                    PacketBuilder.ipv6(
                        src: c6, dst: vip6, nextHeader: 6, payload: tcpSeg6,
                        extensionHeaders: Array(repeating: .padding(type: 60), count: 9))),
                .badExtensionHeaders
            ),
            (
                "IPv6 hop-by-hop not first",
                eth6(
                    PacketBuilder.ipv6(
                        src: c6, dst: vip6, nextHeader: 6, payload: tcpSeg6,
                        extensionHeaders: [.padding(type: 60), .padding(type: 0)])),
                .badExtensionHeaders
            ),
            (
                "two IPv6 fragment headers",
                eth6(
                    PacketBuilder.ipv6(
                        src: c6, dst: vip6, nextHeader: 6, payload: tcpSeg6,
                        extensionHeaders: [
                            .fragment(offset: 0, more: true, id: 1), .fragment(offset: 0, more: true, id: 1),
                        ])),
                .badExtensionHeaders
            ),
            (
                "IPv6 first fragment too short for the TCP header (RFC 7112)",
                eth6(
                    PacketBuilder.ipv6(
                        src: c6, dst: vip6, nextHeader: 6, payload: Array(tcpSeg6.prefix(8)),
                        extensionHeaders: [.fragment(offset: 0, more: true, id: 1)])),
                .tinyFragment
            ),
            (
                "ICMPv6 error quoting 20 bytes",
                eth6(
                    PacketBuilder.ipv6(
                        src: c6, dst: vip6, nextHeader: 58,
                        payload: PacketBuilder.icmpv6(
                            src: c6, dst: vip6, type: 1, code: 4, payload: PacketBuilder.pattern(20)))),
                .badICMPEmbedded
            ),
        ]
        return rows.map { (name, frame, reason) in
            PacketFixture(
                "malformed: \(name) → \(reason)", input: frame, action: .natInbound(server: n4.server),
                link: FixtureLinks.inside, verdict: .drop(reason), expected: [])
        }
    }
}
