// The JSON API, its OpenAPI document (validated by openapi-spec-validator), routes and the dashboard page.
import Foundation
import LVSCore
import LVSStatus
import Testing

/// A snapshot with one of everything.
func sampleSnapshot() -> StatusSnapshot {
    let vip = Endpoint(IPAddress("192.168.1.109")!, 80)
    let rs1 = Endpoint(IPAddress("192.168.0.112")!, 80)
    let rs2 = Endpoint(IPAddress("192.168.0.113")!, 80)
    let key = ServiceKey.endpoint(.tcp, vip)
    let service = VirtualServiceEntry(
        spec: VirtualServiceSpec(key: key, scheduler: "rr", flags: .persistent, persistenceTimeout: 20),
        realServers: [
            RealServerEntry(
                spec: RealServerSpec(endpoint: rs2, forwarding: .masquerade, weight: 1), activeConnections: 2,
                inactiveConnections: 5, counters: IPVSCounters(connections: 7, inPackets: 70, inBytes: 7000),
                rates: IPVSRates(cps: 1, inPPS: 10, inBPS: 1000)),
            RealServerEntry(spec: RealServerSpec(endpoint: rs1, forwarding: .masquerade, weight: 0)),
        ], counters: IPVSCounters(connections: 7, inPackets: 70, inBytes: 7000),
        rates: IPVSRates(cps: 1, inPPS: 10, inBPS: 1000))
    let fwm = VirtualServiceEntry(spec: VirtualServiceSpec(key: .firewallMark(3, .inet), scheduler: "wlc"))
    var process = ProcessStatus()
    process.pid = 42
    process.version = "0.1"
    process.startTimeSeconds = 1000
    process.nowSeconds = 1061.5
    return StatusSnapshot(
        table: TableStatus(
            services: [service, fwm], totals: IPVSCounters(connections: 7), totalRates: IPVSRates(cps: 1),
            connections: 9, connectionLimit: 1 << 21),
        vrrp: [
            VRRPInstanceStatus(
                name: "VI_1", interface: "eth0", virtualRouterID: 51, state: "MASTER", priority: 150,
                configuredPriority: 150, virtualAddresses: ["192.168.1.109/24"])
        ],
        checkers: [
            CheckerStatus(
                virtualServer: "192.168.1.109 80", service: key, protocolName: "TCP", realServer: rs2,
                kind: "TCP_CHECK",
                up: true, realServerAlive: true, weight: 1, lastLatencySeconds: 0.0012),
            CheckerStatus(
                virtualServer: "192.168.1.109 80", service: key, protocolName: "TCP", realServer: rs1, kind: "HTTP_GET",
                up: false, realServerAlive: false, weight: 0, lastLatencySeconds: nil),
        ],
        dataPlane: DataPlaneStatus(
            mode: "af_packet", interfaces: ["eth0", "eth1"],
            workers: [
                WorkerStatus(
                    worker: 0, interface: "all", packets: [NamedCounter("received", 100)],
                    drops: [NamedCounter("bad_ipv4_checksum", 3), NamedCounter("ttl_expired", 0)])
            ]),
        process: process)
}

