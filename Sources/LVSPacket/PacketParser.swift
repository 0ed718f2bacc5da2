// One pass over Ethernet, 802.1Q, IPv4/IPv6 (options, extension headers, fragments) and TCP/UDP/SCTP/ICMP.
import LVSCore

/// Parses frames into `PacketInfo`, or classifies them as malformed with a `DropReason`.
///
/// Every read is bounds-checked against the frame and against the IP length field, so a lying
/// length, a bad IHL or an option running off the end is a drop, never an out-of-bounds read.
public enum PacketParser {
    /// The most IPv6 extension headers walked before giving up.
    public static let maxExtensionHeaders = 8

    /// Parses a frame. `verdict` says what it is; on `.ip` the other fields describe the packet.
    ///
    /// The hot path is `let info = PacketParser.parse(frame)`: the description is built as a value,
    /// stays in registers when inlined, and is never copied through memory field by field (which
    /// costs a store-forwarding stall per packet).
    @inlinable @inline(__always)
    public static func parse(_ frame: UnsafeRawBufferPointer) -> PacketInfo {
        guard let p = frame.baseAddress, frame.count >= 14 else { return PacketInfo(.drop(.truncatedEthernet)) }
        let n = frame.count
        var et = p.be16(12)
        var l3 = 14
        var flags: UInt8 = 0
        var tci: UInt16 = 0
        if et == EtherType.vlan || et == EtherType.qinq {
            guard n >= 18 else { return PacketInfo(.drop(.truncatedEthernet)) }
            let inner = p.be16(16)
            if et == EtherType.qinq || inner == EtherType.vlan || inner == EtherType.qinq {
                return PacketInfo(.drop(.stackedVLAN))
            }
            tci = p.be16(14)
            flags = PacketInfo.flagVLAN
            et = inner
            l3 = 18
        }
        if et == EtherType.ipv4 { return parseIPv4(p, n, l3, flags, tci) }
        if et == EtherType.ipv6 { return parseIPv6(p, n, l3, flags, tci) }
        var info = PacketInfo(et == EtherType.arp ? .arp : .other)
        info.l3 = UInt8(l3)
        info.vlanTCI = tci
        info.flags = flags
        return info
    }

    /// Parses a frame into `info` and returns the verdict (a convenience over `parse(_:)`).
    @inlinable @inline(__always)
    public static func parse(_ frame: UnsafeRawBufferPointer, into info: inout PacketInfo) -> ParseVerdict {
        info = parse(frame)
        return info.verdict
    }

    @inlinable @inline(__always)
    static func parseIPv4(_ p: UnsafeRawPointer, _ n: Int, _ l3: Int, _ linkFlags: UInt8, _ tci: UInt16) -> PacketInfo {
        guard n &- l3 >= 20 else { return PacketInfo(.drop(.truncatedIPv4Header)) }
        let vihl = p.u8(l3)
        guard vihl >> 4 == 4 else { return PacketInfo(.drop(.badIPVersion)) }
        let ihl = Int(vihl & 0xF) &* 4
        guard ihl >= 20 else { return PacketInfo(.drop(.badIPv4HeaderLength)) }
        guard l3 &+ ihl <= n else { return PacketInfo(.drop(.truncatedIPv4Header)) }
        guard InternetChecksum.verifyIPv4Header(p + l3, ihl) else { return PacketInfo(.drop(.badIPv4Checksum)) }
        let total = Int(p.be16(l3 &+ 2))
        guard total >= ihl else { return PacketInfo(.drop(.badIPLength)) }
        guard l3 &+ total <= n else { return PacketInfo(.drop(.truncatedIPPacket)) }
        if ihl > 20 && !validIPv4Options(p, l3 &+ 20, ihl &- 20) { return PacketInfo(.drop(.badIPv4Options)) }
        let src = p.be32(l3 &+ 12)
        let dst = p.be32(l3 &+ 16)
        // Martians (K:route.c ip_route_input_slow): multicast, limited broadcast, loopback; 0.0.0.0
        // only to the limited broadcast (DHCP).
        if src >> 28 == 0xE || src == 0xFFFF_FFFF || src >> 24 == 127 || (src == 0 && dst != 0xFFFF_FFFF) {
            return PacketInfo(.drop(.martianSource))
        }
        let frag = p.be16(l3 &+ 6)
        let proto = p.u8(l3 &+ 9)
        let payload = total &- ihl
        var flags = linkFlags
        if frag & 0x4000 != 0 { flags |= PacketInfo.flagDF }
        var off = 0
        if frag & 0x3FFF != 0 {
            off = Int(frag & 0x1FFF) &* 8
            let mf = frag & 0x2000 != 0
            flags |= PacketInfo.flagFragment | (mf ? PacketInfo.flagMF : 0)
            if off &+ payload > 65535 || (mf && payload & 7 != 0) { return PacketInfo(.drop(.badFragment)) }
            // RFC 1858 §4: a TCP fragment at offset 8 can overwrite the flags of the first.
            if off == 8 && proto == IPProtocolNumber.tcp { return PacketInfo(.drop(.tinyFragment)) }
        }
        var info = PacketInfo(.ip)
        info.srcLow = UInt64(src)
        info.dstLow = UInt64(dst)
        info.fragmentID = UInt32(p.be16(l3 &+ 4))
        info.totalLength = UInt32(truncatingIfNeeded: total)
        info.fragOffset = UInt16(truncatingIfNeeded: off)
        info.l3 = UInt8(truncatingIfNeeded: l3)
        info.vlanTCI = tci
        info.tos = p.u8(l3 &+ 1)
        info.ttl = p.u8(l3 &+ 8)
        info.flags = flags
        parseTransport(p, l3 &+ ihl, payload, proto, &info)
        return info
    }

