// Active-active directors behind ECMP: identical mh/sh tables from the same configuration, and sloppy_tcp.
@_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

/// One director's IPVS table, fed like `ipvsadm -A` / `-a` (or keepalived's init_services) would.
private struct Director {
    let ipvs: IPVS
    let driver: IPVSDriver

    init(sloppyTCP: Bool = false) {
        var c = IPVSConfiguration()
        c.sysctls.sloppyTCP = sloppyTCP
        ipvs = IPVS(configuration: c)
        driver = IPVSDriver(ipvs)
    }

    /// The real server a packet with `flags` of `client` goes to, or nil (not scheduled, no server).
    func serve(_ client: Endpoint, _ vip: Endpoint, _ flags: TCPFlags) -> Endpoint? {
        if case .forward(let f) = driver.tcp(client, vip, flags) { return f.server }
        return nil
    }

    /// The service's lookup table as real-server endpoints (slot numbers are this table's own).
    func table(_ key: ServiceKey, _ servers: [Endpoint]) -> [Endpoint?] {
        var bySlot: [Int32: Endpoint] = [:]
        for e in servers { if let s = ipvs.serverSlot(e, in: key) { bySlot[s] = e } }
        return ipvs.schedulerTable(key)!.map { bySlot[$0] }
    }
}

private let vip = Endpoint("192.0.2.10:80")
private let vip2 = Endpoint("192.0.2.11:443")
private let servers = (21...25).map { Endpoint("10.9.0.\($0):80") }

private func key(_ e: Endpoint) -> ServiceKey { .endpoint(.tcp, e) }

/// Adds `vip` with `scheduler` and `servers` (weights) in the given order.
private func configure(
    _ d: Director, _ list: [(Endpoint, Int32)], vip v: Endpoint = vip, scheduler: String = "mh",
    flags: ServiceFlags = []
) throws {
    try d.ipvs.addService(VirtualServiceSpec(key: key(v), scheduler: scheduler, flags: flags))
    for (e, w) in list {
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(e.address, v.port), weight: w), to: key(v))
    }
}

/// 3000 client flows spread over many addresses and ports.
private let flows: [Endpoint] = (0..<3000).map { i in
    Endpoint(IPAddress("198.51.\(i % 200).\(i / 200 + 1)")!, UInt16(20000 + (i * 7919) % 40000))
}

@Suite("Scale-out: every director picks the same real server (mh, sh) and continues flows (sloppy_tcp)")
struct ScaleOutConsistencyTests {
    @Test(
        "same configuration, same real-server order: three directors send every flow to the same server",
        arguments: [("mh", ServiceFlags()), ("mh", .scheduler2), ("sh", ServiceFlags()), ("sh", .scheduler2)])
    func sameChoice(scheduler: String, flags: ServiceFlags) throws {
        let list = zip(servers, [1, 2, 1, 3, 1] as [Int32]).map { ($0, $1) }
        let directors = (0..<3).map { _ in Director() }
        for d in directors { try configure(d, list, scheduler: scheduler, flags: flags) }
        var used = Set<Endpoint>()
        for c in flows {
            let picks = directors.map { $0.serve(c, vip, [.syn]) }
            #expect(picks[0] != nil && picks[0] == picks[1] && picks[1] == picks[2], "\(c): \(picks)")
            if let p = picks[0] { used.insert(p) }
        }
        #expect(used.count == 5, "the flows reach every server")
    }

    @Test("the order services are added in does not matter: each service has its own table")
    func serviceOrderIrrelevant() throws {
        let list = servers.map { ($0, Int32(1)) }
        let a = Director()
        let b = Director()
        try configure(a, list, vip: vip)
        try configure(a, list, vip: vip2)
        try configure(b, list, vip: vip2)
        try configure(b, list, vip: vip)
        #expect(a.table(key(vip), servers) == b.table(key(vip), servers))
        let servers443 = servers.map { Endpoint($0.address, 443) }
        #expect(a.table(key(vip2), servers443) == b.table(key(vip2), servers443))
    }

    @Test(
        "K:ip_vs_mh.c/ip_vs_sh.c populate in list order: real servers added in another order give another table (mh: a few slots; sh: most)",
        arguments: ["mh", "sh"])
    func realServerOrderMatters(scheduler: String) throws {
        let list = servers.map { ($0, Int32(1)) }
        let a = Director()
        let b = Director()
        try configure(a, list, scheduler: scheduler)
        try configure(b, Array(list.reversed()), scheduler: scheduler)
        let ta = a.table(key(vip), servers)
        let tb = b.table(key(vip), servers)
        let differing = zip(ta, tb).filter { $0 != $1 }.count
        #expect(differing > 0, "order matters")
        if scheduler == "mh" {
            // Maglev's permutations collide on few slots: the round order decides only those.
            #expect(differing < ta.count / 100, "\(differing) of \(ta.count) slots differ")
        } else {
            // sh gives each server its consecutive buckets in list order: nearly all move.
            #expect(differing > ta.count / 2, "\(differing) of \(ta.count) buckets differ")
        }
    }