func json(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

@Suite("/api/v1 and the dashboard")
struct APITests {
    @Test("routes: GET/HEAD only (405 with Allow), unknown paths 404, bad queries 400, query parsed")
    func routes() {
        #expect(StatusRoutes.route(method: "GET", target: "/metrics") == .metrics(backendStats: false))
        #expect(
            StatusRoutes.route(method: "GET", target: "/metrics?collect[]=backend_stats")
                == .metrics(backendStats: true))
        #expect(
            StatusRoutes.route(method: "GET", target: "/metrics?collect%5B%5D=backend_stats")
                == .metrics(backendStats: true))
        #expect(StatusRoutes.route(method: "HEAD", target: "/") == .dashboard)
        #expect(
            StatusRoutes.route(method: "GET", target: "/api/v1/services?offset=5&limit=10")
                == .services(offset: 5, limit: 10))
        #expect(
            StatusRoutes.route(method: "GET", target: "/api/v1/services?limit=999999999")
                == .services(offset: 0, limit: 100_000))
        #expect(
            StatusRoutes.route(method: "GET", target: "/api/v1/services?limit=x")
                == .badRequest("limit must be a number ≥ 0"))
        #expect(StatusRoutes.route(method: "POST", target: "/api/v1/services") == .methodNotAllowed)
        #expect(StatusRoutes.route(method: "DELETE", target: "/metrics") == .methodNotAllowed)
        #expect(StatusRoutes.route(method: "GET", target: "/api/v2/services") == .notFound)
        #expect(StatusRoutes.route(method: "POST", target: "/nothing") == .notFound)
        let r405 = StatusResponse.immediate(.methodNotAllowed)!
        #expect(r405.status == 405 && r405.headers.contains { $0 == ("Allow", "GET, HEAD") })
        #expect(StatusResponse.immediate(.notFound)!.status == 404)
    }

    @Test("services: ipvsadm's order, paging, health joined from the checkers, counters and rates")
    func services() throws {
        let s = sampleSnapshot()
        let doc = try json(StatusAPI.services(s, offset: 0, limit: 10))
        #expect(doc["total"] as? Int == 2)
        let services = try #require(doc["services"] as? [[String: Any]])
        // ipvsadm sorts fwmark services after address services.
        #expect(services.map { $0["key"] as? String } == ["TCP 192.168.1.109:80", "FWM 3"])
        let servers = try #require(services[0]["realServers"] as? [[String: Any]])
        #expect(servers.map { $0["address"] as? String } == ["192.168.0.113", "192.168.0.112"])
        #expect(servers.map { $0["health"] as? String } == ["up", "down"])
        #expect(servers[0]["activeConnections"] as? Int == 2)
        #expect(servers[0]["inactiveConnections"] as? Int == 5)
        #expect((servers[0]["rates"] as? [String: Any])?["inBPS"] as? Int == 1000)
        #expect(services[0]["persistenceTimeout"] as? Int == 20)
        #expect(services[1]["fwmark"] as? Int == 3)
        let page = try json(StatusAPI.services(s, offset: 1, limit: 1))
        #expect((page["services"] as? [[String: Any]])?.map { $0["key"] as? String } == ["FWM 3"])
        let past = try json(StatusAPI.services(s, offset: 5, limit: 1))
        #expect((past["services"] as? [Any])?.isEmpty == true)
    }

    @Test("every document validates against its schema in the OpenAPI document (openapi-spec-validator, jsonschema)")
    func openAPIValidates() throws {
        let dir = NSTemporaryDirectory() + "lvs-openapi-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = sampleSnapshot()
        var empty = sampleSnapshot()
        empty.dataPlane = nil
        empty.vrrp = []
        empty.checkers = []
        let documents: [(String, [UInt8])] = [
            ("Status", StatusAPI.status(s)), ("Status", StatusAPI.status(empty)),
            ("ServicePage", StatusAPI.services(s, offset: 0, limit: 100)), ("VRRPInstances", StatusAPI.vrrp(s)),
            ("Checkers", StatusAPI.checkers(s)), ("DataPlane", StatusAPI.dataPlane(s)),
            ("DataPlane", StatusAPI.dataPlane(empty)), ("Error", StatusAPI.error("x")),
        ]
        try OpenAPIDocument.json.write(toFile: dir + "/openapi.json", atomically: true, encoding: .utf8)
        for (i, (schema, body)) in documents.enumerated() {
            try Data(body).write(to: URL(fileURLWithPath: dir + "/\(i)-\(schema).json"))
        }
        let script = """
            import glob, json, os, sys
            from openapi_spec_validator import validate
            from openapi_schema_validator import OAS30Validator
            spec = json.load(open(sys.argv[1] + "/openapi.json"))
            validate(spec)
            schemas = spec["components"]["schemas"]
            for path in sorted(glob.glob(sys.argv[1] + "/*-*.json")):
                name = os.path.basename(path).split("-", 1)[1][:-5]
                schema = dict(schemas[name]); schema["components"] = spec["components"]
                OAS30Validator(schema).validate(json.load(open(path)))
                print("valid", name)
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(
            p.terminationStatus == 0,
            "openapi-spec-validator (pip install openapi-spec-validator; scripts/test installs it): \(text)")
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("valid") }.count == documents.count)
    }

    @Test("status and data plane documents: counts, uptime, non-zero drops only")
    func statusAndDataPlane() throws {
        let s = sampleSnapshot()
        let status = try json(StatusAPI.status(s))
        #expect(status["services"] as? Int == 2)
        #expect(status["realServers"] as? Int == 2)
        #expect(status["uptimeSeconds"] as? Double == 61.5)
        #expect((status["dataPlane"] as? [String: Any])?["drops"] as? Int == 3)
        let dp = try json(StatusAPI.dataPlane(s))
        let worker = try #require((dp["workers"] as? [[String: Any]])?.first)
        #expect(worker["drops"] as? [String: Int] == ["bad_ipv4_checksum": 3])
        let checkers = try json(StatusAPI.checkers(s))
        let list = try #require(checkers["checkers"] as? [[String: Any]])
        #expect(list[0]["lastLatencySeconds"] as? Double == 0.0012)
        #expect(list[1]["lastLatencySeconds"] is NSNull)
    }

    @Test("the dashboard is one self-contained page: no external script, style, font or image")
    func dashboardSelfContained() {
        let page = DashboardPage.html
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        for external in ["http://", "https://", "src=", "@import", "<link"] {
            #expect(!page.contains(external), "\(external)")
        }
        // It reads the API with relative paths, so it works behind a reverse proxy's prefix.
        #expect(page.contains("get(\"api/v1/status\")"))
        #expect(page.contains("setInterval(tick, 1000)"))
        #expect(!page.contains("__LIMIT__"))
    }
}
