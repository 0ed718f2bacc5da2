// Lab: our VRRP instance against the real keepalived in a neighbouring namespace (v2 PASS, v3).
import Foundation
import LVSCore
import LVSTestSupport
import LVSVRRPLinux
import Testing

/// One interop run: our instance in namespace A, keepalived in B, joined by a veth pair.
struct InteropRun {
    let lab: LabPair
    let ka: KeepalivedPeer
    let service: VRRPService
    let task: Task<Void, Error>
    let ours: LogLines

    static func start(
        ourPriority: UInt8, ourVRID: UInt8 = 51, ourPass: String? = "secret12", version: VRRPVersion = .v2,
        kaPriority: Int, kaState: String = "BACKUP", kaVRID: Int = 51, kaPass: String? = "secret12",
        kaExtra: String = "", ipv6: Bool = false
    ) throws -> InteropRun {
        let lab = try LabPair()
        let vip = ipv6 ? "2001:db8:\(lab.net)::100/64" : "\(lab.vip)/24"
        let auth = kaPass.map { "authentication {\n  auth_type PASS\n  auth_pass \($0)\n }" } ?? ""
        let conf = """
            global_defs {
              router_id ka_\(lab.b)
              vrrp_garp_master_delay 0
            }
            vrrp_instance VI_1 {
              state \(kaState)
              interface vb
              virtual_router_id \(kaVRID)
              priority \(kaPriority)
              advert_int 1
              version \(version.rawValue)
              \(auth)
              \(kaExtra)
              virtual_ipaddress {
                \(vip)
              }
            }
            """
        if ipv6 {
            // Both sides send from their link-local address: wait until both have one.
            for _ in 0..<50 {
                let x = sh("ip -n \(lab.a) -6 addr show dev va; ip -n \(lab.b) -6 addr show dev vb").output
                if x.components(separatedBy: "fe80::").count >= 3 { break }
                usleep(100_000)
            }
        }
        let cfg = VRRPInstanceConfig(
            name: "VI_1", interface: "va", virtualRouterID: ourVRID, priority: ourPriority, initialState: .backup,
            version: version, authentication: ourPass.map { .pass($0) } ?? .none,
            virtualIPAddresses: [
                ipv6
                    ? VirtualIPAddress(IPAddress("2001:db8:\(lab.net)::100")!, prefixLength: 64)
                    : VirtualIPAddress(IPAddress(lab.vip)!, prefixLength: 24)
            ], garpMasterDelay: .zero)
        let ours = LogLines()
        // Our instance starts first: both sides begin as BACKUP, and on a loaded machine a late
        // start of ours would let keepalived's master-down timer expire first (a brief, legitimate
        // MASTER period that the election assertions below do not expect).
        let service: VRRPService
        let task: Task<Void, Error>
        do {
            let adapters = try inNamespace(lab.a) {
                try LinuxVRRPAdapters.make(for: [cfg], scripts: FakeScriptRunner(), log: { ours.append($0) })
            }
            service = VRRPService(instances: [cfg], adapters: adapters, executor: VRRPExecutor.shared)
            task = Task(executorPreference: VRRPExecutor.shared) { try await service.run() }
        } catch {
            lab.destroy()
            throw error
        }
        do {
            let ka = try KeepalivedPeer(namespace: lab.b, config: conf)
            return InteropRun(lab: lab, ka: ka, service: service, task: task, ours: ours)
        } catch {
            task.cancel()
            lab.destroy()
            throw error
        }
    }

    func stopOurs() async {
        task.cancel()
        _ = try? await task.value
    }

    func finish() async {
        await stopOurs()
        ka.stop()
        lab.destroy()
    }

    func vipOn(_ ns: String) -> Bool { sh("ip -n \(ns) -4 addr show").output.contains(lab.vip + "/24") }
}

/// How many times keepalived's log says VI_1 entered MASTER.
func masterEntries(_ log: String) -> Int { log.components(separatedBy: "(VI_1) Entering MASTER STATE").count - 1 }

/// The state keepalived's log last reports for VI_1 ("MASTER", "BACKUP", "FAULT"), or nil.
func lastState(_ log: String) -> String? {
    var last: String? = nil
    for line in log.split(separator: "\n") where line.contains("(VI_1) Entering ") {
        for s in ["MASTER", "BACKUP", "FAULT"] where line.contains("Entering \(s) STATE") { last = s }
    }
    return last
}

/// The election check for "keepalived loses": it ends in BACKUP, and if a starved start let its
/// master-down timer expire before our first advert arrived (both begin as BACKUP), it stepped
/// down on our higher-priority advert (RFC 3768 §6.4.3), as between two keepalived.
func keepalivedLost(_ log: String, to priority: Int) -> Bool {
    lastState(log) == "BACKUP"
        && (masterEntries(log) == 0 || log.contains("with higher priority \(priority)"))
}

