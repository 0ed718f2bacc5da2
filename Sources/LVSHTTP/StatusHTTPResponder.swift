// Answers lvsd's routes: snapshots from the status source, metrics with providers and the registry.
import LVSPlatform
import LVSStatus
import Metrics
import Prometheus
import Synchronization

/// The responder lvsd's HTTP server uses: the dashboard, `/metrics`, the JSON API.
///
/// `/metrics` is the snapshot's families (the IPVS table as node_exporter names it, VRRP,
/// checkers, data plane, process), then each extra provider's, then the swift-metrics registry
/// (event counters such as `lvsd_vrrp_transitions_total` and `lvsd_http_requests_total`).
public struct StatusHTTPResponder: HTTPResponder {
    let source: any StatusSource
    let registry: PrometheusCollectorRegistry?
    let buffers = ScrapeBuffers()

    public init(source: any StatusSource, registry: PrometheusCollectorRegistry?) {
        self.source = source
        self.registry = registry
    }

    public func respond(method: String, target: String) async -> StatusResponse {
        let route = StatusRoutes.route(method: method, target: target)
        let response = await answer(route)
        Counter(label: "lvsd_http_requests_total", dimensions: [("route", route.name), ("code", "\(response.status)")])
            .increment()
        return response
    }

    func answer(_ route: StatusRoute) async -> StatusResponse {
        if let r = StatusResponse.immediate(route) { return r }
        let snapshot = await source.snapshot(parts: StatusParts.needed(by: route))
        guard case .metrics(let backendStats) = route else {
            return await Self.rendered { StatusResponse.api(route, snapshot) }
        }
        let (buffer, scratch) = buffers.take()
        var w = await Self.rendered {
            var w = buffer
            StatusMetrics.write(snapshot, into: &w, backendStats: backendStats, scratch: scratch)
            return w
        }
        for p in source.metricsProviders { await p.writeMetrics(into: &w) }
        if let registry {
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            w.append(raw: bytes)
        }
        var response = StatusResponse(status: 200, contentType: StatusResponse.prometheus, body: [])
        response.bodyBuffer = w
        let buffers = self.buffers
        response.onSent = { buffers.giveBack((buffer, scratch)) }
        return response
    }

    /// Where large documents are rendered: a thread of its own (`lvsd-http-1`, started on first
    /// use, after the fork), so a scrape of a large table never holds the cooperative threads.
    static let renderPool = BlockingPool(name: "lvsd-http", maxThreads: 1)

    static func rendered<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await renderPool.run(body)
    }
}

/// The buffers scrapes are written into, kept between scrapes: a 10,000 × 10 table writes ~50 MB,
/// and faulting in that much fresh memory costs several times the writing itself. A buffer is
/// out while its response is being sent; a concurrent scrape gets another.
final class ScrapeBuffers: Sendable {
    private let free = Mutex<[(PrometheusWriter, PrometheusWriter)]>([])

    func take() -> (PrometheusWriter, PrometheusWriter) {
        let pair =
            free.withLock { $0.popLast() } ?? (PrometheusWriter(capacity: 1 << 20), PrometheusWriter(capacity: 1 << 16))
        var (a, b) = pair
        a.removeAll()
        b.removeAll()
        return (a, b)
    }

    /// Keeps at most two pairs (more would only hold memory).
    func giveBack(_ pair: (PrometheusWriter, PrometheusWriter)) {
        free.withLock { if $0.count < 2 { $0.append(pair) } }
    }
}
