// Frames in data-plane buffers, egress link parameters, verdicts, and what every forwarding method shares.
import LVSCore

/// A frame inside a data-plane buffer: bytes `start ..< start + length` of the buffer. The bytes
/// before `start` are headroom, which encapsulation (TUN) and VLAN tagging grow into; a transform
/// moves `start` and `length` and leaves the frame in place.
///
/// ```
///  buffer                start                     start+length       capacity
///  |<----- headroom ----->|[eth][ip][l4 ... payload]|<--- tailroom --->|
/// ```
/// The data plane's buffers should keep `Frame.recommendedHeadroom` bytes in front of every
/// received frame.
public struct Frame {
    /// The start of the whole buffer.
    public var buffer: UnsafeMutableRawPointer
    /// The size of the whole buffer.
    public var capacity: Int
    /// The offset of the frame's first byte in the buffer.
    public var start: Int
    /// The frame's length.
    public var length: Int

    /// Headroom that covers every encapsulation here (IPv6 + UDP + GUE + VLAN = 70 bytes) with room to spare.
    public static let recommendedHeadroom = 128

    /// A frame of `length` bytes at `start` in `buffer`. Traps if it does not fit.
    @inlinable
    public init(buffer: UnsafeMutableRawBufferPointer, start: Int, length: Int) {
        precondition(start >= 0 && length >= 0 && start + length <= buffer.count && buffer.baseAddress != nil)
        self.buffer = buffer.baseAddress!
        self.capacity = buffer.count
        self.start = start
        self.length = length
    }

    /// A pointer to the frame's first byte.
    @inlinable public var data: UnsafeMutableRawPointer { buffer + start }

    /// The frame's bytes, for parsing.
    @inlinable public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer + start, count: length) }

    /// The frame's bytes, writable.
    @inlinable public var mutableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: buffer + start, count: length)
    }
}

/// Where a forwarded frame leaves: the link-layer header to put on it and the link's IP MTU.
public struct EgressLink: Sendable, Equatable {
    /// The director's MAC on the egress interface.
    public var sourceMAC: MACAddress { didSet { image = Self.image(destinationMAC, sourceMAC) } }
    /// The next hop's MAC (the real server's for DR, the gateway's for routed servers).
    public var destinationMAC: MACAddress { didSet { image = Self.image(destinationMAC, sourceMAC) } }
    /// The egress IP MTU (1500 on plain Ethernet).
    public var mtu: Int
    /// The 802.1Q TCI to tag with, or nil for an untagged egress.
    public var vlan: UInt16?
    /// The 12 bytes of both MACs as they lie in the frame, precomputed: two stores per packet.
    @usableFromInline var image: (UInt64, UInt32)

    @inlinable
    public init(sourceMAC: MACAddress, destinationMAC: MACAddress, mtu: Int = 1500, vlan: UInt16? = nil) {
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.mtu = mtu
        self.vlan = vlan
        image = Self.image(destinationMAC, sourceMAC)
    }

    @inlinable
    static func image(_ dst: MACAddress, _ src: MACAddress) -> (UInt64, UInt32) {
        // Bytes 0-5 destination, 6-11 source, in wire order, as native integers.
        let hi = dst.value << 16 | src.value >> 32
        let lo = UInt32(truncatingIfNeeded: src.value)
        return (hi.bigEndian, lo.bigEndian)
    }

    public static func == (a: EgressLink, b: EgressLink) -> Bool {
        a.sourceMAC == b.sourceMAC && a.destinationMAC == b.destinationMAC && a.mtu == b.mtu && a.vlan == b.vlan
    }
}

/// What a forwarding transform decided.
public enum ForwardVerdict: Equatable, Sendable {
    /// The frame was rewritten in place (`start`/`length` may have moved): transmit it.
    case forward
    /// The rewritten frame is an IPv4 packet without DF larger than `mtu`: split it with
    /// `IPv4Fragmenter` and transmit the fragments (K:ip_vs_xmit.c sets ignore_df and lets
    /// ip_fragment split it).
    case fragment(mtu: Int)
    /// TTL/hop limit would reach 0. The frame is untouched: answer with
    /// `ICMPBuilder.timeExceeded` and drop it (count `.ttlExpired`). (K:ip_vs_xmit.c decrement_ttl)
    case timeExceeded
    /// DF set (or IPv6) and larger than `mtu`. The frame is untouched: answer with
    /// `ICMPBuilder.fragmentationNeeded` carrying `mtu` and drop it (count `.mtuExceeded`).
    /// (K:ip_vs_xmit.c ensure_mtu_is_adequate)
    case fragmentationNeeded(mtu: Int)
    /// Dropped; count the reason.
    case drop(DropReason)
}