    /// RFC 791 option syntax: EOL ends, NOP is one byte, every other option has a length ≥ 2 that
    /// stays inside the header.
    @inlinable @inline(never)
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

    @inlinable @inline(never)
    static func parseIPv6(_ p: UnsafeRawPointer, _ n: Int, _ l3: Int, _ linkFlags: UInt8, _ tci: UInt16) -> PacketInfo {
        guard n &- l3 >= 40 else { return PacketInfo(.drop(.truncatedIPv6Header)) }
        let vtf = p.be32(l3)
        guard vtf >> 28 == 6 else { return PacketInfo(.drop(.badIPVersion)) }
        let plen = Int(p.be16(l3 &+ 4))
        var nh = p.u8(l3 &+ 6)
        // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675): not handled.
        if plen == 0 && nh == 0 { return PacketInfo(.drop(.badIPLength)) }
        let total = 40 &+ plen
        guard l3 &+ total <= n else { return PacketInfo(.drop(.truncatedIPPacket)) }
        let srcHigh = p.be64(l3 &+ 8)
        let srcLow = p.be64(l3 &+ 16)
        if srcHigh >> 56 == 0xFF || (srcHigh == 0 && srcLow == 1) { return PacketInfo(.drop(.martianSource)) }
        let end = l3 &+ total
        var off = l3 &+ 40
        var flags = linkFlags | PacketInfo.flagIPv6 | PacketInfo.flagDF
        var fragOff = 0
        var fragID: UInt32 = 0
        if nh != IPProtocolNumber.tcp && nh != IPProtocolNumber.udp {
            // Extension headers (RFC 8200 §4), walked out of line.
            let w = walkExtensionHeaders(p, off, end, nh)
            if w.reason != 255 { return PacketInfo(.drop(DropReason(rawValue: w.reason)!)) }
            off = w.end
            nh = w.nextHeader
            if w.fragment {
                fragID = w.id
                fragOff = w.offset
                // An atomic fragment (offset 0, no MF) is a whole packet (RFC 6946).
                if w.offset != 0 || w.more {
                    flags |= PacketInfo.flagFragment | (w.more ? PacketInfo.flagMF : 0)
                }
            }
        }
        let payload = end &- off
        if flags & PacketInfo.flagFragment != 0 {
            if fragOff &+ payload > 65535 || (flags & PacketInfo.flagMF != 0 && payload & 7 != 0) {
                return PacketInfo(.drop(.badFragment))
            }
        }
        var info = PacketInfo(.ip)
        info.srcHigh = srcHigh
        info.srcLow = srcLow
        info.dstHigh = p.be64(l3 &+ 24)
        info.dstLow = p.be64(l3 &+ 32)
        info.fragmentID = fragID
        info.totalLength = UInt32(truncatingIfNeeded: total)
        info.fragOffset = UInt16(truncatingIfNeeded: fragOff)
        info.l3 = UInt8(truncatingIfNeeded: l3)
        info.vlanTCI = tci
        info.tos = UInt8(truncatingIfNeeded: vtf >> 20)
        info.ttl = p.u8(l3 &+ 7)
        info.flags = flags
        parseTransport(p, off, payload, nh, &info)
        return info
    }

