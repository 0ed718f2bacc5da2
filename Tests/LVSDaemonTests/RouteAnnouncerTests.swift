// lvs_announce_table: which VIPs are announced, the route plan, the table check, BIRD logged once (fakes).
import Foundation
import KeepalivedConfig
import LVSCore
import LVSDaemon
import LVSPlatform
import Logging
import Testing

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

private func service(_ vip: String, _ port: UInt16, weights: [Int32], proto: TransportProtocol = .tcp)
    -> VirtualServiceEntry
{
    VirtualServiceEntry(
        spec: VirtualServiceSpec(key: .endpoint(proto, Endpoint(ip(vip), port)), scheduler: "mh"),
        realServers: weights.enumerated().map { i, w in
            RealServerEntry(spec: RealServerSpec(endpoint: Endpoint(ip("10.9.0.\(21 + i)"), port), weight: w))
        })
}

private func key(_ vip: String, _ port: UInt16) -> ServiceKey { .endpoint(.tcp, Endpoint(ip(vip), port)) }

/// Table N in memory: lvsd-marked routes (any table) and routes of others by table.
final class FakeAnnounceTable: AnnounceRouteTable, @unchecked Sendable {
    let lock = NSLock()
    var marked: [AnnouncedRoute] = []
    var foreign: [UInt32: [String]] = [:]
    var applied: [AnnounceRouteChange] = []
    var failure: PlatformError?

    func view(table: UInt32?, protocolNumber: UInt8) throws(PlatformError) -> AnnounceTableView {
        #expect(protocolNumber == 240)
        if let failure { throw failure }
        return lock.withLock {
            let f = table.flatMap { foreign[$0] } ?? []
            return AnnounceTableView(marked: marked, foreignCount: f.count, foreignExample: f.first)
        }
    }

    func apply(_ change: AnnounceRouteChange, protocolNumber: UInt8) throws(PlatformError) {
        lock.withLock {
            applied.append(change)
            switch change {
            case .add(let r): if !marked.contains(r) { marked.append(r) }
            case .remove(let r): marked.removeAll { $0 == r }
            }
        }
    }

    var routes: [AnnouncedRoute] { lock.withLock { marked.sorted() } }
}

final class FakeProbe: AnnouncerProbe, @unchecked Sendable {
    let lock = NSLock()
    var status: AnnouncerWatch.Status = .absent("connect: No such file or directory")
    var checks = 0
    func check(socket: String) -> AnnouncerWatch.Status {
        lock.withLock {
            checks += 1
            return status
        }
    }
}

private let location = SourceLocation(file: "/etc/keepalived/keepalived.conf", line: 3)

@Suite("Announcement rules: a VIP is announced while one of its services is up")
struct VIPAnnouncementTests {
    @Test("ipvsadm services: up with a real server of weight > 0 (keepalived's default quorum 1)")
    func weights() {
        let s = [
            service("192.0.2.10", 80, weights: [0, 1]), service("192.0.2.11", 80, weights: [0, 0]),
            service("192.0.2.12", 80, weights: []), service("2001:db8::10", 443, weights: [3]),
        ]
        let a = VIPAnnouncement.announced(services: s, quorum: [:], passive: [], forwarding: true)
        #expect(a == [ip("192.0.2.10"), ip("2001:db8::10")])
    }

    @Test("keepalived virtual servers: the quorum decides (quorum 2 with one server of weight 1 left: down)")
    func quorum() {
        let s = [service("192.0.2.10", 80, weights: [1]), service("192.0.2.10", 443, weights: [1])]
        var q = [key("192.0.2.10", 80): false, key("192.0.2.10", 443): false]
        #expect(VIPAnnouncement.announced(services: s, quorum: q, passive: [], forwarding: true).isEmpty)
        // One service of the VIP up is enough.
        q[key("192.0.2.10", 443)] = true
        #expect(VIPAnnouncement.announced(services: s, quorum: q, passive: [], forwarding: true) == [ip("192.0.2.10")])
    }

