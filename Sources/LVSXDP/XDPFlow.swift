// A fast-path flow: the rewrite of one direction of a connection, filled from the same parameters as LVSPacket's transforms.
import CLVSXDP
import LVSCore
import LVSPacket

/// The value of a flow in `lvs_flows`: what the XDP program does to the flow's frames. Built from
/// the parameters the Swift transform of the same connection takes, so the program's rewrite is
/// the transform's, byte for byte:
///
/// | transform | builder |
/// |---|---|
/// | `Forwarding.directRoute(link:)` | `directRoute(link:)` |
/// | `natInbound(server:serverPort:)` | `translate(key, destination: server)` |
/// | `natOutbound(virtualAddress:virtualPort:)` | `translate(key, source: virtual, reply: true)` |
/// | `fullNATInbound(local…, server…)` | `translate(key, source: local, destination: server)` |
/// | `fullNATOutbound(virtual…, client…)` | `translate(key, source: virtual, destination: client, reply: true)` |
/// | `tunnel(source:destination:spec:ipID:)` | `tunnel(source:destination:spec:gueSourcePort:firstIPID:)` |
///
/// `interface` is the egress ifindex (XDP_TX when it is the ingress interface, else a redirect
/// through `lvs_tx_ports`), `serverSlot` the real server's statistics slot.
public struct XDPFlow: Sendable {
    /// The C value.
    public var raw: lvs_xdp_flow

    init(method: Int32, link: EgressLink, interface: Int32, serverSlot: UInt32?, reply: Bool) {
        raw = lvs_xdp_flow()
        raw.method = UInt8(method)
        var flags: Int32 = reply ? LVS_XDP_FLOW_REPLY : 0
        if let tci = link.vlan {
            flags |= LVS_XDP_FLOW_VLAN
            raw.vlan_tci = tci
        }
        raw.flags = UInt8(flags)
        raw.mtu = UInt16(clamping: link.mtu)
        raw.ifindex = UInt32(bitPattern: interface)
        raw.server_slot = serverSlot ?? LVS_XDP_NO_SLOT
        withUnsafeMutableBytes(of: &raw.dmac) { Self.storeMAC(link.destinationMAC, $0) }
        withUnsafeMutableBytes(of: &raw.smac) { Self.storeMAC(link.sourceMAC, $0) }
    }

