// Address and port translation shared by NAT and FULLNAT, for packets and for the ICMP errors about them.
import LVSCore

extension Forwarding {
    /// Rewrites the source and/or destination endpoint of an IP packet and updates every checksum:
    /// the IPv4 header and TCP/UDP incrementally (RFC 1624), SCTP's CRC32c by its linear update,
    /// a UDP checksum of 0 recomputed in full (K:ip_vs_proto_udp.c udp_snat_handler), ICMPv6's
    /// pseudo-header. ICMP errors go to `translateICMPError`. A nil endpoint is left unchanged.
    ///
    /// The common case (IPv4 TCP or UDP with a checksum, not a fragment, TTL > 1, within the MTU)
    /// takes a short inlined path; everything else the general one.
    @inlinable @inline(__always)
    static func translate(
        _ frame: inout Frame, _ info: PacketInfo,
        source: IPAddress?, sourcePort: UInt16, destination: IPAddress?, destinationPort: UInt16,
        link: EgressLink
    ) -> ForwardVerdict {
        // Fast path: every condition is a plain field test; the addresses must be IPv4.
        var newSrc: UInt32 = 0
        var newDst: UInt32 = 0
        var familiesOK = true
        if let s = source {
            if case .v4(let a) = s { newSrc = a.value } else { familiesOK = false }
        }
        if let d = destination {
            if case .v4(let a) = d { newDst = a.value } else { familiesOK = false }
        }
        let proto = info.protocolNumber
        let l3Off = Int(info.l3)
        let l4Off = Int(info.l4)
        let total = Int(info.totalLength)
        let plain = info.flags & (PacketInfo.flagIPv6 | PacketInfo.flagFragment) == 0 && info.embeddedAt == 0
        let ttlOK = info.ttl > 1
        let l2 = link.vlan == nil ? 14 : 18
        if familiesOK && plain && ttlOK && total <= link.mtu && frame.start &+ l3Off >= l2
            && (proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp)
        {
            let l3 = frame.data + l3Off
            let l4 = frame.data + l4Off
            let csumAt = proto == IPProtocolNumber.tcp ? 16 : 6
            let check = l4.be16(csumAt)
            if check != 0 || proto == IPProtocolNumber.tcp {
                var ipDelta = ChecksumDelta()
                var l4Delta = ChecksumDelta()
                if source != nil {
                    rewriteIPv4Address(l3, 12, newSrc, &ipDelta, &l4Delta)
                    l4Delta.rewrite(l4, 0, sourcePort)
                }
                if destination != nil {
                    rewriteIPv4Address(l3, 16, newDst, &ipDelta, &l4Delta)
                    l4Delta.rewrite(l4, 2, destinationPort)
                }
                decrementTTL(l3, isIPv6: false, &ipDelta)
                l3.setBE16(ipDelta.apply(to: l3.be16(10)), 10)
                let c = l4Delta.apply(to: check)
                // A UDP checksum that computes to 0 goes out as 0xFFFF (RFC 768, CSUM_MANGLED_0).
                l4.setBE16(c == 0 && proto == IPProtocolNumber.udp ? 0xFFFF : c, csumAt)
                writeLinkHeader(
                    &frame, l3Abs: frame.start &+ l3Off, ipLength: total, etherType: EtherType.ipv4, link: link)
                return .forward
            }
        }
        return translateGeneral(
            &frame, info, source: source, sourcePort: sourcePort, destination: destination,
            destinationPort: destinationPort, link: link)
    }

