// /metrics rendering: node_exporter's IPVS names and labels, values equal to ipvsadm's listing.
import Foundation
import IPVSAdmKit
import LVSCore
import LVSStatus
import LVSTestSupport
import Testing

/// `name{labels}` → value, from Prometheus text.
func parseSamples(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        out[String(line[..<space])] = String(line[line.index(after: space)...])
    }
    return out
}

func metricsText(_ table: TableStatus) -> String {
    var w = PrometheusWriter()
    IPVSMetrics.write(table, into: &w)
    return w.text
}

@Suite("/metrics: node_exporter's IPVS collector and lvsd's own families")
struct MetricsRenderingTests {
    static let vip = Endpoint(IPAddress("192.168.0.240")!, 80)

    /// A table with every kind of service procfs distinguishes.
    static func mixedTable() throws -> IPVS {
        let ipvs = IPVS()
        let tcp = ServiceKey.endpoint(.tcp, vip)
        try ipvs.addService(VirtualServiceSpec(key: tcp, scheduler: "rr"))
        try ipvs.addRealServer(
            RealServerSpec(endpoint: Endpoint(IPAddress("192.168.0.112")!, 8080), forwarding: .masquerade, weight: 3),
            to: tcp)
        let fwm = ServiceKey.firewallMark(1, .inet)
        try ipvs.addService(VirtualServiceSpec(key: fwm, scheduler: "wlc"))
        try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(IPAddress("10.0.0.5")!, 0), weight: 2), to: fwm)
        let v6 = ServiceKey.endpoint(.udp, Endpoint(IPAddress("2001:db8::1")!, 53))
        try ipvs.addService(VirtualServiceSpec(key: v6, scheduler: "rr"))
        try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(IPAddress("2001:db8::10")!, 53)), to: v6)
        let sctp = ServiceKey.endpoint(.sctp, Endpoint(IPAddress("192.168.0.241")!, 5060))
        try ipvs.addService(VirtualServiceSpec(key: sctp, scheduler: "rr"))
        try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(IPAddress("10.0.0.7")!, 5060)), to: sctp)
        return ipvs
    }

    @Test(
        "procfs' label values: address services local_mark=\"\", fwmark services local_address=\"\" local_port=\"0\" proto=\"FWM\" local_mark=%08X; labels sorted by name (client_golang)"
    )
    func nodeExporterLabels() throws {
        let ipvs = try Self.mixedTable()
        let text = metricsText(TableStatus(services: ipvs.services()))
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(
            lines.contains(
                #"node_ipvs_backend_weight{local_address="192.168.0.240",local_mark="",local_port="80",proto="TCP",remote_address="192.168.0.112",remote_port="8080"} 3"#
            ))
        #expect(
            lines.contains(
                #"node_ipvs_backend_weight{local_address="",local_mark="00000001",local_port="0",proto="FWM",remote_address="10.0.0.5",remote_port="0"} 2"#
            ))
        #expect(
            lines.contains(
                #"node_ipvs_backend_connections_active{local_address="2001:db8::1",local_mark="",local_port="53",proto="UDP",remote_address="2001:db8::10",remote_port="53"} 0"#
            ))
        #expect(
            lines.contains(
                #"node_ipvs_backend_connections_inactive{local_address="192.168.0.241",local_mark="",local_port="5060",proto="SCTP",remote_address="10.0.0.7",remote_port="5060"} 0"#
            ))
        // node_exporter's HELP and TYPE lines, byte for byte.
        #expect(text.contains("# HELP node_ipvs_connections_total The total number of connections made.\n"))
        #expect(text.contains("# TYPE node_ipvs_connections_total counter\n"))
        #expect(
            text.contains(
                "# HELP node_ipvs_backend_weight The current backend weight by local and remote address.\n"
                    + "# TYPE node_ipvs_backend_weight gauge\n"))
        // Every family appears once, with its samples together.
        var types: [String] = []
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            types.append(String(line.split(separator: " ")[2]))
        }
        #expect(Set(types).count == types.count)
    }

    @Test("values equal ipvsadm -Ln --stats --exact and --rate read from the same table at the same moment")
    func valuesEqualIPVSAdm() throws {
        let driver = IPVSDriver()
        let key = ServiceKey.endpoint(.tcp, Self.vip)
        try driver.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        let servers = ["192.168.0.112", "192.168.0.113"].map { Endpoint(IPAddress($0)!, 80) }
        for s in servers {
            try driver.ipvs.addRealServer(RealServerSpec(endpoint: s, forwarding: .masquerade), to: key)
        }
        // Traffic over several estimator periods: connections, packets both ways, some closed.
        for round in 0..<8 {
            for i in 0..<(5 + round) {
                let client = Endpoint(IPAddress("10.1.0.\(1 + i)")!, driver.clientPort())
                guard case .forward(let f) = driver.tcp(client, Self.vip, [.syn], length: 60) else { continue }
                driver.tcpReply(f.server, client, [.syn, .ack], length: 60)
                driver.tcp(client, Self.vip, [.ack], length: 1500)
                if i % 2 == 0 { driver.tcp(client, Self.vip, [.fin, .ack], length: 52) }
            }
            driver.advance(seconds: 1)
        }
        let services = driver.ipvs.services()
        let table = TableStatus(services: services, totals: driver.ipvs.totals.counters)
        let samples = parseSamples(metricsText(table))
        let listing = IPVSListingFormatter(resolver: NumericOnlyResolver())
        let stats = String(
            decoding: listing.listAll(info: IPVSInfo(), services: services, format: [.numeric, .stats, .exact]),
            as: UTF8.self)
        let rates = String(
            decoding: listing.listAll(info: IPVSInfo(), services: services, format: [.numeric, .rate, .exact]),
            as: UTF8.self)
        let active = String(
            decoding: listing.listAll(info: IPVSInfo(), services: services, format: [.numeric]), as: UTF8.self)

        let service = #"{local_address="192.168.0.240",local_mark="",local_port="80",proto="TCP"}"#
        // "TCP  192.168.0.240:80   Conns InPkts OutPkts InBytes OutBytes"
        let serviceStats = try #require(stats.split(separator: "\n").first { $0.hasPrefix("TCP") })
            .split(separator: " ").dropFirst(2).map(String.init)
        #expect(serviceStats.count == 5)
        #expect(samples["lvsd_ipvs_service_connections_total" + service] == serviceStats[0])
        #expect(samples["lvsd_ipvs_service_incoming_packets_total" + service] == serviceStats[1])
        #expect(samples["lvsd_ipvs_service_outgoing_packets_total" + service] == serviceStats[2])
        #expect(samples["lvsd_ipvs_service_incoming_bytes_total" + service] == serviceStats[3])
        #expect(samples["lvsd_ipvs_service_outgoing_bytes_total" + service] == serviceStats[4])
        #expect(Int(serviceStats[0])! > 0 && Int(serviceStats[3])! > 0)
        let serviceRates = try #require(rates.split(separator: "\n").first { $0.hasPrefix("TCP") })
            .split(separator: " ").dropFirst(2).map(String.init)
        #expect(samples["lvsd_ipvs_service_connections_per_second" + service] == serviceRates[0])
        #expect(samples["lvsd_ipvs_service_incoming_packets_per_second" + service] == serviceRates[1])
        #expect(samples["lvsd_ipvs_service_incoming_bytes_per_second" + service] == serviceRates[3])
        #expect(Int(serviceRates[0])! > 0, "the estimator ran: \(rates)")

        for s in servers {
            let backend =
                #"{local_address="192.168.0.240",local_mark="",local_port="80",proto="TCP",remote_address=""#
                + "\(s.address)\",remote_port=\"\(s.port)\"}"
            let row = try #require(stats.split(separator: "\n").first { $0.contains("-> \(s)") })
                .split(separator: " ").map(String.init)
            // "  -> 192.168.0.112:80  Conns InPkts OutPkts InBytes OutBytes"
            #expect(samples["lvsd_ipvs_backend_connections_total" + backend] == row[2])
            #expect(samples["lvsd_ipvs_backend_incoming_packets_total" + backend] == row[3])
            #expect(samples["lvsd_ipvs_backend_outgoing_packets_total" + backend] == row[4])
            #expect(samples["lvsd_ipvs_backend_incoming_bytes_total" + backend] == row[5])
            #expect(samples["lvsd_ipvs_backend_outgoing_bytes_total" + backend] == row[6])
            // "  -> 192.168.0.112:80  Masq 1 ActiveConn InActConn"
            let plain = try #require(active.split(separator: "\n").first { $0.contains("-> \(s)") })
                .split(separator: " ").map(String.init)
            #expect(samples["node_ipvs_backend_weight" + backend] == plain[3])
            #expect(samples["node_ipvs_backend_connections_active" + backend] == plain[4])
            #expect(samples["node_ipvs_backend_connections_inactive" + backend] == plain[5])
        }
        #expect(samples["node_ipvs_connections_total"] == String(driver.ipvs.totals.counters.connections))
        #expect(samples["node_ipvs_incoming_bytes_total"] == String(driver.ipvs.totals.counters.inBytes))
    }

    @Test("label values are escaped (\\\\, \\\", \\n) as the text format requires")
    func escaping() {
        let instance = VRRPInstanceStatus(
            name: "VI \"a\"\\b\nc", interface: "eth0", virtualRouterID: 51, state: "MASTER", priority: 100,
            configuredPriority: 100, virtualAddresses: [])
        var w = PrometheusWriter()
        VRRPMetrics.write([instance], into: &w)
        #expect(w.text.contains(#"lvsd_vrrp_state{instance="VI \"a\"\\b\nc",interface="eth0",vrid="51"} 2"#))
    }

    @Test("the data plane's drops are labelled by reason, worker and interface; its mode is a label")
    func dataPlaneFamilies() {
        let dp = DataPlaneStatus(
            mode: "af_packet", interfaces: ["eth0"],
            workers: [
                WorkerStatus(
                    worker: 0, interface: "all", packets: [NamedCounter("received", 7)],
                    drops: [NamedCounter("bad_ipv4_checksum", 2), NamedCounter("ttl_expired", 0)])
            ])
        var w = PrometheusWriter()
        DataPlaneMetrics.write(dp, into: &w)
        let s = parseSamples(w.text)
        #expect(s[#"lvsd_dataplane_mode{mode="af_packet"}"#] == "1")
        #expect(s[#"lvsd_dataplane_packets_total{interface="all",path="received",worker="0"}"#] == "7")
        #expect(s[#"lvsd_dataplane_drops_total{interface="all",reason="bad_ipv4_checksum",worker="0"}"#] == "2")
        // Zero series exist from the start (rate() needs them).
        #expect(s[#"lvsd_dataplane_drops_total{interface="all",reason="ttl_expired",worker="0"}"#] == "0")
        #expect(dp.dropsByReason.map(\.reason) == ["bad_ipv4_checksum"])
        var none = PrometheusWriter()
        DataPlaneMetrics.write(nil, into: &none)
        #expect(parseSamples(none.text)["lvsd_dataplane_up"] == "0")
    }

    @Test("10,000 services × 10 real servers: every series is written once")
    func largeTableIsComplete() throws {
        var services: [VirtualServiceEntry] = []
        for i in 0..<10_000 {
            let vip = Endpoint(.v4(IPv4Address(0x0A00_0000 | UInt32(i))), 80)
            let servers = (0..<10).map { j in
                RealServerEntry(
                    spec: RealServerSpec(endpoint: Endpoint(.v4(IPv4Address(0xAC10_0000 | UInt32(i * 10 + j))), 8080)),
                    activeConnections: UInt32(j))
            }
            services.append(
                VirtualServiceEntry(spec: VirtualServiceSpec(key: .endpoint(.tcp, vip)), realServers: servers))
        }
        let text = metricsText(TableStatus(services: services))
        let lines = text.split(separator: "\n")
        let weights = lines.filter { $0.hasPrefix("node_ipvs_backend_weight{") }
        #expect(weights.count == 100_000)
        #expect(Set(weights).count == 100_000)
        #expect(
            lines.contains(
                #"node_ipvs_backend_connections_active{local_address="10.0.0.3",local_mark="",local_port="80",proto="TCP",remote_address="172.16.0.31",remote_port="8080"} 1"#
            ))
    }
}
