// DR (gateway, `-g`): the frame goes to the real server's MAC; the IP packet is untouched but for the TTL.
import LVSCore

extension Forwarding {
    /// Direct routing (K:ip_vs_xmit.c ip_vs_dr_xmit): the packet keeps its addresses and ports,
    /// the TTL/hop limit is decremented, and the frame is addressed to the real server's MAC
    /// (`link.destinationMAC`) from the director's (`link.sourceMAC`). ICMP errors go the same way.
    ///
    /// ```
    ///  [dir MAC ← client GW][client → VIP]    ⇒    [RS MAC ← dir MAC][client → VIP, TTL−1]
    /// ```
    @inlinable @inline(__always)
    public static func directRoute(_ frame: inout Frame, _ info: PacketInfo, link: EgressLink) -> ForwardVerdict {
        var fragmentAfter = 0
        if let v = precheck(
            info, mtu: link.mtu, outerOverhead: 0, outerIsIPv6: info.isIPv6, fragmentAfter: &fragmentAfter)
        {
            return v
        }
        guard hasHeadroom(frame, l3: info.l3Offset, link: link) else { return .drop(.noHeadroom) }
        let l3 = frame.data + info.l3Offset
        var ipDelta = ChecksumDelta()
        decrementTTL(l3, isIPv6: info.isIPv6, &ipDelta)
        if !info.isIPv6 { l3.setBE16(ipDelta.apply(to: l3.be16(10)), 10) }
        writeLinkHeader(
            &frame, l3Abs: frame.start &+ info.l3Offset, ipLength: info.ipTotalLength,
            etherType: info.isIPv6 ? EtherType.ipv6 : EtherType.ipv4, link: link)
        return fragmentAfter != 0 ? .fragment(mtu: fragmentAfter) : .forward
    }
}
