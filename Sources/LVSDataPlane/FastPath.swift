// The kernel fast path as the workers see it: flows to install and remove, their counts, and the XDP mode's set-up.
import LVSCore
import LVSPacket

/// The rewrite a flow applies: the parameters of the Swift transform the worker applied to the
/// connection's first packet, so the kernel's rewrite of the next ones is the same.
public enum FastPathRewrite: Sendable, Equatable {
    /// DR: new MACs, TTL − 1.
    case directRoute
    /// NAT / FULLNAT: the flow's source and/or destination replaced; `reply` for the real server
    /// → client direction (counted as outgoing).
    case translate(source: Endpoint?, destination: Endpoint?, reply: Bool)
    /// TUN: an outer header from `source` to `destination`.
    case tunnel(source: IPAddress, destination: IPAddress, spec: TunnelSpec, gueSourcePort: UInt16, firstIPID: UInt16)
}

/// One direction of a connection for the fast path: frames whose own 5-tuple is `key`.
public struct FastPathFlow: Sendable, Equatable {
    public var key: FlowKey
    public var rewrite: FastPathRewrite
    /// The egress link header and MTU, and the egress interface.
    public var link: EgressLink
    public var interface: Int32

    public init(key: FlowKey, rewrite: FastPathRewrite, link: EgressLink, interface: Int32) {
        self.key = key
        self.rewrite = rewrite
        self.link = link
        self.interface = interface
    }
}

/// What the kernel counted for a flow.
public struct FastPathFlowCounts: Sendable, Equatable {
    public var packets: UInt64
    public var bytes: UInt64
    /// CLOCK_MONOTONIC nanoseconds of the latest packet (0: none yet).
    public var lastSeenNanoseconds: UInt64

    public init(packets: UInt64, bytes: UInt64, lastSeenNanoseconds: UInt64) {
        self.packets = packets
        self.bytes = bytes
        self.lastSeenNanoseconds = lastSeenNanoseconds
    }
}

/// The outcome of installing a flow.
public enum FastPathInstallResult: Sendable, Equatable {
    case installed
    /// The fast path cannot carry this rewrite (it stays on the slow path).
    case unsupported
    /// The flow map is full (the connection stays on the slow path; counted).
    case full
    case failed(String)
}

/// The flow map of a kernel fast path (the XDP program's `lvs_flows`; a fake in tests). Map
/// operations may come from any worker (the kernel serialises them).
public protocol FastPathFlows: AnyObject, Sendable {
    func install(_ flow: FastPathFlow) -> FastPathInstallResult
    /// Removes a flow; its last counts, or nil if it was not there.
    func remove(_ key: FlowKey) -> FastPathFlowCounts?
    /// A flow's counts, or nil if it is not there.
    func counts(_ key: FlowKey) -> FastPathFlowCounts?
}

/// What the XDP program steers to lvsd: services, NAT/FULLNAT reply sources, passive VIPs.
public struct SteeringSet: Sendable, Equatable {
    /// (protocol, VIP, port; 0 = every port).
    public var services: Set<GuardedSource> = []
    /// (protocol, NAT/FULLNAT real server, port).
    public var replySources: Set<GuardedSource> = []
    public var passive: Set<IPAddress> = []

    public init() {}

    /// The steering of a service table (firewall-mark services have no address: only their NAT
    /// servers' replies are steered; their clients' packets come marked, through the kernel).
    public init(services list: [VirtualServiceEntry], passive: Set<IPAddress>) {
        for s in list {
            if case .endpoint(let proto, let vip) = s.spec.key {
                services.insert(GuardedSource(protocolNumber: proto.rawValue, address: vip.address, port: vip.port))
            }
            replySources.formUnion(s.replySources)
        }
        self.passive = passive
    }
}

extension VirtualServiceEntry {
    /// (protocol, address, port) of each NAT / FULLNAT real server: the replies that come back
    /// through the director. A real server port of 0 means "the port the client asked for": the
    /// service's port, or any port (0) for a firewall-mark service, which also takes every
    /// protocol.
    public var replySources: [GuardedSource] {
        var out: [GuardedSource] = []
        for rs in realServers where rs.spec.forwarding.repliesPassThroughDirector {
            switch spec.key {
            case .endpoint(let proto, let vip):
                let port = rs.spec.endpoint.port != 0 ? rs.spec.endpoint.port : vip.port
                out.append(GuardedSource(protocolNumber: proto.rawValue, address: rs.spec.endpoint.address, port: port))
            case .firewallMark:
                for proto in TransportProtocol.allCases {
                    out.append(
                        GuardedSource(
                            protocolNumber: proto.rawValue, address: rs.spec.endpoint.address,
                            port: rs.spec.endpoint.port))
                }
            }
        }
        return out
    }
}

/// How an interface runs.
public enum InterfaceMode: String, Sendable, Equatable {
    /// The XDP program in the driver: steered frames to AF_XDP sockets.
    case xdpNative = "xdp-native"
    /// The XDP program after the skb is built (`--data-plane xdp` where the driver has no XDP).
    case xdpGeneric = "xdp-generic"
    /// The AF_PACKET ring and the nftables guard.
    case afPacket = "af-packet"

    public var isXDP: Bool { self != .afPacket }
}

/// XDP mode's kernel side: the program, its maps and AF_XDP sockets (LVSXDP implements it).
public protocol XDPBackend: FastPathFlows {
    /// Attaches the program to `interface`: native mode, else generic mode when `allowGeneric`.
    /// Throws a one-line reason.
    func attach(interface: Int32, name: String, allowGeneric: Bool) throws -> InterfaceMode
    func detach(interface: Int32)
    /// The receive queues of an interface (one AF_XDP socket each).
    func queueCount(interface name: String) -> Int
    /// AF_XDP sockets on `queues`, sharing one UMEM: one worker's port. Frames it returns carry
    /// `ReceivedFrame.checksumStateUnknown`.
    func openPort(_ queues: [(interface: Int32, name: String, queue: UInt32)]) throws -> PacketPort
    /// Whether frames the program transmits (XDP_TX, redirect) into `interface` (attached in
    /// native mode) arrive: a veth drops them silently unless its peer has NAPI; other drivers
    /// with native XDP take them. The text says why (for the log).
    func probeTransmit(interface: Int32, name: String) -> (Bool, String)
    /// Lets flows leave through `interface` (the program's DEVMAP).
    func allowTransmit(interface: Int32) throws
    func disallowTransmit(interface: Int32)
    func applySteering(_ steering: SteeringSet) throws
    /// The program's counters, by name.
    func counters() -> [(name: String, value: UInt64)]
    /// Flows the full map refused.
    var flowsRejected: UInt64 { get }
    /// Detaches from every interface and unloads.
    func close()
}
