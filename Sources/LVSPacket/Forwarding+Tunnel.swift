// TUN (`-i`): the packet wrapped in an outer IPv4/IPv6 header, bare (ipip) or with GUE or GRE.
import LVSCore

extension Forwarding {
    /// The bytes a tunnel adds in front of the inner IP packet (outer IP + UDP/GUE or GRE).
    @inlinable
    public static func tunnelOverhead(_ spec: TunnelSpec, outerIsIPv6: Bool) -> Int {
        let ip = outerIsIPv6 ? 40 : 20
        switch spec.type {
        case .ipip: return ip
        case .gue: return ip &+ 8 &+ 4
        case .gre: return ip &+ (spec.flags.contains(.checksum) ? 8 : 4)
        }
    }

    /// Tunnelling (K:ip_vs_xmit.c ip_vs_tunnel_xmit / _v6): the inner packet's TTL is
    /// decremented, then it is wrapped in an outer header from `source` (the director) to
    /// `destination` (the real server). The outer TTL is the inner one, the outer DS field the
    /// inner one with CE turned into ECT(0) (RFC 6040, INET_ECN_encapsulate), outer DF the inner
    /// IPv4 DF (0 for an IPv6 inner packet), outer IPv4 ID `ipID`, outer IPv6 flow label 0.
    ///
    /// ```
    ///  [eth][client → VIP ...]  ⇒  [eth][DIR → RS, proto 4/41][client → VIP, TTL−1 ...]        ipip
    ///                              [eth][DIR → RS, UDP sport=hash dport=tun-port][GUE v0][inner] gue
    ///                              [eth][DIR → RS, proto 47][GRE (+csum) 0x0800/0x86DD][inner]  gre
    /// ```
    /// The new headers go into the headroom (`Frame.recommendedHeadroom`). The GUE source port is
    /// a hash of the inner flow in 32768..<61000 so the real servers' NICs spread the load
    /// (udp_flow_src_port). The GUE/IPv4 UDP checksum is 0 unless `--tun-csum`/`--tun-remcsum`;
    /// over IPv6 it is always computed (RFC 8200 §8.1: a zero UDP checksum is not valid there,
    /// and receivers accept a real one whatever they are set to). `--tun-remcsum` adds no option
    /// data: frames reach the transform with their checksums complete.
    @inlinable
    public static func tunnel(
        _ frame: inout Frame, _ info: PacketInfo, source: IPAddress, destination: IPAddress, spec: TunnelSpec,
        ipID: UInt16, link: EgressLink
    ) -> ForwardVerdict {
        let outerV6: Bool
        switch (source, destination) {
        case (.v4, .v4): outerV6 = false
        case (.v6, .v6): outerV6 = true
        default: return .drop(.familyMismatch)
        }
        let outerIP = outerV6 ? 40 : 20
        let overhead = tunnelOverhead(spec, outerIsIPv6: outerV6)
        let innerMTU = link.mtu &- overhead
        if innerMTU < (outerV6 ? 1280 : 68) { return .drop(.tunnelMTUTooSmall) }
        var fragmentAfter = 0
        if let v = precheck(
            info, mtu: link.mtu, outerOverhead: overhead, outerIsIPv6: outerV6, fragmentAfter: &fragmentAfter)
        {
            return v
        }
        let l2 = link.vlan == nil ? 14 : 18
        let innerAbs = frame.start &+ info.l3Offset
        let outerAbs = innerAbs &- overhead
        guard outerAbs &- l2 >= 0 else { return .drop(.noHeadroom) }

        // Inner TTL first; the outer header copies the result.
        let inner = frame.buffer + innerAbs
        var ipDelta = ChecksumDelta()
        decrementTTL(inner, isIPv6: info.isIPv6, &ipDelta)
        if !info.isIPv6 { inner.setBE16(ipDelta.apply(to: inner.be16(10)), 10) }
        let ttl = info.ttl &- 1
        let ecn = info.tos & 3
        let tos = (info.tos & 0xFC) | (ecn == 3 ? 2 : ecn)
        let innerLen = info.ipTotalLength
        let innerV6 = info.isIPv6
        let outerTotal = overhead &+ innerLen
        let innerProto = info.isIPv6 ? IPProtocolNumber.ipv6 : IPProtocolNumber.ipip
        let outerProto: UInt8
        switch spec.type {
        case .ipip: outerProto = innerProto
        case .gue: outerProto = IPProtocolNumber.udp
        case .gre: outerProto = IPProtocolNumber.gre
        }

        let o = frame.buffer + outerAbs
        if !outerV6 {
            o.setU8(0x45, 0)
            o.setU8(tos, 1)
            o.setBE16(UInt16(truncatingIfNeeded: outerTotal), 2)
            o.setBE16(ipID, 4)
            let innerDF = info.dontFragment
            o.setBE16(!innerV6 && innerDF ? 0x4000 : 0, 6)
            o.setU8(ttl, 8)
            o.setU8(outerProto, 9)
            o.setBE16(0, 10)
            WireAddress.store(source, o, 12)
            WireAddress.store(destination, o, 16)
            o.setBE16(InternetChecksum.checksum(UnsafeRawPointer(o), 20), 10)
        } else {
            o.setBE32(6 << 28 | UInt32(tos) << 20, 0)
            o.setBE16(UInt16(truncatingIfNeeded: outerTotal &- 40), 4)
            o.setU8(outerProto, 6)
            o.setU8(ttl, 7)
            WireAddress.store(source, o, 8)
            WireAddress.store(destination, o, 24)
        }
        let h = o + outerIP
        switch spec.type {
        case .ipip:
            break
        case .gue:
            let udpLen = 12 &+ innerLen
            h.setBE16(tunnelSourcePort(info), 0)
            h.setBE16(spec.port, 2)
            h.setBE16(UInt16(truncatingIfNeeded: udpLen), 4)
            h.setBE16(0, 6)
            // GUE version 0, no control, no options, no flags (draft-ietf-intarea-gue).
            h.setU8(0, 8)
            h.setU8(innerProto, 9)
            h.setBE16(0, 10)
            if outerV6 || spec.flags.contains(.checksum) || spec.flags.contains(.remoteChecksum) {
                let pseudo = InternetChecksum.pseudoHeader(
                    source: source, destination: destination, protocol: IPProtocolNumber.udp, length: udpLen)
                let c = InternetChecksum.checksum(UnsafeRawPointer(h), udpLen, adding: pseudo)
                h.setBE16(c == 0 ? 0xFFFF : c, 6)
            }
        case .gre:
            let withChecksum = spec.flags.contains(.checksum)
            h.setBE16(withChecksum ? 0x8000 : 0, 0)
            h.setBE16(info.isIPv6 ? EtherType.ipv6 : EtherType.ipv4, 2)
            if withChecksum {
                // RFC 2784: the checksum covers the GRE header and the payload.
                h.setBE32(0, 4)
                h.setBE16(InternetChecksum.checksum(UnsafeRawPointer(h), 8 &+ innerLen), 4)
            }
        }
        writeLinkHeader(
            &frame, l3Abs: outerAbs, ipLength: outerTotal, etherType: outerV6 ? EtherType.ipv6 : EtherType.ipv4,
            link: link)
        return fragmentAfter != 0 ? .fragment(mtu: fragmentAfter) : .forward
    }

    /// The GUE source port of a packet: a hash of its flow (ports only when it is not a fragment,
    /// so all fragments of a datagram agree) scaled into the kernel's default ephemeral range
    /// 32768..<61000 as udp_flow_src_port does.
    @inlinable
    public static func tunnelSourcePort(_ info: PacketInfo) -> UInt16 {
        var h = info.sourceFold32 &* 0x9E37_79B1
        h = (h ^ (h >> 15)) ^ (info.destinationFold32 &* 0x85EB_CA6B)
        h = (h ^ (h >> 13)) ^ UInt32(info.protocolNumber)
        if !info.isFragment {
            h = h ^ ((UInt32(info.sourcePort) << 16 | UInt32(info.destinationPort)) &* 0xC2B2_AE35)
        }
        h ^= h >> 16
        h = h &* 0x7FEB_352D
        h ^= h >> 15
        h ^= h << 16
        return UInt16(truncatingIfNeeded: (UInt64(h) &* (61000 - 32768)) >> 32) &+ 32768
    }
}