    @Test("K:ip_vs_mh.c ip_vs_mh_gcd_weight: mh weights count by their ratio (1:2:3 and 10:20:30 give one table)")
    func weightScaleIrrelevant() throws {
        let a = Director()
        let b = Director()
        try configure(a, zip(servers, [1, 2, 3, 1, 1] as [Int32]).map { ($0, $1) })
        try configure(b, zip(servers, [10, 20, 30, 10, 10] as [Int32]).map { ($0, $1) })
        #expect(a.table(key(vip), servers) == b.table(key(vip), servers))
    }

    @Test(
        "a failed server quiesced (inhibit_on_failure: weight 0) keeps the directors' tables equal; removed and re-added it does not"
    )
    func inhibitOnFailure() throws {
        let list = servers.map { ($0, Int32(1)) }
        let reference = Director()
        let quiesced = Director()
        let readded = Director()
        for d in [reference, quiesced, readded] { try configure(d, list) }
        // The check of server 3 failed then recovered on two directors, not on the reference.
        try quiesced.ipvs.editRealServer(RealServerSpec(endpoint: servers[2], weight: 0), in: key(vip))
        #expect(quiesced.table(key(vip), servers) == reference.table(key(vip), servers), "last_weight keeps the table")
        try quiesced.ipvs.editRealServer(RealServerSpec(endpoint: servers[2], weight: 1), in: key(vip))
        try readded.ipvs.deleteRealServer(servers[2], from: key(vip))
        try readded.ipvs.addRealServer(RealServerSpec(endpoint: servers[2], weight: 1), to: key(vip))
        #expect(quiesced.table(key(vip), servers) == reference.table(key(vip), servers))
        #expect(
            readded.table(key(vip), servers) != reference.table(key(vip), servers),
            "the server is now first in the list")
    }

    @Test("K:ip_vs_proto_tcp.c tcp_conn_schedule: without sloppy_tcp a mid-flow ACK is not scheduled (counted, passed)")
    func notSloppy() throws {
        let d = Director()
        try configure(d, servers.map { ($0, Int32(1)) })
        let c = Endpoint("198.51.100.7:40000")
        #expect(d.driver.tcp(c, vip, [.ack]) == .pass)
        #expect(d.ipvs.counters.notScheduled == 1)
        #expect(d.ipvs.connections(now: d.driver.clock.now()).isEmpty)
    }

    @Test("K:ip_vs_proto_tcp.c: with sloppy_tcp any segment but RST schedules; the entry is ESTABLISHED after an ACK")
    func sloppy() throws {
        let d = Director(sloppyTCP: true)
        try configure(d, servers.map { ($0, Int32(1)) })
        let c = Endpoint("198.51.100.7:40000")
        #expect(d.driver.tcp(Endpoint("198.51.100.8:40001"), vip, [.rst, .ack]) == .pass, "never on a RST")
        #expect(d.serve(c, vip, [.ack]) != nil)
        let entries = d.ipvs.connections(now: d.driver.clock.now())
        #expect(entries.count == 1 && entries[0].state == "ESTABLISHED" && entries[0].client == c)
        // A FIN first (the client closing a flow this director never saw) is scheduled too.
        #expect(d.serve(Endpoint("198.51.100.9:40002"), vip, [.fin, .ack]) != nil)
    }

    @Test(
        "ECMP rehash: a flow begun on director A continues on B and C (sloppy_tcp) to the same real server; without sloppy_tcp it stops"
    )
    func midFlowTakeover() throws {
        let list = zip(servers, [1, 1, 2, 1, 1] as [Int32]).map { ($0, $1) }
        let a = Director()
        let b = Director(sloppyTCP: true)
        let c = Director(sloppyTCP: true)
        let strict = Director()
        for d in [a, b, c, strict] { try configure(d, list, flags: .scheduler2) }
        for f in flows.prefix(1000) {
            let first = a.serve(f, vip, [.syn])
            #expect(first != nil)
            // A died; the router's hash now sends this flow to B, then (another change) to C.
            #expect(b.serve(f, vip, [.ack]) == first)
            #expect(b.serve(f, vip, [.ack, .psh]) == first)
            #expect(c.serve(f, vip, [.ack]) == first)
            #expect(strict.serve(f, vip, [.ack]) == nil)
        }
        #expect(b.ipvs.connections(now: b.driver.clock.now()).count == 1000)
    }
}
