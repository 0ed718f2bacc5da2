// ICMP errors about the director's own tunnel packets: read down to the client's packet and relay the MTU.
import LVSCore

/// An ICMP frag-needed / packet-too-big about a tunnel packet the director sent, read through the
/// quoted outer header and encapsulation down to the client's packet inside.
public struct TunnelQuote: Sendable {
    /// Frame-relative offset of the quoted inner (client → VIP) IP packet.
    public var innerOffset: Int
    /// Bytes of the inner packet present in the quote.
    public var innerAvailable: Int
    /// True if the inner packet is IPv6.
    public var innerIsIPv6: Bool
    /// The inner packet's flow as the client sent it (client → VIP); ports 0 if not quoted.
    public var flow: FlowKey
    /// The inner packet's TOS / traffic class.
    public var innerTOS: UInt8
    /// The quoted outer packet's source (the director) and destination (the real server).
    public var tunnelSource: IPAddress
    public var tunnelDestination: IPAddress
    /// Bytes of outer headers (IP + GUE/GRE) in front of the inner packet.
    public var overhead: Int
    /// The MTU the error reported for the outer packets.
    public var reportedMTU: Int

    @inlinable
    public init(
        innerOffset: Int, innerAvailable: Int, innerIsIPv6: Bool, flow: FlowKey, innerTOS: UInt8,
        tunnelSource: IPAddress, tunnelDestination: IPAddress, overhead: Int, reportedMTU: Int
    ) {
        self.innerOffset = innerOffset
        self.innerAvailable = innerAvailable
        self.innerIsIPv6 = innerIsIPv6
        self.flow = flow
        self.innerTOS = innerTOS
        self.tunnelSource = tunnelSource
        self.tunnelDestination = tunnelDestination
        self.overhead = overhead
        self.reportedMTU = reportedMTU
    }
}

extension ICMPBuilder {
    /// Reads an ICMP frag-needed (or ICMPv6 packet-too-big) whose quoted packet is an ipip, GRE or
    /// GUE tunnel packet, down to the client's packet inside. Nil for anything else.
    @inlinable
    public static func tunnelQuote(_ frame: UnsafeRawBufferPointer, _ info: PacketInfo) -> TunnelQuote? {
        guard let p = frame.baseAddress, let e = info.icmpError(in: frame), info.ipEnd <= frame.count else {
            return nil
        }
        let isTooBig = info.isIPv6 ? info.icmpType == 2 : (info.icmpType == 3 && info.icmpCode == 4)
        guard isTooBig else { return nil }
        let end = e.offset &+ e.available
        var inner = e.l4Offset
        var innerV6: Bool
        switch e.protocolNumber {
        case IPProtocolNumber.ipip: innerV6 = false
        case IPProtocolNumber.ipv6: innerV6 = true
        case IPProtocolNumber.gre:
            guard inner &+ 4 <= end else { return nil }
            let flags = p.be16(inner)
            let proto = p.be16(inner &+ 2)
            guard flags & 0x7FFF == 0, proto == EtherType.ipv4 || proto == EtherType.ipv6 else { return nil }
            innerV6 = proto == EtherType.ipv6
            inner &+= flags & 0x8000 != 0 ? 8 : 4
        case IPProtocolNumber.udp:
            // GUE version 0 (draft-ietf-intarea-gue §3.1) carrying IPv4 or IPv6.
            guard inner &+ 12 <= end else { return nil }
            let g = p.u8(inner &+ 8)
            let proto = p.u8(inner &+ 9)
            guard g >> 6 == 0, g & 0x20 == 0, proto == IPProtocolNumber.ipip || proto == IPProtocolNumber.ipv6 else {
                return nil
            }
            innerV6 = proto == IPProtocolNumber.ipv6
            inner &+= 12 &+ Int(g & 0x1F) &* 4
        default:
            return nil
        }
        // The client's packet must read as a quote itself (the relayed error quotes it).
        var q = EmbeddedPacket()
        guard inner < end, PacketParser.readEmbedded(p, inner, end &- inner, isIPv6: innerV6, into: &q) == nil else {
            return nil
        }
        let tos = innerV6 ? UInt8(truncatingIfNeeded: p.be32(inner) >> 20) : p.u8(inner &+ 1)
        return TunnelQuote(
            innerOffset: inner, innerAvailable: end &- inner, innerIsIPv6: innerV6,
            flow: FlowKey(
                protocolNumber: q.protocolNumber, source: q.source, sourcePort: q.sourcePort,
                destination: q.destination,
                destinationPort: q.destinationPort),
            innerTOS: tos, tunnelSource: e.source, tunnelDestination: e.destination, overhead: inner &- e.offset,
            reportedMTU: Int(e.reportedMTU))
    }

    /// Relays a tunnel MTU error to the client (K:ip_vs_core.c ip_vs_in_icmp, "tunnel frag
    /// needed"): a frag-needed (IPv4 client) or packet-too-big (IPv6 client) from `source`
    /// (the VIP) quoting the client's packet, with the reported MTU less the tunnel overhead
    /// (at least 68, or 1280 for IPv6). Returns the frame length, or 0 if `out` is too small or
    /// either address is not a unicast one.
    @inlinable
    public static func relayFragmentationNeeded(
        _ frame: UnsafeRawBufferPointer, _ quote: TunnelQuote, source: IPAddress, ipID: UInt16 = 0,
        link: EgressLink, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        guard let p = frame.baseAddress, quote.innerOffset &+ quote.innerAvailable <= frame.count,
            Forwarding.sameFamily(source, quote.innerIsIPv6), isUnicast(source), isUnicast(quote.flow.source)
        else { return 0 }
        let mtu = max(quote.reportedMTU &- quote.overhead, quote.innerIsIPv6 ? 1280 : 68)
        return writeError(
            type: quote.innerIsIPv6 ? 2 : 3, code: quote.innerIsIPv6 ? 0 : 4,
            rest: quote.innerIsIPv6 ? UInt32(mtu) : UInt32(UInt16(clamping: mtu)), isIPv6: quote.innerIsIPv6,
            source: source, destination: quote.flow.source, tos: quote.innerTOS, quote: p + quote.innerOffset,
            quoteLength: quote.innerAvailable, ipID: ipID, link: link, into: out)
    }
}
