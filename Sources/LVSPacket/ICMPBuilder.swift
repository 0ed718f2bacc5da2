// ICMP and ICMPv6 errors the director sends: port unreachable, frag-needed / packet-too-big, time exceeded.
import LVSCore

/// Builds ICMP/ICMPv6 error frames into a caller-provided buffer, following the rules of
/// RFC 1122 §3.2.2 and RFC 4443 §2.4 on when an error may be sent at all.
public enum ICMPBuilder {
    /// The errors the director sends.
    public enum Kind: Equatable, Sendable {
        /// No real server available (K:ip_vs_core.c ip_vs_leave: ICMP port unreachable;
        /// ICMPv6 destination unreachable, port unreachable).
        case portUnreachable
        /// DF packet too big for the egress (ICMP type 3 code 4 with the next-hop MTU) or an IPv6
        /// packet too big (ICMPv6 type 2 with the MTU).
        case fragmentationNeeded(mtu: Int)
        /// TTL / hop limit exceeded in transit (ICMP type 11 code 0, ICMPv6 type 3 code 0).
        case timeExceeded
    }

    /// Largest IPv4 error packet (RFC 1812 §4.3.2.3; Linux icmp_send quotes up to 576 bytes in all).
    public static let maxIPv4ErrorLength = 576
    /// Largest IPv6 error packet (RFC 4443 §2.4(c): as much as fits the minimum MTU, 1280).
    public static let maxIPv6ErrorLength = 1280
    /// TTL / hop limit of the errors (the Linux default, 64).
    public static let errorTTL: UInt8 = 64

    /// Writes the error `kind` about the parsed frame into `out` and returns its length, or 0 when
    /// no error may be sent: the packet is itself an ICMP error, a later IPv4 fragment, sent to a
    /// multicast or broadcast address (IPv6 packet-too-big excepted), from an unspecified
    /// address, or `out` is too small.
    ///
    /// `source` is the error's source address; for packets addressed to the VIP the kernel picks
    /// the VIP itself (icmp_send uses the packet's local destination). With `link` nil the frame
    /// goes back where the packet came from: MACs swapped, same VLAN tag.
    @inlinable
    public static func build(
        _ kind: Kind, about frame: UnsafeRawBufferPointer, _ info: PacketInfo, source: IPAddress,
        ipID: UInt16 = 0, link: EgressLink? = nil, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        guard let p = frame.baseAddress, info.ipEnd <= frame.count, info.l3Offset >= 14 else { return 0 }
        guard Forwarding.sameFamily(source, info.isIPv6), isUnicast(source) else { return 0 }
        let isPTB: Bool
        if case .fragmentationNeeded = kind { isPTB = info.isIPv6 } else { isPTB = false }
        // Never about an ICMP error (RFC 1122 §3.2.2, RFC 4443 §2.4(e.1)).
        if info.isIPv6 {
            if info.protocolNumber == IPProtocolNumber.icmpv6 && !info.isLaterFragment && info.icmpType < 128 {
                return 0
            }
        } else if info.protocolNumber == IPProtocolNumber.icmp && !info.isLaterFragment {
            let t = info.icmpType
            if t == 3 || t == 4 || t == 5 || t == 11 || t == 12 { return 0 }
        }
        if !info.isIPv6 && info.isLaterFragment { return 0 }
        // Not to multicast/broadcast, at the IP or link layer (packet-too-big excepted).
        if !isPTB {
            if MACAddress.load(p, 0).isGroup { return 0 }
            switch info.destination {
            case .v4(let d): if d.isMulticast || d.value == 0xFFFF_FFFF { return 0 }
            case .v6(let d): if d.isMulticast { return 0 }
            }
        }
        if !isUnicast(info.source) { return 0 }
        let l2 = link ?? EgressLink(sourceMAC: .load(p, 0), destinationMAC: .load(p, 6), mtu: 1500, vlan: info.vlan)
        let type: UInt8
        let code: UInt8
        var rest: UInt32 = 0
        switch kind {
        case .portUnreachable:
            (type, code) = info.isIPv6 ? (1, 4) : (3, 3)
        case .fragmentationNeeded(let mtu):
            (type, code) = info.isIPv6 ? (2, 0) : (3, 4)
            rest = info.isIPv6 ? UInt32(clamping: mtu) : UInt32(UInt16(clamping: mtu))
        case .timeExceeded:
            (type, code) = info.isIPv6 ? (3, 0) : (11, 0)
        }
        return writeError(
            type: type, code: code, rest: rest, isIPv6: info.isIPv6, source: source, destination: info.source,
            tos: info.tos, quote: p + info.l3Offset, quoteLength: info.ipTotalLength, ipID: ipID, link: l2,
            into: out)
    }