    /// The result of walking IPv6 extension headers: a drop reason (255 = none), where the
    /// upper layer starts and which it is, and fragment data.
    @usableFromInline
    struct ExtensionWalk {
        @usableFromInline var reason: UInt8 = 255
        @usableFromInline var end = 0
        @usableFromInline var nextHeader: UInt8 = 0
        @usableFromInline var fragment = false
        @usableFromInline var more = false
        @usableFromInline var offset = 0
        @usableFromInline var id: UInt32 = 0
        @inlinable init() {}
    }

    /// Walks IPv6 extension headers from `start` to the upper-layer header (or the data of a
    /// later fragment).
    @inlinable @inline(never)
    static func walkExtensionHeaders(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, _ first: UInt8) -> ExtensionWalk {
        var w = ExtensionWalk()
        var off = start
        var nh = first
        var count = 0
        while true {
            switch nh {
            case 0, 43, 60, 135, 139, 140, IPProtocolNumber.ah:
                // Hop-by-hop must come first (RFC 8200 §4.1).
                if nh == 0 && count != 0 {
                    w.reason = DropReason.badExtensionHeaders.rawValue
                    return w
                }
                guard off &+ 8 <= end else {
                    w.reason = DropReason.truncatedExtensionHeader.rawValue
                    return w
                }
                // Length in 8-octet units after the first 8; AH's in 4-octet units after the first 8 (RFC 4302 §2.2).
                let units = Int(p.u8(off &+ 1))
                let hl = nh == IPProtocolNumber.ah ? (units &+ 2) &* 4 : (units &+ 1) &* 8
                guard off &+ hl <= end else {
                    w.reason = DropReason.truncatedExtensionHeader.rawValue
                    return w
                }
                nh = p.u8(off)
                off &+= hl
            case 44:
                if w.fragment {
                    w.reason = DropReason.badExtensionHeaders.rawValue
                    return w
                }
                guard off &+ 8 <= end else {
                    w.reason = DropReason.truncatedExtensionHeader.rawValue
                    return w
                }
                let fo = p.be16(off &+ 2)
                w.fragment = true
                w.offset = Int(fo & 0xFFF8)
                w.more = fo & 1 != 0
                w.id = p.be32(off &+ 4)
                nh = p.u8(off)
                off &+= 8
                if w.offset != 0 {
                    w.end = off
                    w.nextHeader = nh
                    return w
                }
            default:
                w.end = off
                w.nextHeader = nh
                return w
            }
            count &+= 1
            if count > maxExtensionHeaders {
                w.reason = DropReason.badExtensionHeaders.rawValue
                return w
            }
        }
    }

    /// Reads the ports at `l4` into `info` (TCP, UDP and SCTP headers all start with them).
    @inlinable @inline(__always)
    static func readPorts(_ p: UnsafeRawPointer, _ l4: Int, _ flags: UInt8, _ info: inout PacketInfo) {
        info.sourcePort = p.be16(l4)
        info.destinationPort = p.be16(l4 &+ 2)
        info.flags = flags | PacketInfo.flagPorts
    }

    /// Reads the transport header into `info` (whose verdict is `.ip`), or sets a drop verdict.
    @inlinable @inline(__always)
    static func parseTransport(_ p: UnsafeRawPointer, _ l4: Int, _ len: Int, _ proto: UInt8, _ info: inout PacketInfo) {
        info.protocolNumber = proto
        info.l4 = UInt16(truncatingIfNeeded: l4)
        let flags = info.flags
        if info.fragOffset != 0 { return }
        let frag = flags & PacketInfo.flagFragment != 0
        switch proto {
        case IPProtocolNumber.tcp:
            guard len >= 20 else {
                info.verdict = .drop(frag ? .tinyFragment : .truncatedTCPHeader)
                return
            }
            let doff = Int(p.u8(l4 &+ 12) >> 4) &* 4
            guard doff >= 20 else {
                info.verdict = .drop(.badTCPDataOffset)
                return
            }
            guard doff <= len else {
                info.verdict = .drop(frag ? .tinyFragment : .badTCPDataOffset)
                return
            }
            info.tcpFlags = p.u8(l4 &+ 13)
            readPorts(p, l4, flags, &info)
        case IPProtocolNumber.udp:
            guard len >= 8 else {
                info.verdict = .drop(frag ? .tinyFragment : .truncatedUDPHeader)
                return
            }
            let ulen = Int(p.be16(l4 &+ 4))
            // A fragment's UDP length covers the whole datagram; a whole datagram's must fit.
            guard ulen >= 8 && (frag || ulen <= len) else {
                info.verdict = .drop(.badUDPLength)
                return
            }
            readPorts(p, l4, flags, &info)
        case IPProtocolNumber.sctp:
            guard len >= 12 else {
                info.verdict = .drop(frag ? .tinyFragment : .truncatedSCTPHeader)
                return
            }
            readPorts(p, l4, flags, &info)
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            let r = parseICMP(p, l4, len, isIPv6: flags & PacketInfo.flagIPv6 != 0, proto: proto, fragment: frag)
            info.verdict = r.verdict
            info.icmpType = r.type
            info.icmpCode = r.code
            info.embeddedAt = r.embeddedAt
        default:
            break
        }
    }

