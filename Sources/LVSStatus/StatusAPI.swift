// The read-only JSON API (/api/v1/…): routes and the documents they return.
import LVSCore

/// What a request asks for. Pure: `StatusRoutes.route` maps a method and a target to a route;
/// the HTTP server answers it.
public enum StatusRoute: Equatable, Sendable {
    case dashboard
    /// `/metrics`; `?collect[]=backend_stats` adds the per-real-server counters
    /// (`lvsd_ipvs_backend_*_total`, five series per real server).
    case metrics(backendStats: Bool)
    case openAPI
    /// `/api/v1/status`: the summary.
    case status
    /// `/api/v1/services?offset=N&limit=N`: services with their real servers, in ipvsadm's order.
    case services(offset: Int, limit: Int)
    case vrrp
    case checkers
    case dataPlane
    /// `/api/v1/sync`: the connection-sync daemons.
    case sync
    /// Anything but GET or HEAD.
    case methodNotAllowed
    case notFound
    /// A malformed query (`limit=x`).
    case badRequest(String)
}

extension StatusRoute {
    /// A short name for metrics (`lvsd_http_requests_total{route=…}`): bounded, whatever the path.
    public var name: String {
        switch self {
        case .dashboard: return "dashboard"
        case .metrics: return "metrics"
        case .openAPI: return "openapi"
        case .status: return "status"
        case .services: return "services"
        case .vrrp: return "vrrp"
        case .checkers: return "checkers"
        case .dataPlane: return "dataplane"
        case .sync: return "sync"
        case .methodNotAllowed: return "method_not_allowed"
        case .notFound: return "not_found"
        case .badRequest: return "bad_request"
        }
    }
}

public enum StatusRoutes {
    /// The most services `/api/v1/services` returns at once.
    public static let maximumLimit = 100_000

    /// Maps `method` and the request target (`/path?query`) to a route.
    public static func route(method: String, target: String) -> StatusRoute {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? ""
        let query = parts.count > 1 ? String(parts[1]) : ""
        let route: StatusRoute
        switch path {
        case "/", "/index.html": route = .dashboard
        case "/metrics":
            // node_exporter's way of choosing collectors: collect[]=NAME (URL-encoded or not).
            let names = query.split(separator: "&").compactMap { pair -> Substring? in
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[0] == "collect[]" || kv[0] == "collect%5B%5D" || kv[0] == "collect%5b%5d"
                else { return nil }
                return kv[1]
            }
            route = .metrics(backendStats: names.contains("backend_stats"))
        case "/api/v1/openapi.json": route = .openAPI
        case "/api/v1/status", "/api/v1", "/api/v1/": route = .status
        case "/api/v1/services":
            var offset = 0
            var limit = maximumLimit
            for pair in query.split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let value = kv.count > 1 ? String(kv[1]) : ""
                switch kv[0] {
                case "offset":
                    guard let n = Int(value), n >= 0 else { return .badRequest("offset must be a number ≥ 0") }
                    offset = n
                case "limit":
                    guard let n = Int(value), n >= 0 else { return .badRequest("limit must be a number ≥ 0") }
                    limit = min(n, maximumLimit)
                default: break
                }
            }
            route = .services(offset: offset, limit: limit)
        case "/api/v1/vrrp": route = .vrrp
        case "/api/v1/checkers": route = .checkers
        case "/api/v1/dataplane": route = .dataPlane
        case "/api/v1/sync": route = .sync
        default: return .notFound
        }
        // Known paths only: an unknown path is 404 whatever the method.
        return method == "GET" || method == "HEAD" ? route : .methodNotAllowed
    }
}