    /// True for an address a host may use as its own: not unspecified, loopback, multicast or the
    /// IPv4 limited broadcast.
    @inlinable
    public static func isUnicast(_ a: IPAddress) -> Bool {
        switch a {
        case .v4(let x): return x.value != 0 && x.value >> 24 != 127 && !x.isMulticast && x.value != 0xFFFF_FFFF
        case .v6(let x): return !(x.high == 0 && x.low <= 1) && !x.isMulticast
        }
    }

    /// Writes `[eth][IP][ICMP type code csum rest][quote…]` and returns the frame length (0 if
    /// `out` is too small). The quote is cut so the IP packet stays within 576 (IPv4) or 1280
    /// (IPv6) bytes.
    @inlinable
    static func writeError(
        type: UInt8, code: UInt8, rest: UInt32, isIPv6: Bool, source: IPAddress, destination: IPAddress,
        tos: UInt8, quote: UnsafeRawPointer, quoteLength: Int, ipID: UInt16, link: EgressLink,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        let l2 = link.vlan == nil ? 14 : 18
        let ipHeader = isIPv6 ? 40 : 20
        let maxIP = isIPv6 ? maxIPv6ErrorLength : maxIPv4ErrorLength
        let quoted = min(quoteLength, maxIP &- ipHeader &- 8)
        let icmpLen = 8 &+ quoted
        let ipLen = ipHeader &+ icmpLen
        let total = l2 &+ ipLen
        guard let o = out.baseAddress, out.count >= total, quoted >= 0 else { return 0 }
        link.sourceMAC.storeEthernetHeader(
            o, to: link.destinationMAC, vlan: link.vlan, etherType: isIPv6 ? EtherType.ipv6 : EtherType.ipv4)
        let ip = o + l2
        let icmp = ip + ipHeader
        icmp.setU8(type, 0)
        icmp.setU8(code, 1)
        icmp.setBE16(0, 2)
        icmp.setBE32(rest, 4)
        (icmp + 8).copyMemory(from: quote, byteCount: quoted)
        if !isIPv6 {
            ip.setU8(0x45, 0)
            // Linux icmp_send: the packet's TOS bits with precedence "internetwork control".
            ip.setU8((tos & 0x1E) | 0xC0, 1)
            ip.setBE16(UInt16(ipLen), 2)
            ip.setBE16(ipID, 4)
            ip.setBE16(0, 6)
            ip.setU8(errorTTL, 8)
            ip.setU8(IPProtocolNumber.icmp, 9)
            ip.setBE16(0, 10)
            WireAddress.store(source, ip, 12)
            WireAddress.store(destination, ip, 16)
            ip.setBE16(InternetChecksum.checksum(UnsafeRawPointer(ip), 20), 10)
            icmp.setBE16(InternetChecksum.checksum(UnsafeRawPointer(icmp), icmpLen), 2)
        } else {
            ip.setBE32(6 << 28, 0)
            ip.setBE16(UInt16(icmpLen), 4)
            ip.setU8(IPProtocolNumber.icmpv6, 6)
            ip.setU8(errorTTL, 7)
            WireAddress.store(source, ip, 8)
            WireAddress.store(destination, ip, 24)
            let pseudo = InternetChecksum.pseudoHeader(
                source: source, destination: destination, protocol: IPProtocolNumber.icmpv6, length: icmpLen)
            icmp.setBE16(InternetChecksum.checksum(UnsafeRawPointer(icmp), icmpLen, adding: pseudo), 2)
        }
        return total
    }
}