/// The forwarding methods as transforms over raw frames: NAT (masquerade), DR (gateway), TUN
/// (ipip/GUE/GRE) and FULLNAT, with explicit parameters and no state.
///
/// Before any transform the data plane parses the frame, looks the connection up by `info.flow(in:)`
/// and finishes partial checksums (`PartialChecksum.complete`) and GSO frames (`TCPSegmenter`).
/// Every method decrements the TTL, checks the egress MTU and writes the egress link header.
public enum Forwarding {
    /// Checks shared by every method before anything is written: TTL and MTU.
    /// `outerOverhead` is the encapsulation the packet will carry (0 unless tunnelling).
    /// Returns nil to go on, with `fragmentAfter` set if the result must be fragmented.
    @inlinable @inline(__always)
    static func precheck(
        _ info: PacketInfo, mtu: Int, outerOverhead: Int, outerIsIPv6: Bool, fragmentAfter: inout Int
    ) -> ForwardVerdict? {
        let isError = info.isICMPError
        let v6 = info.isIPv6
        let df = info.dontFragment
        let later = info.isLaterFragment
        if info.ttl <= 1 {
            // No ICMP error about an ICMP error (RFC 1122 §3.2.2).
            return isError ? .drop(.ttlExpired) : .timeExceeded
        }
        let innerMTU = mtu &- outerOverhead
        if info.ipTotalLength > innerMTU {
            if !v6 && (!df || isError) {
                // IPv4 without DF (or an ICMP error, which is never refused): fragment the result.
                if outerIsIPv6 && outerOverhead > 0 { return .drop(.needsIPv6Fragmentation) }
                fragmentAfter = outerOverhead > 0 ? mtu : innerMTU
                return nil
            }
            if isError { return .drop(.icmpErrorTooBig) }
            // Only the first fragment gets packet-too-big (K:ip_vs_xmit.c ensure_mtu_is_adequate).
            if later { return .drop(.mtuExceeded) }
            return .fragmentationNeeded(mtu: innerMTU)
        }
        return nil
    }

    /// Decrements the IPv4 TTL (with its header checksum delta) or the IPv6 hop limit at `l3`.
    @inlinable @inline(__always)
    static func decrementTTL(_ l3: UnsafeMutableRawPointer, isIPv6: Bool, _ ipDelta: inout ChecksumDelta) {
        if isIPv6 {
            l3.setU8(l3.u8(7) &- 1, 7)
        } else {
            let old = l3.be16(8)
            let new = old &- 0x100
            ipDelta.replace(old, new)
            l3.setBE16(new, 8)
        }
    }

    /// True if a link header for `link` fits in front of the IP packet at frame-relative `l3`.
    @inlinable @inline(__always)
    static func hasHeadroom(_ frame: Frame, l3: Int, link: EgressLink) -> Bool {
        frame.start &+ l3 >= (link.vlan == nil ? 14 : 18)
    }

    /// Writes the egress Ethernet (and 802.1Q) header in front of the IP packet at absolute offset
    /// `l3Abs` and sets the frame to `[header][ipLength bytes]`. Headroom was checked.
    @inlinable @inline(__always)
    static func writeLinkHeader(
        _ frame: inout Frame, l3Abs: Int, ipLength: Int, etherType: UInt16, link: EgressLink
    ) {
        let l2 = link.vlan == nil ? 14 : 18
        let start = l3Abs &- l2
        let p = frame.buffer + start
        p.setRaw64(link.image.0, 0)
        p.setRaw32(link.image.1, 8)
        if let tci = link.vlan {
            p.setBE16(EtherType.vlan, 12)
            p.setBE16(tci, 14)
            p.setBE16(etherType, 16)
        } else {
            p.setBE16(etherType, 12)
        }
        frame.start = start
        frame.length = l2 &+ ipLength
    }

    /// True if `a` is of the packet's family.
    @inlinable @inline(__always)
    static func sameFamily(_ a: IPAddress, _ isIPv6: Bool) -> Bool {
        switch a {
        case .v4: return !isIPv6
        case .v6: return isIPv6
        }
    }
}
