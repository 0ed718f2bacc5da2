// The plain, user-facing description of a virtual service and a real server (what ipvsadm sends).

/// Service flags as the kernel defines them (`IP_VS_SVC_F_*`).
public struct ServiceFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Persistent service (`-p`).
    public static let persistent = ServiceFlags(rawValue: 0x0001)
    /// Hashed into the service table (set by the kernel; never sent by ipvsadm).
    public static let hashed = ServiceFlags(rawValue: 0x0002)
    /// One-packet scheduling (`-o`).
    public static let onePacket = ServiceFlags(rawValue: 0x0004)
    /// Scheduler flag 1: `flag-1`, `sh-fallback`, `mh-fallback`.
    public static let scheduler1 = ServiceFlags(rawValue: 0x0008)
    /// Scheduler flag 2: `flag-2`, `sh-port`, `mh-port`.
    public static let scheduler2 = ServiceFlags(rawValue: 0x0010)
    /// Scheduler flag 3: `flag-3`.
    public static let scheduler3 = ServiceFlags(rawValue: 0x0020)
    /// SwiftLVS (DPVS's `--synproxy`, keepalived `syn_proxy`): the director answers SYNs with SYN
    /// cookies and opens the connection to the real server only after a valid ACK. A bit the
    /// kernel does not use.
    public static let synProxy = ServiceFlags(rawValue: 0x0100_0000)

    /// The three scheduler flags.
    public static let schedulerFlags: ServiceFlags = [.scheduler1, .scheduler2, .scheduler3]
}

/// A virtual service as configured (`ipvsadm -A/-E`, keepalived `virtual_server`).
public struct VirtualServiceSpec: Hashable, Sendable {
    /// Protocol + VIP:port, or fwmark + family.
    public var key: ServiceKey
    /// Scheduler name (`rr`, `wlc`, …; default `wlc`).
    public var scheduler: String
    /// Persistence, one-packet and scheduler flags.
    public var flags: ServiceFlags
    /// Persistence timeout in seconds (meaningful with `.persistent`).
    public var persistenceTimeout: UInt32
    /// Persistence granularity: an IPv4 netmask in host order for IPv4 services, or an IPv6
    /// prefix length (1...128) for IPv6 services. Defaults: 255.255.255.255 / 128.
    public var netmask: UInt32
    /// Persistence engine (`--pe sip`), or nil.
    public var persistenceEngine: String?

    /// Creates a service description; the netmask defaults to the family's full mask.
    public init(
        key: ServiceKey, scheduler: String = "wlc", flags: ServiceFlags = [], persistenceTimeout: UInt32 = 0,
        netmask: UInt32? = nil, persistenceEngine: String? = nil
    ) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags
        self.persistenceTimeout = persistenceTimeout
        self.netmask = netmask ?? (key.family == .inet ? 0xFFFF_FFFF : 128)
        self.persistenceEngine = persistenceEngine
    }

    /// True when the service is persistent.
    @inlinable public var isPersistent: Bool { flags.contains(.persistent) }
}

/// A real server as configured (`ipvsadm -a/-e`, keepalived `real_server`).
public struct RealServerSpec: Hashable, Sendable {
    /// The real server's address and port.
    public var endpoint: Endpoint
    /// How packets reach it.
    public var forwarding: ForwardingMethod
    /// Weight 0...65535 (0 quiesces: no new connections).
    public var weight: Int32
    /// Upper connection threshold (`-x`, 0 = none).
    public var upperThreshold: UInt32
    /// Lower connection threshold (`-y`, 0 = none).
    public var lowerThreshold: UInt32

    public init(
        endpoint: Endpoint, forwarding: ForwardingMethod = .route, weight: Int32 = 1, upperThreshold: UInt32 = 0,
        lowerThreshold: UInt32 = 0
    ) {
        self.endpoint = endpoint
        self.forwarding = forwarding
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
    }
}
