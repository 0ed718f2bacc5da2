// /metrics and dashboard rendering at 10,000 services × 10 real servers, against swift-prometheus's registry.
//
// swift run -c release status-bench [SERVICES] [SERVERS]
import Dispatch
import Foundation
import LVSCore
import LVSStatus
import Prometheus

/// Output line by line even into a pipe.
func print(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }

let args = CommandLine.arguments
let serviceCount = args.count > 1 ? Int(args[1]) ?? 10_000 : 10_000
let serverCount = args.count > 2 ? Int(args[2]) ?? 10 : 10
let rounds = 7

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

/// This thread's CPU time in ms (the machine is shared: CPU time is steadier than wall time).
func cpuMS() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

/// Median and min of `rounds` timed runs of `body` (wall time), and the median CPU time.
func time(_ label: String, _ body: () -> Int) -> Double {
    var times: [Double] = []
    var cpu: [Double] = []
    var size = 0
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        let c0 = cpuMS()
        size = body()
        cpu.append(cpuMS() - c0)
        times.append(ms(ContinuousClock.now - start))
    }
    times.sort()
    cpu.sort()
    let median = cpu[rounds / 2]
    print(
        String(
            format: "%-58@ CPU %8.1f ms  wall median %8.1f ms  min %8.1f ms  %@", label as NSString, median,
            times[rounds / 2], times[0],
            size > 0 ? "\(size / 1024) KiB" as NSString : "" as NSString))
    return median
}

// The table: a real IPVS model filled as ipvsadm -R would, so services() costs what lvsd pays.
let ipvs = IPVS()
for i in 0..<serviceCount {
    let vip = Endpoint(.v4(IPv4Address(0x0A00_0000 | UInt32(i))), 80)
    let key = ServiceKey.endpoint(.tcp, vip)
    try! ipvs.addService(VirtualServiceSpec(key: key, scheduler: "wlc"))
    for j in 0..<serverCount {
        let rs = Endpoint(.v4(IPv4Address(0xAC10_0000 | UInt32(i * serverCount + j))), 8080)
        try! ipvs.addRealServer(RealServerSpec(endpoint: rs, forwarding: .masquerade, weight: Int32(1 + j)), to: key)
    }
}
print(
    "table: \(serviceCount) services × \(serverCount) real servers; \(rounds) rounds each; load \(String(describing: (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"))"
)

var table = TableStatus(services: [])
let read = time("read the table (services(), under the director's lock)") {
    table = TableStatus(services: ipvs.services(), totals: ipvs.totals.counters, connections: ipvs.connectionCount)
    return 0
}
let snapshot = StatusSnapshot(table: table)
var reused = PrometheusWriter(capacity: 1 << 20)
let reusedRender = time("render /metrics into a reused buffer (all families)") {
    reused.removeAll()
    StatusMetrics.write(snapshot, into: &reused)
    return reused.count
}
let render = time("render /metrics (LVSStatus, all families)") {
    var w = PrometheusWriter(capacity: 1 << 20)
    StatusMetrics.write(snapshot, into: &w)
    return w.bytes.count
}
_ = time("render node_exporter's families only (3 per server + totals)") {
    var w = PrometheusWriter(capacity: 1 << 20)
    IPVSMetrics.writeNodeExporter(TableStatus(services: table.services), into: &w)
    return w.bytes.count
}

// The same three node_exporter backend families through swift-prometheus's registry: creating
// the gauges (what mirroring the table into the registry needs on every change), setting every
// gauge (what each scrape would need), then emitting. The registry copies a family's label-set
// dictionary for every new series (PrometheusCollectorRegistry.MetricFamily.adding), so creation
// grows with the square of the series count: measured at smaller tables, then compared with
// LVSStatus at the same size.
@MainActor func registryRun(services: Int) {
    let slice = Array(table.services.prefix(services))
    var gauges: [(Gauge, Gauge, Gauge)] = []
    let registry = PrometheusCollectorRegistry()
    let start = ContinuousClock.now
    for s in slice {
        guard case .endpoint(let p, let e) = s.spec.key else { continue }
        for rs in s.realServers {
            let labels = [
                ("local_address", "\(e.address)"), ("local_mark", ""), ("local_port", "\(e.port)"),
                ("proto", "\(p)"), ("remote_address", "\(rs.spec.endpoint.address)"),
                ("remote_port", "\(rs.spec.endpoint.port)"),
            ]
            gauges.append(
                (
                    registry.makeGauge(name: "node_ipvs_backend_connections_active", labels: labels),
                    registry.makeGauge(name: "node_ipvs_backend_connections_inactive", labels: labels),
                    registry.makeGauge(name: "node_ipvs_backend_weight", labels: labels)
                ))
        }
    }
    let created = ms(ContinuousClock.now - start)
    let update = time("  swift-prometheus, \(services) services: set every gauge") {
        var i = 0
        for s in slice {
            for rs in s.realServers {
                gauges[i].0.set(Double(rs.activeConnections))
                gauges[i].1.set(Double(rs.inactiveConnections))
                gauges[i].2.set(Double(rs.spec.weight))
                i += 1
            }
        }
        return 0
    }
    let emit = time("  swift-prometheus, \(services) services: emit the 3 families") {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1 << 20)
        registry.emit(into: &bytes)
        return bytes.count
    }
    let ours = time("  LVSStatus, \(services) services: the same 3 families (+ totals)") {
        var w = PrometheusWriter(capacity: 1 << 20)
        IPVSMetrics.writeNodeExporter(TableStatus(services: slice), into: &w)
        return w.bytes.count
    }
    print(
        String(
            format:
                "  %d series: registry creation %.0f ms (once per change), set+emit %.1f ms per scrape; LVSStatus %.1f ms (%.0f× faster)",
            gauges.count * 3, created, update + emit, ours, (update + emit) / max(ours, 0.001)))
}
print("swift-prometheus registry against LVSStatus for the node_exporter backend families:")
for n in [250, 500, 1000, 2000] where n <= serviceCount { registryRun(services: n) }

// The dashboard's once-a-second requests: status, services?limit=50, vrrp, dataplane.
let dashboard = time("dashboard: one second's 4 API documents (read + render)") {
    let t = TableStatus(services: ipvs.services(), totals: ipvs.totals.counters)
    let s = StatusSnapshot(table: t)
    return StatusAPI.status(s).count + StatusAPI.services(s, offset: 0, limit: DashboardPage.servicesShown).count
        + StatusAPI.vrrp(s).count + StatusAPI.dataPlane(s).count
}
let fullAPI = time("API: /api/v1/services, whole table") {
    StatusAPI.services(StatusSnapshot(table: table), offset: 0, limit: StatusRoutes.maximumLimit).count
}
print(
    String(format: "scrape at %d × %d (read + render, all families): %.1f ms", serviceCount, serverCount, read + render)
)
print(String(format: "dashboard cost: %.1f ms of CPU per second (%.1f%% of one core)", dashboard, dashboard / 10))
_ = fullAPI
