// lvsd against the real keepalived 2.2.7 on one bridge: each as master and as backup, v2 PASS and v3, mismatches ignored.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private let vip = "192.168.0.240"

/// A seed-003-style vrrp_instance (eth0, VIP 192.168.0.240/24).
private func instance(
    state: String, priority: Int, version: Int = 2, password: String? = "1111", vrid: Int = 55, advert: String = "1"
) -> String {
    let auth = password.map { "authentication {\n        auth_type PASS\n        auth_pass \($0)\n    }" } ?? ""
    return """
        vrrp_instance VI_1 {
            state \(state)
            interface eth0
            virtual_router_id \(vrid)
            priority \(priority)
            advert_int \(advert)
            version \(version)
            \(auth)
            virtual_ipaddress {
                192.168.0.240/24 dev eth0 label eth0:240
            }
        }

        """
}

/// Switch + lvsd's namespace (.210) + keepalived's (.211).
private func interopLab(_ name: String) throws -> (VRRPLab, String, String) {
    let lab = try VRRPLab(name)
    _ = try lab.makeSwitch()
    let ours = try lab.host("lvsd")
    let theirs = try lab.host("ka")
    try lab.attach(ours, "eth0", address: "192.168.0.210/24")
    try lab.attach(theirs, "eth0", address: "192.168.0.211/24")
    return (lab, ours, theirs)
}

private let interopSkip: String? = vrrpLabSkipReason ?? (LabKeepalived.available ? nil : "keepalived is not installed")

