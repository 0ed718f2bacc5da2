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
public struct PacketInfo: Sendable {
    /// The VLAN tag control information (PCP, DEI, VID) if the frame had one 802.1Q tag.
    public var vlan: UInt16?
    /// The EtherType after any VLAN tag.
    public var etherType: UInt16 = 0
    /// Offset of the IP header (14, or 18 with a VLAN tag).
    public var l3Offset: Int = 0
    /// True for IPv6.
    public var isIPv6: Bool = false
    public var source: IPAddress = .v4(.any)
    public var destination: IPAddress = .v4(.any)
    /// IPv4: IHL × 4. IPv6: 40 plus the extension headers before the upper-layer header.
    public var ipHeaderLength: Int = 0
    /// The IP packet's length from its length field (IPv4 total length; IPv6 40 + payload length).
    public var ipTotalLength: Int = 0
    /// TTL or hop limit.
    public var ttl: UInt8 = 0
    /// The IPv4 TOS byte or IPv6 traffic class (DSCP and ECN).
    public var tos: UInt8 = 0
    /// IPv4 DF. Always true for IPv6 (routers never fragment it).
    public var dontFragment: Bool = false
    /// True for any fragment (MF set or offset non-zero).
    public var isFragment: Bool = false
    /// The fragment offset in bytes.
    public var fragmentOffset: Int = 0
    /// MF.
    public var moreFragments: Bool = false
    /// The IPv4 ID or the IPv6 fragment header's identification.
    public var fragmentID: UInt32 = 0
    /// The upper-layer protocol (after IPv6 extension headers).
    public var protocolNumber: UInt8 = 0
    /// Offset of the upper-layer header.
    public var l4Offset: Int = 0
    /// Bytes from `l4Offset` to the end of the IP packet.
    public var l4Length: Int = 0
    /// True if the ports were read (TCP/UDP/SCTP and not a later fragment).
    public var hasPorts: Bool = false
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    /// TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
    public var tcpFlags: UInt8 = 0
    /// ICMP/ICMPv6 type and code when the protocol is ICMP.
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// The MTU an ICMP frag-needed / packet-too-big carries.
    public var icmpMTU: UInt32 = 0
    /// The quoted packet of an ICMP error that IPVS handles (v4: dest-unreachable, source-quench,
    /// time-exceeded; v6: any error type), or nil.
    public var icmpError: EmbeddedPacket?

    /// An empty description, filled by `PacketParser.parse`.
    @inlinable public init() {}

    /// The address family.
    @inlinable public var family: AddressFamily { isIPv6 ? .inet6 : .inet }

    /// The frame-relative end of the IP packet (any Ethernet padding lies beyond).
    @inlinable public var ipEnd: Int { l3Offset &+ ipTotalLength }

    /// True for the first fragment of a fragmented packet (it carries the ports).
    @inlinable public var isFirstFragment: Bool { isFragment && fragmentOffset == 0 }

    /// True for a fragment after the first (no transport header).
    @inlinable public var isLaterFragment: Bool { fragmentOffset != 0 }

    /// True for an ICMP error that quotes a packet with ports.
    @inlinable public var isICMPError: Bool { icmpError != nil }

    /// The flow to look a connection up by: the packet's own 5-tuple, or for an ICMP error the
    /// quoted packet's 5-tuple reversed. Ports are 0 when `hasPorts` is false.
    @inlinable public var flow: FlowKey {
        if let e = icmpError {
            return FlowKey(
                protocolNumber: e.protocolNumber, source: e.destination, sourcePort: e.destinationPort,
                destination: e.source, destinationPort: e.sourcePort)
        }
        return FlowKey(
            protocolNumber: protocolNumber, source: source, sourcePort: sourcePort, destination: destination,
            destinationPort: destinationPort)
    }
}
