// What lvsd shows over HTTP at one moment: the IPVS table, VRRP, checkers, data plane, process.
import LVSCore

/// Everything the JSON API and the dashboard show, taken at one moment. The IPVS part is read
/// under the director's lock in one hold, the same way `ipvsadm -Ln --stats` reads it.
public struct StatusSnapshot: Sendable {
    /// The IPVS table (services with their real servers, counters and rates; totals).
    public var table: TableStatus
    /// lvsd's VRRP instances (empty without `vrrp_instance` blocks).
    public var vrrp: [VRRPInstanceStatus]
    /// Health checkers by real server (empty without `-f` or without checkers).
    public var checkers: [CheckerStatus]
    /// The packet path (nil when it did not start).
    public var dataPlane: DataPlaneStatus?
    /// The lvsd process.
    public var process: ProcessStatus
    /// The connection-sync daemons that run (empty without `--start-daemon`/`lvs_sync_daemon`).
    public var sync: [SyncDaemonStatus]

    public init(
        table: TableStatus, vrrp: [VRRPInstanceStatus] = [], checkers: [CheckerStatus] = [],
        dataPlane: DataPlaneStatus? = nil, process: ProcessStatus = .init(), sync: [SyncDaemonStatus] = []
    ) {
        self.table = table
        self.vrrp = vrrp
        self.checkers = checkers
        self.dataPlane = dataPlane
        self.process = process
        self.sync = sync
    }
}

/// The IPVS table as `ipvsadm -Ln --stats/--rate` shows it.
public struct TableStatus: Sendable {
    /// Services in the order they were added; real servers in the kernel's list order.
    public var services: [VirtualServiceEntry]
    /// The table's totals (`/proc/net/ip_vs_stats`).
    public var totals: IPVSCounters
    public var totalRates: IPVSRates
    /// Entries in the connection table (templates included) and its limit.
    public var connections: Int
    public var connectionLimit: Int
    /// New connections the table refused or dropped, by reason (`table_full`, `chain_too_long`,
    /// `limited`, `drop_packet`, `drop_entry`, `ttl_expired`, …; docs/defence.md).
    public var refusals: [(reason: String, count: UInt64)] = []

    public init(
        services: [VirtualServiceEntry], totals: IPVSCounters = .init(), totalRates: IPVSRates = .init(),
        connections: Int = 0, connectionLimit: Int = 0
    ) {
        self.services = services
        self.totals = totals
        self.totalRates = totalRates
        self.connections = connections
        self.connectionLimit = connectionLimit
    }
}

/// One VRRP instance.
public struct VRRPInstanceStatus: Hashable, Sendable {
    public var name: String
    public var interface: String
    public var virtualRouterID: UInt8
    /// `MASTER`, `BACKUP`, `FAULT`, `INIT` or `STOP`.
    public var state: String
    /// The priority in force (configured priority adjusted by tracked scripts and interfaces).
    public var priority: Int
    public var configuredPriority: Int
    public var virtualAddresses: [String]

    public init(
        name: String, interface: String, virtualRouterID: UInt8, state: String, priority: Int,
        configuredPriority: Int, virtualAddresses: [String]
    ) {
        self.name = name
        self.interface = interface
        self.virtualRouterID = virtualRouterID
        self.state = state
        self.priority = priority
        self.configuredPriority = configuredPriority
        self.virtualAddresses = virtualAddresses
    }

    /// keepalived_exporter's numeric state: INIT 0, BACKUP 1, MASTER 2, FAULT 3, STOP 4.
    public var stateNumber: Int {
        switch state {
        case "BACKUP": return 1
        case "MASTER": return 2
        case "FAULT": return 3
        case "STOP": return 4
        default: return 0
        }
    }
}

/// One health checker of one real server.
public struct CheckerStatus: Hashable, Sendable {
    /// The virtual server as keepalived.conf names it (`10.0.0.1 80`, `fwmark 1`, `group NAME`).
    public var virtualServer: String
    /// The IPVS service it belongs to (nil for a virtual_server_group).
    public var service: ServiceKey?
    public var protocolName: String
    public var realServer: Endpoint
    /// `TCP_CHECK`, `HTTP_GET`, …
    public var kind: String
    public var up: Bool
    /// The real server as a whole: in service (all its checkers up).
    public var realServerAlive: Bool
    /// The weight in use.
    public var weight: Int32
    /// Duration of the last finished probe of this kind to this real server, in seconds.
    public var lastLatencySeconds: Double?

    public init(
        virtualServer: String, service: ServiceKey?, protocolName: String, realServer: Endpoint, kind: String,
        up: Bool, realServerAlive: Bool, weight: Int32, lastLatencySeconds: Double? = nil
    ) {
        self.virtualServer = virtualServer
        self.service = service
        self.protocolName = protocolName
        self.realServer = realServer
        self.kind = kind
        self.up = up
        self.realServerAlive = realServerAlive
        self.weight = weight
        self.lastLatencySeconds = lastLatencySeconds
    }
}

/// The packet path: its mode and counters per worker. A mode with more counters (XDP) reports
/// them in the same shape.
public struct DataPlaneStatus: Hashable, Sendable {
    /// `af_packet` or `xdp`.
    public var mode: String
    public var interfaces: [String]
    public var workers: [WorkerStatus]

    public init(mode: String, interfaces: [String], workers: [WorkerStatus]) {
        self.mode = mode
        self.interfaces = interfaces
        self.workers = workers
    }

    /// Drops summed over workers, by reason (non-zero only), largest first.
    public var dropsByReason: [(reason: String, count: UInt64)] {
        var sums: [String: UInt64] = [:]
        for w in workers { for d in w.drops { sums[d.name, default: 0] &+= d.value } }
        return sums.filter { $0.value != 0 }.map { ($0.key, $0.value) }.sorted {
            $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason
        }
    }
}

/// A named counter.
public struct NamedCounter: Hashable, Sendable {
    public var name: String
    public var value: UInt64
    public init(_ name: String, _ value: UInt64) {
        self.name = name
        self.value = value
    }
}

/// One packet worker (and the interface it serves; `all` when it serves every attached one).
public struct WorkerStatus: Hashable, Sendable {
    public var worker: Int
    public var interface: String
    /// Frames by path (`received`, `inbound`, `outbound`, `transmitted`, …).
    public var packets: [NamedCounter]
    /// Drops by reason (every reason, zeros included, so series exist from the start).
    public var drops: [NamedCounter]

    public init(worker: Int, interface: String, packets: [NamedCounter], drops: [NamedCounter]) {
        self.worker = worker
        self.interface = interface
        self.packets = packets
        self.drops = drops
    }
}

/// The lvsd process (the Prometheus client libraries' `process_*` metrics).
public struct ProcessStatus: Hashable, Sendable {
    public var pid: Int32 = 0
    public var version: String = ""
    /// Seconds since the Unix epoch when the process started.
    public var startTimeSeconds: Double = 0
    public var cpuSeconds: Double = 0
    public var residentMemoryBytes: UInt64 = 0
    public var virtualMemoryBytes: UInt64 = 0
    public var openFileDescriptors: Int = 0
    public var maxFileDescriptors: Int = 0
    public var threads: Int = 0
    /// Seconds since the Unix epoch now (the snapshot's time).
    public var nowSeconds: Double = 0

    public init() {}
}
