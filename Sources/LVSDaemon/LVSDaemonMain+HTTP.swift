// lvsd's HTTP listener in its lifecycle: bound before the fork, served after it, stopped on SIGTERM.
import LVSHTTP
import LVSStatus
import LVSVRRP
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

extension LVSDaemonMain {
    /// Binds `--http` in the foreground (nil when off or when this build has no status source);
    /// prints the one-line reason and returns false when it cannot.
    static func bindHTTP(_ options: DaemonOptions, _ hooks: LVSDaemonHooks) -> (ok: Bool, socket: HTTPListenSocket?) {
        guard let address = options.http, hooks.status != nil else { return (true, nil) }
        do {
            return (true, try HTTPListenSocket(address))
        } catch {
            printErr("lvsd: \(error.message)\n")
            return (false, nil)
        }
    }

    /// After the fork: the metrics registry (swift-metrics → swift-prometheus) and the server.
    static func startHTTP(
        _ socket: HTTPListenSocket?, hooks: LVSDaemonHooks, director: Director, logger: Logger
    ) -> (ok: Bool, service: (any Service)?) {
        guard let socket, let makeSource = hooks.status else { return (true, nil) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        do {
            let server = try HTTPServer(
                socket: socket, responder: StatusHTTPResponder(source: makeSource(director), registry: registry))
            logger.info("HTTP listener on http://\(socket.address) (/metrics, /api/v1/, dashboard at /)")
            return (true, HTTPServerService(server: server))
        } catch {
            logger.error("HTTP listener on \(socket.address) did not start: \(error)")
            return (false, nil)
        }
    }
}

/// Serves HTTP until SIGTERM/SIGINT, then closes the listener and its connections.
struct HTTPServerService: Service {
    let server: HTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        server.shutdown()
    }
}

/// Event counters lvsd reports through swift-metrics (they reach `/metrics` via the registry).
enum VRRPMetricsEvents {
    /// `lvsd_vrrp_transitions_total{instance, state}`: transitions into `state`.
    static func transitioned(instance: String, to state: VRRPState) {
        Counter(label: "lvsd_vrrp_transitions_total", dimensions: [("instance", instance), ("state", state.rawValue)])
            .increment()
    }
}