    @Test("a VRRP BACKUP's VIP, a firewall-mark service and a stopped data plane announce nothing")
    func notServed() {
        let s = [
            service("192.0.2.10", 80, weights: [1]), service("192.0.2.11", 80, weights: [1]),
            VirtualServiceEntry(
                spec: VirtualServiceSpec(key: .firewallMark(1, .inet)),
                realServers: [RealServerEntry(spec: RealServerSpec(endpoint: Endpoint(ip("10.9.0.21"), 0)))]),
        ]
        let a = VIPAnnouncement.announced(services: s, quorum: [:], passive: [ip("192.0.2.11")], forwarding: true)
        #expect(a == [ip("192.0.2.10")])
        #expect(VIPAnnouncement.announced(services: s, quorum: [:], passive: [], forwarding: false).isEmpty)
    }

    @Test(
        "the plan: add what is missing, keep what is there, remove what went down, moved tables and dead lvsds' routes")
    func plan() {
        let mine: UInt32 = 4242
        let view = AnnounceTableView(marked: [
            AnnouncedRoute(vip: ip("192.0.2.10"), table: 100, metric: mine),  // stays
            AnnouncedRoute(vip: ip("192.0.2.11"), table: 100, metric: mine),  // down: removed
            AnnouncedRoute(vip: ip("192.0.2.12"), table: 90, metric: mine),  // old table: moved
            AnnouncedRoute(vip: ip("192.0.2.13"), table: 100, metric: 777),  // dead lvsd: removed
            AnnouncedRoute(vip: ip("192.0.2.14"), table: 100, metric: 888),  // live lvsd: left alone
        ])
        let changes = VIPAnnouncement.plan(
            desired: [ip("192.0.2.10"), ip("192.0.2.12"), ip("2001:db8::1")], table: 100, owner: mine, view: view,
            isAlive: { $0 == 888 })
        #expect(
            changes == [
                .remove(AnnouncedRoute(vip: ip("192.0.2.12"), table: 90, metric: mine)),
                .remove(AnnouncedRoute(vip: ip("192.0.2.11"), table: 100, metric: mine)),
                .remove(AnnouncedRoute(vip: ip("192.0.2.13"), table: 100, metric: 777)),
                .add(AnnouncedRoute(vip: ip("192.0.2.12"), table: 100, metric: mine)),
                .add(AnnouncedRoute(vip: ip("2001:db8::1"), table: 100, metric: mine)),
            ])
        #expect(AnnouncedRoute(vip: ip("2001:db8::1"), table: 100, metric: 1).prefixLength == 128)
        // No table (lvs_announce_table removed): every route of this lvsd goes.
        let off = VIPAnnouncement.plan(desired: [], table: nil, owner: mine, view: view, isAlive: { $0 == 888 })
        #expect(off.count == 4 && off.allSatisfy { if case .remove = $0 { true } else { false } })
    }

    @Test("a table with routes of others, or of another live lvsd, cannot be used; a dead lvsd's can")
    func conflict() {
        let foreign = AnnounceTableView(foreignCount: 2, foreignExample: "10.0.0.0/8 via 10.9.0.1 proto 4")
        #expect(
            VIPAnnouncement.conflict(table: 100, owner: 1, view: foreign, isAlive: { _ in false })
                == "routing table 100 already holds 2 route(s) lvsd did not install (e.g. '10.0.0.0/8 via 10.9.0.1 proto 4'): lvs_announce_table needs a table of its own"
        )
        let other = AnnounceTableView(marked: [AnnouncedRoute(vip: ip("192.0.2.10"), table: 100, metric: 55)])
        #expect(
            VIPAnnouncement.conflict(table: 100, owner: 1, view: other, isAlive: { $0 == 55 })
                == "routing table 100 is announced by another lvsd (pid 55): lvs_announce_table needs a table of its own"
        )
        #expect(VIPAnnouncement.conflict(table: 100, owner: 1, view: other, isAlive: { _ in false }) == nil)
        #expect(VIPAnnouncement.conflict(table: 101, owner: 1, view: other, isAlive: { _ in true }) == nil)
    }
}

@Suite("RouteAnnouncer with a fake table and a fake BIRD")
struct RouteAnnouncerTests {
    func make(_ table: FakeAnnounceTable, _ probe: FakeProbe) -> RouteAnnouncer {
        RouteAnnouncer(table: table, probe: probe, isAlive: { _ in false })
    }

