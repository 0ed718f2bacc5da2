// NAT (masquerade, `-m`): inbound destination → real server, outbound source → VIP, ICMP errors inside and out.
import LVSCore

extension Forwarding {
    /// NAT inbound (K:ip_vs_xmit.c ip_vs_nat_xmit): a client's packet to VIP:vport goes to the
    /// real server, with its destination rewritten to `server:serverPort` (the port may differ
    /// from the virtual port).
    ///
    /// ```
    ///  client:cport → VIP:vport    ⇒    client:cport → RS:rport
    /// ```
    /// An ICMP error from the client side about one of the connection's replies gets its outer
    /// destination and its quoted source rewritten to the real server.
    @inlinable @inline(__always)
    public static func natInbound(
        _ frame: inout Frame, _ info: PacketInfo, server: IPAddress, serverPort: UInt16, link: EgressLink
    ) -> ForwardVerdict {
        translate(
            &frame, info, source: nil, sourcePort: 0, destination: server, destinationPort: serverPort, link: link)
    }

    /// NAT outbound (K:ip_vs_core.c handle_response): a real server's reply gets the virtual
    /// service as its source.
    ///
    /// ```
    ///  RS:rport → client:cport    ⇒    VIP:vport → client:cport
    /// ```
    /// An ICMP error from the server side gets its outer source and quoted destination rewritten
    /// to VIP:vport.
    @inlinable @inline(__always)
    public static func natOutbound(
        _ frame: inout Frame, _ info: PacketInfo, virtualAddress: IPAddress, virtualPort: UInt16, link: EgressLink
    ) -> ForwardVerdict {
        translate(
            &frame, info, source: virtualAddress, sourcePort: virtualPort, destination: nil, destinationPort: 0,
            link: link)
    }
}
