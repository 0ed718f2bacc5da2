// Tracking (vrrp_script rise/fall, weights, track_interface) and sync groups, through VRRPNode.
import LVSCore
import LVSVRRP
import Testing

@Suite("VRRP tracking: vrrp_script, track_script, track_interface, effective priority")
struct TrackingTests {
    let chk = VRRPScriptConfig(name: "chk", script: "/usr/local/bin/chk", weight: 0)

    func node(_ c: VRRPInstanceConfig, scripts: [VRRPScriptConfig]) throws -> VRRPNode {
        try VRRPNode(instances: [c], sourceAddresses: ["VI_1": ip("192.168.0.1")], scripts: scripts)
    }

    @Test("keepalived: an instance with track_script waits in INIT until the script's first result")
    func waitsForScripts() throws {
        var n = try node(config { $0.trackScripts = [TrackedScript("chk")] }, scripts: [chk])
        _ = n.handle(.start, now: at(0))
        #expect(n.instance("VI_1")?.state == .initialize)
        let a = n.handle(.scriptResult(name: "chk", success: true), now: at(0.2))
        #expect(n.instance("VI_1")?.state == .backup)
        #expect(a.actions.logs.contains("(VI_1) Entering BACKUP STATE (init)"))
        #expect(a.actions.timer == at(0.2) + .microseconds(3_609_375))
    }

    @Test("weight 0 (default): a failing script puts the instance in FAULT; init_fail starts failed")
    func weightZeroFault() throws {
        var n = try node(config { $0.trackScripts = [TrackedScript("chk")] }, scripts: [chk])
        _ = n.handle(.start, now: at(0))
        _ = n.handle(.scriptResult(name: "chk", success: false), now: at(1))
        #expect(n.instance("VI_1")?.state == .fault)
        var f = chk
        f.initFail = true
        var m = try node(config { $0.trackScripts = [TrackedScript("chk")] }, scripts: [f])
        _ = m.handle(.start, now: at(0))
        #expect(m.instance("VI_1")?.state == .fault)
        _ = m.handle(.scriptResult(name: "chk", success: true), now: at(1))
        #expect(m.instance("VI_1")?.state == .backup)
    }

    @Test("keepalived vrrp_track.c: rise 2 / fall 3 — three failures to fail, two successes to recover")
    func riseFall() throws {
        var s = chk
        s.rise = 2
        s.fall = 3
        var n = try node(config { $0.trackScripts = [TrackedScript("chk")] }, scripts: [s])
        _ = n.handle(.start, now: at(0))
        _ = n.handle(.scriptResult(name: "chk", success: true), now: at(1))
        _ = n.handle(.scriptResult(name: "chk", success: false), now: at(2))
        _ = n.handle(.scriptResult(name: "chk", success: false), now: at(3))
        #expect(n.instance("VI_1")?.state == .backup)
        let a = n.handle(.scriptResult(name: "chk", success: false), now: at(4))
        #expect(n.instance("VI_1")?.state == .fault)
        #expect(a.actions.logs.first == "VRRP_Script(chk) failed")
        _ = n.handle(.scriptResult(name: "chk", success: true), now: at(5))
        #expect(n.instance("VI_1")?.state == .fault)
        _ = n.handle(.scriptResult(name: "chk", success: false), now: at(6))  // streak broken
        _ = n.handle(.scriptResult(name: "chk", success: true), now: at(7))
        #expect(n.instance("VI_1")?.state == .fault)
        let b = n.handle(.scriptResult(name: "chk", success: true), now: at(8))
        #expect(n.instance("VI_1")?.state == .backup)
        #expect(b.actions.logs.first == "VRRP_Script(chk) succeeded")
    }

    @Test(
        "weights: script +10 while OK, track_script override −30 while failing, reverse flips, owner 255 ignores weights"
    )
    func weights() throws {
        let up = VRRPScriptConfig(name: "up", script: "/up", weight: 10)
        let down = VRRPScriptConfig(name: "down", script: "/down", weight: 5)
        var n = try node(
            config { $0.trackScripts = [TrackedScript("up"), TrackedScript("down", weight: -30)] }, scripts: [up, down])
        _ = n.handle(.start, now: at(0))
        _ = n.handle(.scriptResult(name: "up", success: true), now: at(0))
        _ = n.handle(.scriptResult(name: "down", success: true), now: at(0))
        #expect(n.instance("VI_1")?.effectivePriority == 110)
        let a = n.handle(.scriptResult(name: "down", success: false), now: at(1))
        #expect(n.instance("VI_1")?.effectivePriority == 80)
        #expect(a.actions.logs.contains("(VI_1) Changing effective priority from 110 to 80"))
        _ = n.handle(.scriptResult(name: "up", success: false), now: at(2))
        #expect(n.instance("VI_1")?.effectivePriority == 70)
        // reverse: weight applies when the script fails.
        var r = try node(config { $0.trackScripts = [TrackedScript("up", weight: 10, reverse: true)] }, scripts: [up])
        _ = r.handle(.start, now: at(0))
        _ = r.handle(.scriptResult(name: "up", success: false), now: at(0))
        #expect(r.instance("VI_1")?.effectivePriority == 110)
        // owner ignores weights.
        var o = try node(
            config(priority: 255, state: .master) { $0.trackScripts = [TrackedScript("up")] }, scripts: [up])
        _ = o.handle(.start, now: at(0))
        _ = o.handle(.scriptResult(name: "up", success: true), now: at(0))
        #expect(o.instance("VI_1")?.effectivePriority == 255)
    }

