// Drives an IPVS table with synthetic packets, for tests that need connections.
import LVSCore

/// Sends packets through an `IPVS` table the way the data plane would, with a fake clock.
public final class IPVSDriver {
    public let ipvs: IPVS
    public let clock: FakeClock
    private var nextClientPort: UInt16 = 10_000

    public init(_ ipvs: IPVS = IPVS(), clock: FakeClock = FakeClock()) {
        self.ipvs = ipvs
        self.clock = clock
    }

    /// A fresh client port.
    public func clientPort() -> UInt16 {
        nextClientPort &+= 1
        if nextClientPort < 10_000 { nextClientPort = 10_000 }
        return nextClientPort
    }

    /// Sends one TCP segment from `client` to `virtual` and returns the verdict.
    @discardableResult
    public func tcp(_ client: Endpoint, _ virtual: Endpoint, _ flags: TCPFlags, length: UInt32 = 60, ttl: UInt8 = 64)
        -> PacketVerdict
    {
        ipvs.processInbound(
            PacketFacts(
                transport: .tcp, source: client.address, sourcePort: client.port, destination: virtual.address,
                destinationPort: virtual.port, tcpFlags: flags, length: length, ttl: ttl), now: clock.now())
    }

    /// Sends one TCP segment from a real server back to the client (NAT reply).
    @discardableResult
    public func tcpReply(_ server: Endpoint, _ client: Endpoint, _ flags: TCPFlags, length: UInt32 = 60)
        -> PacketVerdict
    {
        ipvs.processOutbound(
            PacketFacts(
                transport: .tcp, source: server.address, sourcePort: server.port, destination: client.address,
                destinationPort: client.port, tcpFlags: flags, length: length), now: clock.now())
    }

    /// Sends one UDP datagram from `client` to `virtual`.
    @discardableResult
    public func udp(_ client: Endpoint, _ virtual: Endpoint, length: UInt32 = 60) -> PacketVerdict {
        ipvs.processInbound(
            PacketFacts(
                transport: .udp, source: client.address, sourcePort: client.port, destination: virtual.address,
                destinationPort: virtual.port, length: length), now: clock.now())
    }

    /// Opens a new TCP connection (a SYN from a fresh port of `clientAddress`) and returns the real
    /// server it was scheduled to, or nil.
    public func connect(from clientAddress: IPAddress, to virtual: Endpoint) -> Endpoint? {
        let v = tcp(Endpoint(clientAddress, clientPort()), virtual, [.syn])
        if case .forward(let f) = v { return f.server }
        return nil
    }

    /// Moves time forward and runs the table's timers.
    public func advance(seconds: Double) {
        clock.advance(seconds: seconds)
        ipvs.advance(to: clock.now())
    }
}

extension Endpoint {
    /// `Endpoint("10.0.0.1:80")`; traps on bad input (tests only).
    public init(_ text: String) {
        if text.hasPrefix("["), let close = text.lastIndex(of: "]") {
            let a = IPAddress(text[text.index(after: text.startIndex)..<close])!
            self.init(a, UInt16(text[text.index(close, offsetBy: 2)...])!)
        } else {
            let colon = text.lastIndex(of: ":")!
            self.init(IPAddress(text[..<colon])!, UInt16(text[text.index(after: colon)...])!)
        }
    }
}

extension IPAddress {
    /// `IPAddress(literal: "10.0.0.1")`; traps on bad input (tests only).
    public init(literal: String) { self = IPAddress(literal)! }
}