    /// What `parseICMP` found.
    @usableFromInline
    struct ICMPResult {
        @usableFromInline var verdict: ParseVerdict = .ip
        @usableFromInline var type: UInt8 = 0
        @usableFromInline var code: UInt8 = 0
        @usableFromInline var embeddedAt: UInt16 = 0
        @inlinable init() {}
    }

    /// ICMP and ICMPv6: type, code, and for the errors IPVS handles the quoted packet (validated
    /// here, read again on demand by `PacketInfo.icmpError(in:)`). Out of line: not the hot path.
    @inlinable @inline(never)
    static func parseICMP(_ p: UnsafeRawPointer, _ l4: Int, _ len: Int, isIPv6 v6: Bool, proto: UInt8, fragment: Bool)
        -> ICMPResult
    {
        var r = ICMPResult()
        // ICMP over IPv6 or ICMPv6 over IPv4 is just another protocol.
        guard v6 == (proto == IPProtocolNumber.icmpv6) else { return r }
        guard len >= 8 else {
            r.verdict = .drop(fragment ? .tinyFragment : .truncatedICMPHeader)
            return r
        }
        let type = p.u8(l4)
        r.type = type
        r.code = p.u8(l4 &+ 1)
        // K:ip_vs_core.c ip_vs_in_icmp: DEST_UNREACH, SOURCE_QUENCH and TIME_EXCEEDED;
        // ip_vs_in_icmp_v6: every error type (below 128).
        let isError = v6 ? type < 128 : (type == 3 || type == 4 || type == 11)
        guard isError else { return r }
        var e = EmbeddedPacket()
        if let reason = readEmbedded(p, l4 &+ 8, len &- 8, isIPv6: v6, into: &e) {
            // A first fragment may cut its quote short: then it is not handled as an error, not dropped.
            if !fragment { r.verdict = .drop(reason) }
            return r
        }
        r.embeddedAt = UInt16(truncatingIfNeeded: l4 &+ 8)
        return r
    }

    /// Reads the packet quoted in an ICMP error at `off` with `avail` bytes present, or says why
    /// it cannot be read.
    @inlinable
    static func readEmbedded(
        _ p: UnsafeRawPointer, _ off: Int, _ avail: Int, isIPv6: Bool, into e: inout EmbeddedPacket
    ) -> DropReason? {
        e.offset = off
        e.available = avail
        e.isIPv6 = isIPv6
        var laterFragment = false
        if !isIPv6 {
            guard avail >= 20 else { return .badICMPEmbedded }
            let vihl = p.u8(off)
            let ihl = Int(vihl & 0xF) &* 4
            guard vihl >> 4 == 4 && ihl >= 20 && ihl <= avail else { return .badICMPEmbedded }
            e.headerLength = ihl
            e.protocolNumber = p.u8(off &+ 9)
            e.source = .v4(IPv4Address(p.be32(off &+ 12)))
            e.destination = .v4(IPv4Address(p.be32(off &+ 16)))
            laterFragment = p.be16(off &+ 6) & 0x1FFF != 0
        } else {
            guard avail >= 40 else { return .badICMPEmbedded }
            guard p.u8(off) >> 4 == 6 else { return .badICMPEmbedded }
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
            if count > maxExtensionHeaders { return .badICMPEmbedded }
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
        return nil
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
