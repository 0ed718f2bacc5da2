// What the parser learns about a frame: offsets, addresses, ports, flags, fragments, ICMP-quoted flows.
import LVSCore

/// IP protocol numbers and EtherTypes used by the packet code.
public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let ipip: UInt8 = 4
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6: UInt8 = 41
    public static let gre: UInt8 = 47
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let sctp: UInt8 = 132
}

/// EtherType values.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88A8
    public static let ipv6: UInt16 = 0x86DD
}

/// The parser's verdict on a frame.
public enum ParseVerdict: Equatable, Sendable {
    /// An IPv4 or IPv6 packet; `PacketInfo` describes it.
    case ip
    /// An ARP packet; `ARPInfo.parse` reads it.
    case arp
    /// Another EtherType: not ours, leave it to the kernel.
    case other
    /// Malformed: drop and count.
    case drop(DropReason)
}

/// A transport flow: protocol and both endpoints. For an ICMP error this is the quoted packet's
/// flow *reversed*, so it reads in the direction of the connection's packets that travel the same
/// way as the error (an error from the client side looks like a client→VIP packet).
public struct FlowKey: Hashable, Sendable, CustomStringConvertible {
    public var protocolNumber: UInt8
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16

    @inlinable
    public init(
        protocolNumber: UInt8, source: IPAddress, sourcePort: UInt16, destination: IPAddress,
        destinationPort: UInt16
    ) {
        self.protocolNumber = protocolNumber
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
    }

    /// `6 10.0.0.5:51234 > 10.0.0.1:80`.
    public var description: String {
        "\(protocolNumber) \(Endpoint(source, sourcePort)) > \(Endpoint(destination, destinationPort))"
    }
}

/// The packet quoted inside an ICMP or ICMPv6 error (RFC 792, RFC 4443 §2.4(c)).
public struct EmbeddedPacket: Sendable {
    /// Frame-relative offset of the quoted IP header.
    public var offset: Int
    /// Bytes of the quoted packet present in the frame (to the end of the outer IP packet).
    public var available: Int
    /// The quoted IP header's length (IPv6: including extension headers before the transport).
    public var headerLength: Int
    /// The quoted packet's upper-layer protocol.
    public var protocolNumber: UInt8
    public var source: IPAddress
    public var destination: IPAddress
    /// True if ports could be read (TCP/UDP/SCTP, first fragment, at least 4 bytes quoted).
    public var hasPorts: Bool
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// True if the quoted packet is IPv6.
    public var isIPv6: Bool
    /// The MTU a frag-needed (ICMP 3/4) or packet-too-big (ICMPv6 2) reports; 0 for other errors.
    public var reportedMTU: UInt32

    /// Frame-relative offset of the quoted transport header.
    @inlinable public var l4Offset: Int { offset &+ headerLength }

    @inlinable
    init() {
        offset = 0
        available = 0
        headerLength = 0
        protocolNumber = 0
        source = .v4(.any)
        destination = .v4(.any)
        hasPorts = false
        sourcePort = 0
        destinationPort = 0
        isIPv6 = false
        reportedMTU = 0
    }

    /// The quoted flow reversed: the direction of the connection's packets that travel the way
    /// the error does.
    @inlinable public var reversedFlow: FlowKey {
        FlowKey(
            protocolNumber: protocolNumber, source: destination, sourcePort: destinationPort, destination: source,
            destinationPort: sourcePort)
    }
}

