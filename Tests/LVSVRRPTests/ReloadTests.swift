// Reload (SIGHUP) as keepalived does it: matched instances keep their state, VIPs are diffed, removed masters retire.
import Foundation
import LVSCore
import LVSPlatform
import LVSTestSupport
import LVSVRRPLinux
import Testing

private let vip240 = VirtualIPAddress(ip("192.168.0.240"))
private let vip241 = VirtualIPAddress(ip("192.168.0.241"))

/// A node with one instance, started at 0 and run to MASTER (or left in BACKUP).
private func runningNode(_ c: VRRPInstanceConfig, toMaster: Bool, scripts: [VRRPScriptConfig] = []) throws -> VRRPNode {
    var n = try VRRPNode(instances: [c], sourceAddresses: [c.name: ip("192.168.0.1")], scripts: scripts)
    _ = n.handle(.interfaceState(name: "eth0", up: true), now: at(0))
    for s in scripts { _ = n.handle(.scriptResult(name: s.name, success: true), now: at(0)) }
    let start = n.handle(.start, now: at(0))
    if toMaster, let t = start.last.flatMap({ if case .scheduleTimer(let t) = $0.action { t } else { nil } }) {
        _ = n.handle(.timer, now: t)
    }
    return n
}

private func reload(
    _ n: VRRPNode, _ configs: [VRRPInstanceConfig], scripts: [VRRPScriptConfig] = [], at t: Double = 10
) throws -> VRRPNodeReload {
    var sources: [String: IPAddress] = [:]
    for c in configs { sources[c.name] = ip("192.168.0.1") }
    return try VRRPNode.reloading(
        n, instances: configs, sourceAddresses: sources, scripts: scripts, interfaceStates: ["eth0": true], now: at(t))
}

@Suite("VRRPNode reload (keepalived clear_diff_vrrp / restore_vrrp_state)")
struct NodeReloadTests {
    @Test("K:restore_vrrp_state: a MASTER stays MASTER, sends an advert at once; no notify, no VIP churn")
    func masterKept() throws {
        let c = config(priority: 150) { $0.notify = VRRPNotifyScripts(master: "/nm", generic: "/n") }
        let n = try runningNode(c, toMaster: true)
        #expect(n.instance("VI_1")?.state == .master)
        let r = try reload(n, [c])
        let acts = r.actions.of("VI_1")
        #expect(r.node.instance("VI_1")?.state == .master)
        #expect(r.restored == ["VI_1"])
        #expect(acts.effects == [.sendAdvert(priority: 150)])
        #expect(acts.notifies.isEmpty && acts.states.isEmpty)
        #expect(acts.timer == at(11))  // next advert one advert_int later
        #expect(r.retiredActions.isEmpty)
    }

