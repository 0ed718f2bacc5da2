// One pass over Ethernet, 802.1Q, IPv4/IPv6 (options, extension headers, fragments) and TCP/UDP/SCTP/ICMP.
import LVSCore

/// Parses frames into `PacketInfo`, or classifies them as malformed with a `DropReason`.
///
/// Every read is bounds-checked against the frame and against the IP length field, so a lying
/// length, a bad IHL or an option running off the end is a drop, never an out-of-bounds read.
public enum PacketParser {
    /// The most IPv6 extension headers walked before giving up.
    public static let maxExtensionHeaders = 8

    /// Parses a frame. On `.ip`, `info` describes the packet; on anything else its contents are
    /// unspecified. `info` is reused across calls to avoid copying.
    @inlinable
    public static func parse(_ frame: UnsafeRawBufferPointer, into info: inout PacketInfo) -> ParseVerdict {
        guard let p = frame.baseAddress, frame.count >= 14 else { return .drop(.truncatedEthernet) }
        let n = frame.count
        var et = p.be16(12)
        var l3 = 14
        info.vlan = nil
        if et == EtherType.vlan || et == EtherType.qinq {
            guard n >= 18 else { return .drop(.truncatedEthernet) }
            let inner = p.be16(16)
            if et == EtherType.qinq || inner == EtherType.vlan || inner == EtherType.qinq {
                return .drop(.stackedVLAN)
            }
            info.vlan = p.be16(14)
            et = inner
            l3 = 18
        }
        info.etherType = et
        info.l3Offset = l3
        if et == EtherType.ipv4 { return parseIPv4(p, n, l3, &info) }
        if et == EtherType.ipv6 { return parseIPv6(p, n, l3, &info) }
        if et == EtherType.arp { return .arp }
        return .other
    }

    @inlinable @inline(__always)
    static func resetTransport(_ info: inout PacketInfo) {
        info.isFragment = false
        info.fragmentOffset = 0
        info.moreFragments = false
        info.fragmentID = 0
        info.hasPorts = false
        info.sourcePort = 0
        info.destinationPort = 0
        info.tcpFlags = 0
        info.icmpType = 0
        info.icmpCode = 0
        info.icmpMTU = 0
        info.icmpError = nil
    }

    @inlinable
    static func parseIPv4(_ p: UnsafeRawPointer, _ n: Int, _ l3: Int, _ info: inout PacketInfo) -> ParseVerdict {
        guard n &- l3 >= 20 else { return .drop(.truncatedIPv4Header) }
        let vihl = p.u8(l3)
        guard vihl >> 4 == 4 else { return .drop(.badIPVersion) }
        let ihl = Int(vihl & 0xF) &* 4
        guard ihl >= 20 else { return .drop(.badIPv4HeaderLength) }
        guard l3 &+ ihl <= n else { return .drop(.truncatedIPv4Header) }
        guard InternetChecksum.verify(p + l3, ihl) else { return .drop(.badIPv4Checksum) }
        let total = Int(p.be16(l3 &+ 2))
        guard total >= ihl else { return .drop(.badIPLength) }
        guard l3 &+ total <= n else { return .drop(.truncatedIPPacket) }
        if ihl > 20 && !validIPv4Options(p, l3 &+ 20, ihl &- 20) { return .drop(.badIPv4Options) }
        let src = p.be32(l3 &+ 12)
        let dst = p.be32(l3 &+ 16)
        // Martians (K:route.c ip_route_input_slow): multicast, limited broadcast, loopback; 0.0.0.0
        // only to the limited broadcast (DHCP).
        if src >> 28 == 0xE || src == 0xFFFF_FFFF || src >> 24 == 127 || (src == 0 && dst != 0xFFFF_FFFF) {
            return .drop(.martianSource)
        }
        resetTransport(&info)
        info.isIPv6 = false
        info.source = .v4(IPv4Address(src))
        info.destination = .v4(IPv4Address(dst))
        info.ipHeaderLength = ihl
        info.ipTotalLength = total
        info.tos = p.u8(l3 &+ 1)
        info.ttl = p.u8(l3 &+ 8)
        let frag = p.be16(l3 &+ 6)
        info.dontFragment = frag & 0x4000 != 0
        info.fragmentID = UInt32(p.be16(l3 &+ 4))
        let proto = p.u8(l3 &+ 9)
        let payload = total &- ihl
        if frag & 0x3FFF != 0 {
            let off = Int(frag & 0x1FFF) &* 8
            let mf = frag & 0x2000 != 0
            info.isFragment = true
            info.fragmentOffset = off
            info.moreFragments = mf
            if off &+ payload > 65535 || (mf && payload & 7 != 0) { return .drop(.badFragment) }
            // RFC 1858 §4: a TCP fragment at offset 8 can overwrite the flags of the first.
            if off == 8 && proto == IPProtocolNumber.tcp { return .drop(.tinyFragment) }
        }
        return parseTransport(p, l3 &+ ihl, payload, proto, &info)
    }

