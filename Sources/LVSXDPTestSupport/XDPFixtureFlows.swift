// The packet fixtures as XDP cases: the flow each transform implies, the steering tables, and what the program must do.
import LVSCore
import LVSPacket
import LVSTestSupport
import LVSXDP

/// What the XDP program must do with a fixture's input frame.
public enum XDPExpectation: Equatable, Sendable {
    /// Rewrite it to the fixture's expected frame and transmit (XDP_TX / XDP_REDIRECT).
    case fastPath
    /// Send it to lvsd untouched (its AF_XDP socket; XDP_DROP with `xdp_steer_no_socket` when no
    /// socket is in the XSKMAP).
    case steer
    /// Either leave it to the kernel or send it to lvsd, untouched, never forward it (malformed frames).
    case notForwarded
}

/// The fixture table as the XDP program's test and benchmark cases.
///
/// A fixture whose Swift transform forwards one frame is a fast-path case when the program
/// rewrites that kind of packet (docs/xdp.md "The fast path"): TCP without SYN/FIN/RST or UDP,
/// not a fragment, not an ICMP error, IPv6 without extension headers. Every other fixture of a
/// service or reply flow must be steered to lvsd untouched.
public enum XDPFixtureFlows {
    /// The egress ifindex the cases use: the ingress of BPF_PROG_TEST_RUN when none is given (the
    /// namespace's `lo`), so the fast path answers XDP_TX.
    public static let loopback: Int32 = 1
    /// The statistics slot of the fixtures' real server.
    public static let serverSlot: UInt32 = 7

    /// The flow key and value the data plane would install for this fixture's connection, or nil
    /// when the fast path does not carry it (no flow: the frame is steered as service traffic).
    public static func flow(for f: PacketFixture, _ info: PacketInfo, interface: Int32 = loopback)
        -> (XDPFlowKey, XDPFlow)?
    {
        guard info.verdict == .ip, !info.isICMPError, info.hasPorts else { return nil }
        let key = XDPFlowKey(
            protocolNumber: info.protocolNumber, source: info.source, sourcePort: info.sourcePort,
            destination: info.destination, destinationPort: info.destinationPort)
        guard key.isFastPathProtocol else { return nil }
        let flow: XDPFlow?
        switch f.action {
        case .natInbound(let server):
            flow = .translate(key, destination: server, link: f.link, interface: interface, serverSlot: serverSlot)
        case .natOutbound(let virtual):
            flow = .translate(
                key, source: virtual, link: f.link, interface: interface, serverSlot: serverSlot, reply: true)
        case .directRoute:
            flow = .directRoute(link: f.link, interface: interface, serverSlot: serverSlot)
        case .tunnel(let source, let destination, let spec, let ipID):
            flow = .tunnel(
                source: source, destination: destination, spec: spec,
                gueSourcePort: Forwarding.tunnelSourcePort(info), firstIPID: ipID, link: f.link, interface: interface,
                serverSlot: serverSlot)
        case .fullNATInbound(let local, let server):
            flow = .translate(
                key, source: local, destination: server, link: f.link, interface: interface, serverSlot: serverSlot)
        case .fullNATOutbound(let virtual, let client):
            flow = .translate(
                key, source: virtual, destination: client, link: f.link, interface: interface, serverSlot: serverSlot,
                reply: true)
        case .noServer:
            flow = nil
        }
        return flow.map { (key, $0) }
    }

    /// What the program must do with the fixture's input.
    public static func expectation(for f: PacketFixture, _ info: PacketInfo) -> XDPExpectation {
        guard info.verdict == .ip else { return .notForwarded }
        guard f.verdict == .forward, f.expected.count == 1, flow(for: f, info) != nil else { return .steer }
        if info.isFragment || info.isICMPError { return .steer }
        if info.protocolNumber == IPProtocolNumber.tcp && info.tcpFlags & 0x07 != 0 { return .steer }
        if info.isIPv6 && info.ipHeaderLength != 40 { return .steer }
        return .fastPath
    }

    /// The services and reply sources of the fixtures' lab (`FixtureNet.v4`/`.v6`): every
    /// protocol on VIP:80, the real server's port 8080 as a NAT reply source.
    public static func installSteering(_ maps: XDPMaps) throws {
        for n in [FixtureNet.v4, FixtureNet.v6] {
            for proto: UInt8 in [IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp] {
                try maps.putService(
                    XDPServiceKey(protocolNumber: proto, address: n.virtual.address, port: n.virtual.port))
                try maps.putReplySource(
                    XDPServiceKey(protocolNumber: proto, address: n.server.address, port: n.server.port))
            }
            try maps.setAddress(n.virtual.address, flags: .virtual)
            try maps.setAddress(n.server.address, flags: .replySource)
        }
    }

    /// The fixtures the XDP tests and benchmark use: every fixture whose action is a forwarding
    /// transform, plus the malformed ones.
    public static var fixtures: [PacketFixture] { PacketFixtures.all }

    /// Parses a fixture's input.
    public static func parse(_ f: PacketFixture) -> PacketInfo {
        f.input.withUnsafeBytes { PacketParser.parse($0) }
    }
}
