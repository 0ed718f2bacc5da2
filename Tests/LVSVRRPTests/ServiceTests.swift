// VRRPService with fake adapters in virtual time, and the process script runner.
import Foundation
import LVSCore
import LVSPlatform
import LVSTestSupport
import LVSVRRPLinux
import Testing

@Suite("VRRPService driver (fake adapters, virtual time)")
struct ServiceTests {
    /// Virtual time: the service sleeps on `vt.clock`; nothing waits for real timers.
    let vt = VirtualTime()

    func adapters(
        _ t: FakeVRRPTransport, _ am: FakeVIPInstaller, _ g: FakeGARPSender, _ m: FakeInterfaceMonitor,
        _ s: FakeScriptRunner, _ log: LogLines
    ) -> VRRPAdapters {
        VRRPAdapters(
            openTransport: { _ in t }, addresses: am, garp: g, interfaces: m, scripts: s, clock: vt.clock,
            log: { log.append($0) })
    }

    @Test(
        "v3 at 0.1 s: MASTER after ~0.36 s with VIP, GARP and byte-exact adverts; a higher advert sends it to BACKUP; cancel = STOP"
    )
    func runs() async throws {
        let t = FakeVRRPTransport()
        let am = FakeVIPInstaller()
        let g = FakeGARPSender()
        let m = FakeInterfaceMonitor(up: ["eth0": true], addresses: ["eth0": ip("192.168.0.1")])
        let s = FakeScriptRunner()
        let log = LogLines()
        let c = config(version: .v3) {
            $0.advertInterval = .milliseconds(100)
            // One burst only: a busy machine may stretch the test past garp_master_delay.
            $0.garpMasterDelay = .zero
            $0.notify = VRRPNotifyScripts(master: "/etc/notify_master.sh", generic: "/etc/notify.sh")
        }
        let svc = VRRPService(instances: [c], adapters: adapters(t, am, g, m, s, log), executor: vt.executor)
        let task = Task(executorPreference: vt.executor) { try await svc.run() }
        let master = await vt.run(limit: .seconds(3)) { await svc.states["VI_1"] == .master }
        #expect(master, "\(log.all)")
        await vt.run(for: .milliseconds(350))
        #expect(am.installed == ["eth0 192.168.0.240/32"])
        #expect(g.counts["192.168.0.240"] == 5)
        let sent = t.sent
        #expect(sent.count >= 3)
        let expected = VRRPAdvert(
            version: .v3, virtualRouterID: 51, priority: 100, addresses: [ip("192.168.0.240")], interval: 10
        ).encoded(source: ip("192.168.0.1"), destination: ip("224.0.0.18"))
        #expect(sent.first?.message == expected)
        #expect(sent.allSatisfy { $0.ttl == 255 && $0.destination == ip("224.0.0.18") })
        #expect(s.runs.contains(["/etc/notify_master.sh"]))
        #expect(s.runs.contains(["/etc/notify.sh", "INSTANCE", "VI_1", "MASTER", "100"]))
        // A higher-priority master appears.
        t.inject(advertPacket(for: c, priority: 200))
        let backup = await vt.run(limit: .seconds(2)) { await svc.states["VI_1"] == .backup }
        #expect(backup)
        #expect(am.installed.isEmpty)
        task.cancel()
        _ = try? await task.value
        #expect(await svc.states["VI_1"] == .stop)
        #expect(s.runs.contains(["/etc/notify.sh", "INSTANCE", "VI_1", "STOP", "100"]))
    }

    @Test(
        "unicast: one advert per unicast_peer with unicast_ttl, from unicast_src_ip; STOP from MASTER sends priority 0")
    func unicast() async throws {
        let t = FakeVRRPTransport()
        let am = FakeVIPInstaller()
        let m = FakeInterfaceMonitor(up: ["eth0": true], addresses: [:])
        let c = config(priority: 255, state: .master) {
            $0.unicastSourceIP = ip("10.0.0.1")
            $0.unicastPeers = [UnicastPeer(ip("10.0.0.2")), UnicastPeer(ip("10.0.0.3"))]
            $0.unicastTTL = 64
        }
        let svc = VRRPService(
            instances: [c], adapters: adapters(t, am, FakeGARPSender(), m, FakeScriptRunner(), LogLines()),
            executor: vt.executor)
        let task = Task(executorPreference: vt.executor) { try await svc.run() }
        _ = await vt.run(limit: .seconds(2)) { t.sent.count >= 2 }
        task.cancel()
        _ = try? await task.value
        let sent = t.sent
        #expect(Set(sent.prefix(2).map(\.destination)) == [ip("10.0.0.2"), ip("10.0.0.3")])
        #expect(sent.allSatisfy { $0.ttl == 64 && $0.source == ip("10.0.0.1") })
        #expect(sent.suffix(2).allSatisfy { $0.message[2] == 0 })  // priority 0 on stop, to each peer
        #expect(am.installed.isEmpty)
    }