    /// RFC 791 option syntax: EOL ends, NOP is one byte, every other option has a length ≥ 2 that
    /// stays inside the header.
    @inlinable
    static func validIPv4Options(_ p: UnsafeRawPointer, _ o: Int, _ len: Int) -> Bool {
        var i = 0
        while i < len {
            let t = p.u8(o &+ i)
            if t == 0 { return true }
            if t == 1 {
                i &+= 1
                continue
            }
            guard i &+ 1 < len else { return false }
            let ol = Int(p.u8(o &+ i &+ 1))
            guard ol >= 2 && i &+ ol <= len else { return false }
            i &+= ol
        }
        return true
    }

    @inlinable
    static func parseIPv6(_ p: UnsafeRawPointer, _ n: Int, _ l3: Int, _ info: inout PacketInfo) -> ParseVerdict {
        guard n &- l3 >= 40 else { return .drop(.truncatedIPv6Header) }
        let vtf = p.be32(l3)
        guard vtf >> 28 == 6 else { return .drop(.badIPVersion) }
        let plen = Int(p.be16(l3 &+ 4))
        var nh = p.u8(l3 &+ 6)
        // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675): not handled.
        if plen == 0 && nh == 0 { return .drop(.badIPLength) }
        let total = 40 &+ plen
        guard l3 &+ total <= n else { return .drop(.truncatedIPPacket) }
        let srcHigh = p.be64(l3 &+ 8)
        let srcLow = p.be64(l3 &+ 16)
        if srcHigh >> 56 == 0xFF || (srcHigh == 0 && srcLow == 1) { return .drop(.martianSource) }
        resetTransport(&info)
        info.isIPv6 = true
        info.source = .v6(IPv6Address(high: srcHigh, low: srcLow))
        info.destination = .v6(IPv6Address(high: p.be64(l3 &+ 24), low: p.be64(l3 &+ 32)))
        info.ipTotalLength = total
        info.tos = UInt8(truncatingIfNeeded: vtf >> 20)
        info.ttl = p.u8(l3 &+ 7)
        info.dontFragment = true
        let end = l3 &+ total
        var off = l3 &+ 40
        var count = 0
        var sawFragment = false
        walk: while true {
            switch nh {
            case 0, 43, 60, 135, 139, 140:
                // Hop-by-hop must come first (RFC 8200 §4.1).
                if nh == 0 && count != 0 { return .drop(.badExtensionHeaders) }
                guard off &+ 8 <= end else { return .drop(.truncatedExtensionHeader) }
                let hl = (Int(p.u8(off &+ 1)) &+ 1) &* 8
                guard off &+ hl <= end else { return .drop(.truncatedExtensionHeader) }
                nh = p.u8(off)
                off &+= hl
            case IPProtocolNumber.ah:
                guard off &+ 8 <= end else { return .drop(.truncatedExtensionHeader) }
                let hl = (Int(p.u8(off &+ 1)) &+ 2) &* 4
                guard off &+ hl <= end else { return .drop(.truncatedExtensionHeader) }
                nh = p.u8(off)
                off &+= hl
            case 44:
                if sawFragment { return .drop(.badExtensionHeaders) }
                sawFragment = true
                guard off &+ 8 <= end else { return .drop(.truncatedExtensionHeader) }
                let fo = p.be16(off &+ 2)
                let fragOff = Int(fo & 0xFFF8)
                let mf = fo & 1 != 0
                info.fragmentID = p.be32(off &+ 4)
                // An atomic fragment (offset 0, no MF) is a whole packet (RFC 6946).
                if fragOff != 0 || mf {
                    info.isFragment = true
                    info.fragmentOffset = fragOff
                    info.moreFragments = mf
                }
                nh = p.u8(off)
                off &+= 8
                if fragOff != 0 { break walk }
            default:
                break walk
            }
            count &+= 1
            if count > maxExtensionHeaders { return .drop(.badExtensionHeaders) }
        }
        info.ipHeaderLength = off &- l3
        let payload = end &- off
        if info.isFragment {
            if info.fragmentOffset &+ payload > 65535 || (info.moreFragments && payload & 7 != 0) {
                return .drop(.badFragment)
            }
        }
        return parseTransport(p, off, payload, nh, &info)
    }