/// Everything the data plane needs to know about an IP frame, from one pass over its headers.
/// Offsets are relative to the start of the frame as parsed.
///
/// ```
///  l3Offset          l4Offset                          ipEnd
///  |                 |                                 |
///  [eth][vlan?][ IP hdr (+opts/ext) ][ TCP/UDP/SCTP/ICMP ... ][eth padding]
/// ```
/// Kept to 64 bytes (raw address words, small integers, one flags byte) so that the parser fills
/// it with a handful of stores and passing it around never calls memcpy; `source`, `destination`,
/// `vlan` and the offsets are views over that storage. The packet quoted in an ICMP error is read
/// on demand from the frame (`icmpError(in:)`, `flow(in:)`).
public struct PacketInfo: Sendable {
    // Addresses as raw words: IPv4 in the low 32 bits of the `…Low` word, `…High` 0.
    @usableFromInline var srcHigh: UInt64 = 0
    @usableFromInline var srcLow: UInt64 = 0
    @usableFromInline var dstHigh: UInt64 = 0
    @usableFromInline var dstLow: UInt64 = 0
    // Everything else packed in four words, so a description is nine values, not twenty.
    // w0: l3 | ttl << 8 | tos << 16 | protocol << 24 | l4 << 32 | fragment offset << 48
    // w1: source port | destination port << 16 | VLAN TCI << 32 | embedded-at << 48
    // w2: total length | fragment ID << 32
    // w3: flags | TCP flags << 8 | ICMP type << 16 | ICMP code << 24
    @usableFromInline var w0: UInt64 = 0
    @usableFromInline var w1: UInt64 = 0
    @usableFromInline var w2: UInt64 = 0
    @usableFromInline var w3: UInt32 = 0
    /// What the frame is: `.ip` when the fields describe an IP packet.
    public var verdict: ParseVerdict = .other

    @inlinable @inline(__always)
    static func field(_ w: UInt64, _ shift: UInt64, _ mask: UInt64) -> UInt64 { (w >> shift) & mask }

    @inlinable @inline(__always)
    static func setting(_ w: UInt64, _ shift: UInt64, _ mask: UInt64, _ v: UInt64) -> UInt64 {
        (w & ~(mask << shift)) | ((v & mask) << shift)
    }

    @inlinable var l3: UInt8 {
        get { UInt8(truncatingIfNeeded: w0) }
        set { w0 = Self.setting(w0, 0, 0xFF, UInt64(newValue)) }
    }
    /// TTL or hop limit.
    @inlinable public internal(set) var ttl: UInt8 {
        get { UInt8(truncatingIfNeeded: w0 >> 8) }
        set { w0 = Self.setting(w0, 8, 0xFF, UInt64(newValue)) }
    }
    /// The IPv4 TOS byte or IPv6 traffic class (DSCP and ECN).
    @inlinable public internal(set) var tos: UInt8 {
        get { UInt8(truncatingIfNeeded: w0 >> 16) }
        set { w0 = Self.setting(w0, 16, 0xFF, UInt64(newValue)) }
    }
    /// The upper-layer protocol (after IPv6 extension headers).
    @inlinable public internal(set) var protocolNumber: UInt8 {
        get { UInt8(truncatingIfNeeded: w0 >> 24) }
        set { w0 = Self.setting(w0, 24, 0xFF, UInt64(newValue)) }
    }
    @inlinable var l4: UInt16 {
        get { UInt16(truncatingIfNeeded: w0 >> 32) }
        set { w0 = Self.setting(w0, 32, 0xFFFF, UInt64(newValue)) }
    }
    @inlinable var fragOffset: UInt16 {
        get { UInt16(truncatingIfNeeded: w0 >> 48) }
        set { w0 = Self.setting(w0, 48, 0xFFFF, UInt64(newValue)) }
    }
    /// The source port (0 without one).
    @inlinable public var sourcePort: UInt16 {
        get { UInt16(truncatingIfNeeded: w1) }
        set { w1 = Self.setting(w1, 0, 0xFFFF, UInt64(newValue)) }
    }
    /// The destination port (0 without one).
    @inlinable public var destinationPort: UInt16 {
        get { UInt16(truncatingIfNeeded: w1 >> 16) }
        set { w1 = Self.setting(w1, 16, 0xFFFF, UInt64(newValue)) }
    }
    @inlinable var vlanTCI: UInt16 {
        get { UInt16(truncatingIfNeeded: w1 >> 32) }
        set { w1 = Self.setting(w1, 32, 0xFFFF, UInt64(newValue)) }
    }
    /// Offset of an ICMP error's quoted IP header; 0 if the packet is not such an error.
    @inlinable var embeddedAt: UInt16 {
        get { UInt16(truncatingIfNeeded: w1 >> 48) }
        set { w1 = Self.setting(w1, 48, 0xFFFF, UInt64(newValue)) }
    }
    @inlinable var totalLength: UInt32 {
        get { UInt32(truncatingIfNeeded: w2) }
        set { w2 = Self.setting(w2, 0, 0xFFFF_FFFF, UInt64(newValue)) }
    }
    /// The IPv4 ID or the IPv6 fragment header's identification.
    @inlinable public internal(set) var fragmentID: UInt32 {
        get { UInt32(truncatingIfNeeded: w2 >> 32) }
        set { w2 = Self.setting(w2, 32, 0xFFFF_FFFF, UInt64(newValue)) }
    }
    @inlinable var flags: UInt8 {
        get { UInt8(truncatingIfNeeded: w3) }
        set { w3 = (w3 & ~0xFF) | UInt32(newValue) }
    }
    /// TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
    @inlinable public internal(set) var tcpFlags: UInt8 {
        get { UInt8(truncatingIfNeeded: w3 >> 8) }
        set { w3 = (w3 & ~0xFF00) | UInt32(newValue) << 8 }
    }
    /// ICMP/ICMPv6 type when the protocol is ICMP.
    @inlinable public internal(set) var icmpType: UInt8 {
        get { UInt8(truncatingIfNeeded: w3 >> 16) }
        set { w3 = (w3 & ~0xFF_0000) | UInt32(newValue) << 16 }
    }
    /// ICMP/ICMPv6 code when the protocol is ICMP.
    @inlinable public internal(set) var icmpCode: UInt8 {
        get { UInt8(truncatingIfNeeded: w3 >> 24) }
        set { w3 = (w3 & ~0xFF00_0000) | UInt32(newValue) << 24 }
    }

