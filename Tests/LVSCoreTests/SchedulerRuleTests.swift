// Each scheduler's rule, one kernel fact per test, on small hand-computed cases.
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

/// A service with servers A, B, C… added in reverse so the kernel list reads A, B, C…
struct SchedulerFixture {
    let ipvs: IPVS
    let key: ServiceKey
    let servers: [Endpoint]

    init(_ scheduler: String, weights: [Int32], flags: ServiceFlags = [], configuration: IPVSConfiguration = .init())
        throws
    {
        ipvs = IPVS(configuration: configuration)
        key = .endpoint(.tcp, Endpoint("10.0.0.1:80"))
        servers = weights.indices.map { Endpoint(.v4(IPv4Address(0xC0A8_0000 + 10 + UInt32($0))), 80) }
        try ipvs.addService(VirtualServiceSpec(key: key, scheduler: scheduler, flags: flags))
        for i in weights.indices.reversed() {
            try ipvs.addRealServer(RealServerSpec(endpoint: servers[i], weight: weights[i]), to: key)
        }
    }

    func slot(_ i: Int) -> Int32 { ipvs.serverSlot(servers[i], in: key)! }

    func load(_ i: Int, active: Int32, inactive: Int32 = 0, overloaded: Bool = false) {
        ipvs.setLoad(slot: slot(i), active: active, inactive: inactive, overloaded: overloaded)
    }

    /// The index of the chosen server, or nil.
    func pick(from source: String = "172.16.0.1", port: UInt16 = 1234, to destination: String = "10.0.0.1")
        -> Int?
    {
        let d = ipvs.pickServer(
            key,
            SchedulingRequest(
                transport: .tcp, source: IPAddress(literal: source), sourcePort: port,
                destination: IPAddress(literal: destination), destinationPort: 80))
        return d < 0 ? nil : servers.firstIndex(of: ipvs.store.endpoint(d))
    }
}

@Suite struct SchedulerRuleTests {
    @Test("K:ip_vs_lc.c: overhead is active<<8 + inactive (the comment's <<5 is wrong), weight only excludes 0")
    func leastConnection() throws {
        let f = try SchedulerFixture("lc", weights: [1, 1, 0])
        f.load(0, active: 1)  // 256
        f.load(1, active: 0, inactive: 255)  // 255
        #expect(f.pick() == 1)
        f.load(1, active: 0, inactive: 256)  // tie at 256: first in list wins
        #expect(f.pick() == 0)
        f.load(0, active: 5, overloaded: true)  // overloaded is skipped
        #expect(f.pick() == 1)
    }

    @Test("K:ip_vs_wlc.c: smallest overhead/weight compared as oh(a)·w(b) > oh(b)·w(a), ties to the first")
    func weightedLeastConnection() throws {
        let f = try SchedulerFixture("wlc", weights: [1, 2])
        f.load(0, active: 1)  // 256/1
        f.load(1, active: 1, inactive: 255)  // 511/2 = 255.5
        #expect(f.pick() == 1)
        f.load(1, active: 2)  // 512/2 = 256: tie, A first
        #expect(f.pick() == 0)
    }

    @Test("K:ip_vs_sed.c: smallest (active+1)/weight; inactive connections do not count")
    func shortestExpectedDelay() throws {
        let f = try SchedulerFixture("sed", weights: [1, 3])
        f.load(0, active: 0, inactive: 0)  // 1/1
        f.load(1, active: 1, inactive: 1000)  // 2/3
        #expect(f.pick() == 1)
    }

    @Test("K:ip_vs_nq.c: the first idle server wins outright; otherwise as sed")
    func neverQueue() throws {
        let f = try SchedulerFixture("nq", weights: [100, 1, 1])
        f.load(0, active: 1)
        f.load(1, active: 3)
        f.load(2, active: 0)
        #expect(f.pick() == 2)
        f.load(2, active: 1)  // nobody idle: (1+1)/100 is best
        #expect(f.pick() == 0)
    }

