// Packet fixtures: {description, input frame, action, expected frames, verdict}, and the runner that applies them.
import LVSCore
import LVSPacket

/// What the director does to a fixture's input frame.
public enum FixtureAction: Sendable, Equatable {
    /// NAT inbound to a real server.
    case natInbound(server: Endpoint)
    /// NAT outbound, source becomes the virtual service.
    case natOutbound(virtual: Endpoint)
    /// Direct routing.
    case directRoute
    /// Tunnel from `source` (director) to `destination` (real server).
    case tunnel(source: IPAddress, destination: IPAddress, spec: TunnelSpec, ipID: UInt16)
    /// FULLNAT inbound: from a local address to a real server.
    case fullNATInbound(local: Endpoint, server: Endpoint)
    /// FULLNAT outbound: back to the client from the virtual service.
    case fullNATOutbound(virtual: Endpoint, client: Endpoint)
    /// No real server available: an ICMP port unreachable goes back from `source`.
    case noServer(source: IPAddress)

    /// A short name: `nat-in`, `nat-out`, `dr`, `tun-gue`, `fullnat-in`, `fullnat-out`, `no-server`.
    public var name: String {
        switch self {
        case .natInbound: return "nat-in"
        case .natOutbound: return "nat-out"
        case .directRoute: return "dr"
        case .tunnel(_, _, let spec, _): return "tun-\(spec.type)" + (spec.flags.contains(.checksum) ? "-csum" : "")
        case .fullNATInbound: return "fullnat-in"
        case .fullNATOutbound: return "fullnat-out"
        case .noServer: return "no-server"
        }
    }
}

/// One row of the fixture table.
public struct PacketFixture: Sendable {
    /// What the row shows, with the fact it rests on.
    public var name: String
    /// The frame as received.
    public var input: [UInt8]
    /// The transform to apply.
    public var action: FixtureAction
    /// The egress link.
    public var link: EgressLink
    /// The verdict the transform must return (a parse drop is `.drop(reason)` too).
    public var verdict: ForwardVerdict
    /// The frames that must go out: the rewritten frame, its fragments, or the ICMP error.
    public var expected: [[UInt8]]
    /// The source address of any ICMP error the director answers with.
    public var icmpSource: IPAddress?

    public init(
        _ name: String, input: [UInt8], action: FixtureAction, link: EgressLink, verdict: ForwardVerdict,
        expected: [[UInt8]], icmpSource: IPAddress? = nil
    ) {
        self.name = name
        self.input = input
        self.action = action
        self.link = link
        self.verdict = verdict
        self.expected = expected
        self.icmpSource = icmpSource
    }
}

/// The fixture table and its runner.
public enum PacketFixtures {
    /// The headroom the runner leaves in front of each frame, as the data plane does.
    public static let headroom = Frame.recommendedHeadroom

    /// Applies `action` to a parsed frame with LVSPacket's transforms.
    @inlinable @inline(__always)
    public static func apply(_ action: FixtureAction, _ frame: inout Frame, _ info: PacketInfo, link: EgressLink)
        -> ForwardVerdict
    {
        switch action {
        case .natInbound(let s):
            return Forwarding.natInbound(&frame, info, server: s.address, serverPort: s.port, link: link)
        case .natOutbound(let v):
            return Forwarding.natOutbound(&frame, info, virtualAddress: v.address, virtualPort: v.port, link: link)
        case .directRoute:
            return Forwarding.directRoute(&frame, info, link: link)
        case .tunnel(let src, let dst, let spec, let id):
            return Forwarding.tunnel(&frame, info, source: src, destination: dst, spec: spec, ipID: id, link: link)
        case .fullNATInbound(let l, let s):
            return Forwarding.fullNATInbound(
                &frame, info, localAddress: l.address, localPort: l.port, server: s.address, serverPort: s.port,
                link: link)
        case .fullNATOutbound(let v, let c):
            return Forwarding.fullNATOutbound(
                &frame, info, virtualAddress: v.address, virtualPort: v.port, client: c.address, clientPort: c.port,
                link: link)
        case .noServer:
            return .drop(.noServerAvailable)
        }
    }

    /// Runs a fixture the way the data plane will: parse, transform, and turn the verdict into the
    /// frames that go out (fragments, ICMP errors).
    public static func run(_ f: PacketFixture) -> (verdict: ForwardVerdict, outputs: [[UInt8]]) {
        var storage = [UInt8](repeating: 0, count: headroom + f.input.count + 64)
        return storage.withUnsafeMutableBytes { buf -> (ForwardVerdict, [[UInt8]]) in
            buf.baseAddress!.advanced(by: headroom).copyMemory(from: f.input, byteCount: f.input.count)
            var frame = Frame(buffer: buf, start: headroom, length: f.input.count)
            var info = PacketInfo()
            let pv = PacketParser.parse(frame.bytes, into: &info)
            guard pv == .ip else {
                if case .drop(let r) = pv { return (.drop(r), []) }
                return (.drop(.unsupportedPacket), [])
            }
            let verdict = apply(f.action, &frame, info, link: f.link)
            var out = [UInt8](repeating: 0, count: 2048)
            switch verdict {
            case .forward:
                return (verdict, [Array(frame.bytes)])
            case .fragment(let mtu):
                var info2 = PacketInfo()
                guard PacketParser.parse(frame.bytes, into: &info2) == .ip else { return (verdict, []) }
                var many = [UInt8](repeating: 0, count: 64 * 2048)
                var lengths = [Int](repeating: 0, count: 64)
                let r = many.withUnsafeMutableBytes { m in
                    lengths.withUnsafeMutableBufferPointer { l in
                        IPv4Fragmenter.fragment(frame.bytes, info2, mtu: mtu, into: m, stride: 2048, lengths: l)
                    }
                }
                guard case .split(let n) = r else { return (verdict, []) }
                return (verdict, (0..<n).map { Array(many[($0 * 2048)..<($0 * 2048 + lengths[$0])]) })
            case .timeExceeded, .fragmentationNeeded:
                let kind: ICMPBuilder.Kind
                if case .fragmentationNeeded(let mtu) = verdict {
                    kind = .fragmentationNeeded(mtu: mtu)
                } else {
                    kind = .timeExceeded
                }
                let n = out.withUnsafeMutableBytes {
                    ICMPBuilder.build(
                        kind, about: frame.bytes, info, source: f.icmpSource ?? info.destination, into: $0)
                }
                return (verdict, n == 0 ? [] : [Array(out[0..<n])])
            case .drop(.noServerAvailable):
                guard case .noServer(let src) = f.action else { return (verdict, []) }
                let n = out.withUnsafeMutableBytes {
                    ICMPBuilder.build(.portUnreachable, about: frame.bytes, info, source: src, into: $0)
                }
                return (verdict, n == 0 ? [] : [Array(out[0..<n])])
            case .drop:
                return (verdict, [])
            }
        }
    }

    /// Every fixture: the forwarding matrix at 64-byte frames, the special cases and the malformed frames.
    public static var all: [PacketFixture] {
        forwarding(frameSize: 64) + forwarding(frameSize: 1500) + icmpErrors + limits + fragments + variants
            + malformed
    }
}
