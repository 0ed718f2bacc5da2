// A small packet builder for tests: frames from fields, with checksums computed the slow, obvious way.
import LVSCore
import LVSPacket

/// Builds Ethernet/IPv4/IPv6/TCP/UDP/SCTP/ICMP frames as byte arrays. Its checksums (Internet
/// checksum and CRC32c) are computed here independently of LVSPacket's, one byte pair or one bit
/// at a time, so fixtures built with it can judge LVSPacket's incremental updates.
public enum PacketBuilder {
    // MARK: Reference checksums

    /// The RFC 1071 checksum of `bytes` plus a 32-bit pre-sum, computed word by word.
    public static func internetChecksum(_ bytes: [UInt8], adding initial: UInt32 = 0) -> UInt16 {
        var s = UInt64(initial)
        var i = 0
        while i + 1 < bytes.count {
            s += UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { s += UInt64(bytes[i]) << 8 }
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }

    /// The pseudo-header pre-sum of TCP/UDP/ICMPv6.
    public static func pseudoSum(_ src: IPAddress, _ dst: IPAddress, _ proto: UInt8, _ length: Int) -> UInt32 {
        var s: UInt32 = 0
        for b in [bytes(src), bytes(dst)] {
            var i = 0
            while i < b.count {
                s += UInt32(b[i]) << 8 | UInt32(b[i + 1])
                i += 2
            }
        }
        return s + UInt32(proto) + UInt32(length >> 16) + UInt32(length & 0xFFFF)
    }

    /// CRC32c bit by bit (RFC 9260 Appendix A), no tables.
    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        return ~c
    }

    // MARK: Field encoding

    /// The wire bytes of an address.
    public static func bytes(_ a: IPAddress) -> [UInt8] {
        switch a {
        case .v4(let x): return be32(x.value)
        case .v6(let x): return be64(x.high) + be64(x.low)
        }
    }