    @inlinable
    static func parseTransport(
        _ p: UnsafeRawPointer, _ l4: Int, _ len: Int, _ proto: UInt8, _ info: inout PacketInfo
    ) -> ParseVerdict {
        info.protocolNumber = proto
        info.l4Offset = l4
        info.l4Length = len
        if info.fragmentOffset != 0 { return .ip }
        let frag = info.isFragment
        switch proto {
        case IPProtocolNumber.tcp:
            guard len >= 20 else { return .drop(frag ? .tinyFragment : .truncatedTCPHeader) }
            let doff = Int(p.u8(l4 &+ 12) >> 4) &* 4
            guard doff >= 20 else { return .drop(.badTCPDataOffset) }
            guard doff <= len else { return .drop(frag ? .tinyFragment : .badTCPDataOffset) }
            info.sourcePort = p.be16(l4)
            info.destinationPort = p.be16(l4 &+ 2)
            info.tcpFlags = p.u8(l4 &+ 13)
            info.hasPorts = true
        case IPProtocolNumber.udp:
            guard len >= 8 else { return .drop(frag ? .tinyFragment : .truncatedUDPHeader) }
            let ulen = Int(p.be16(l4 &+ 4))
            // A fragment's UDP length covers the whole datagram; a whole datagram's must fit.
            guard ulen >= 8 && (frag || ulen <= len) else { return .drop(.badUDPLength) }
            info.sourcePort = p.be16(l4)
            info.destinationPort = p.be16(l4 &+ 2)
            info.hasPorts = true
        case IPProtocolNumber.sctp:
            guard len >= 12 else { return .drop(frag ? .tinyFragment : .truncatedSCTPHeader) }
            info.sourcePort = p.be16(l4)
            info.destinationPort = p.be16(l4 &+ 2)
            info.hasPorts = true
        case IPProtocolNumber.icmp where !info.isIPv6:
            guard len >= 8 else { return .drop(frag ? .tinyFragment : .truncatedICMPHeader) }
            let type = p.u8(l4)
            info.icmpType = type
            info.icmpCode = p.u8(l4 &+ 1)
            // K:ip_vs_core.c ip_vs_in_icmp: only DEST_UNREACH, SOURCE_QUENCH and TIME_EXCEEDED.
            if type == 3 || type == 4 || type == 11 {
                if type == 3 && info.icmpCode == 4 { info.icmpMTU = UInt32(p.be16(l4 &+ 6)) }
                return parseEmbedded(p, l4 &+ 8, len &- 8, &info)
            }
        case IPProtocolNumber.icmpv6 where info.isIPv6:
            guard len >= 8 else { return .drop(frag ? .tinyFragment : .truncatedICMPHeader) }
            let type = p.u8(l4)
            info.icmpType = type
            info.icmpCode = p.u8(l4 &+ 1)
            // K:ip_vs_core.c ip_vs_in_icmp_v6: every error type (below 128).
            if type < 128 {
                if type == 2 { info.icmpMTU = p.be32(l4 &+ 4) }
                return parseEmbedded(p, l4 &+ 8, len &- 8, &info)
            }
        default:
            break
        }
        return .ip
    }