    /// The general case of `translate`: IPv6, fragments, SCTP, UDP checksum 0, ICMP errors, limits.
    @inlinable @inline(never)
    static func translateGeneral(
        _ frame: inout Frame, _ info: PacketInfo,
        source: IPAddress?, sourcePort: UInt16, destination: IPAddress?, destinationPort: UInt16,
        link: EgressLink
    ) -> ForwardVerdict {
        let v6 = info.isIPv6
        if let s = source, !sameFamily(s, v6) { return .drop(.familyMismatch) }
        if let d = destination, !sameFamily(d, v6) { return .drop(.familyMismatch) }
        if info.isICMPError {
            return translateICMPError(
                &frame, info, source: source, sourcePort: sourcePort, destination: destination,
                destinationPort: destinationPort, link: link)
        }
        var fragmentAfter = 0
        if let v = precheck(info, mtu: link.mtu, outerOverhead: 0, outerIsIPv6: v6, fragmentAfter: &fragmentAfter) {
            return v
        }
        guard hasHeadroom(frame, l3: info.l3Offset, link: link) else { return .drop(.noHeadroom) }
        let proto = info.protocolNumber
        let rewritesL4 = !info.isLaterFragment
        // SCTP's CRC covers the whole reassembled packet, whose length a first fragment does not tell.
        let fragmented = info.isFragment
        if proto == IPProtocolNumber.sctp && fragmented { return .drop(.unsupportedFragment) }

        let l3 = frame.data + info.l3Offset
        var ipDelta = ChecksumDelta()
        var l4Delta = ChecksumDelta()  // pseudo-header part
        if !v6 {
            if case .v4(let s)? = source { rewriteIPv4Address(l3, 12, s.value, &ipDelta, &l4Delta) }
            if case .v4(let d)? = destination { rewriteIPv4Address(l3, 16, d.value, &ipDelta, &l4Delta) }
            decrementTTL(l3, isIPv6: false, &ipDelta)
            l3.setBE16(ipDelta.apply(to: l3.be16(10)), 10)
        } else {
            if case .v6(let s)? = source { l4Delta.rewrite(l3, 8, s) }
            if case .v6(let d)? = destination { l4Delta.rewrite(l3, 24, d) }
            decrementTTL(l3, isIPv6: true, &ipDelta)
        }

        if rewritesL4 {
            let l4 = frame.data + info.l4Offset
            if proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp {
                if source != nil { l4Delta.rewrite(l4, 0, sourcePort) }
                if destination != nil { l4Delta.rewrite(l4, 2, destinationPort) }
            }
            switch proto {
            case IPProtocolNumber.tcp:
                l4.setBE16(l4Delta.apply(to: l4.be16(16)), 16)
            case IPProtocolNumber.udp:
                let check = l4.be16(6)
                if check != 0 {
                    let c = l4Delta.apply(to: check)
                    l4.setBE16(c == 0 ? 0xFFFF : c, 6)
                } else if !info.isFragment {
                    // K:ip_vs_proto_udp.c: a zero checksum is recomputed, and a computed 0 is sent
                    // as 0xFFFF (CSUM_MANGLED_0). IPv6 forbids 0, IPv4 gets a real checksum.
                    let src: IPAddress
                    let dst: IPAddress
                    if let s = source { src = s } else { src = info.source }
                    if let d = destination { dst = d } else { dst = info.destination }
                    recomputeUDPChecksum(l4, source: src, destination: dst)
                }
            // A zero-checksum IPv4 fragment keeps 0: its payload is spread over other fragments.
            case IPProtocolNumber.sctp:
                updateSCTPPorts(
                    l4, source: source != nil, sourcePort: sourcePort, destination: destination != nil,
                    destinationPort: destinationPort, length: info.l4Length)
            case IPProtocolNumber.icmpv6 where v6:
                // ICMPv6 (e.g. echo) has a pseudo-header; ICMPv4 does not.
                l4.setBE16(l4Delta.apply(to: l4.be16(2)), 2)
            default:
                break
            }
        }
        writeLinkHeader(
            &frame, l3Abs: frame.start &+ info.l3Offset, ipLength: info.ipTotalLength,
            etherType: v6 ? EtherType.ipv6 : EtherType.ipv4, link: link)
        return fragmentAfter != 0 ? .fragment(mtu: fragmentAfter) : .forward
    }

    /// Writes the IPv4 address `new` over the one at `l3 + o`, recording the change for the IP
    /// header checksum and for the transport pseudo-header.
    @inlinable @inline(__always)
    static func rewriteIPv4Address(
        _ l3: UnsafeMutableRawPointer, _ o: Int, _ new: UInt32, _ ipDelta: inout ChecksumDelta,
        _ l4Delta: inout ChecksumDelta
    ) {
        let old = l3.be32(o)
        ipDelta.replace(old, new)
        l4Delta.replace(old, new)
        l3.setBE32(new, o)
    }

    /// A full UDP checksum (the datagram had 0), kept out of line: it is the rare path.
    @inlinable @inline(never)
    static func recomputeUDPChecksum(_ l4: UnsafeMutableRawPointer, source: IPAddress, destination: IPAddress) {
        let ulen = Int(l4.be16(4))
        let pseudo = InternetChecksum.pseudoHeader(
            source: source, destination: destination, protocol: IPProtocolNumber.udp, length: ulen)
        let c = InternetChecksum.checksum(UnsafeRawPointer(l4), ulen, adding: pseudo)
        l4.setBE16(c == 0 ? 0xFFFF : c, 6)
    }

    /// New SCTP ports with the CRC32c carried along (K:ip_vs_proto_sctp.c recomputes it; the
    /// linear update gives the same result), kept out of line.
    @inlinable @inline(never)
    static func updateSCTPPorts(
        _ l4: UnsafeMutableRawPointer, source: Bool, sourcePort: UInt16, destination: Bool, destinationPort: UInt16,
        length: Int
    ) {
        let oldPorts = l4.be32(0)
        if source { l4.setBE16(sourcePort, 0) }
        if destination { l4.setBE16(destinationPort, 2) }
        let newPorts = l4.be32(0)
        let crc = UInt32(littleEndian: l4.raw32(8))
        let updated = CRC32c.updatedForPortChange(crc, oldPorts: oldPorts, newPorts: newPorts, length: length)
        l4.setRaw32(updated.littleEndian, 8)
    }