    @Test("keepalived: effective priority is clamped to 1..254")
    func clamp() throws {
        let big = VRRPScriptConfig(name: "big", script: "/b", weight: 200)
        let neg = VRRPScriptConfig(name: "neg", script: "/n", weight: -253)
        var n = try node(config(priority: 200) { $0.trackScripts = [TrackedScript("big")] }, scripts: [big])
        _ = n.handle(.start, now: at(0))
        _ = n.handle(.scriptResult(name: "big", success: true), now: at(0))
        #expect(n.instance("VI_1")?.effectivePriority == 254)
        var m = try node(config(priority: 10) { $0.trackScripts = [TrackedScript("neg")] }, scripts: [neg])
        _ = m.handle(.start, now: at(0))
        _ = m.handle(.scriptResult(name: "neg", success: false), now: at(0))
        #expect(m.instance("VI_1")?.effectivePriority == 1)
    }

    @Test("track_interface weight −20: link down lowers the priority (no FAULT); weight 0 link down means FAULT")
    func trackInterface() throws {
        var n = try node(
            config { $0.trackInterfaces = [TrackedInterface("eth1", weight: -20), TrackedInterface("eth2")] },
            scripts: [])
        _ = n.handle(.start, now: at(0))
        _ = n.handle(.interfaceState(name: "eth1", up: false), now: at(1))
        #expect(n.instance("VI_1")?.effectivePriority == 80 && n.instance("VI_1")?.state == .backup)
        _ = n.handle(.interfaceState(name: "eth2", up: false), now: at(2))
        #expect(n.instance("VI_1")?.state == .fault)
    }

    @Test("a backup whose priority rises above the master's preempts at the next (now lower) advert")
    func weightPreempts() throws {
        let up = VRRPScriptConfig(name: "up", script: "/up", weight: 60)
        let c = config { $0.trackScripts = [TrackedScript("up")] }
        var n = try node(c, scripts: [up])
        _ = n.handle(.start, now: at(0))
        _ = n.handle(.scriptResult(name: "up", success: false), now: at(0))
        _ = n.handle(.packet(advertPacket(for: c, priority: 150)), now: at(1))
        _ = n.handle(.scriptResult(name: "up", success: true), now: at(1.5))
        let a = n.handle(.packet(advertPacket(for: c, priority: 150)), now: at(2))
        #expect(a.actions.logs.first == "(VI_1) received lower priority (150) advert from 192.168.0.2 - discarding")
        _ = n.handle(.timer, now: at(1) + .microseconds(3_609_375))
        #expect(n.instance("VI_1")?.state == .master)
    }
}

@Suite("VRRP node: dispatch, sync groups, configuration checks")
struct NodeTests {
    @Test("packets go to the instance with their VRID; an unknown VRID is logged once a minute and ignored")
    func dispatch() throws {
        let a = config("VI_A")
        let b = config("VI_B") { $0.virtualRouterID = 52 }
        var n = try VRRPNode(
            instances: [a, b], sourceAddresses: ["VI_A": ip("192.168.0.1"), "VI_B": ip("192.168.0.1")])
        _ = n.handle(.start, now: at(0))
        let r = n.handle(.packet(advertPacket(for: b, priority: 200)), now: at(1))
        #expect(r.last?.instance == "VI_A")  // VI_B's timer moved past VI_A's
        #expect(n.instance("VI_B")?.masterPriority == 200 && n.instance("VI_A")?.masterPriority == nil)
        var other = a
        other.virtualRouterID = 99
        let u = n.handle(.packet(advertPacket(for: other, priority: 100)), now: at(2))
        #expect(u.actions.logs == ["VRRP advert from 192.168.0.2 for VRID 99: no instance has this VRID - ignored"])
        #expect(n.handle(.packet(advertPacket(for: other, priority: 100)), now: at(3)).actions.logs.isEmpty)
        #expect(n.handle(.packet(advertPacket(for: other, priority: 100)), now: at(63)).actions.logs.count == 1)
    }

