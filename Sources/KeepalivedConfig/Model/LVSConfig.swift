// The typed LVS blocks: virtual_server_group, virtual_server, real_server and sorry_server.
import LVSCore

/// `virtual_server_group NAME { ... }`.
public struct VirtualServerGroup: Hashable, Sendable {
    /// One line of the group.
    public enum Entry: Hashable, Sendable {
        /// `IP [port]`, `a.b.c.d-e [port]`, `a.b.c.d-e.f.g.h [port]`, `a.b.c.d/nn [port]`
        /// (and IPv6 forms): every address from `first` to `last` inclusive.
        case addresses(first: IPAddress, last: IPAddress, port: UInt16?, location: SourceLocation)
        /// `fwmark N [inet|inet6]`.
        case firewallMark(UInt32, family: AddressFamily?, location: SourceLocation)
    }

    public var name: String
    public var entries: [Entry] = []
    public var location: SourceLocation
}

/// What a `virtual_server` line names.
public enum VirtualServerAddress: Hashable, Sendable, CustomStringConvertible {
    /// `virtual_server IP [PORT]` (port 0 when omitted: persistent services only).
    case endpoint(IPAddress, port: UInt16)
    /// `virtual_server fwmark N`.
    case firewallMark(UInt32)
    /// `virtual_server group NAME`.
    case group(String)

    public var description: String {
        switch self {
        case .endpoint(let a, let p): return "\(Endpoint(a, p))"
        case .firewallMark(let m): return "fwmark \(m)"
        case .group(let g): return "group \(g)"
        }
    }
}

/// `persistence_granularity`: an IPv4 netmask, or an IPv6 prefix length.
public enum PersistenceGranularity: Hashable, Sendable {
    case ipv4Netmask(IPv4Address)
    case ipv6PrefixLength(Int)
}

/// `sorry_server IP [PORT]`, used while the quorum is lost.
public struct SorryServer: Hashable, Sendable {
    public var address: IPAddress
    /// The port (resolved like a real server's: DR/TUN take the virtual server's).
    public var port: UInt16
    /// `sorry_server_lvs_method`, else the virtual server's method.
    public var forwarding: ForwardingMethod
    /// `sorry_server_inhibit`: kept listed at weight 0 rather than removed.
    public var inhibit = false
    public var location: SourceLocation
}

/// `virtual_server IP PORT | fwmark N | group NAME { ... }`, with keepalived's defaults applied.
public struct VirtualServer: Hashable, Sendable {
    public var address: VirtualServerAddress
    /// `ip_family inet|inet6`, else taken from the address or the real servers.
    public var family: AddressFamily = .inet
    /// `lb_algo` / `lvs_sched` (default `wlc`, with a warning).
    public var scheduler = "wlc"
    /// One-packet scheduling (`ops`) and scheduler flags (`flag-1..3`, `sh-port`,
    /// `sh-fallback`, `mh-port`, `mh-fallback`).
    public var flags: ServiceFlags = []
    /// `lb_kind` / `lvs_method` (default NAT, with a warning).
    public var forwarding: ForwardingMethod = .masquerade
    /// `persistence_timeout` in seconds (a bare keyword means 360); nil: not persistent.
    public var persistenceTimeout: UInt32?
    public var persistenceGranularity: PersistenceGranularity?
    /// `persistence_engine` (e.g. `sip`).
    public var persistenceEngine: String?
    /// `protocol TCP|UDP|SCTP` (case-insensitive); nil for firewall-mark services.
    public var transportProtocol: TransportProtocol?
    public var haSuspend = false
    public var alpha = false
    public var omega = false
    /// `quorum` (default 1; capped at the total weight of the real servers).
    public var quorum: UInt32 = 1
    /// `hysteresis` (default 0; capped at quorum − 1).
    public var hysteresis: UInt32 = 0
    public var quorumUp: ScriptCommand?
    public var quorumDown: ScriptCommand?
    public var sorryServer: SorryServer?
    public var inhibitOnFailure = false
    /// `delay_loop` (default 60 s).
    public var delayLoop = TimerValue.seconds(60)
    /// `connect_timeout` (default 5 s).
    public var connectTimeout = TimerValue.seconds(5)
    /// `retry`, `delay_before_retry`, `warmup` as configured here (checkers default them).
    public var retry: UInt32?
    public var delayBeforeRetry: TimerValue?
    public var warmup: TimerValue?
    /// `weight`: the default weight of its real servers (default 1).
    public var realServerWeight: Int32 = 1
    public var virtualhost: String?
    public var smtpAlert: Bool?
    public var snmpName: String?
    public var realServers: [RealServer] = []
    public var location: SourceLocation
    public var keywordLocations: [String: SourceLocation] = [:]

    public init(address: VirtualServerAddress, location: SourceLocation) {
        self.address = address
        self.location = location
        if case .endpoint(let a, _) = address { family = a.family }
    }

    /// keepalived's name for it in messages: `[192.168.0.110]:tcp:80`, `FWM 1`, `[group]:0`.
    public var displayName: String {
        switch address {
        case .endpoint(let a, let port):
            let p = transportProtocol.map { $0.description.lowercased() } ?? "none"
            return "[\(a)]:\(p):\(port)"
        case .firewallMark(let m): return "FWM \(m)"
        case .group(let g): return "[\(g)]:0"
        }
    }
}

/// `real_server IP [PORT] { ... }`, with the virtual server's settings cascaded in.
public struct RealServer: Hashable, Sendable {
    public var address: IPAddress
    /// The port used in IPVS: as configured for NAT; the virtual server's port for DR and TUN.
    public var port: UInt16
    /// The port written on the `real_server` line, if any.
    public var configuredPort: UInt16?
    /// `weight` (default: the virtual server's `weight`, 1).
    public var weight: Int32 = 1
    /// `lvs_method`, else the virtual server's `lb_kind`.
    public var forwarding: ForwardingMethod = .masquerade
    /// `uthreshold` / `lthreshold` (0: none).
    public var upperThreshold: UInt32 = 0
    public var lowerThreshold: UInt32 = 0
    /// `inhibit_on_failure`: a failed server stays listed at weight 0.
    public var inhibitOnFailure = false
    public var alpha = false
    public var notifyUp: ScriptCommand?
    public var notifyDown: ScriptCommand?
    public var delayLoop = TimerValue.seconds(60)
    public var connectTimeout = TimerValue.seconds(5)
    /// `retry`, `delay_before_retry`, `warmup` as configured here or on the virtual server.
    public var retry: UInt32?
    public var delayBeforeRetry: TimerValue?
    public var warmup: TimerValue?
    /// `smtp_alert` (default on, unless the global smtp_alert settings say otherwise).
    public var smtpAlert = true
    public var virtualhost: String?
    public var snmpName: String?
    public var checkers: [HealthChecker] = []
    public var location: SourceLocation
    public var keywordLocations: [String: SourceLocation] = [:]

    public init(address: IPAddress, configuredPort: UInt16?, location: SourceLocation) {
        self.address = address
        self.configuredPort = configuredPort
        self.port = configuredPort ?? 0
        self.location = location
    }

    /// The address and port.
    public var endpoint: Endpoint { Endpoint(address, port) }
}