/// The API's documents. Field names are documented in `OpenAPIDocument`.
public enum StatusAPI {
    /// `/api/v1/status`.
    public static func status(_ s: StatusSnapshot) -> [UInt8] {
        var j = JSONWriter()
        j.object { j in
            j.member("version", s.process.version)
            j.member("pid", Int(s.process.pid))
            j.member("uptimeSeconds", max(0, s.process.nowSeconds - s.process.startTimeSeconds))
            j.member("services", s.table.services.count)
            j.member("realServers", s.table.services.reduce(0) { $0 + $1.realServers.count })
            j.member("connections", s.table.connections)
            j.member("connectionLimit", s.table.connectionLimit)
            statistics("totals", s.table.totals, s.table.totalRates, &j)
            j.key("dataPlane")
            if let dp = s.dataPlane {
                j.object { j in
                    j.member("mode", dp.mode)
                    j.member("drops", dp.dropsByReason.reduce(0) { $0 &+ $1.count })
                }
            } else {
                j.null()
            }
            j.key("vrrp")
            j.array { j in
                for i in s.vrrp {
                    j.object { j in
                        j.member("name", i.name)
                        j.member("state", i.state)
                    }
                }
            }
        }
        return j.bytes
    }

    /// `/api/v1/services`: services in ipvsadm's order (`ipvsadm -Ln`), with health joined in
    /// from the checkers.
    public static func services(_ s: StatusSnapshot, offset: Int, limit: Int) -> [UInt8] {
        let sorted = s.table.services.sorted { $0.spec.key < $1.spec.key }
        var health: [HealthKey: Bool] = [:]
        for c in s.checkers {
            guard let key = c.service else { continue }
            health[HealthKey(service: key, server: c.realServer)] = c.realServerAlive
        }
        let page = offset < sorted.count ? sorted[offset..<min(sorted.count, offset + limit)] : []
        var j = JSONWriter(capacity: 512 + page.count * 1024)
        j.object { j in
            j.member("total", sorted.count)
            j.member("offset", offset)
            j.member("limit", limit)
            j.key("services")
            j.array { j in
                for v in page { service(v, health: health, &j) }
            }
        }
        return j.bytes
    }

    struct HealthKey: Hashable {
        var service: ServiceKey
        var server: Endpoint
    }

    static func service(_ v: VirtualServiceEntry, health: [HealthKey: Bool], _ j: inout JSONWriter) {
        j.object { j in
            j.member("key", v.spec.key.description)
            switch v.spec.key {
            case .endpoint(let p, let e):
                j.member("protocol", p.description)
                j.member("address", e.address.description)
                j.member("port", Int(e.port))
                j.member("fwmark", 0)
            case .firewallMark(let m, let f):
                j.member("protocol", "FWM")
                j.member("address", f == .inet ? "0.0.0.0" : "::")
                j.member("port", 0)
                j.member("fwmark", Int(m))
            }
            j.member("scheduler", v.spec.scheduler)
            j.member("persistent", v.spec.isPersistent)
            j.member("persistenceTimeout", Int(v.spec.persistenceTimeout))
            statistics("counters", v.counters, v.rates, &j)
            j.key("realServers")
            j.array { j in
                for r in v.realServers {
                    j.object { j in
                        j.member("address", r.spec.endpoint.address.description)
                        j.member("port", Int(r.spec.endpoint.port))
                        j.member("forwarding", r.spec.forwarding.listingName)
                        j.member("weight", Int(r.spec.weight))
                        j.member("activeConnections", UInt64(r.activeConnections))
                        j.member("inactiveConnections", UInt64(r.inactiveConnections))
                        j.member("persistentConnections", UInt64(r.persistentConnections))
                        switch health[HealthKey(service: v.spec.key, server: r.spec.endpoint)] {
                        case true?: j.member("health", "up")
                        case false?: j.member("health", "down")
                        case nil: j.member("health", "unchecked")
                        }
                        statistics("counters", r.counters, r.rates, &j)
                    }
                }
            }
        }
    }

