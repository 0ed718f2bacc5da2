// lvsd's status for the HTTP listener: the director's table, VRRP, checkers, data plane, process.
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSDataPlane
import LVSHealthCheck
import LVSPacket
import LVSPlatform
import LVSStatus
import LVSVRRP
import Synchronization

/// Snapshots of the running lvsd for `/metrics`, `/api/v1` and the dashboard.
///
/// ```
///  table    ─ Director.withModel (one lock hold, as ipvsadm -Ln --stats reads it)
///  vrrp     ─ VRRPDaemon.runningService.snapshot (its actor)
///  checkers ─ HealthCheckService.status + CheckerLatencies
///  dataPlane─ DataPlaneStatusBox (the started DataPlane's published counters)
///  sync     ─ SyncDaemonRunner.status (each daemon's counts, under its own lock)
///  process  ─ /proc/self
/// ```
public struct DirectorStatusSource: StatusSource {
    let director: Director
    let vrrp: VRRPDaemon?
    let keepalived: KeepalivedDaemonSupport?
    let dataPlane: DataPlaneStatusBox?
    let sync: SyncDaemonRunner?
    public let metricsProviders: [any MetricsProvider]
    let startTime: Double

    /// `sync` adds the connection-sync daemons: `/api/v1/sync` and, through a
    /// `SyncMetricsProvider`, the `lvsd_sync_*` families of `/metrics`.
    public init(
        director: Director, vrrp: VRRPDaemon?, keepalived: KeepalivedDaemonSupport?, dataPlane: DataPlaneStatusBox?,
        sync: SyncDaemonRunner? = nil, metricsProviders: [any MetricsProvider] = []
    ) {
        self.director = director
        self.vrrp = vrrp
        self.keepalived = keepalived
        self.dataPlane = dataPlane
        self.sync = sync
        self.metricsProviders = (sync.map { [SyncMetricsProvider(runner: $0)] } ?? []) + metricsProviders
        startTime = ProcessReader.startTimeSeconds()
    }

    public func snapshot(parts: StatusParts) async -> StatusSnapshot {
        var s = StatusSnapshot(table: TableStatus(services: []))
        if parts.contains(.table) {
            // Off the cooperative threads: copying a large table takes milliseconds.
            let director = self.director
            s.table = await Self.readPool.run { Self.table(director) }
        }
        if parts.contains(.vrrp) { s.vrrp = await vrrpInstances() }
        if parts.contains(.checkers) { s.checkers = await checkers() }
        if parts.contains(.dataPlane), let dp = dataPlane?.current { s.dataPlane = Self.dataPlaneStatus(dp) }
        if parts.contains(.sync), let sync { s.sync = sync.status() }
        if parts.contains(.process) {
            s.process = ProcessReader.read()
            s.process.startTimeSeconds = startTime
        }
        return s
    }

    /// Copying a large table under the director's lock: a thread of its own (blocking work).
    static let readPool = BlockingPool(name: "lvsd-status", maxThreads: 1)

    /// The table as `ipvsadm -Ln --stats --rate` reads it: under the director's lock, in one hold.
    public static func table(_ director: Director) -> TableStatus {
        director.withModel { m in
            var t = TableStatus(services: m.services())
            if let ipvs = m as? IPVS {
                let totals = ipvs.totals
                t.totals = totals.counters
                t.totalRates = totals.rates
                t.connections = ipvs.connectionCount
                t.connectionLimit = ipvs.connectionLimit
                t.refusals = ipvs.refusalCounts
            }
            return t
        }
    }

    func vrrpInstances() async -> [VRRPInstanceStatus] {
        guard let vrrp else { return [] }
        if let service = vrrp.runningService, let node = await service.snapshot {
            return node.instances.map { i in
                VRRPInstanceStatus(
                    name: i.name, interface: i.config.interface ?? "", virtualRouterID: i.config.virtualRouterID,
                    state: i.state.rawValue, priority: Int(i.effectivePriority),
                    configuredPriority: Int(i.config.priority),
                    virtualAddresses: i.config.virtualIPAddresses.map { "\($0.address)/\($0.prefixLength)" })
            }
        }
        // Configured but not running (an interface missing, waiting for a reload): INIT.
        return (vrrp.currentSetup?.instances ?? []).map { c in
            VRRPInstanceStatus(
                name: c.name, interface: c.interface ?? "", virtualRouterID: c.virtualRouterID, state: "INIT",
                priority: Int(c.priority), configuredPriority: Int(c.priority),
                virtualAddresses: c.virtualIPAddresses.map { "\($0.address)/\($0.prefixLength)" })
        }
    }

    func checkers() async -> [CheckerStatus] {
        guard let keepalived, let service = keepalived.healthCheckService else { return [] }
        let status = await service.status()
        let configuration = await service.configuration
        let latencies = keepalived.latencies.current
        var out: [CheckerStatus] = []
        for (v, vs) in configuration.virtualServers.enumerated() where v < status.count {
            let key: ServiceKey?
            let proto = vs.transportProtocol ?? .tcp
            switch vs.address {
            case .endpoint(let a, let port): key = .endpoint(proto, Endpoint(a, port))
            case .firewallMark(let m): key = .firewallMark(m, vs.family)
            case .group: key = nil
            }
            for (r, rs) in vs.realServers.enumerated() where r < status[v].count {
                let st = status[v][r]
                for (c, ck) in rs.checkers.enumerated() {
                    out.append(
                        CheckerStatus(
                            virtualServer: vs.address.description, service: key,
                            protocolName: key.map { if case .firewallMark = $0 { "FWM" } else { proto.description } }
                                ?? proto.description,
                            realServer: Endpoint(rs.address, rs.port), kind: ck.kind.keyword,
                            up: c < st.checkersUp.count ? st.checkersUp[c] : st.alive, realServerAlive: st.alive,
                            weight: st.weight, lastLatencySeconds: latencies[ck]))
                }
            }
        }
        return out
    }