    public static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    public static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }
    public static func be64(_ v: UInt64) -> [UInt8] { be32(UInt32(v >> 32)) + be32(UInt32(v & 0xFFFF_FFFF)) }
    public static func mac(_ m: MACAddress) -> [UInt8] {
        (0..<6).map { UInt8((m.value >> UInt64(40 - 8 * $0)) & 0xFF) }
    }

    /// A payload of `count` bytes with a recognisable pattern.
    public static func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
        (0..<max(0, count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
    }

    // MARK: Layers

    /// An Ethernet frame, with one 802.1Q tag if `vlan` is given.
    public static func ethernet(
        dst: MACAddress, src: MACAddress, vlan: UInt16? = nil, etherType: UInt16, payload: [UInt8]
    ) -> [UInt8] {
        var f = mac(dst) + mac(src)
        if let tci = vlan { f += be16(0x8100) + be16(tci) }
        return f + be16(etherType) + payload
    }

    /// An IPv4 packet. The header checksum is computed unless `checksum` is given.
    public static func ipv4(
        src: IPv4Address, dst: IPv4Address, proto: UInt8, payload: [UInt8], ttl: UInt8 = 64, tos: UInt8 = 0,
        id: UInt16 = 0x1234, dontFragment: Bool = true, moreFragments: Bool = false, fragmentOffset: Int = 0,
        options: [UInt8] = [], totalLength: Int? = nil, checksum: UInt16? = nil, ihl: Int? = nil
    ) -> [UInt8] {
        let opts = options + [UInt8](repeating: 0, count: (4 - options.count % 4) % 4)
        let hl = 20 + opts.count
        let frag = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | (fragmentOffset / 8)
        var h: [UInt8] = [UInt8(0x40 | (ihl ?? hl / 4)), tos]
        h += be16(UInt16(totalLength ?? hl + payload.count)) + be16(id) + be16(UInt16(frag))
        h += [ttl, proto, 0, 0] + be32(src.value) + be32(dst.value) + opts
        let c = checksum ?? internetChecksum(h)
        h[10] = UInt8(c >> 8)
        h[11] = UInt8(c & 0xFF)
        return h + payload
    }

    /// An IPv6 extension header of type `type` with `body` padded to a multiple of 8 (with the
    /// next-header byte and length filled in by `ipv6`).
    public struct ExtensionHeader: Sendable {
        public var type: UInt8
        public var body: [UInt8]
        public init(type: UInt8, body: [UInt8]) {
            self.type = type
            self.body = body
        }
        /// A fragment header (44).
        public static func fragment(offset: Int, more: Bool, id: UInt32) -> ExtensionHeader {
            ExtensionHeader(type: 44, body: [0] + be16(UInt16(offset) | (more ? 1 : 0)) + be32(id))
        }
        /// A hop-by-hop (0) or destination-options (60) header with PadN only.
        public static func padding(type: UInt8) -> ExtensionHeader {
            ExtensionHeader(type: type, body: [1, 4, 0, 0, 0, 0])
        }
    }

    /// An IPv6 packet with optional extension headers in front of the upper-layer `payload`.
    public static func ipv6(
        src: IPv6Address, dst: IPv6Address, nextHeader: UInt8, payload: [UInt8], hopLimit: UInt8 = 64,
        trafficClass: UInt8 = 0, flowLabel: UInt32 = 0, extensionHeaders: [ExtensionHeader] = [],
        payloadLength: Int? = nil
    ) -> [UInt8] {
        var ext: [UInt8] = []
        for (i, e) in extensionHeaders.enumerated() {
            let next = i + 1 < extensionHeaders.count ? extensionHeaders[i + 1].type : nextHeader
            if e.type == 44 {
                ext += [next] + e.body
            } else {
                var body = e.body
                while (body.count + 2) % 8 != 0 { body.append(0) }
                ext += [next, UInt8((body.count + 2) / 8 - 1)] + body
            }
        }
        let first = extensionHeaders.first?.type ?? nextHeader
        var h = be32(6 << 28 | UInt32(trafficClass) << 20 | (flowLabel & 0xFFFFF))
        h += be16(UInt16(payloadLength ?? ext.count + payload.count)) + [first, hopLimit]
        h += bytes(.v6(src)) + bytes(.v6(dst))
        return h + ext + payload
    }

    /// A TCP segment with a correct checksum (or `checksum`).
    public static func tcp(
        src: IPAddress, dst: IPAddress, sport: UInt16, dport: UInt16, seq: UInt32 = 1000, ack: UInt32 = 0,
        flags: UInt8 = 0x18, window: UInt16 = 65535, options: [UInt8] = [], payload: [UInt8] = [],
        checksum: UInt16? = nil
    ) -> [UInt8] {
        let opts = options + [UInt8](repeating: 0, count: (4 - options.count % 4) % 4)
        let doff = (20 + opts.count) / 4
        var h = be16(sport) + be16(dport) + be32(seq) + be32(ack)
        h += [UInt8(doff << 4), flags] + be16(window) + [0, 0, 0, 0] + opts
        let seg = h + payload
        let c = checksum ?? internetChecksum(seg, adding: pseudoSum(src, dst, 6, seg.count))
        var out = seg
        out[16] = UInt8(c >> 8)
        out[17] = UInt8(c & 0xFF)
        return out
    }

    /// A UDP datagram; `zeroChecksum` leaves the checksum 0 ("none" for IPv4). A computed 0 is
    /// sent as 0xFFFF (RFC 768).
    public static func udp(
        src: IPAddress, dst: IPAddress, sport: UInt16, dport: UInt16, payload: [UInt8] = [],
        zeroChecksum: Bool = false, length: Int? = nil
    ) -> [UInt8] {
        let len = 8 + payload.count
        var d = be16(sport) + be16(dport) + be16(UInt16(length ?? len)) + [0, 0] + payload
        if !zeroChecksum {
            var c = internetChecksum(d, adding: pseudoSum(src, dst, 17, len))
            if c == 0 { c = 0xFFFF }
            d[6] = UInt8(c >> 8)
            d[7] = UInt8(c & 0xFF)
        }
        return d
    }

    /// An SCTP packet: common header and `chunks`, CRC32c filled in (little-endian on the wire).
    public static func sctp(sport: UInt16, dport: UInt16, vtag: UInt32 = 0xCAFE_F00D, chunks: [UInt8]) -> [UInt8] {
        var d = be16(sport) + be16(dport) + be32(vtag) + [0, 0, 0, 0] + chunks
        let c = crc32c(d)
        d[8] = UInt8(c & 0xFF)
        d[9] = UInt8((c >> 8) & 0xFF)
        d[10] = UInt8((c >> 16) & 0xFF)
        d[11] = UInt8(c >> 24)
        return d
    }

    /// An SCTP DATA chunk (type 0) carrying `data`, padded to 4 bytes.
    public static func sctpDataChunk(tsn: UInt32 = 1, data: [UInt8]) -> [UInt8] {
        let len = 16 + data.count
        var c: [UInt8] = [0, 3] + be16(UInt16(len)) + be32(tsn) + be16(0) + be16(0) + be32(0) + data
        while c.count % 4 != 0 { c.append(0) }
        return c
    }

    /// An ICMP (v4) message with a correct checksum.
    public static func icmpv4(type: UInt8, code: UInt8, rest: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0] + be32(rest) + payload
        let c = internetChecksum(m)
        m[2] = UInt8(c >> 8)
        m[3] = UInt8(c & 0xFF)
        return m
    }

    /// An ICMPv6 message with a correct checksum (pseudo-header from `src`/`dst`).
    public static func icmpv6(
        src: IPv6Address, dst: IPv6Address, type: UInt8, code: UInt8, rest: UInt32 = 0, payload: [UInt8]
    ) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0] + be32(rest) + payload
        let c = internetChecksum(m, adding: pseudoSum(.v6(src), .v6(dst), 58, m.count))
        m[2] = UInt8(c >> 8)
        m[3] = UInt8(c & 0xFF)
        return m
    }

    // MARK: Whole frames

    /// A transport protocol for `frame`.
    public enum L4: Sendable, Equatable {
        case tcp, udp, sctp
        public var number: UInt8 {
            switch self {
            case .tcp: return 6
            case .udp: return 17
            case .sctp: return 132
            }
        }
    }

    /// A whole frame of one flow: link header, IPv4 or IPv6 (by the endpoints' family) and a
    /// TCP/UDP/SCTP header with `payload`. `frameSize`, if given, sizes the payload so the frame
    /// is that long (at least the headers).
    public static func frame(
        _ l4: L4, from src: Endpoint, to dst: Endpoint, srcMAC: MACAddress = Macs.client,
        dstMAC: MACAddress = Macs.director, vlan: UInt16? = nil, ttl: UInt8 = 64, tos: UInt8 = 0,
        dontFragment: Bool = true, payload: [UInt8]? = nil, frameSize: Int? = nil, tcpFlags: UInt8 = 0x18,
        udpZeroChecksum: Bool = false, ipv4Options: [UInt8] = [], extensionHeaders: [ExtensionHeader] = [],
        id: UInt16 = 0x1234
    ) -> [UInt8] {
        let v6 = src.address.family == .inet6
        let l2 = vlan == nil ? 14 : 18
        let ext = extensionHeaders.reduce(0) { $0 + ($1.type == 44 ? 8 : ($1.body.count + 2 + 7) / 8 * 8) }
        let l3 = v6 ? 40 + ext : 20 + (ipv4Options.count + 3) / 4 * 4
        let l4h: Int
        switch l4 {
        case .tcp: l4h = 20
        case .udp: l4h = 8
        case .sctp: l4h = 12 + 16
        }
        let body = payload ?? pattern(max(0, (frameSize ?? 64) - l2 - l3 - l4h))
        let seg: [UInt8]
        switch l4 {
        case .tcp:
            seg = tcp(
                src: src.address, dst: dst.address, sport: src.port, dport: dst.port, flags: tcpFlags, payload: body)
        case .udp:
            seg = udp(
                src: src.address, dst: dst.address, sport: src.port, dport: dst.port, payload: body,
                zeroChecksum: udpZeroChecksum)
        case .sctp:
            seg = sctp(sport: src.port, dport: dst.port, chunks: sctpDataChunk(data: body))
        }
        let ip: [UInt8]
        switch (src.address, dst.address) {
        case (.v4(let s), .v4(let d)):
            ip = ipv4(
                src: s, dst: d, proto: l4.number, payload: seg, ttl: ttl, tos: tos, id: id,
                dontFragment: dontFragment, options: ipv4Options)
        case (.v6(let s), .v6(let d)):
            ip = ipv6(
                src: s, dst: d, nextHeader: l4.number, payload: seg, hopLimit: ttl, trafficClass: tos,
                extensionHeaders: extensionHeaders)
        default:
            preconditionFailure("mixed address families")
        }
        return ethernet(dst: dstMAC, src: srcMAC, vlan: vlan, etherType: v6 ? 0x86DD : 0x0800, payload: ip)
    }

    /// Rewrites a frame's link header: new MACs and VLAN tag, same EtherType and packet.
    public static func relink(_ f: [UInt8], dst: MACAddress, src: MACAddress, vlan: UInt16?) -> [UInt8] {
        let tagged = f[12] == 0x81 && f[13] == 0x00
        let et = tagged ? UInt16(f[16]) << 8 | UInt16(f[17]) : UInt16(f[12]) << 8 | UInt16(f[13])
        return ethernet(dst: dst, src: src, vlan: vlan, etherType: et, payload: Array(f[(tagged ? 18 : 14)...]))
    }

    /// The IP packet of a frame (without its link header).
    public static func ipPacket(_ f: [UInt8]) -> [UInt8] {
        let tagged = f[12] == 0x81 && f[13] == 0x00
        return Array(f[(tagged ? 18 : 14)...])
    }

    /// Splits an IPv4 packet without options into fragments carrying `sizes` payload bytes each
    /// (multiples of 8 but the last), the simple way.
    public static func ipv4Fragments(_ packet: [UInt8], sizes: [Int]) -> [[UInt8]] {
        let ihl = Int(packet[0] & 0xF) * 4
        let src = IPv4Address(
            UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15]))
        let dst = IPv4Address(
            UInt32(packet[16]) << 24 | UInt32(packet[17]) << 16 | UInt32(packet[18]) << 8 | UInt32(packet[19]))
        let payload = Array(packet[ihl...])
        var out: [[UInt8]] = []
        var off = 0
        for (i, n) in sizes.enumerated() {
            let last = i == sizes.count - 1
            let chunk = Array(payload[off..<(last ? payload.count : off + n)])
            out.append(
                ipv4(
                    src: src, dst: dst, proto: packet[9], payload: chunk, ttl: packet[8], tos: packet[1],
                    id: UInt16(packet[4]) << 8 | UInt16(packet[5]), dontFragment: false, moreFragments: !last,
                    fragmentOffset: off))
            off += chunk.count
        }
        return out
    }
}

/// MAC addresses used throughout the fixtures.
public enum Macs {
    public static let client = MACAddress(0x02_00_00_00_00_01)
    public static let director = MACAddress(0x02_00_00_00_00_0D)
    public static let directorInside = MACAddress(0x02_00_00_00_00_0E)
    public static let server = MACAddress(0x02_00_00_00_00_51)
    public static let gateway = MACAddress(0x02_00_00_00_00_6A)
}
