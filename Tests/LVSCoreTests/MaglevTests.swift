// mh: the kernel's hsiphash, table size, weights and its balance and disruption properties.
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

@Suite struct MaglevTests {
    @Test("hsiphash on 64-bit kernels is SipHash-1-3 truncated: lib/siphash_kunit.c vector for 4 bytes")
    func hsiphashVector() {
        // test_key_hsiphash {0x0706050403020100, 0x0f0e0d0c0b0a0908}; input bytes 00 01 02 03.
        #expect(hsiphash32(0x0302_0100, key0: 0x0706_0504_0302_0100, key1: 0x0f0e_0d0c_0b0a_0908) == 0x88d3_8328)
    }

    func fixture(_ n: Int, weight: Int32 = 1) throws -> SchedulerFixture {
        try SchedulerFixture("mh", weights: [Int32](repeating: weight, count: n))
    }

    @Test("mh default table size is M = 4093 (CONFIG_IP_VS_MH_TAB_INDEX 12), every slot filled")
    func tableSize() throws {
        let f = try fixture(3)
        let table = f.ipvs.schedulerTable(f.key)!
        #expect(table.count == 4093)
        #expect(!table.contains(-1))
    }

    @Test("property: equal weights give every server ⌊M/N⌋ or ⌈M/N⌉ slots", arguments: [2, 7, 10, 100, 1000])
    func balance(_ n: Int) throws {
        let f = try fixture(n)
        let table = f.ipvs.schedulerTable(f.key)!
        var counts = [Int32: Int]()
        for s in table { counts[s, default: 0] += 1 }
        #expect(counts.count == n)
        let lo = 4093 / n
        let hi = (4093 + n - 1) / n
        #expect(counts.values.allSatisfy { $0 == lo || $0 == hi })
    }

    @Test("property: removing one of 100 servers moves ≤ 3.2 % of the unrelated slots at M = 4093")
    func disruption() throws {
        for victim in [0, 17, 50, 99] {
            let f = try fixture(100)
            let before = f.ipvs.schedulerTable(f.key)!
            let victimSlot = f.slot(victim)
            try f.ipvs.deleteRealServer(f.servers[victim], from: f.key)
            let after = f.ipvs.schedulerTable(f.key)!
            var unrelated = 0
            var moved = 0
            for i in 0..<4093 where before[i] != victimSlot {
                unrelated += 1
                if after[i] != before[i] { moved += 1 }
            }
            #expect(Double(moved) / Double(unrelated) <= 0.032, "victim \(victim): \(moved)/\(unrelated)")
        }
    }

    @Test("mh weights use last_weight: quiescing to 0 keeps the table; lookups to that server fail")
    func quiescing() throws {
        let f = try fixture(4)
        let before = f.ipvs.schedulerTable(f.key)!
        try f.ipvs.editRealServer(RealServerSpec(endpoint: f.servers[1], weight: 0), in: f.key)
        #expect(f.ipvs.schedulerTable(f.key)! == before)
        // A client that hashes to server 1 gets no destination without mh-fallback.
        var sawNone = false
        for i in 0..<200 {
            let source = "172.16.\(i / 250).\(i % 250 + 1)"
            let got = f.pick(from: source)
            if got == nil { sawNone = true }
            #expect(got != 1)
        }
        #expect(sawNone)
    }

    @Test("mh turns = (last_weight/gcd) >> max(0, fls(max/gcd) − 6): weights 1:2 fill 1/3 and 2/3")
    func weightedShares() throws {
        let f = try SchedulerFixture("mh", weights: [1, 2])
        let table = f.ipvs.schedulerTable(f.key)!
        let a = table.filter { $0 == f.slot(0) }.count
        let b = table.filter { $0 == f.slot(1) }.count
        #expect(a + b == 4093)
        #expect(abs(b - 2 * a) <= 3)
    }

    @Test("mh-fallback re-hashes with offsets until an available server")
    func fallback() throws {
        let f = try SchedulerFixture("mh", weights: [1, 1, 1], flags: [.scheduler1])
        try f.ipvs.editRealServer(RealServerSpec(endpoint: f.servers[1], weight: 0), in: f.key)
        for i in 0..<200 {
            let got = f.pick(from: "172.16.1.\(i % 250 + 1)")
            #expect(got == 0 || got == 2)
        }
    }
}