    /// Mode, interfaces and each worker's counters (the published copies, no lock on a worker);
    /// the fast path's and the XDP program's counters, which belong to no worker, as the
    /// `interface="xdp"` entry.
    static func dataPlaneStatus(_ dp: DataPlane) -> DataPlaneStatus {
        let s = dp.statistics
        let dropCounters: Set<DataPlaneCounter> = [
            .noRoute, .neighborQueueDropped, .ipvsDropped, .localServerUnsupported, .ringDrops, .transmitFailed,
            .overloadShed,
        ]
        var workers: [WorkerStatus] = []
        for (i, w) in dp.workerStatistics.enumerated() {
            var packets: [LVSStatus.NamedCounter] = []
            var drops: [LVSStatus.NamedCounter] = []
            for c in DataPlaneCounter.allCases where c != .mallocs {
                if dropCounters.contains(c) {
                    drops.append(LVSStatus.NamedCounter(c.description, w[c]))
                } else {
                    packets.append(LVSStatus.NamedCounter(c.description, w[c]))
                }
            }
            for r in DropReason.allCases { drops.append(LVSStatus.NamedCounter(r.description, w[r])) }
            workers.append(WorkerStatus(worker: i, interface: "all", packets: packets, drops: drops))
        }
        let xdp = s.interfaces.contains { $0.mode.isXDP }
        if xdp {
            let f = s.fastPath
            var packets = [
                LVSStatus.NamedCounter("fast_path_flows_installed", f.installed),
                LVSStatus.NamedCounter("fast_path_flows_active", f.active),
                LVSStatus.NamedCounter("fast_path_packets", f.fastPackets),
            ]
            for x in s.xdp { packets.append(LVSStatus.NamedCounter(x.name, x.value)) }
            workers.append(
                WorkerStatus(
                    worker: 0, interface: "xdp", packets: packets,
                    drops: [LVSStatus.NamedCounter("fast_path_map_full", f.rejectedFull)]))
        }
        return DataPlaneStatus(mode: xdp ? "xdp" : "af_packet", interfaces: dp.attachedInterfaces, workers: workers)
    }
}

/// The data plane once it started (or failed to): the status API reads it, READY=1 waits for it.
public final class DataPlaneStatusBox: Sendable {
    private struct State {
        var dataPlane: DataPlane?
        var settled = false
        var problem: String?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    public init() {}

    /// Records the started data plane (nil: it did not start, or stopped, with `problem`).
    public func settle(_ dataPlane: DataPlane?, problem: String?) {
        let waiters = state.withLock { s in
            s.dataPlane = dataPlane
            s.problem = problem
            s.settled = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    public var current: DataPlane? { state.withLock { $0.dataPlane } }
    public var problem: String? { state.withLock { $0.problem } }

    /// Returns once the data plane started or failed to.
    public func waitUntilSettled() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.settled { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

/// The last probe duration of each checker (keyed by the checker as configured, which names its
/// destination).
public final class CheckerLatencies: Sendable {
    private let values = Mutex<[HealthChecker: Double]>([:])

    public init() {}

    func record(_ checker: HealthChecker, seconds: Double) {
        values.withLock { v in
            // A reload leaves old checkers behind; forget them all when the map grows past a bound.
            if v.count > 200_000 { v.removeAll() }
            v[checker] = seconds
        }
    }

    public var current: [HealthChecker: Double] { values.withLock { $0 } }
}

/// A probe that times another.
struct TimedHealthProbe: HealthProbe {
    let inner: any HealthProbe
    let latencies: CheckerLatencies

    init(_ inner: any HealthProbe, latencies: CheckerLatencies) {
        self.inner = inner
        self.latencies = latencies
    }

    func run(_ request: ProbeRequest) async -> ProbeOutcome {
        let start = ContinuousClock.now
        let outcome = await inner.run(request)
        let d = ContinuousClock.now - start
        latencies.record(
            request.checker,
            seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        return outcome
    }
}

/// `process_*` values from /proc/self.
enum ProcessReader {
    static func read() -> ProcessStatus {
        var p = ProcessStatus()
        p.pid = getpid()
        p.version = DaemonOptions.versionNumber
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        p.nowSeconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        if let f = statFields() {
            // Fields after the command: state is [0]; utime [11], stime [12], threads [17],
            // vsize [20], rss pages [21] (proc(5) numbers 14, 15, 20, 23, 24).
            if f.count > 21 {
                p.cpuSeconds = (Double(f[11]) ?? 0) / ticks + (Double(f[12]) ?? 0) / ticks
                p.threads = Int(f[17]) ?? 0
                p.virtualMemoryBytes = UInt64(f[20]) ?? 0
                p.residentMemoryBytes = (UInt64(f[21]) ?? 0) * page
            }
        }
        p.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            p.maxFileDescriptors = Int(limit.rlim_cur)
        }
        return p
    }

    /// The fields of /proc/self/stat after `(comm)`.
    static func statFields() -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Boot time plus the process's start (proc(5) field 22), in seconds since the epoch.
    static func startTimeSeconds() -> Double {
        guard let f = statFields(), f.count > 19, let start = Double(f[19]),
            let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let boot = Double(line.dropFirst(6))
        else { return 0 }
        return boot + start / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

extension DaemonOptions {
    /// lvsd's version number (`lvsd --version`, `lvsd_build_info`).
    public static let versionNumber = "0.1"
}
