// Why a packet was dropped, and the counters that count every drop by reason.

/// The reason a frame was not forwarded. Every drop has one, and `PacketCounters` counts it.
public enum DropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    // Link layer.
    /// Shorter than an Ethernet header (or its VLAN tag).
    case truncatedEthernet = 0
    /// More than one VLAN tag (802.1ad / QinQ): not handled.
    case stackedVLAN
    /// An ARP frame too short for an Ethernet/IPv4 ARP packet.
    case truncatedARP
    /// ARP with a hardware/protocol type or length other than Ethernet/IPv4.
    case unsupportedARP

    // IPv4.
    /// Shorter than the 20-byte IPv4 header, or than its IHL says.
    case truncatedIPv4Header
    /// The version field does not match the EtherType.
    case badIPVersion
    /// IHL below 5.
    case badIPv4HeaderLength
    /// The IPv4 header checksum is wrong (the kernel's `ip_rcv` drops these).
    case badIPv4Checksum
    /// An IPv4 option runs past the header or has a length below 2.
    case badIPv4Options
    /// Total length below the header length, or an IPv6 jumbogram (payload length 0).
    case badIPLength
    /// The length field claims more bytes than the frame holds.
    case truncatedIPPacket
    /// A source address no host may use: multicast, loopback, limited broadcast, unspecified.
    case martianSource

    // IPv6.
    /// Shorter than the 40-byte IPv6 header.
    case truncatedIPv6Header
    /// An extension header runs past the packet.
    case truncatedExtensionHeader
    /// More extension headers than we walk (8), or hop-by-hop not first.
    case badExtensionHeaders

    // Fragments.
    /// A fragment that ends beyond 65535 bytes, or a non-last fragment not a multiple of 8 bytes.
    case badFragment
    /// A first fragment too short to hold its transport header, or an overlapping TCP fragment
    /// at offset 8 (RFC 1858).
    case tinyFragment
    /// A later fragment whose first fragment was never seen (or has expired).
    case untrackedFragment
    /// A fragment the transform cannot rewrite on its own (SCTP NAT, UDP checksum recompute).
    case unsupportedFragment

    // Transport.
    /// Shorter than the 20-byte TCP header.
    case truncatedTCPHeader
    /// TCP data offset below 5 or past the segment.
    case badTCPDataOffset
    /// Shorter than the 8-byte UDP header.
    case truncatedUDPHeader
    /// UDP length below 8 or beyond the IP payload.
    case badUDPLength
    /// Shorter than the 12-byte SCTP common header.
    case truncatedSCTPHeader
    /// Shorter than the 8-byte ICMP/ICMPv6 header.
    case truncatedICMPHeader
    /// An ICMP error whose quoted header is cut short or inconsistent.
    case badICMPEmbedded
    /// An ICMP error whose checksum is wrong (checked before NAT rewrites it, as the kernel does).
    case badICMPChecksum

    // Forwarding.
    /// TTL or hop limit would reach 0 (an ICMP time-exceeded goes back unless the packet is an ICMP error).
    case ttlExpired
    /// Larger than the egress MTU with DF set or IPv6 (an ICMP frag-needed / packet-too-big goes back).
    case mtuExceeded
    /// An ICMP error larger than the egress MTU that cannot be fragmented (IPv6).
    case icmpErrorTooBig
    /// An IPv6 outer tunnel packet would need fragmenting.
    case needsIPv6Fragmentation
    /// The egress tunnel MTU is below the minimum (68 for IPv4, 1280 for IPv6).
    case tunnelMTUTooSmall
    /// The rewrite's addresses are of a different family than the packet.
    case familyMismatch
    /// Not enough headroom in front of the frame for the new headers.
    case noHeadroom
    /// The caller's output buffer is too small.
    case outputTooSmall
    /// The packet is not of a kind this transform handles (e.g. not TCP for segmentation).
    case unsupportedPacket
    /// No real server is available: an ICMP port-unreachable goes back (K:ip_vs_core.c ip_vs_leave).
    case noServerAvailable
    /// No free FULLNAT local port.
    case localPortsExhausted
    /// virtio_net_hdr checksum offsets outside the frame.
    case badPartialChecksum
    /// A GSO frame whose gso_size is 0 or whose segments would not fit the caller's buffer.
    case badGSO
    /// A fragment tracker entry was evicted to make room (the flow's later fragments will drop).
    case fragmentTrackerOverflow
    /// SYN proxy: an ACK whose acknowledgement is not a valid cookie (forged, or too old).
    case synProxyBadCookie
    /// SYN proxy: a segment that cannot be proxied (fragmented, a SYN with data it cannot hold,
    /// a server that is not NAT/FULLNAT).
    case synProxyUnsupported
    /// SYN proxy: client data while the server's SYN/ACK is awaited and the hold store is full.
    case synProxyHoldFull

    /// A short snake_case name for logs and metrics (`truncated_ipv4_header`).
    public var description: String { DropReason.names[Int(rawValue)] }

    static let names: [String] = [
        "truncated_ethernet", "stacked_vlan", "truncated_arp", "unsupported_arp", "truncated_ipv4_header",
        "bad_ip_version", "bad_ipv4_header_length", "bad_ipv4_checksum", "bad_ipv4_options", "bad_ip_length",
        "truncated_ip_packet", "martian_source", "truncated_ipv6_header", "truncated_extension_header",
        "bad_extension_headers", "bad_fragment", "tiny_fragment", "untracked_fragment", "unsupported_fragment",
        "truncated_tcp_header", "bad_tcp_data_offset", "truncated_udp_header", "bad_udp_length",
        "truncated_sctp_header", "truncated_icmp_header", "bad_icmp_embedded", "bad_icmp_checksum", "ttl_expired",
        "mtu_exceeded", "icmp_error_too_big", "needs_ipv6_fragmentation", "tunnel_mtu_too_small", "family_mismatch",
        "no_headroom", "output_too_small", "unsupported_packet", "no_server_available", "local_ports_exhausted",
        "bad_partial_checksum", "bad_gso", "fragment_tracker_overflow", "synproxy_bad_cookie",
        "synproxy_unsupported", "synproxy_hold_full",
    ]
}

/// Drop counters, one `UInt64` per `DropReason`, in a fixed array allocated once.
/// Counting is an array increment: no dictionary, no allocation per packet.
public struct PacketCounters: Sendable {
    @usableFromInline var counts: [UInt64]

    /// All counters at zero.
    public init() { counts = [UInt64](repeating: 0, count: DropReason.allCases.count) }

    /// Counts one drop.
    @inlinable public mutating func count(_ reason: DropReason) {
        counts.withUnsafeMutableBufferPointer { $0[Int(reason.rawValue)] &+= 1 }
    }

    /// The number of drops for `reason`.
    @inlinable public subscript(_ reason: DropReason) -> UInt64 { counts[Int(reason.rawValue)] }

    /// All drops.
    public var total: UInt64 { counts.reduce(0, &+) }

    /// The reasons with a non-zero count, in declaration order.
    public var nonZero: [(DropReason, UInt64)] {
        DropReason.allCases.compactMap { counts[Int($0.rawValue)] == 0 ? nil : ($0, counts[Int($0.rawValue)]) }
    }

    /// Adds another set of counters (e.g. from another worker).
    public mutating func add(_ other: PacketCounters) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
    }
}