    @Test("K:clear_diff_vrrp_vip: a master removes VIPs the new configuration dropped, installs and announces new ones")
    func vipDiff() throws {
        let c = config(priority: 150)
        let n = try runningNode(c, toMaster: true)
        let c2 = config(priority: 150) { $0.virtualIPAddresses = [vip241] }
        let r = try reload(n, [c2])
        #expect(
            r.actions.of("VI_1").effects == [
                .removeAddresses([vip240]), .addAddresses([vip241]), .sendGratuitous([vip241], repeat: 5),
                .sendAdvert(priority: 150),
            ])
    }

    @Test("K:vrrp_exist: the same VRID, family and interface under a new name keeps its state")
    func renamed() throws {
        let n = try runningNode(config(priority: 150), toMaster: true)
        let r = try reload(n, [config("VI_NEW", priority: 150)])
        #expect(r.node.instance("VI_NEW")?.state == .master)
        #expect(r.retiredActions.isEmpty)
    }

    @Test("K:vrrp_init_state on reload: a BACKUP restarts its Master_Down_Interval from the reload time")
    func backupTimer() throws {
        let c = config(priority: 100)
        let n = try runningNode(c, toMaster: false)
        #expect(n.instance("VI_1")?.state == .backup)
        let r = try reload(n, [c], at: 2)
        #expect(r.node.instance("VI_1")?.state == .backup)
        #expect(r.actions.of("VI_1").effects.isEmpty)
        // 3 × 1 s + (256 − 100)/256 s = 3.609375 s after the reload.
        #expect(r.actions.of("VI_1").timer == at(2) + .microseconds(3_609_375))
    }

    @Test("K:clear_diff_vrrp: an instance the configuration no longer has retires: a master sends priority 0, VIPs go")
    func retiredMaster() throws {
        let n = try runningNode(config(priority: 150), toMaster: true)
        var other = config("VI_2", priority: 100)
        other.virtualRouterID = 52
        let r = try reload(n, [other])
        #expect(r.retiredActions.map(\.action).effects == [.sendAdvert(priority: 0), .removeAddresses([vip240])])
        #expect(r.retiredActions.map(\.action).logs.contains("(VI_1) sent 0 priority"))
        #expect(r.retired.instance("VI_1")?.state == .stop)
        // The new VRID starts as at start-up.
        #expect(r.actions.of("VI_2").states == [.backup])
        #expect(r.restored.isEmpty)
    }

    @Test("a retired BACKUP sends nothing")
    func retiredBackup() throws {
        let n = try runningNode(config(priority: 100), toMaster: false)
        let r = try reload(n, [])
        #expect(r.retiredActions.map(\.action).effects.isEmpty)
    }

    @Test("K:clear_diff_script: a succeeding vrrp_script is considered successful on reload: no wait in INIT")
    func scriptKept() throws {
        let chk = VRRPScriptConfig(name: "chk", script: "/bin/true", weight: -20)
        let c = config(priority: 150) { $0.trackScripts = [TrackedScript("chk")] }
        let n = try runningNode(c, toMaster: true, scripts: [chk])
        var c2 = config("VI_2", priority: 100) { $0.trackScripts = [TrackedScript("chk")] }
        c2.virtualRouterID = 52
        let r = try reload(n, [c, c2], scripts: [chk])
        #expect(r.actions.map(\.action).logs.contains("VRRP_Script(chk) considered successful on reload"))
        #expect(r.node.instance("VI_2")?.state == .backup)
        #expect(r.node.instance("VI_1")?.state == .master)
    }

    @Test("a failing script keeps its state over a reload that does not change it: the weight still applies")
    func failingScriptKept() throws {
        let chk = VRRPScriptConfig(name: "chk", script: "/bin/false", weight: -20)
        let c = config(priority: 150) { $0.trackScripts = [TrackedScript("chk")] }
        var n = try runningNode(c, toMaster: true, scripts: [chk])
        _ = n.handle(.scriptResult(name: "chk", success: false), now: at(5))
        #expect(n.instance("VI_1")?.effectivePriority == 130)
        let r = try reload(n, [c], scripts: [chk])
        #expect(r.node.instance("VI_1")?.effectivePriority == 130)
        #expect(r.actions.of("VI_1").adverts == [130])
    }

    @Test("a MASTER whose new configuration makes it fault (unweighted script failing) goes to FAULT with priority 0")
    func masterToFault() throws {
        let chk = VRRPScriptConfig(name: "chk", script: "/bin/false")
        var n = try runningNode(config(priority: 150), toMaster: true, scripts: [chk])
        _ = n.handle(.scriptResult(name: "chk", success: false), now: at(5))
        let c2 = config(priority: 150) { $0.trackScripts = [TrackedScript("chk")] }
        let r = try reload(n, [c2], scripts: [chk])
        #expect(r.node.instance("VI_1")?.state == .fault)
        #expect(r.actions.of("VI_1").adverts == [0])
    }

    @Test("a configuration the node refuses (auth_type AH) throws; nothing is produced")
    func refused() throws {
        let n = try runningNode(config(priority: 150), toMaster: true)
        let bad = config(priority: 150) { $0.authentication = .ah("x") }
        #expect(throws: VRRPError.self) { try reload(n, [bad]) }
    }
}

@Suite("VRRPService reload and transition reports (fake adapters, virtual time)")
struct ServiceReloadTests {
    /// Virtual time: the service sleeps on `vt.clock`; nothing waits for real timers.
    let vt = VirtualTime()