    @Test("vrrp_script through the driver: a failing weight-0 script puts the instance in FAULT")
    func scriptFault() async throws {
        let t = FakeVRRPTransport()
        let s = FakeScriptRunner()
        s.set("/chk", succeeds: false)
        let m = FakeInterfaceMonitor(up: ["eth0": true], addresses: ["eth0": ip("192.168.0.1")])
        let c = config { $0.trackScripts = [TrackedScript("chk")] }
        let svc = VRRPService(
            instances: [c], scripts: [VRRPScriptConfig(name: "chk", script: "/chk", interval: .milliseconds(50))],
            adapters: adapters(t, FakeVIPInstaller(), FakeGARPSender(), m, s, LogLines()), executor: vt.executor)
        let task = Task(executorPreference: vt.executor) { try await svc.run() }
        let fault = await vt.run(limit: .seconds(2)) { await svc.states["VI_1"] == .fault }
        #expect(fault)
        s.set("/chk", succeeds: true)
        let back = await vt.run(limit: .seconds(2)) { await svc.states["VI_1"] == .backup }
        #expect(back)
        m.set("eth0", up: false)
        let f2 = await vt.run(limit: .seconds(2)) { await svc.states["VI_1"] == .fault }
        #expect(f2)
        task.cancel()
        _ = try? await task.value
    }

    @Test("a refused configuration makes run() throw the error")
    func refused() async {
        let c = config { $0.authentication = .ah("x") }
        let m = FakeInterfaceMonitor(up: [:], addresses: ["eth0": ip("192.168.0.1")])
        let svc = VRRPService(
            instances: [c],
            adapters: adapters(
                FakeVRRPTransport(), FakeVIPInstaller(), FakeGARPSender(), m, FakeScriptRunner(), LogLines()),
            executor: vt.executor)
        await #expect(throws: VRRPError.self) { try await svc.run() }
    }
}

@Suite("ProcessScriptRunner (real child processes)")
struct ScriptRunnerTests {
    let r = ProcessScriptRunner()

    @Test("exit 0 is success, exit 1 failure, a missing program 127; PATH lookup for bare names")
    func exits() async {
        #expect(await r.run(["true"], timeout: .seconds(5), user: nil, group: nil).succeeded)
        let f = await r.run(["/bin/sh", "-c", "exit 3"], timeout: .seconds(5), user: nil, group: nil)
        #expect(f.exitStatus == 3 && !f.succeeded)
        #expect(await r.run(["/nonexistent/x"], timeout: .seconds(5), user: nil, group: nil).exitStatus == 127)
    }

    @Test("keepalived: a script that outlives its timeout is killed (process group) and counts as a failure")
    func timeout() async {
        let start = ContinuousClock.now
        let o = await r.run(["/bin/sh", "-c", "sleep 60; exit 0"], timeout: .milliseconds(200), user: nil, group: nil)
        #expect(o.timedOut && !o.succeeded && o.signal == SIGKILL)
        // Killed, not waited for: far sooner than the script's 60 s, however busy the machine.
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("a cancelled caller (a script loop stopped by a reload) kills its script at once, not as a timeout")
    func cancelled() async {
        let start = ContinuousClock.now
        let task = Task {
            await r.run(["/bin/sh", "-c", "sleep 60; exit 0"], timeout: .seconds(50), user: nil, group: nil)
        }
        try? await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let o = await task.value
        #expect(!o.timedOut && !o.succeeded && o.signal == SIGKILL)
        // Killed on cancellation, far sooner than the 50 s timeout however busy the machine.
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("vrrp_script user: the script runs as that user", .enabled(if: isRoot))
    func user() async {
        let o = await r.run(
            ["/bin/sh", "-c", "test \"$(id -un)\" = nobody"], timeout: .seconds(5), user: "nobody", group: nil)
        #expect(o.succeeded)
        #expect(await r.run(["true"], timeout: .seconds(5), user: "no-such-user-xyz", group: nil).exitStatus == 126)
    }

    @Test("notify arguments reach the script: INSTANCE VI_1 MASTER 100 appended to its own")
    func notifyArgs() async throws {
        let out = NSTemporaryDirectory() + "lvsvrrp-notify-\(getpid())"
        let inv = VRRPNotifyInvocation(
            kind: .generic, command: "/bin/sh -c 'echo \"$*\" > \(out)' notify",
            arguments: ["INSTANCE", "VI_1", "MASTER", "100"])
        #expect(await r.run(inv.argv, timeout: .seconds(5), user: nil, group: nil).succeeded)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text == "INSTANCE VI_1 MASTER 100\n")
        try? FileManager.default.removeItem(atPath: out)
    }
}
