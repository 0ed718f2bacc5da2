// Answers lvsd's routes: snapshots from the status source, metrics with providers and the registry.
import Dispatch
import LVSStatus
import Metrics
import Prometheus

/// The responder lvsd's HTTP server uses: the dashboard, `/metrics`, the JSON API.
///
/// `/metrics` is the snapshot's families (the IPVS table as node_exporter names it, VRRP,
/// checkers, data plane, process), then each extra provider's, then the swift-metrics registry
/// (event counters such as `lvsd_vrrp_transitions_total` and `lvsd_http_requests_total`).
public struct StatusHTTPResponder: HTTPResponder {
    let source: any StatusSource
    let registry: PrometheusCollectorRegistry?

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
        guard route == .metrics else { return await Self.rendered { StatusResponse.api(route, snapshot) } }
        var w = await Self.rendered {
            var w = PrometheusWriter(capacity: 1 << 20)
            StatusMetrics.write(snapshot, into: &w)
            return w
        }
        for p in source.metricsProviders { await p.writeMetrics(into: &w) }
        var bytes = w.bytes
        registry?.emit(into: &bytes)
        return StatusResponse(status: 200, contentType: StatusResponse.prometheus, body: bytes)
    }

    /// Where large documents are rendered: a queue of its own, so a scrape of a large table does
    /// not hold the cooperative threads the health checks run on.
    static let renderQueue = DispatchQueue(label: "lvsd-http-render")

    static func rendered<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in renderQueue.async { c.resume(returning: body()) } }
    }
}
