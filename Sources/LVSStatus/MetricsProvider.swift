// The seam through which each part of lvsd adds its families to /metrics.

/// A source of metric families for `/metrics`. lvsd registers one per part (the IPVS table,
/// VRRP, health checkers, the data plane, the process); later parts (connection sync, the XDP
/// fast path) add their own without touching the others.
///
/// ```
///  GET /metrics ─▶ for each provider: writeMetrics(into:) ─▶ one buffer ─▶ + registry (swift-metrics)
/// ```
/// A provider reads its state once per scrape, under whatever lock guards it, and writes whole
/// families (`PrometheusWriter.family` then its samples); a family name belongs to one provider.
public protocol MetricsProvider: Sendable {
    func writeMetrics(into out: inout PrometheusWriter) async
}

/// A provider made of a closure (tests, small additions).
public struct ClosureMetricsProvider: MetricsProvider {
    let body: @Sendable (inout PrometheusWriter) async -> Void

    public init(_ body: @escaping @Sendable (inout PrometheusWriter) async -> Void) { self.body = body }

    public func writeMetrics(into out: inout PrometheusWriter) async { await body(&out) }
}
