// Properties that hold for every input: proportional shares, locality caches, expiry.
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSTestSupport
import PropertyBased
import Testing

@Suite struct SchedulerPropertyTests {
    @Test("property: over one wrr cycle each server is chosen exactly in proportion to its weight")
    func wrrProportional() async {
        await propertyCheck(count: 200, input: Gen.int(in: 1...12).array(of: 1...8)) { weights in
            let f = try! SchedulerFixture("wrr", weights: weights.map { Int32($0) })
            // One cycle is sum(w)/gcd picks; run several whole cycles.
            func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
            let g = weights.reduce(0, gcd)
            let cycle = weights.reduce(0, +) / g
            var counts = [Int](repeating: 0, count: weights.count)
            for _ in 0..<(cycle * 3) { counts[f.pick()!] += 1 }
            #expect(counts == weights.map { 3 * $0 / g }, "weights \(weights)")
        }
    }

    @Test("property: rr visits every eligible server once per round, skipping weight 0")
    func rrRound() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...3).array(of: 1...10)) { weights in
            let f = try! SchedulerFixture("rr", weights: weights.map { Int32($0) })
            let eligible = weights.indices.filter { weights[$0] > 0 }
            let picks = (0..<(eligible.count * 2)).compactMap { _ in f.pick() }
            #expect(picks == eligible + eligible)
        }
    }

    @Test("lblc: a destination address sticks to its server until that server is lblc-overloaded")
    func lblcSticks() throws {
        let f = try SchedulerFixture("lblc", weights: [2, 2, 2])
        let first = f.pick(to: "10.9.9.9")!
        for _ in 0..<5 { #expect(f.pick(to: "10.9.9.9") == first) }
        // active > weight while another server has 2·active < weight: move.
        f.load(first, active: 3)
        let other = f.pick(to: "10.9.9.9")!
        #expect(other != first)
        #expect(f.pick(to: "10.9.9.9") == other)  // the entry was overwritten
    }

    @Test("lblc: active > weight alone is not overload when nobody is under half load")
    func lblcAllBusy() throws {
        let f = try SchedulerFixture("lblc", weights: [2, 2])
        let first = f.pick(to: "10.9.9.9")!
        f.load(0, active: 3)
        f.load(1, active: 3)
        #expect(f.pick(to: "10.9.9.9") == first)
    }

    @Test("lblc cleanup: every 30th 60-second run drops entries idle ≥ lblc_expiration (24 h)")
    func lblcExpiry() throws {
        let f = try SchedulerFixture("lblc", weights: [1, 1])
        let first = f.pick(to: "10.9.9.9")!
        // Make the other server the wlc choice, so a fresh decision would differ.
        f.load(first, active: 1)
        #expect(f.pick(to: "10.9.9.9") == first)
        var t = Timestamp.zero
        for _ in 0..<29 {
            t = t + .seconds(3600)
            f.ipvs.runSchedulerTimers(now: t)
        }
        #expect(f.pick(to: "10.9.9.9") == first)  // only 29 runs: no full check yet
        t = t + .seconds(3600)
        f.ipvs.runSchedulerTimers(now: t)  // the 30th run: the entry is 30 h idle
        #expect(f.pick(to: "10.9.9.9") != first)
    }

    @Test("lblcr: an overloaded set member makes wlc add a server to the set; the least loaded member serves")
    func lblcrReplicates() throws {
        let f = try SchedulerFixture("lblcr", weights: [2, 2, 2])
        let first = f.pick(to: "10.9.9.9")!
        f.load(first, active: 3)
        let second = f.pick(to: "10.9.9.9")!
        #expect(second != first)
        // Now both are in the set, newest first: the set's least loaded one wins while not
        // overloaded; on a tie the newest member (set head) wins.
        f.load(first, active: 0)
        #expect(f.pick(to: "10.9.9.9") == second)
        f.load(second, active: 1)
        #expect(f.pick(to: "10.9.9.9") == first)
    }
}

@Suite struct SchedulerCacheLifetimeTests {
    @Test("lblc's cache holds a deleted server in the trash; changing the scheduler releases it (done_service flush)")
    func cacheReferences() throws {
        let f = try SchedulerFixture("lblc", weights: [1, 1])
        let first = f.pick(to: "10.9.9.9")!
        let slot = f.slot(first)
        try f.ipvs.deleteRealServer(f.servers[first], from: f.key)
        #expect(f.ipvs.store.trashCount == 1)
        #expect(f.ipvs.store.state(slot).pointee.references == 1)
        try f.ipvs.editService(VirtualServiceSpec(key: f.key, scheduler: "rr"))
        #expect(f.ipvs.store.state(slot).pointee.references == 0)
    }
}