    /// Parses the packet quoted in an ICMP error at `off` with `avail` bytes present.
    @inlinable
    static func parseEmbedded(_ p: UnsafeRawPointer, _ off: Int, _ avail: Int, _ info: inout PacketInfo)
        -> ParseVerdict
    {
        var e = EmbeddedPacket()
        e.offset = off
        e.available = avail
        var laterFragment = false
        if !info.isIPv6 {
            guard avail >= 20 else { return .drop(.badICMPEmbedded) }
            let vihl = p.u8(off)
            let ihl = Int(vihl & 0xF) &* 4
            guard vihl >> 4 == 4 && ihl >= 20 && ihl <= avail else { return .drop(.badICMPEmbedded) }
            e.headerLength = ihl
            e.protocolNumber = p.u8(off &+ 9)
            e.source = .v4(IPv4Address(p.be32(off &+ 12)))
            e.destination = .v4(IPv4Address(p.be32(off &+ 16)))
            laterFragment = p.be16(off &+ 6) & 0x1FFF != 0
        } else {
            guard avail >= 40 else { return .drop(.badICMPEmbedded) }
            guard p.u8(off) >> 4 == 6 else { return .drop(.badICMPEmbedded) }
            e.isIPv6 = true
            e.source = .v6(IPv6Address(high: p.be64(off &+ 8), low: p.be64(off &+ 16)))
            e.destination = .v6(IPv6Address(high: p.be64(off &+ 24), low: p.be64(off &+ 32)))
            let end = off &+ avail
            var nh = p.u8(off &+ 6)
            var o = off &+ 40
            var count = 0
            walk: while count <= maxExtensionHeaders {
                switch nh {
                case 0, 43, 60, 135, 139, 140, IPProtocolNumber.ah, 44:
                    // A quote may be cut inside its extension headers: then it has no ports.
                    guard o &+ 8 <= end else {
                        laterFragment = true
                        break walk
                    }
                    let hl: Int
                    if nh == 44 {
                        hl = 8
                        if p.be16(o &+ 2) & 0xFFF8 != 0 { laterFragment = true }
                    } else if nh == IPProtocolNumber.ah {
                        hl = (Int(p.u8(o &+ 1)) &+ 2) &* 4
                    } else {
                        hl = (Int(p.u8(o &+ 1)) &+ 1) &* 8
                    }
                    nh = p.u8(o)
                    o &+= hl
                    if laterFragment || o > end {
                        laterFragment = true
                        break walk
                    }
                default:
                    break walk
                }
                count &+= 1
            }
            if count > maxExtensionHeaders { return .drop(.badICMPEmbedded) }
            e.protocolNumber = nh
            e.headerLength = min(o, end) &- off
        }
        let proto = e.protocolNumber
        if !laterFragment && e.available &- e.headerLength >= 4
            && (proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp || proto == IPProtocolNumber.sctp)
        {
            e.sourcePort = p.be16(e.l4Offset)
            e.destinationPort = p.be16(e.l4Offset &+ 2)
            e.hasPorts = true
        }
        info.icmpError = e
        return .ip
    }
}

/// An Ethernet/IPv4 ARP packet (RFC 826).
public struct ARPInfo: Sendable, Equatable {
    /// 1 = request, 2 = reply.
    public var operation: UInt16
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    /// True for a gratuitous ARP: the sender announces its own address (sender IP = target IP).
    public var isGratuitous: Bool { senderIP == targetIP }

    /// Reads the ARP packet at `l3Offset` (from `PacketInfo.l3Offset` after a `.arp` verdict),
    /// or returns why it cannot.
    public static func parse(_ frame: UnsafeRawBufferPointer, l3Offset: Int) -> Result<ARPInfo, ARPError> {
        guard let p = frame.baseAddress, l3Offset >= 0, frame.count &- l3Offset >= 28 else {
            return .failure(ARPError(reason: .truncatedARP))
        }
        let o = l3Offset
        guard p.be16(o) == 1, p.be16(o + 2) == EtherType.ipv4, p.u8(o + 4) == 6, p.u8(o + 5) == 4 else {
            return .failure(ARPError(reason: .unsupportedARP))
        }
        return .success(
            ARPInfo(
                operation: p.be16(o + 6), senderMAC: .load(p, o + 8), senderIP: IPv4Address(p.be32(o + 14)),
                targetMAC: .load(p, o + 18), targetIP: IPv4Address(p.be32(o + 24))))
    }
}

/// Why an ARP frame could not be read.
public struct ARPError: Error, Equatable, Sendable {
    public var reason: DropReason
    public init(reason: DropReason) { self.reason = reason }
}
