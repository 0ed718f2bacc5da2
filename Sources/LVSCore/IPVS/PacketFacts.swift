// What the packet path needs to know about a packet, and what it decides.

/// TCP header flags.
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
}

/// The facts of one TCP, UDP or SCTP packet that IPVS decides on, as a parser extracts them.
/// (`@unchecked Sendable` because of `payload`, a view that is only read during the call.)
public struct PacketFacts: @unchecked Sendable {
    public var transport: TransportProtocol
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16
    /// TCP flags (TCP only).
    public var tcpFlags: TCPFlags
    /// The SCTP chunk type that drives the state machine (SCTP only; an ABORT bundled after a
    /// COOKIE_ECHO/COOKIE_ACK counts as ABORT, as `set_sctp_state` reads it).
    public var sctpChunkType: UInt8
    /// The IP packet length in bytes (what the statistics count).
    public var length: UInt32
    /// The packet's firewall mark (0 for none).
    public var firewallMark: UInt32
    /// The transport payload, read only while the call runs and only by persistence engines
    /// (`--pe sip` reads the Call-ID of UDP SIP messages). Nil when not provided.
    public var payload: UnsafeRawBufferPointer?
    /// The IP TTL (IPv4) or hop limit (IPv6). A packet that cannot be forwarded (≤ 1) never creates
    /// a connection.
    public var ttl: UInt8

    public init(
        transport: TransportProtocol, source: IPAddress, sourcePort: UInt16, destination: IPAddress,
        destinationPort: UInt16, tcpFlags: TCPFlags = [], sctpChunkType: UInt8 = 0, length: UInt32 = 60,
        firewallMark: UInt32 = 0, payload: UnsafeRawBufferPointer? = nil, ttl: UInt8 = 64
    ) {
        self.ttl = ttl
        self.transport = transport
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.tcpFlags = tcpFlags
        self.sctpChunkType = sctpChunkType
        self.length = length
        self.firewallMark = firewallMark
        self.payload = payload
    }
}

/// Where and how to send a packet of a connection.
public struct ForwardingDecision: Hashable, Sendable {
    /// The connection's id, or `ConnectionTable.none` for one-packet scheduling.
    public var connection: UInt32
    /// How to reach the real server.
    public var method: ForwardingMethod
    /// The real server's address and the port the packet must reach.
    public var server: Endpoint
    public var client: Endpoint
    public var virtual: Endpoint
    /// FULLNAT: the local address and port that replace the client's.
    public var local: Endpoint?
}

/// Why the packet path dropped a packet.
public enum PacketDropReason: Hashable, Sendable {
    /// The connection table is at its maximum.
    case tableFull
    /// The connection's real server was deleted (`expire_nodest_conn` = 0).
    case destinationGone
    /// FULLNAT service without a usable local address or port.
    case noLocalAddress
    /// The service's persistence engine could not key the packet (`--pe sip` without a Call-ID).
    case persistenceEngine
    /// A new connection's hash chain is at its bound (`maxChainLength`).
    case chainTooLong
    /// `drop_packet` dropped a new connection.
    case defence
    /// The worker's receive ring was backlogged: new connections are shed first (SwiftLVS).
    case overload
    /// The packet's TTL (hop limit) is ≤ 1: it cannot be forwarded, so it creates no connection
    /// (the data plane answers with ICMP time exceeded, rate limited).
    case ttlExpired
    /// A connection limit of the service or of the client's source refused it (SwiftLVS).
    case connectionLimit
}

/// The packet path's decision for a packet.
public enum PacketVerdict: Hashable, Sendable {
    /// Forward as described.
    case forward(ForwardingDecision)
    /// Not IPVS's packet: leave it to the local stack (`NF_ACCEPT`).
    case pass
    /// Drop it, for a counted reason.
    case drop(PacketDropReason)
    /// Drop it and answer with ICMP port unreachable (no server available, `ip_vs_leave`).
    case unreachable
}
