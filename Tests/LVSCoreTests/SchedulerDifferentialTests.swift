// The indexed schedulers choose exactly what the kernel's linear walks choose, over random
// sequences of adds, deletes, edits, load changes and overloads.
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

/// A tiny deterministic generator for scenarios.
struct ScenarioRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 17
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@Suite struct SchedulerDifferentialTests {
    static let vip = Endpoint("10.0.0.1:80")
    static let key = ServiceKey.endpoint(.tcp, vip)

    func reference(_ name: String, _ v: ReferenceView) -> any ReferenceScheduler {
        switch name {
        case "rr": return ReferenceRR()
        case "wrr": return ReferenceWRR(v)
        case "twos": return ReferenceTwos()
        case "sh": return ReferenceHash(source: true)
        case "dh": return ReferenceHash(source: false)
        default: return ReferenceLeast(name: name)
        }
    }

    func run(
        _ name: String, flags: ServiceFlags, seed: UInt64, steps: Int, maxWeight: Int, maxServers: Int = 48,
        overloadOneIn: Int = 6
    ) throws -> Int {
        let ipvs = IPVS()
        try ipvs.addService(VirtualServiceSpec(key: Self.key, scheduler: name, flags: flags))
        let slot = ipvs.serviceSlot(Self.key)!
        func view() -> ReferenceView {
            ReferenceView(members: ipvs.service(slot: slot).members, store: ipvs.store, flags: flags)
        }
        var ref = reference(name, view())
        var random = SchedulerRandom(seed: ipvs.configuration.randomSeed)
        var g = ScenarioRandom(state: seed)
        var next = 1
        var compared = 0
        for _ in 0..<steps {
            let members = ipvs.service(slot: slot).members
            let op = g.below(100)
            if op < 12 && members.count < maxServers || members.isEmpty {
                let e = Endpoint(.v4(IPv4Address(0x0A01_0000 + UInt32(next))), 80)
                next += 1
                try ipvs.addRealServer(RealServerSpec(endpoint: e, weight: Int32(g.below(maxWeight + 1))), to: Self.key)
                ref.added(ipvs.serviceSlot(Self.key).map { _ in ipvs.service(slot: slot).members[0] }!, view())
            } else if op < 17 {
                let d = members[g.below(members.count)]
                let p = Int(ipvs.store.position(d))
                try ipvs.deleteRealServer(ipvs.store.endpoint(d), from: Self.key)
                ref.removed(d, formerPosition: p, view())
            } else if op < 25 {
                let d = members[g.below(members.count)]
                var spec = ipvs.store.spec(d)
                spec.weight = Int32(g.below(maxWeight + 1))
                try ipvs.editRealServer(spec, in: Self.key)
                ref.updated(d, view())
            } else if op < 50 {
                let d = members[g.below(members.count)]
                ipvs.setLoad(
                    slot: d, active: Int32(g.below(6)), inactive: Int32(g.below(40)),
                    overloaded: g.below(overloadOneIn) == 0)
            } else {
                let request = SchedulingRequest(
                    transport: .tcp, source: .v4(IPv4Address(UInt32(truncatingIfNeeded: g.next()))),
                    sourcePort: UInt16(truncatingIfNeeded: g.next()),
                    destination: .v4(IPv4Address(0x0A00_0001 + UInt32(g.below(64)))), destinationPort: 80)
                let got = ipvs.pickServer(Self.key, request)
                let want = ref.schedule(request, view(), &random)
                #expect(got == want, "\(name) step \(compared): indexed \(got), kernel walk \(want)")
                if got != want { return compared }
                compared += 1
            }
        }
        return compared
    }

    @Test(
        "indexed schedulers match the kernel's O(n) scans (ties first in list, weight 0, overload)",
        arguments: ["rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos", "sh", "dh"])
    func differential(_ name: String) throws {
        var total = 0
        for seed in UInt64(1)...6 {
            total += try run(name, flags: [], seed: seed, steps: 4000, maxWeight: seed % 2 == 0 ? 4 : 100)
        }
        #expect(total > 5000)
    }

    @Test(
        "rr and wrr with frequent overloads: wrr's last pass, restart and stop rules (K:ip_vs_wrr.c)",
        arguments: ["rr", "wrr", "twos", "fo"])
    func overloadHeavy(_ name: String) throws {
        for seed in UInt64(20)...40 {
            _ = try run(name, flags: [], seed: seed, steps: 1500, maxWeight: 6, maxServers: 5, overloadOneIn: 2)
        }
    }

    @Test("sh with sh-fallback and sh-port matches the kernel's probes (K:ip_vs_sh.c)")
    func sourceHashingFlags() throws {
        for seed in UInt64(10)...13 {
            _ = try run("sh", flags: [.scheduler1, .scheduler2], seed: seed, steps: 3000, maxWeight: 3)
        }
    }
}