extension VRRPLabs {
    @Suite(
        "VRRP labs: lvsd and the real keepalived 2.2.7",
        .enabled(if: interopSkip == nil, Comment(rawValue: interopSkip ?? "")))
    struct VRRPKeepalivedInteropLabTests {
        /// lvsd master (150), keepalived backup (100): lvsd holds the VIP; kill -9 → keepalived
        /// takes it; lvsd back → preempts and keepalived releases it.
        func lvsdMaster(version: Int, password: String?, advert: String) async throws {
            let (lab, ours, theirs) = try interopLab("ka-lm-v\(version)")
            defer { lab.close() }
            let d = try LabDirector(
                lab: lab, namespace: ours, name: "lvsd",
                config: instance(state: "MASTER", priority: 150, version: version, password: password, advert: advert))
            let ka = try LabKeepalived(
                lab: lab, namespace: theirs, name: "ka",
                config: instance(state: "BACKUP", priority: 100, version: version, password: password, advert: advert))
            try await d.start()
            try await ka.start()
            #expect(await VRRPLab.waitUntil(seconds: 6) { lab.holds(ours, vip, on: "eth0") } != nil, "\(d.logText)")
            #expect(await VRRPLab.waitUntil(seconds: 6) { ka.logText.contains("(VI_1) Entering BACKUP STATE") } != nil)
            try await Task.sleep(for: .seconds(4))
            #expect(!lab.holds(theirs, vip, on: "eth0"), "keepalived: \(ka.logText)")
            await d.crash()
            let took = await VRRPLab.waitUntil(seconds: 8) { lab.holds(theirs, vip, on: "eth0") }
            #expect(took != nil, "keepalived: \(ka.logText)")
            print("[vrrp-lab] interop v\(version): kill -9 of lvsd -> keepalived holds the VIP after \(took ?? -1) s")
            try await d.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 8) {
                    lab.holds(ours, vip, on: "eth0") && !lab.holds(theirs, vip, on: "eth0")
                }
                    != nil, "lvsd: \(d.logText)\nkeepalived: \(ka.logText)")
            #expect(ka.logText.contains("Master received advert from 192.168.0.210 with higher priority 150, ours 100"))
        }

        /// keepalived master (150), lvsd backup (100): keepalived holds the VIP; SIGTERM → its
        /// priority 0 makes lvsd take over at once; keepalived back → preempts, lvsd releases.
        func keepalivedMaster(version: Int, password: String?, advert: String) async throws {
            let (lab, ours, theirs) = try interopLab("ka-km-v\(version)")
            defer { lab.close() }
            let ka = try LabKeepalived(
                lab: lab, namespace: theirs, name: "ka",
                config: instance(state: "MASTER", priority: 150, version: version, password: password, advert: advert))
            let d = try LabDirector(
                lab: lab, namespace: ours, name: "lvsd",
                config: instance(state: "BACKUP", priority: 100, version: version, password: password, advert: advert))
            try await ka.start()
            #expect(await VRRPLab.waitUntil(seconds: 6) { lab.holds(theirs, vip, on: "eth0") } != nil, "\(ka.logText)")
            try await d.start()
            try await Task.sleep(for: .seconds(4))
            #expect(!lab.holds(ours, vip, on: "eth0"), "lvsd: \(d.logText)")
            #expect(d.logText.contains("(VI_1) Entering BACKUP STATE"))
            await ka.terminate()
            let took = await VRRPLab.waitUntil(seconds: 3) { lab.holds(ours, vip, on: "eth0") }
            #expect(took != nil, "lvsd: \(d.logText)")
            #expect(d.logText.contains("(VI_1) Backup received priority 0 advertisement"))
            print(
                "[vrrp-lab] interop v\(version): SIGTERM of keepalived -> lvsd holds the VIP \(took ?? -1) s after keepalived exited"
            )
            try await ka.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 8) {
                    lab.holds(theirs, vip, on: "eth0") && !lab.holds(ours, vip, on: "eth0")
                }
                    != nil, "lvsd: \(d.logText)\nkeepalived: \(ka.logText)")
            #expect(d.logText.contains("with higher priority 150, ours 100"))
        }

        @Test("v2 auth_type PASS: lvsd master, keepalived backup; kill -9 → keepalived; lvsd back → preempts")
        func v2LvsdMaster() async throws { try await lvsdMaster(version: 2, password: "1111", advert: "1") }

        @Test(
            "v2 auth_type PASS: keepalived master, lvsd backup; SIGTERM → lvsd at once (priority 0); keepalived back → preempts"
        )
        func v2KeepalivedMaster() async throws { try await keepalivedMaster(version: 2, password: "1111", advert: "1") }

        @Test("v3 (advert_int 0.5): lvsd master, keepalived backup; kill -9 → keepalived; lvsd back → preempts")
        func v3LvsdMaster() async throws { try await lvsdMaster(version: 3, password: nil, advert: "0.5") }

        @Test("v3 (advert_int 0.5): keepalived master, lvsd backup; SIGTERM → lvsd; keepalived back → preempts")
        func v3KeepalivedMaster() async throws { try await keepalivedMaster(version: 3, password: nil, advert: "0.5") }

        @Test(
            "K:vrrp_check_packet: a wrong auth_pass is logged and the advert ignored on both sides (both become master)"
        )
        func wrongPassword() async throws {
            let (lab, ours, theirs) = try interopLab("ka-pw")
            defer { lab.close() }
            let d = try LabDirector(
                lab: lab, namespace: ours, name: "lvsd",
                config: instance(state: "BACKUP", priority: 150, password: "1111"))
            let ka = try LabKeepalived(
                lab: lab, namespace: theirs, name: "ka",
                config: instance(state: "BACKUP", priority: 100, password: "2222"))
            try await d.start()
            try await ka.start()
            let both = await VRRPLab.waitUntil(seconds: 10) {
                lab.holds(ours, vip, on: "eth0") && lab.holds(theirs, vip, on: "eth0")
            }
            #expect(both != nil, "lvsd: \(d.logText)\nkeepalived: \(ka.logText)")
            #expect(d.logText.contains("(VI_1) received an invalid passwd!"))
            #expect(ka.logText.contains("invalid passwd"), "keepalived: \(ka.logText)")
        }

        @Test("a VRID mismatch is logged by lvsd and ignored: both hold the VIP")
        func vridMismatch() async throws {
            let (lab, ours, theirs) = try interopLab("ka-vrid")
            defer { lab.close() }
            let d = try LabDirector(
                lab: lab, namespace: ours, name: "lvsd", config: instance(state: "BACKUP", priority: 150, vrid: 55))
            let ka = try LabKeepalived(
                lab: lab, namespace: theirs, name: "ka", config: instance(state: "BACKUP", priority: 100, vrid: 56))
            try await d.start()
            try await ka.start()
            let both = await VRRPLab.waitUntil(seconds: 10) {
                lab.holds(ours, vip, on: "eth0") && lab.holds(theirs, vip, on: "eth0")
            }
            #expect(both != nil, "lvsd: \(d.logText)\nkeepalived: \(ka.logText)")
            #expect(
                d.logText.contains(
                    "VRRP advert from 192.168.0.211 on eth0 for VRID 56: no instance has this VRID - ignored"))
        }
    }
}
