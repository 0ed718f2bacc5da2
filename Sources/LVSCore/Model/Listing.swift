// What a listing returns: plain snapshots of services, real servers and connections.

/// A real server as listed (`ipvsadm -L`): its configuration, counts and statistics.
public struct RealServerEntry: Hashable, Sendable {
    public var spec: RealServerSpec
    /// Connections in active TCP states.
    public var activeConnections: UInt32
    /// Every other connection (all UDP ones included).
    public var inactiveConnections: UInt32
    /// Persistence templates pointing at this server.
    public var persistentConnections: UInt32
    public var counters: IPVSCounters
    public var rates: IPVSRates

    public init(
        spec: RealServerSpec, activeConnections: UInt32 = 0, inactiveConnections: UInt32 = 0,
        persistentConnections: UInt32 = 0, counters: IPVSCounters = .init(), rates: IPVSRates = .init()
    ) {
        self.spec = spec
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
        self.counters = counters
        self.rates = rates
    }
}

/// A virtual service as listed, with its real servers in the kernel's list order (newest first).
public struct VirtualServiceEntry: Hashable, Sendable {
    public var spec: VirtualServiceSpec
    public var realServers: [RealServerEntry]
    public var counters: IPVSCounters
    public var rates: IPVSRates
    /// FULLNAT local addresses of the service (empty unless FULLNAT is used).
    public var localAddresses: [IPAddress]

    public init(
        spec: VirtualServiceSpec, realServers: [RealServerEntry] = [], counters: IPVSCounters = .init(),
        rates: IPVSRates = .init(), localAddresses: [IPAddress] = []
    ) {
        self.spec = spec
        self.realServers = realServers
        self.counters = counters
        self.rates = rates
        self.localAddresses = localAddresses
    }
}

/// One row of the connection table (`/proc/net/ip_vs_conn`, `ipvsadm -Lnc`).
public struct ConnectionEntry: Hashable, Sendable {
    /// Protocol as listed: `TCP`, `UDP`, `SCTP`, or `IP` for fwmark templates.
    public var protocolName: String
    public var client: Endpoint
    public var virtual: Endpoint
    public var destination: Endpoint
    /// The state name as `/proc/net/ip_vs_conn` prints it (`ESTABLISHED`, `FIN_WAIT`, `UDP`, `NONE`, …).
    public var state: String
    /// Time left before expiry, in whole seconds.
    public var expiresInSeconds: UInt32
    /// True for persistence templates.
    public var isTemplate: Bool
    /// The persistence engine's name and data, if any.
    public var persistenceEngine: String?
    public var persistenceEngineData: String?

    public init(
        protocolName: String, client: Endpoint, virtual: Endpoint, destination: Endpoint, state: String,
        expiresInSeconds: UInt32, isTemplate: Bool = false, persistenceEngine: String? = nil,
        persistenceEngineData: String? = nil
    ) {
        self.protocolName = protocolName
        self.client = client
        self.virtual = virtual
        self.destination = destination
        self.state = state
        self.expiresInSeconds = expiresInSeconds
        self.isTemplate = isTemplate
        self.persistenceEngine = persistenceEngine
        self.persistenceEngineData = persistenceEngineData
    }
}

/// Table-wide facts (`ipvsadm -L` header): version 1.2.1 and the connection hash table size.
public struct IPVSInfo: Hashable, Sendable {
    /// `IP_VS_VERSION_CODE` 0x010201, printed as `1.2.1`.
    public var versionCode: UInt32
    /// The connection hash table size printed as `size=…` (the kernel's default is 4096).
    public var connectionTableSize: UInt32
    public var serviceCount: UInt32

    public init(versionCode: UInt32 = 0x01_02_01, connectionTableSize: UInt32 = 4096, serviceCount: UInt32 = 0) {
        self.versionCode = versionCode
        self.connectionTableSize = connectionTableSize
        self.serviceCount = serviceCount
    }
}

/// A connection-sync daemon's settings (`ipvsadm --start-daemon`, `-L --daemon`).
public struct SyncDaemonSpec: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable {
        case master
        case backup
    }
    public var role: Role
    public var multicastInterface: String
    public var syncID: UInt8
    public var maxLength: UInt16
    public var group: IPAddress?
    public var port: UInt16
    public var ttl: UInt8

    public init(
        role: Role, multicastInterface: String = "eth0", syncID: UInt8 = 0, maxLength: UInt16 = 0,
        group: IPAddress? = nil, port: UInt16 = 0, ttl: UInt8 = 0
    ) {
        self.role = role
        self.multicastInterface = multicastInterface
        self.syncID = syncID
        self.maxLength = maxLength
        self.group = group
        self.port = port
        self.ttl = ttl
    }
}
