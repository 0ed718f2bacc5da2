// /metrics: what IPVS refused and the defences dropped (issue 14), from a real table.
import LVSCore
import LVSStatus
import LVSTestSupport
import Testing

@Suite("/metrics: lvsd_ipvs_refused_total")
struct RefusalMetricsTests {
    @Test("table full, drop_packet and TTL refusals are counted by reason; the live connection limit is shown")
    func refusals() throws {
        var c = IPVSConfiguration()
        c.maxConnections = 2
        let d = IPVSDriver(IPVS(configuration: c))
        let vip = Endpoint("10.0.0.1:80")
        try d.ipvs.addService(VirtualServiceSpec(key: .endpoint(.tcp, vip), scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("10.0.0.2:80")), to: .endpoint(.tcp, vip))
        for p: UInt16 in 1...3 { d.tcp(Endpoint("172.16.0.1:\(p)"), vip, [.syn]) }
        d.tcp(Endpoint("172.16.0.1:9"), vip, [.syn], ttl: 1)
        try d.ipvs.setKnob("lvsd_conn_max", to: "5")
        var t = TableStatus(services: d.ipvs.services())
        t.refusals = d.ipvs.refusalCounts
        t.connectionLimit = d.ipvs.connectionLimit
        let s = parseSamples(metricsText(t))
        #expect(s["lvsd_ipvs_refused_total{reason=\"table_full\"}"] == "1")
        #expect(s["lvsd_ipvs_refused_total{reason=\"ttl_expired\"}"] == "1")
        #expect(s["lvsd_ipvs_refused_total{reason=\"drop_packet\"}"] == "0")
        #expect(s["lvsd_ipvs_connection_limit"] == "5")
    }
}