    func groupNode() throws -> VRRPNode {
        let a = config("VI_A")
        let b = config("VI_B") {
            $0.virtualRouterID = 52
            $0.interface = "eth1"
            $0.virtualIPAddresses = [VirtualIPAddress(ip("10.0.0.100"))]
        }
        let g = VRRPSyncGroupConfig(
            name: "G1", instances: ["VI_A", "VI_B"], notify: VRRPNotifyScripts(master: "/gm", generic: "/gn"))
        return try VRRPNode(
            instances: [a, b], sourceAddresses: ["VI_A": ip("192.168.0.1"), "VI_B": ip("10.0.0.1")], syncGroups: [g])
    }

    @Test("vrrp_sync_group: one member entering FAULT takes the other to FAULT; recovery brings both to BACKUP")
    func syncFault() throws {
        var n = try groupNode()
        _ = n.handle(.start, now: at(0))
        #expect(n.groupStates["G1"] == .backup)
        _ = n.handle(.interfaceState(name: "eth1", up: false), now: at(1))
        #expect(n.instance("VI_A")?.state == .fault && n.instance("VI_B")?.state == .fault)
        #expect(n.groupStates["G1"] == .fault)
        _ = n.handle(.interfaceState(name: "eth1", up: true), now: at(2))
        #expect(n.instance("VI_A")?.state == .backup && n.instance("VI_B")?.state == .backup)
    }

    @Test("vrrp_sync_group: one member becoming MASTER takes the other; group notifies get 'GROUP G1 MASTER 0'")
    func syncMaster() throws {
        var n = try groupNode()
        _ = n.handle(.start, now: at(0))
        // Keep VI_B's master alive, let VI_A's timer expire.
        let b = n.instance("VI_B")!.config
        _ = n.handle(.packet(advertPacket(for: b, priority: 200, from: "10.0.0.2")), now: at(3))
        let r = n.handle(.timer, now: at(0) + .microseconds(3_609_375))
        #expect(n.instance("VI_A")?.state == .master && n.instance("VI_B")?.state == .master)
        #expect(n.groupStates["G1"] == .master)
        let notes = r.actions.notifies
        #expect(notes.contains(VRRPNotifyInvocation(kind: .master, command: "/gm")))
        #expect(
            notes.contains(
                VRRPNotifyInvocation(kind: .generic, command: "/gn", arguments: ["GROUP", "G1", "MASTER", "0"])))
        // A higher-priority advert on VI_B sends both back to BACKUP.
        _ = n.handle(.packet(advertPacket(for: b, priority: 200, from: "10.0.0.2")), now: at(5))
        #expect(n.instance("VI_A")?.state == .backup && n.instance("VI_B")?.state == .backup)
        #expect(n.groupStates["G1"] == .backup)
    }

    @Test(
        "configuration: v2 with IPv6, fractional v2 advert_int, v3 without VIPs, unknown track_script and group member are refused"
    )
    func validation() {
        let src = ["VI_1": ip("192.168.0.1")]
        let v6 = config(version: .v2) { $0.virtualIPAddresses = [VirtualIPAddress(ip("2001:db8::1"))] }
        #expect(throws: VRRPError.self) { try VRRPNode(instances: [v6], sourceAddresses: src) }
        let frac = config { $0.advertInterval = .milliseconds(1500) }
        #expect(throws: VRRPError.self) { try VRRPNode(instances: [frac], sourceAddresses: src) }
        let v3 = config(version: .v3) { $0.virtualIPAddresses = [] }
        #expect(throws: VRRPError.self) { try VRRPNode(instances: [v3], sourceAddresses: src) }
        let ts = config { $0.trackScripts = [TrackedScript("nope")] }
        #expect(throws: VRRPError.self) { try VRRPNode(instances: [ts], sourceAddresses: src) }
        #expect(throws: VRRPError.self) {
            try VRRPNode(
                instances: [config()], sourceAddresses: src,
                syncGroups: [VRRPSyncGroupConfig(name: "G", instances: ["VI_1", "VI_X"])])
        }
        let fine = config(version: .v3) { $0.advertInterval = .milliseconds(250) }
        #expect(throws: Never.self) { try VRRPNode(instances: [fine], sourceAddresses: src) }
    }

    @Test("notify scripts are split like a shell word list: quotes group, backslash escapes")
    func split() {
        #expect(
            ScriptCommand.split("/bin/notify.sh  a 'b c' \"d e\" f\\ g") == [
                "/bin/notify.sh", "a", "b c", "d e", "f g",
            ])
        #expect(ScriptCommand.split("") == [])
        #expect(ScriptCommand.split("x ''") == ["x", ""])
    }
}