@Suite("VRRP lab: interoperation with real keepalived 2.2.7", .serialized)
struct KeepalivedInteropTests {
    @Test(
        "RFC 3768 + PASS: we (150) and keepalived (100) elect us MASTER; our STOP priority-0 advert hands over at once",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func v2WeWin() async throws {
        let r = try InteropRun.start(ourPriority: 150, kaPriority: 100)
        let becameMaster = await waitUntil(seconds: 8) { await r.service.states["VI_1"] == .master }
        #expect(becameMaster, "our log: \(r.ours.all)")
        try? await Task.sleep(for: .seconds(2))
        #expect(r.vipOn(r.lab.a))
        #expect(!r.vipOn(r.lab.b))
        #expect(keepalivedLost(r.ka.log, to: 150), "keepalived: \(r.ka.log)")
        // Stop: priority 0 advert, keepalived takes over within about a second (skew time).
        let before = masterEntries(r.ka.log)
        await r.stopOurs()
        #expect(r.ours.contains("(VI_1) sent 0 priority"))
        #expect(!r.vipOn(r.lab.a))
        let kaTook = await waitUntil(seconds: 3) { masterEntries(r.ka.log) > before }
        #expect(kaTook, "keepalived: \(r.ka.log)")
        #expect(r.ka.log.contains("Backup received priority 0 advertisement"))
        await r.finish()
    }

    @Test(
        "RFC 3768 + PASS: keepalived (200, state MASTER) wins; we stay BACKUP and never add the VIP",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func v2KeepalivedWins() async throws {
        let r = try InteropRun.start(ourPriority: 100, kaPriority: 200, kaState: "MASTER")
        let kaMaster = await waitUntil(seconds: 6) { r.ka.log.contains("(VI_1) Entering MASTER STATE") }
        #expect(kaMaster, "keepalived: \(r.ka.log)")
        try? await Task.sleep(for: .seconds(5))
        #expect(await r.service.states["VI_1"] == .backup, "our log: \(r.ours.all)")
        #expect(lastState(r.ka.log) == "MASTER", "keepalived: \(r.ka.log)")
        #expect(!r.vipOn(r.lab.a))
        #expect(r.vipOn(r.lab.b))
        // keepalived stopping sends priority 0: we take over after the skew time.
        r.ka.stop()
        let weTook = await waitUntil(seconds: 3) { await r.service.states["VI_1"] == .master }
        #expect(weTook)
        #expect(r.ours.contains("(VI_1) Backup received priority 0 advertisement"))
        await r.finish()
    }

    @Test(
        "RFC 5798 v3 (IPv4 pseudo-header checksum): we (150) master, keepalived (100) backup, and the reverse",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func v3BothWays() async throws {
        let r = try InteropRun.start(ourPriority: 150, ourPass: nil, version: .v3, kaPriority: 100, kaPass: nil)
        let m = await waitUntil(seconds: 8) { await r.service.states["VI_1"] == .master }
        #expect(m, "our log: \(r.ours.all)")
        try? await Task.sleep(for: .seconds(2))
        #expect(keepalivedLost(r.ka.log, to: 150), "keepalived: \(r.ka.log)")
        #expect(!r.ka.log.contains("Invalid VRRPv3 checksum"))
        await r.finish()

        let r2 = try InteropRun.start(ourPriority: 100, ourPass: nil, version: .v3, kaPriority: 150, kaPass: nil)
        let km = await waitUntil(seconds: 8) { r2.ka.log.contains("(VI_1) Entering MASTER STATE") }
        #expect(km)
        try? await Task.sleep(for: .seconds(4))
        #expect(await r2.service.states["VI_1"] == .backup, "our log: \(r2.ours.all)")
        #expect(!r2.ours.contains("checksum"))
        await r2.finish()
    }

    @Test(
        "keepalived: a wrong PASS password is logged ('received an invalid passwd!') and ignored on both sides",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func wrongPassword() async throws {
        let r = try InteropRun.start(ourPriority: 150, ourPass: "wrongpw1", kaPriority: 100, kaPass: "secret12")
        let m = await waitUntil(seconds: 8) { await r.service.states["VI_1"] == .master }
        #expect(m)
        let both = await waitUntil(seconds: 6) { r.ka.log.contains("(VI_1) Entering MASTER STATE") }
        #expect(both, "keepalived ignores our adverts and becomes master too")
        #expect(r.ours.contains("(VI_1) received an invalid passwd!"))
        #expect(r.ka.log.contains("received an invalid passwd!"))
        await r.finish()
    }

    @Test(
        "A VRID mismatch is logged and ignored: both sides become MASTER",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func vridMismatch() async throws {
        let r = try InteropRun.start(ourPriority: 150, ourVRID: 51, kaPriority: 100, kaVRID: 52)
        let m = await waitUntil(seconds: 8) { await r.service.states["VI_1"] == .master }
        #expect(m)
        let both = await waitUntil(seconds: 6) { r.ka.log.contains("(VI_1) Entering MASTER STATE") }
        #expect(both)
        #expect(r.ours.contains("for VRID 52: no instance has this VRID - ignored"), "our log: \(r.ours.all)")
        await r.finish()
    }

    @Test(
        "RFC 5798 v3 over IPv6 (ff02::12, hop limit 255 via recvmsg, kernel pseudo-header checksum): both ways",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func v3IPv6() async throws {
        let r = try InteropRun.start(
            ourPriority: 150, ourPass: nil, version: .v3, kaPriority: 100, kaPass: nil, ipv6: true)
        let m = await waitUntil(seconds: 8) { await r.service.states["VI_1"] == .master }
        #expect(m, "our log: \(r.ours.all)")
        try? await Task.sleep(for: .seconds(2))
        #expect(keepalivedLost(r.ka.log, to: 150), "keepalived: \(r.ka.log) ours: \(r.ours.all)")
        #expect(sh("ip -n \(r.lab.a) -6 addr show dev va").output.contains("2001:db8:\(r.lab.net)::100/64"))
        await r.finish()

        let r2 = try InteropRun.start(
            ourPriority: 100, ourPass: nil, version: .v3, kaPriority: 150, kaPass: nil, ipv6: true)
        let km = await waitUntil(seconds: 8) { r2.ka.log.contains("(VI_1) Entering MASTER STATE") }
        #expect(km, "keepalived: \(r2.ka.log)")
        try? await Task.sleep(for: .seconds(4))
        #expect(await r2.service.states["VI_1"] == .backup, "our log: \(r2.ours.all)")
        #expect(lastState(r2.ka.log) == "MASTER", "keepalived: \(r2.ka.log)")
        await r2.finish()
    }
}