    func adapters(_ t: FakeVRRPTransport, _ am: FakeVIPInstaller, _ s: FakeScriptRunner, _ log: LogLines)
        -> VRRPAdapters
    {
        VRRPAdapters(
            openTransport: { _ in t }, addresses: am, garp: FakeGARPSender(),
            interfaces: FakeInterfaceMonitor(up: ["eth0": true], addresses: ["eth0": ip("192.168.0.1")]), scripts: s,
            clock: vt.clock, log: { log.append($0) })
    }

    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [VRRPTransition] = []
        func add(_ t: VRRPTransition) { lock.withLock { list.append(t) } }
        var all: [VRRPTransition] { lock.withLock { list } }
    }

    @Test(
        "running MASTER: a reload adding a VIP keeps MASTER (no new transition), installs it; removing the instance retires it"
    )
    func reloadWhileMaster() async throws {
        let t = FakeVRRPTransport()
        let am = FakeVIPInstaller()
        let s = FakeScriptRunner()
        let log = LogLines()
        let reports = Reports()
        let c = config(priority: 150, version: .v3) {
            $0.advertInterval = .milliseconds(100)
            $0.notify = VRRPNotifyScripts(master: "/nm", runAs: [.master: VRRPScriptUser("nobody", group: "nogroup")])
        }
        let svc = VRRPService(
            instances: [c], adapters: adapters(t, am, s, log), onTransition: { reports.add($0) }, executor: vt.executor)
        let task = Task(executorPreference: vt.executor) { try await svc.run() }
        #expect(await vt.run(limit: .seconds(3)) { await svc.states["VI_1"] == .master }, "\(log.all)")
        #expect(await vt.run(limit: .seconds(1)) { s.runs.contains(["/nm"]) })
        #expect(s.users == ["nobody:nogroup"])
        var c2 = c
        c2.virtualIPAddresses = [vip240, vip241]
        try await svc.reload(instances: [c2])
        #expect(am.installed == ["eth0 192.168.0.240/32", "eth0 192.168.0.241/32"])
        #expect(await svc.states["VI_1"] == .master)
        #expect(reports.all.map(\.to) == [.backup, .master])
        #expect(log.contains("VRRP configuration reloaded: 1 instance(s), 1 kept their state"))
        // The instance goes: priority 0 and VIPs removed.
        let before = t.sent.count
        try await svc.reload(instances: [])
        #expect(am.installed.isEmpty)
        #expect(t.sent.dropFirst(before).contains { $0.message[2] == 0 })
        #expect(await svc.states["VI_1"] == nil)
        task.cancel()
        _ = try? await task.value
        #expect(reports.all.map(\.to) == [.backup, .master])
    }

    @Test("a reload the node refuses throws; the running instance is untouched")
    func refusedReload() async throws {
        let t = FakeVRRPTransport()
        let am = FakeVIPInstaller()
        let c = config(priority: 150, version: .v3) { $0.advertInterval = .milliseconds(100) }
        let svc = VRRPService(
            instances: [c], adapters: adapters(t, am, FakeScriptRunner(), LogLines()), executor: vt.executor)
        let task = Task(executorPreference: vt.executor) { try await svc.run() }
        #expect(await vt.run(limit: .seconds(3)) { await svc.states["VI_1"] == .master })
        let bad = config(priority: 150) { $0.authentication = .ah("x") }
        await #expect(throws: VRRPError.self) { try await svc.reload(instances: [bad]) }
        #expect(await svc.instances == [c])
        #expect(am.installed == ["eth0 192.168.0.240/32"])
        task.cancel()
        _ = try? await task.value
        #expect(am.installed.isEmpty)
    }

    @Test("onTransition: each instance transition with its priority, and a sync group's when all members agree")
    func transitionReports() async throws {
        let t = FakeVRRPTransport()
        let reports = Reports()
        let a = config("A", priority: 150, version: .v3) { $0.advertInterval = .milliseconds(100) }
        var b = config("B", priority: 150, version: .v3) { $0.advertInterval = .milliseconds(100) }
        b.virtualRouterID = 52
        let svc = VRRPService(
            instances: [a, b], syncGroups: [VRRPSyncGroupConfig(name: "G", instances: ["A", "B"])],
            adapters: adapters(t, FakeVIPInstaller(), FakeScriptRunner(), LogLines()),
            onTransition: { reports.add($0) }, executor: vt.executor)
        let task = Task(executorPreference: vt.executor) { try await svc.run() }
        #expect(
            await vt.run(limit: .seconds(3)) { reports.all.contains { $0.subject == .group("G") && $0.to == .master } })
        task.cancel()
        _ = try? await task.value
        let all = reports.all
        #expect(all.contains(VRRPTransition(subject: .instance("A"), from: .backup, to: .master, priority: 150)))
        #expect(all.contains(VRRPTransition(subject: .group("G"), from: .backup, to: .master, priority: 0)))
        #expect(all.contains(VRRPTransition(subject: .instance("B"), from: .master, to: .stop, priority: 150)))
        #expect(all.last == VRRPTransition(subject: .group("G"), from: .master, to: .stop, priority: 0))
    }
}