    /// Rewrites an ICMP error about a connection's packet (K:ip_vs_core.c ip_vs_nat_icmp): the outer
    /// addresses as for a packet of the connection travelling the same way, the quoted packet's
    /// addresses and ports mirrored (its source becomes the new outer destination, and the other
    /// way round), the quoted IPv4 header checksum and, when quoted whole, the quoted TCP/UDP
    /// checksum updated, and the ICMP checksum recomputed over the whole message after verifying
    /// it first.
    @inlinable @inline(never)
    static func translateICMPError(
        _ frame: inout Frame, _ info: PacketInfo,
        source: IPAddress?, sourcePort: UInt16, destination: IPAddress?, destinationPort: UInt16,
        link: EgressLink
    ) -> ForwardVerdict {
        guard let e = info.icmpError(in: frame.bytes) else { return .drop(.badICMPEmbedded) }
        let v6 = info.isIPv6
        guard e.isIPv6 == v6 else { return .drop(.badICMPEmbedded) }
        // The checksum covers the whole message, which a fragment does not hold.
        if info.isFragment { return .drop(.unsupportedFragment) }
        var fragmentAfter = 0
        if let v = precheck(info, mtu: link.mtu, outerOverhead: 0, outerIsIPv6: v6, fragmentAfter: &fragmentAfter) {
            return v
        }
        guard hasHeadroom(frame, l3: info.l3Offset, link: link) else { return .drop(.noHeadroom) }
        let l4 = frame.data + info.l4Offset
        let icmpLen = info.l4Length
        let icmpProto = v6 ? IPProtocolNumber.icmpv6 : IPProtocolNumber.icmp
        var oldPseudo: UInt64 = 0
        if v6 {
            oldPseudo = InternetChecksum.pseudoHeader(
                source: info.source, destination: info.destination, protocol: icmpProto, length: icmpLen)
        }
        guard InternetChecksum.verify(UnsafeRawPointer(l4), icmpLen, adding: oldPseudo) else {
            return .drop(.badICMPChecksum)
        }

        // Outer header.
        let l3 = frame.data + info.l3Offset
        var ipDelta = ChecksumDelta()
        if let s = source { WireAddress.store(s, l3, v6 ? 8 : 12) }
        if let d = destination { WireAddress.store(d, l3, v6 ? 24 : 16) }
        if !v6 {
            if case .v4(let s)? = source { ipDelta.replace(info.source.v4!.value, s.value) }
            if case .v4(let d)? = destination { ipDelta.replace(info.destination.v4!.value, d.value) }
        }
        decrementTTL(l3, isIPv6: v6, &ipDelta)
        if !v6 { l3.setBE16(ipDelta.apply(to: l3.be16(10)), 10) }

        // Quoted packet: its source is the far end of the new outer destination, and vice versa.
        let q = frame.data + e.offset
        var qIP = ChecksumDelta()
        var qL4 = ChecksumDelta()
        if let d = destination {
            qIP.replace(e.source, d)
            qL4.replace(e.source, d)
            WireAddress.store(d, q, v6 ? 8 : 12)
        }
        if let s = source {
            qIP.replace(e.destination, s)
            qL4.replace(e.destination, s)
            WireAddress.store(s, q, v6 ? 24 : 16)
        }
        if !v6 { q.setBE16(qIP.apply(to: q.be16(10)), 10) }
        if e.hasPorts {
            let ql4 = frame.data + e.l4Offset
            let quotedL4 = e.available &- e.headerLength
            if destination != nil {
                qL4.replace(ql4.be16(0), destinationPort)
                ql4.setBE16(destinationPort, 0)
            }
            if source != nil {
                qL4.replace(ql4.be16(2), sourcePort)
                ql4.setBE16(sourcePort, 2)
            }
            if e.protocolNumber == IPProtocolNumber.tcp && quotedL4 >= 18 {
                ql4.setBE16(qL4.apply(to: ql4.be16(16)), 16)
            } else if e.protocolNumber == IPProtocolNumber.udp && quotedL4 >= 8 {
                let c = ql4.be16(6)
                if c != 0 {
                    let n = qL4.apply(to: c)
                    ql4.setBE16(n == 0 ? 0xFFFF : n, 6)
                }
            }
        }

        // The ICMP checksum, in full.
        l4.setBE16(0, 2)
        var newPseudo: UInt64 = 0
        if v6 {
            let src: IPAddress
            let dst: IPAddress
            if let s = source { src = s } else { src = info.source }
            if let d = destination { dst = d } else { dst = info.destination }
            newPseudo = InternetChecksum.pseudoHeader(
                source: src, destination: dst, protocol: icmpProto, length: icmpLen)
        }
        l4.setBE16(InternetChecksum.checksum(UnsafeRawPointer(l4), icmpLen, adding: newPseudo), 2)

        writeLinkHeader(
            &frame, l3Abs: frame.start &+ info.l3Offset, ipLength: info.ipTotalLength,
            etherType: v6 ? EtherType.ipv6 : EtherType.ipv4, link: link)
        return fragmentAfter != 0 ? .fragment(mtu: fragmentAfter) : .forward
    }
}