    @usableFromInline static let flagIPv6: UInt8 = 1
    @usableFromInline static let flagVLAN: UInt8 = 2
    @usableFromInline static let flagDF: UInt8 = 4
    @usableFromInline static let flagFragment: UInt8 = 8
    @usableFromInline static let flagMF: UInt8 = 16
    @usableFromInline static let flagPorts: UInt8 = 32

    /// An empty description, filled by `PacketParser.parse`.
    @inlinable public init() {}

    /// A description with only a verdict.
    @inlinable init(_ verdict: ParseVerdict) { self.verdict = verdict }

    @inlinable @inline(__always)
    func flag(_ f: UInt8) -> Bool { flags & f != 0 }

    @inlinable @inline(__always)
    mutating func setFlag(_ f: UInt8, _ on: Bool) { flags = on ? flags | f : flags & ~f }

    /// True for IPv6.
    @inlinable public var isIPv6: Bool { flag(Self.flagIPv6) }
    /// IPv4 DF. Always true for IPv6 (routers never fragment it).
    @inlinable public var dontFragment: Bool { flag(Self.flagDF) }
    /// True for any fragment (MF set or offset non-zero).
    @inlinable public var isFragment: Bool { flag(Self.flagFragment) }
    /// MF.
    @inlinable public var moreFragments: Bool { flag(Self.flagMF) }
    /// True if the ports were read (TCP/UDP/SCTP and not a later fragment, or filled in by
    /// `FragmentTracker.resolve`).
    @inlinable public var hasPorts: Bool {
        get { flag(Self.flagPorts) }
        set { setFlag(Self.flagPorts, newValue) }
    }

    /// The EtherType after any VLAN tag.
    @inlinable public var etherType: UInt16 { isIPv6 ? EtherType.ipv6 : EtherType.ipv4 }
    /// Offset of the IP header (14, or 18 with a VLAN tag).
    @inlinable public var l3Offset: Int { Int(l3) }
    /// Offset of the upper-layer header.
    @inlinable public var l4Offset: Int { Int(l4) }
    /// The IP packet's length from its length field (IPv4 total length; IPv6 40 + payload length).
    @inlinable public var ipTotalLength: Int { Int(totalLength) }
    /// The fragment offset in bytes.
    @inlinable public var fragmentOffset: Int { Int(fragOffset) }