    static func storeMAC(_ m: MACAddress, _ b: UnsafeMutableRawBufferPointer) {
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: m.value >> UInt64(40 - 8 * i)) }
    }

    /// DR: new MACs, TTL − 1 (`Forwarding.directRoute`).
    public static func directRoute(link: EgressLink, interface: Int32, serverSlot: UInt32?) -> XDPFlow {
        XDPFlow(method: LVS_XDP_METHOD_DR, link: link, interface: interface, serverSlot: serverSlot, reply: false)
    }

    /// NAT and FULLNAT (`Forwarding.translate`): the flow `key`'s source and/or destination
    /// replaced. Nil if an endpoint is of another family than the flow (the transform drops that
    /// as `.familyMismatch`) or nothing changes.
    public static func translate(
        _ key: XDPFlowKey, source: Endpoint? = nil, destination: Endpoint? = nil, link: EgressLink, interface: Int32,
        serverSlot: UInt32?, reply: Bool = false
    ) -> XDPFlow? {
        let fam = key.source.family
        if let s = source, s.address.family != fam { return nil }
        if let d = destination, d.address.family != fam { return nil }
        if source == nil && destination == nil { return nil }
        var f = XDPFlow(
            method: LVS_XDP_METHOD_NAT, link: link, interface: interface, serverSlot: serverSlot, reply: reply)
        var l3 = ChecksumSum()
        var l4 = ChecksumSum()
        var flags = Int32(f.raw.flags)
        if let s = source {
            flags |= LVS_XDP_FLOW_REWRITE_SRC
            rewrite(key.source, key.sourcePort, to: s, &f.raw.new_saddr, &f.raw.new_sport, &l3, &l4)
        }
        if let d = destination {
            flags |= LVS_XDP_FLOW_REWRITE_DST
            rewrite(key.destination, key.destinationPort, to: d, &f.raw.new_daddr, &f.raw.new_dport, &l3, &l4)
        }
        f.raw.flags = UInt8(flags)
        // IPv6 has no header checksum; the sum is only used for IPv4.
        f.raw.l3_delta = fam == .inet ? UInt32(l3.folded) : 0
        f.raw.l4_delta = UInt32(l4.folded)
        return f
    }

    /// Stores `new` as a rewritten endpoint (the port in network order) and sums the change of
    /// `old`:`oldPort` for the IP header checksum (`l3`) and the transport one (`l4`).
    static func rewrite<Address>(
        _ old: IPAddress, _ oldPort: UInt16, to new: Endpoint, _ address: inout Address, _ port: inout UInt16,
        _ l3: inout ChecksumSum, _ l4: inout ChecksumSum
    ) {
        storeAddress(new.address, into: &address)
        port = new.port.bigEndian
        l3.replace(old, new.address)
        l4.replace(old, new.address)
        l4.replace(oldPort, new.port)
    }

    /// TUN (`Forwarding.tunnel`): an outer header from `source` (the director) to `destination`
    /// (the real server), with every encapsulation and checksum option `Forwarding.tunnel` has. `gueSourcePort` is `Forwarding.tunnelSourcePort(info)` of the flow's
    /// packets (fixed per flow); `firstIPID` the outer IPv4 ID of the first fast-path packet (the
    /// program counts up from it). Nil if the outer addresses' families differ.
    public static func tunnel(
        source: IPAddress, destination: IPAddress, spec: TunnelSpec, gueSourcePort: UInt16, firstIPID: UInt16,
        link: EgressLink, interface: Int32, serverSlot: UInt32?
    ) -> XDPFlow? {
        guard source.family == destination.family else { return nil }
        let v6 = source.family == .inet6
        let method: Int32
        switch spec.type {
        case .ipip: method = LVS_XDP_METHOD_TUN_IPIP
        case .gue: method = LVS_XDP_METHOD_TUN_GUE
        case .gre: method = LVS_XDP_METHOD_TUN_GRE
        }
        var f = XDPFlow(method: method, link: link, interface: interface, serverSlot: serverSlot, reply: false)
        if v6 { f.raw.flags |= UInt8(LVS_XDP_FLOW_OUTER_V6) }
        // GUE: a UDP checksum over IPv6 always (RFC 8200 §8.1), over IPv4 with --tun-csum or
        // --tun-remcsum (as Forwarding.tunnel); GRE: the RFC 2784 checksum with --tun-csum.
        let csum = spec.flags.contains(.checksum) || (spec.type == .gue && (v6 || spec.flags.contains(.remoteChecksum)))
        if csum && spec.type != .ipip { f.raw.flags |= UInt8(LVS_XDP_FLOW_TUN_CSUM) }
        storeAddress(source, into: &f.raw.new_saddr)
        storeAddress(destination, into: &f.raw.new_daddr)
        f.raw.tun_dport = spec.port.bigEndian
        f.raw.tun_sport = gueSourcePort.bigEndian
        f.raw.ip_id = UInt32(firstIPID)
        return f
    }
}

/// What the program recorded for a flow.
public struct XDPFlowState: Sendable, Equatable {
    /// CLOCK_MONOTONIC_COARSE nanoseconds of the latest fast-path packet (0: none yet): the
    /// CLOCK_MONOTONIC time line at tick resolution (1–4 ms), the clock lvsd's timeouts use.
    public var lastSeenNanoseconds: UInt64
    /// Fast-path packets and bytes (IP total length).
    public var packets: UInt64
    public var bytes: UInt64
    /// The next outer IPv4 ID of a tunnel flow.
    public var nextIPID: UInt16
}

/// A sum of (~old + new) over changed 16-bit words, as LVSPacket's `ChecksumDelta` sums it, folded
/// for the program (RFC 1624 eqn. 3; folding keeps the sum's class mod 0xFFFF and its sign).
struct ChecksumSum {
    var acc: UInt64 = 0

    mutating func replace(_ old: UInt16, _ new: UInt16) { acc &+= UInt64(~old) &+ UInt64(new) }

    mutating func replace(_ old: IPAddress, _ new: IPAddress) {
        switch (old, new) {
        case (.v4(let o), .v4(let n)): acc &+= UInt64(~o.value) &+ UInt64(n.value)
        case (.v6(let o), .v6(let n)):
            let oh = ~o.high
            let ol = ~o.low
            acc &+= (oh >> 32) &+ (oh & 0xFFFF_FFFF) &+ (ol >> 32) &+ (ol & 0xFFFF_FFFF)
            acc &+= (n.high >> 32) &+ (n.high & 0xFFFF_FFFF) &+ (n.low >> 32) &+ (n.low & 0xFFFF_FFFF)
        default: break
        }
    }

    var folded: UInt16 { InternetChecksum.fold(acc) }
}
