// A route answered from a snapshot: status code, content type and body (pure; the server sends it).

/// An HTTP response before it is encoded.
public struct StatusResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// A large body (a scrape) left in its writer's buffer and sent from there in chunks;
    /// `body` is then empty.
    public var bodyBuffer: PrometheusWriter?
    /// Called once `bodyBuffer` is sent or given up: the buffer may then be reused.
    public var onSent: (@Sendable () -> Void)?
    /// The length of the body, wherever it is.
    public var contentLength: Int { bodyBuffer?.count ?? body.count }
    /// Extra headers (`Allow` on 405).
    public var headers: [(String, String)]

    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public static let json = "application/json"
    /// Prometheus text format 0.0.4.
    public static let prometheus = "text/plain; version=0.0.4; charset=utf-8"
    public static let html = "text/html; charset=utf-8"

    /// The response to a route that needs no snapshot; nil when it needs one.
    public static func immediate(_ route: StatusRoute) -> StatusResponse? {
        switch route {
        case .dashboard:
            return StatusResponse(status: 200, contentType: html, body: Array(DashboardPage.html.utf8))
        case .openAPI:
            return StatusResponse(status: 200, contentType: json, body: Array(OpenAPIDocument.json.utf8))
        case .notFound:
            return StatusResponse(status: 404, contentType: json, body: StatusAPI.error("no such resource"))
        case .methodNotAllowed:
            return StatusResponse(
                status: 405, contentType: json, body: StatusAPI.error("read-only API: only GET and HEAD are served"),
                headers: [("Allow", "GET, HEAD")])
        case .badRequest(let why):
            return StatusResponse(status: 400, contentType: json, body: StatusAPI.error(why))
        case .metrics, .status, .services, .vrrp, .checkers, .dataPlane:
            return nil
        }
    }

    /// The response to an API route from `snapshot`.
    public static func api(_ route: StatusRoute, _ snapshot: StatusSnapshot) -> StatusResponse {
        if let r = immediate(route) { return r }
        let body: [UInt8]
        switch route {
        case .status: body = StatusAPI.status(snapshot)
        case .services(let offset, let limit): body = StatusAPI.services(snapshot, offset: offset, limit: limit)
        case .vrrp: body = StatusAPI.vrrp(snapshot)
        case .checkers: body = StatusAPI.checkers(snapshot)
        case .dataPlane: body = StatusAPI.dataPlane(snapshot)
        case .metrics(let backendStats):
            var w = PrometheusWriter()
            StatusMetrics.write(snapshot, into: &w, backendStats: backendStats)
            return StatusResponse(status: 200, contentType: prometheus, body: w.bytes)
        default:
            return StatusResponse(status: 404, contentType: json, body: StatusAPI.error("no such resource"))
        }
        return StatusResponse(status: 200, contentType: json, body: body)
    }

    /// The reason phrase of the codes lvsd sends.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }
}

/// Every family a snapshot holds, in a fixed order.
public enum StatusMetrics {
    /// `backendStats` adds the per-real-server counters; `scratch` is a buffer to build label
    /// blocks in (reused across scrapes: fresh memory costs more than the writing).
    public static func write(
        _ s: StatusSnapshot, into out: inout PrometheusWriter, backendStats: Bool = false,
        scratch: PrometheusWriter? = nil
    ) {
        IPVSMetrics.write(s.table, into: &out, backendStats: backendStats, scratch: scratch)
        VRRPMetrics.write(s.vrrp, into: &out)
        CheckerMetrics.write(s.checkers, into: &out)
        DataPlaneMetrics.write(s.dataPlane, into: &out)
        ProcessMetrics.write(s.process, into: &out)
    }
}

/// Where a snapshot comes from (lvsd's director, VRRP, checkers and data plane; a fixed one in
/// tests).
public protocol StatusSource: Sendable {
    /// A snapshot with at least `parts` filled in (the others may be left empty).
    func snapshot(parts: StatusParts) async -> StatusSnapshot
    /// Families beyond the snapshot's (later parts of lvsd: connection sync, XDP).
    var metricsProviders: [any MetricsProvider] { get }
}

/// The parts of a snapshot a route needs.
public struct StatusParts: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let table = StatusParts(rawValue: 1)
    public static let vrrp = StatusParts(rawValue: 2)
    public static let checkers = StatusParts(rawValue: 4)
    public static let dataPlane = StatusParts(rawValue: 8)
    public static let process = StatusParts(rawValue: 16)
    public static let all: StatusParts = [.table, .vrrp, .checkers, .dataPlane, .process]

    /// What `route` reads.
    public static func needed(by route: StatusRoute) -> StatusParts {
        switch route {
        case .status: return [.table, .vrrp, .dataPlane, .process]
        case .services: return [.table, .checkers]
        case .vrrp: return .vrrp
        case .checkers: return .checkers
        case .dataPlane: return .dataPlane
        case .metrics: return .all
        default: return []
        }
    }
}