    /// The source address.
    @inlinable public var source: IPAddress {
        isIPv6 ? .v6(IPv6Address(high: srcHigh, low: srcLow)) : .v4(IPv4Address(UInt32(truncatingIfNeeded: srcLow)))
    }

    /// The destination address.
    @inlinable public var destination: IPAddress {
        isIPv6 ? .v6(IPv6Address(high: dstHigh, low: dstLow)) : .v4(IPv4Address(UInt32(truncatingIfNeeded: dstLow)))
    }

    /// The VLAN tag control information (PCP, DEI, VID) if the frame had one 802.1Q tag.
    @inlinable public var vlan: UInt16? { flag(Self.flagVLAN) ? vlanTCI : nil }

    /// IPv4: IHL × 4. IPv6: 40 plus the extension headers before the upper-layer header.
    @inlinable public var ipHeaderLength: Int { Int(l4) &- Int(l3) }

    /// Bytes from `l4Offset` to the end of the IP packet.
    @inlinable public var l4Length: Int { Int(totalLength) &- (Int(l4) &- Int(l3)) }

    /// The address family.
    @inlinable public var family: AddressFamily { isIPv6 ? .inet6 : .inet }

    /// The frame-relative end of the IP packet (any Ethernet padding lies beyond).
    @inlinable public var ipEnd: Int { Int(l3) &+ Int(totalLength) }

    /// True for the first fragment of a fragmented packet (it carries the ports).
    @inlinable public var isFirstFragment: Bool { isFragment && fragOffset == 0 }

    /// True for a fragment after the first (no transport header).
    @inlinable public var isLaterFragment: Bool { fragOffset != 0 }

    /// True for an ICMP error that IPVS handles (v4: dest-unreachable, source-quench,
    /// time-exceeded; v6: any error type), whose quoted packet was read.
    @inlinable public var isICMPError: Bool { embeddedAt != 0 }

    /// The quoted packet of an ICMP error (`isICMPError`), read from the same frame the parser saw.
    @inlinable
    public func icmpError(in frame: UnsafeRawBufferPointer) -> EmbeddedPacket? {
        guard embeddedAt != 0, let p = frame.baseAddress, ipEnd <= frame.count else { return nil }
        var e = EmbeddedPacket()
        let off = Int(embeddedAt)
        guard PacketParser.readEmbedded(p, off, ipEnd &- off, isIPv6: isIPv6, into: &e) == nil else { return nil }
        let icmp = Int(l4)
        if isIPv6 ? icmpType == 2 : (icmpType == 3 && icmpCode == 4) {
            e.reportedMTU = isIPv6 ? p.be32(icmp &+ 4) : UInt32(p.be16(icmp &+ 6))
        }
        return e
    }

    /// The flow to look a connection up by: the packet's own 5-tuple, or for an ICMP error the
    /// quoted packet's 5-tuple reversed (read from `frame`). Ports are 0 when there are none.
    @inlinable
    public func flow(in frame: UnsafeRawBufferPointer) -> FlowKey {
        if embeddedAt != 0, let e = icmpError(in: frame) { return e.reversedFlow }
        return FlowKey(
            protocolNumber: protocolNumber, source: source, sourcePort: sourcePort, destination: destination,
            destinationPort: destinationPort)
    }

    /// The 32-bit fold of the source and destination (IPv4 as is, IPv6 words XORed), for hashing.
    @inlinable var sourceFold32: UInt32 {
        UInt32(truncatingIfNeeded: srcHigh >> 32) ^ UInt32(truncatingIfNeeded: srcHigh)
            ^ UInt32(truncatingIfNeeded: srcLow >> 32) ^ UInt32(truncatingIfNeeded: srcLow)
    }
    @inlinable var destinationFold32: UInt32 {
        UInt32(truncatingIfNeeded: dstHigh >> 32) ^ UInt32(truncatingIfNeeded: dstHigh)
            ^ UInt32(truncatingIfNeeded: dstLow >> 32) ^ UInt32(truncatingIfNeeded: dstLow)
    }
}
