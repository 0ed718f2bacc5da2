// FULLNAT: both endpoints rewritten (client → local address, VIP → real server), and back.
import LVSCore

extension Forwarding {
    /// FULLNAT inbound (Alibaba LVS / DPVS): the client's packet leaves from one of the service's
    /// local addresses, so the real server's replies route back through the director whatever
    /// its default route.
    ///
    /// ```
    ///  client:cport → VIP:vport    ⇒    LIP:lport → RS:rport
    /// ```
    /// Pick `localPort` with `FullNATPortRule` so the reply finds its connection. An ICMP error
    /// from the client side is rewritten to read LIP → RS, quoting RS:rport → LIP:lport.
    @inlinable @inline(__always)
    public static func fullNATInbound(
        _ frame: inout Frame, _ info: PacketInfo, localAddress: IPAddress, localPort: UInt16,
        server: IPAddress, serverPort: UInt16, link: EgressLink
    ) -> ForwardVerdict {
        translate(
            &frame, info, source: localAddress, sourcePort: localPort, destination: server,
            destinationPort: serverPort, link: link)
    }

    /// FULLNAT outbound: the real server's reply to the local address goes back to the client
    /// from the virtual service.
    ///
    /// ```
    ///  RS:rport → LIP:lport    ⇒    VIP:vport → client:cport
    /// ```
    @inlinable @inline(__always)
    public static func fullNATOutbound(
        _ frame: inout Frame, _ info: PacketInfo, virtualAddress: IPAddress, virtualPort: UInt16,
        client: IPAddress, clientPort: UInt16, link: EgressLink
    ) -> ForwardVerdict {
        translate(
            &frame, info, source: virtualAddress, sourcePort: virtualPort, destination: client,
            destinationPort: clientPort, link: link)
    }
}

/// How FULLNAT chooses local ports so that a reply finds its connection in the same table, by the
/// same bucket, without a second (reply-keyed) table.
///
/// The connection table hashes an inbound packet's client-side key to a bucket `B` (its own hash;
/// `steeringBits` = the table's bucket bits, at most 16). A reply `RS:rport → LIP:lport` is
/// bucketed by `key(server:serverPort:local:localPort:)`, which is `(mix(RS, rport, LIP) + lport)
/// mod 2^bits`. Solving for `lport` gives every port whose reply lands in `B`: one in each run of
/// 2^bits ports. The table keeps the connection in bucket `B` only, tries `port(forKey: B,
/// attempt: 0, 1, …)` until the (LIP, lport, RS, rport) tuple is free there, and on a reply scans
/// bucket `key(...)` comparing the stored reply tuple. With `steeringBits = log2(workers)` the same
/// rule steers replies to the worker that owns the connection (as DPVS does with NIC flow rules).
public struct FullNATPortRule: Sendable, Equatable {
    /// Bits of the key (0...16).
    public let steeringBits: Int
    /// The local ports FULLNAT may use.
    public let portRange: ClosedRange<UInt16>

    /// A rule over `steeringBits` bits (clamped to 0...16) and a port range (default 1024...65535).
    public init(steeringBits: Int, portRange: ClosedRange<UInt16> = 1024...65535) {
        self.steeringBits = max(0, min(16, steeringBits))
        self.portRange = portRange
    }

    @inlinable var mask: UInt32 { steeringBits == 0 ? 0 : UInt32.max >> UInt32(32 - steeringBits) }

    /// The part of the reply key that does not depend on the local port.
    @inlinable
    public static func mix(server: IPAddress, serverPort: UInt16, local: IPAddress) -> UInt32 {
        var h = server.folded32 &* 0x85EB_CA6B
        h ^= local.folded32 &* 0xC2B2_AE35
        h ^= UInt32(serverPort) &* 0x27D4_EB2F
        h ^= h >> 15
        h = h &* 0x2C1B_3C6D
        h ^= h >> 12
        return h
    }

    /// The key (bucket bits) of a reply from `server:serverPort` to `local:localPort`.
    @inlinable
    public func key(server: IPAddress, serverPort: UInt16, local: IPAddress, localPort: UInt16) -> UInt32 {
        (Self.mix(server: server, serverPort: serverPort, local: local) &+ UInt32(localPort)) & mask
    }

    /// How many ports of the range have `key` for this server and local address.
    @inlinable
    public func candidateCount(forKey key: UInt32, server: IPAddress, serverPort: UInt16, local: IPAddress) -> Int {
        var n = 0
        while port(forKey: key, attempt: n, server: server, serverPort: serverPort, local: local) != nil { n += 1 }
        return n
    }

    /// The `attempt`-th local port (from 0, ascending) whose reply key is `key`, or nil when the
    /// range has no more.
    @inlinable
    public func port(forKey key: UInt32, attempt: Int, server: IPAddress, serverPort: UInt16, local: IPAddress)
        -> UInt16?
    {
        let step = 1 << steeringBits
        let base = Int((key &- Self.mix(server: server, serverPort: serverPort, local: local)) & mask)
        let lo = Int(portRange.lowerBound)
        let first = base >= lo ? base : base + ((lo - base + step - 1) / step) * step
        let p = first + attempt * step
        guard attempt >= 0, p <= Int(portRange.upperBound) else { return nil }
        return UInt16(p)
    }
}