    @Test("K:ip_vs_fo.c: the highest weight among servers not overloaded, first on a tie")
    func failover() throws {
        let f = try SchedulerFixture("fo", weights: [5, 9, 9])
        #expect(f.pick() == 1)
        f.load(1, active: 0, overloaded: true)
        #expect(f.pick() == 2)
    }

    @Test("K:ip_vs_ovf.c: the highest weight whose active count does not exceed its weight")
    func overflow() throws {
        let f = try SchedulerFixture("ovf", weights: [2, 5])
        #expect(f.pick() == 1)
        f.load(1, active: 5)
        #expect(f.pick() == 1)
        f.load(1, active: 6)
        #expect(f.pick() == 0)
        f.load(0, active: 3)
        #expect(f.pick() == nil)
    }

    @Test("K:ip_vs_twos.c: only servers with weight > 0 that are not overloaded are drawn")
    func twoChoices() throws {
        let f = try SchedulerFixture("twos", weights: [0, 3, 1])
        f.load(2, active: 0, overloaded: true)
        for _ in 0..<200 { #expect(f.pick() == 1) }
    }

    @Test("K:ip_vs_twos.c: draws are weighted; the less loaded of two draws wins")
    func twoChoicesWeighted() throws {
        let f = try SchedulerFixture("twos", weights: [1, 9])
        var counts = [0, 0]
        for _ in 0..<10_000 { counts[f.pick()!] += 1 }
        // With equal load the first draw wins; the first server covers r in [0, 1] of [0, 10].
        #expect(counts[0] > 1300 && counts[0] < 2400)
    }

    @Test("K:ip_vs_dh.c: bucket hash_32(ntohl(daddr), 8), buckets filled round-robin in list order")
    func destinationHashing() throws {
        let f = try SchedulerFixture("dh", weights: [1, 1, 1])
        // hash_32(0x0A000001, 8) = 39 → 39 % 3 = 0 → the list head.
        #expect(f.pick(to: "10.0.0.1") == 0)
        // hash_32(0x0A000002, 8) = 137 → 137 % 3 = 2.
        #expect(f.pick(to: "10.0.0.2") == 2)
        // No fallback: a weight-0 server yields nothing.
        try f.ipvs.editRealServer(RealServerSpec(endpoint: f.servers[0], weight: 0), in: f.key)
        #expect(f.pick(to: "10.0.0.1") == nil)
    }

    @Test("K:ip_vs_sh.c: each server takes `weight` consecutive buckets; a weight-0 server still takes one")
    func sourceHashingBuckets() throws {
        let f = try SchedulerFixture("sh", weights: [2, 0, 1])
        let table = f.ipvs.schedulerTable(f.key)!
        let pattern = [f.slot(0), f.slot(0), f.slot(1), f.slot(2)]
        #expect(table.count == 256)
        #expect((0..<256).allSatisfy { table[$0] == pattern[$0 % 4] })
    }

    @Test("K:ip_vs_sh.c: the key is the source address (+ source port with sh-port); sh-fallback probes on")
    func sourceHashingFlags() throws {
        let f = try SchedulerFixture("sh", weights: [1, 1, 1, 1])
        // hash_32(0xC0A80001, 8) = 192 → 192 % 4 = 0.
        #expect(f.pick(from: "192.168.0.1") == 0)
        let p = try SchedulerFixture("sh", weights: [1, 1, 1, 1], flags: [.scheduler2])
        // hash_32(0xC0A80001 + 1234, 8) = 24 → 24 % 4 = 0; port 1235 gives another bucket.
        #expect(p.pick(from: "192.168.0.1", port: 1234) == 0)
        // Without fallback an unavailable server gives nothing; with it the probe moves on.
        f.load(0, active: 0, overloaded: true)
        #expect(f.pick(from: "192.168.0.1") == nil)
        let fb = try SchedulerFixture("sh", weights: [1, 1, 1, 1], flags: [.scheduler1])
        fb.load(0, active: 0, overloaded: true)
        #expect(fb.pick(from: "192.168.0.1") != nil)
    }
}
