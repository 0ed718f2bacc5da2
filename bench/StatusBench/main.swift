// /metrics and dashboard rendering at 10,000 services × 10 real servers, against swift-prometheus's registry.
//
// swift run -c release status-bench [SERVICES] [SERVERS]
import Dispatch
import Foundation
import LVSCore
import LVSStatus
import Prometheus

let args = CommandLine.arguments
let serviceCount = args.count > 1 ? Int(args[1]) ?? 10_000 : 10_000
let serverCount = args.count > 2 ? Int(args[2]) ?? 10 : 10
let rounds = 7

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

/// Median and min of `rounds` timed runs of `body`.
func time(_ label: String, _ body: () -> Int) -> Double {
    var times: [Double] = []
    var size = 0
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        size = body()
        times.append(ms(ContinuousClock.now - start))
    }
    times.sort()
    let median = times[rounds / 2]
    print(
        String(
            format: "%-58@ median %8.1f ms  min %8.1f ms  %@", label as NSString, median, times[0],
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
let render = time("render /metrics (LVSStatus, all families)") {
    var w = PrometheusWriter(capacity: 1 << 20)
    StatusMetrics.write(snapshot, into: &w)
    return w.bytes.count
}
_ = time("render node_exporter's families only (3 per server + totals)") {
    var w = PrometheusWriter(capacity: 1 << 20)
    IPVSMetrics.write(TableStatus(services: table.services), into: &w)
    return w.bytes.count
}

// The same three node_exporter backend families through swift-prometheus's registry: setting
// every gauge (what a scrape would have to do to mirror the table), then emitting.
let registry = PrometheusCollectorRegistry()
var gauges: [(Gauge, Gauge, Gauge)] = []
let create = time("swift-prometheus: create 3 gauges per server (once)") {
    gauges.removeAll(keepingCapacity: true)
    let r = PrometheusCollectorRegistry()
    for s in table.services {
        guard case .endpoint(let p, let e) = s.spec.key else { continue }
        for rs in s.realServers {
            let labels = [
                ("local_address", "\(e.address)"), ("local_mark", ""), ("local_port", "\(e.port)"),
                ("proto", "\(p)"), ("remote_address", "\(rs.spec.endpoint.address)"),
                ("remote_port", "\(rs.spec.endpoint.port)"),
            ]
            gauges.append(
                (
                    r.makeGauge(name: "node_ipvs_backend_connections_active", labels: labels),
                    r.makeGauge(name: "node_ipvs_backend_connections_inactive", labels: labels),
                    r.makeGauge(name: "node_ipvs_backend_weight", labels: labels)
                ))
        }
    }
    return 0
}
// Fill the registry used below once.
for s in table.services {
    guard case .endpoint(let p, let e) = s.spec.key else { continue }
    for rs in s.realServers {
        let labels = [
            ("local_address", "\(e.address)"), ("local_mark", ""), ("local_port", "\(e.port)"), ("proto", "\(p)"),
            ("remote_address", "\(rs.spec.endpoint.address)"), ("remote_port", "\(rs.spec.endpoint.port)"),
        ]
        _ = registry.makeGauge(name: "node_ipvs_backend_weight", labels: labels)
        _ = registry.makeGauge(name: "node_ipvs_backend_connections_active", labels: labels)
        _ = registry.makeGauge(name: "node_ipvs_backend_connections_inactive", labels: labels)
    }
}
let update = time("swift-prometheus: set every gauge from the table") {
    var i = 0
    for s in table.services {
        for rs in s.realServers {
            gauges[i].0.set(Double(rs.activeConnections))
            gauges[i].1.set(Double(rs.inactiveConnections))
            gauges[i].2.set(Double(rs.spec.weight))
            i += 1
        }
    }
    return 0
}
let emit = time("swift-prometheus: emit those 3 families") {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(1 << 20)
    registry.emit(into: &bytes)
    return bytes.count
}

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
    String(
        format: "scrape (read + render): %.1f ms; swift-prometheus mirror (set + emit, 3 of the families): %.1f ms",
        read + render, update + emit))
print(String(format: "dashboard cost: %.1f ms of CPU per second (%.1f%% of one core)", dashboard, dashboard / 10))
_ = (create, fullAPI)