    @Test("start: a table already in use is refused in one line with file:line")
    func startRefused() {
        let t = FakeAnnounceTable()
        t.foreign[100] = ["10.0.0.0/8 via 10.9.0.1 proto 4"]
        let a = make(t, FakeProbe())
        #expect(throws: AnnounceError.self) { try a.configure(LVSAnnounceConfig(table: 100, location: location)) }
        do {
            try a.configure(LVSAnnounceConfig(table: 100, location: location))
        } catch {
            #expect(error.code == .tableInUse)
            #expect(
                error.message
                    == "/etc/keepalived/keepalived.conf:3: lvs_announce_table 100: routing table 100 already holds 1 route(s) lvsd did not install (e.g. '10.0.0.0/8 via 10.9.0.1 proto 4'): lvs_announce_table needs a table of its own"
            )
            #expect(!error.message.contains("\n"))
        }
        #expect(a.configuration == nil)
    }

    @Test("VIPs follow the services, quorum, VRRP and forwarding; SIGTERM withdraws everything")
    func follows() throws {
        let t = FakeAnnounceTable()
        let a = make(t, FakeProbe())
        try a.configure(LVSAnnounceConfig(table: 100, birdSocket: nil, location: location))
        let services = [service("192.0.2.10", 80, weights: [1]), service("192.0.2.11", 80, weights: [1])]
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.isEmpty, "nothing before the data plane forwards")
        a.forwardingChanged(true)
        let lines = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.map(\.vip) == [ip("192.0.2.10"), ip("192.0.2.11")])
        #expect(lines.map(\.text).first == "announce: 192.0.2.10 up: blackhole 192.0.2.10/32 in table 100")
        // All real servers of .10 failed: keepalived lost the quorum.
        a.quorumChanged([key("192.0.2.10", 80): false, key("192.0.2.11", 80): true])
        let down = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.map(\.vip) == [ip("192.0.2.11")])
        #expect(down.map(\.text) == ["announce: 192.0.2.10 withdrawn from table 100 (no virtual service of it up)"])
        // VRRP BACKUP for .11.
        a.passiveChanged([ip("192.0.2.11")])
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.isEmpty)
        a.passiveChanged([])
        a.quorumChanged([key("192.0.2.10", 80): true, key("192.0.2.11", 80): true])
        #expect(a.reconcile(services: services, owner: 9, probeBird: false).isEmpty == false)
        #expect(t.routes.count == 2)
        // Nothing changed: no route touched, nothing logged.
        let before = t.applied.count
        #expect(a.reconcile(services: services, owner: 9, probeBird: false).isEmpty)
        #expect(t.applied.count == before)
        // A route deleted by hand comes back at the next pass.
        t.lock.withLock { t.marked.removeAll { $0.vip == ip("192.0.2.11") } }
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.count == 2)
        let stop = a.withdrawAll(owner: 9)
        #expect(t.routes.isEmpty)
        #expect(stop.map(\.text).allSatisfy { $0.hasSuffix("(lvsd stopping)") } && stop.count == 2)
    }

    @Test(
        "services not listed (the loop lists them only while configured): a configuration that came meanwhile waits for the next pass; without one, routes are withdrawn as before"
    )
    func servicesNotListed() throws {
        let t = FakeAnnounceTable()
        let a = make(t, FakeProbe())
        #expect(a.reconcile(services: nil, owner: 9, probeBird: false).isEmpty)
        try a.configure(LVSAnnounceConfig(table: 100, birdSocket: nil, location: location))
        a.forwardingChanged(true)
        let services = [service("192.0.2.10", 80, weights: [1])]
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.map(\.vip) == [ip("192.0.2.10")])
        // Configured, but this pass did not list the services: nothing is withdrawn.
        #expect(a.reconcile(services: nil, owner: 9, probeBird: false).isEmpty)
        #expect(t.routes.map(\.vip) == [ip("192.0.2.10")])
        // Unconfigured (a reload without lvs_announce_table): withdrawn without a listing.
        try a.configure(nil)
        _ = a.reconcile(services: nil, owner: 9, probeBird: false)
        #expect(t.routes.isEmpty)
    }

    @Test("BIRD absent is logged once as a warning, not on every check; its return once as info")
    func birdOnce() throws {
        let t = FakeAnnounceTable()
        let p = FakeProbe()
        let a = make(t, p)
        try a.configure(LVSAnnounceConfig(table: 100, birdSocket: "/run/bird/bird.ctl", location: location))
        a.forwardingChanged(true)
        var logged: [AnnounceLogLine] = []
        for _ in 0..<5 { logged += a.reconcile(services: [], owner: 9, probeBird: true) }
        #expect(p.checks == 5)
        #expect(logged.count == 1)
        #expect(logged.first?.warning == true)
        #expect(
            logged.first?.text
                == "announce: no BIRD answers at /run/bird/bird.ctl (connect: No such file or directory): nothing announces the routes lvsd keeps in table 100; lvsd keeps forwarding"
        )
        p.lock.withLock { p.status = .answering("BIRD 2.0.12 ready.") }
        logged = []
        for _ in 0..<3 { logged += a.reconcile(services: [], owner: 9, probeBird: true) }
        #expect(
            logged.map(\.text) == [
                "announce: BIRD at /run/bird/bird.ctl answers (BIRD 2.0.12 ready.): it can announce table 100"
            ])
        // bird_socket none: never checked.
        try a.configure(LVSAnnounceConfig(table: 100, birdSocket: nil, location: location))
        _ = a.reconcile(services: [], owner: 9, probeBird: true)
        #expect(p.checks == 8)
    }

    @Test("reload: a new table moves the routes; a table in use is refused and the old one stays; removal withdraws")
    func reload() throws {
        let t = FakeAnnounceTable()
        let a = make(t, FakeProbe())
        try a.configure(LVSAnnounceConfig(table: 100, birdSocket: nil, location: location))
        a.forwardingChanged(true)
        let services = [service("192.0.2.10", 80, weights: [1])]
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes == [AnnouncedRoute(vip: ip("192.0.2.10"), table: 100, metric: 9)])
        let logger = Logger(label: "test")
        a.reload(LVSAnnounceConfig(table: 101, birdSocket: nil, location: location), logger: logger)
        let moved = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes == [AnnouncedRoute(vip: ip("192.0.2.10"), table: 101, metric: 9)])
        #expect(
            moved.map(\.text) == [
                "announce: 192.0.2.10 moved out of table 100",
                "announce: 192.0.2.10 up: blackhole 192.0.2.10/32 in table 101",
            ])
        t.foreign[102] = ["default via 10.9.0.1 proto 4"]
        a.reload(LVSAnnounceConfig(table: 102, birdSocket: nil, location: location), logger: logger)
        #expect(a.configuration?.table == 101)
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.map(\.table) == [101])
        a.reload(nil, logger: logger)
        _ = a.reconcile(services: services, owner: 9, probeBird: false)
        #expect(t.routes.isEmpty)
    }

    @Test("without lvs_announce_table no routing table is read")
    func notConfigured() {
        let t = FakeAnnounceTable()
        t.failure = PlatformError(.netlink, "must not be read")
        let a = make(t, FakeProbe())
        a.forwardingChanged(true)
        #expect(a.reconcile(services: [service("192.0.2.10", 80, weights: [1])], owner: 9, probeBird: true).isEmpty)
        #expect(a.withdrawAll(owner: 9).isEmpty)
        #expect(t.applied.isEmpty)
    }

    @Test("an rtnetlink failure is logged once and retried")
    func failureOnce() throws {
        let t = FakeAnnounceTable()
        let a = make(t, FakeProbe())
        try a.configure(LVSAnnounceConfig(table: 100, birdSocket: nil, location: location))
        a.forwardingChanged(true)
        t.failure = PlatformError(.netlink, "netlink dump: error 105", errno: 105)
        var lines: [AnnounceLogLine] = []
        for _ in 0..<3 {
            lines += a.reconcile(services: [service("192.0.2.10", 80, weights: [1])], owner: 9, probeBird: false)
        }
        #expect(lines.map(\.text) == ["announce: netlink dump: error 105 (retried in 10.0 seconds)"])
        t.failure = nil
        _ = a.reconcile(services: [service("192.0.2.10", 80, weights: [1])], owner: 9, probeBird: false)
        #expect(t.routes.count == 1)
    }
}