    /// `/api/v1/vrrp`.
    public static func vrrp(_ s: StatusSnapshot) -> [UInt8] {
        list("instances", s.vrrp) { i, j in
            j.object { j in
                j.member("name", i.name)
                j.member("interface", i.interface)
                j.member("virtualRouterID", Int(i.virtualRouterID))
                j.member("state", i.state)
                j.member("priority", i.priority)
                j.member("configuredPriority", i.configuredPriority)
                j.key("virtualAddresses")
                j.array { j in for a in i.virtualAddresses { j.value(a) } }
            }
        }
    }

    /// `/api/v1/checkers`.
    public static func checkers(_ s: StatusSnapshot) -> [UInt8] {
        list("checkers", s.checkers) { c, j in
            j.object { j in
                j.member("virtualServer", c.virtualServer)
                j.member("protocol", c.protocolName)
                j.member("address", c.realServer.address.description)
                j.member("port", Int(c.realServer.port))
                j.member("checker", c.kind)
                j.member("up", c.up)
                j.member("realServerAlive", c.realServerAlive)
                j.member("weight", Int(c.weight))
                j.key("lastLatencySeconds")
                optional(c.lastLatencySeconds, &j)
            }
        }
    }

    /// A document holding one list: `{"key": [item, …]}`.
    static func list<S: Sequence>(_ key: String, _ items: S, _ item: (S.Element, inout JSONWriter) -> Void) -> [UInt8] {
        var j = JSONWriter()
        j.object { j in
            j.key(key)
            j.array { j in
                for x in items { item(x, &j) }
            }
        }
        return j.bytes
    }

    /// `/api/v1/dataplane`.
    public static func dataPlane(_ s: StatusSnapshot) -> [UInt8] {
        var j = JSONWriter()
        j.object { j in
            j.member("running", s.dataPlane != nil)
            guard let dp = s.dataPlane else { return }
            j.member("mode", dp.mode)
            j.key("interfaces")
            j.array { j in for i in dp.interfaces { j.value(i) } }
            j.key("workers")
            j.array { j in
                for w in dp.workers {
                    j.object { j in
                        j.member("worker", w.worker)
                        j.member("interface", w.interface)
                        j.key("packets")
                        j.object { j in for c in w.packets { j.member(c.name, c.value) } }
                        j.key("drops")
                        j.object { j in for c in w.drops where c.value != 0 { j.member(c.name, c.value) } }
                    }
                }
            }
        }
        return j.bytes
    }

    /// The JSON names of the counters (the OpenAPI document's `Counters`) and of the rates (`Rates`).
    static let counterMembers: [(String, KeyPath<IPVSCounters, UInt64> & Sendable)] = [
        ("connections", \.connections), ("inPackets", \.inPackets), ("outPackets", \.outPackets),
        ("inBytes", \.inBytes), ("outBytes", \.outBytes),
    ]
    static let rateMembers: [(String, KeyPath<IPVSRates, UInt64> & Sendable)] = [
        ("cps", \.cps), ("inPPS", \.inPPS), ("outPPS", \.outPPS), ("inBPS", \.inBPS), ("outBPS", \.outBPS),
    ]

    /// `"<countersKey>": {connections, inPackets, …}, "rates": {cps, inPPS, …}`.
    static func statistics(_ countersKey: String, _ c: IPVSCounters, _ r: IPVSRates, _ j: inout JSONWriter) {
        j.key(countersKey)
        object(c, counterMembers, &j)
        j.key("rates")
        object(r, rateMembers, &j)
    }

    /// An object of `value`'s 64-bit fields, in `members`' order.
    static func object<T>(_ value: T, _ members: [(String, KeyPath<T, UInt64> & Sendable)], _ j: inout JSONWriter) {
        j.object { j in for (name, field) in members { j.member(name, value[keyPath: field]) } }
    }

    /// A JSON error body: `{"error": "..."}`.
    public static func error(_ message: String) -> [UInt8] {
        var j = JSONWriter()
        j.object { j in j.member("error", message) }
        return j.bytes
    }
}
