// Seed 001's "LVS and real server on the same two boxes": curl through the VIP reaches both boxes' own nginx.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Seed 001 (supermarket case study, lines 225–350), addresses as in the seed:
///
/// ```
///  switch ──┬── A  192.168.0.236  lvsd (VI_1 MASTER 100) + nginx :8898 "A nginx", realserver.sh (VIP on lo:0)
///           ├── B  192.168.0.238  lvsd (VI_1 BACKUP 99)  + nginx :8898 "B nginx", realserver.sh (VIP on lo:0)
///           └── client 192.168.0.200…205 (six sources: persistence_timeout 50 pins each to one box)
///  VIP 192.168.0.239:8898, DR, rr, real servers .236 and .238 (both directors themselves)
/// ```
/// The master schedules every connection (`ipvsadm -Lnc` on A): those for .236 go to A's own
/// stack (local real server), those for .238 are DR-forwarded to B, whose lvsd (BACKUP) leaves
/// them to its stack instead of scheduling them again (the loop the seed reports).
final class Seed001Lab {
    let lab: VRRPLab
    let a: String
    let b: String
    let client: String
    static let vip = "192.168.0.239"
    static let url = "http://192.168.0.239:8898/"
    static let sources = (200...205).map { "192.168.0.\($0)" }

    init(_ tag: String) async throws {
        lab = try VRRPLab(tag)
        do {
            _ = try lab.makeSwitch()
            a = try lab.host("A")
            b = try lab.host("B")
            client = try lab.host("client")
            try lab.attach(a, "eth0", address: "192.168.0.236/24")
            try lab.attach(b, "eth0", address: "192.168.0.238/24")
            try lab.attach(client, "eth0", address: Self.sources[0] + "/24")
            for s in Self.sources.dropFirst() { try lab.ip(client, "addr add \(s)/24 dev eth0") }
            for (ns, body, name) in [(a, "A nginx", "nginxA"), (b, "B nginx", "nginxB")] {
                // realserver.sh start: `lvs-realserver start VIP` (VIP on lo:0 /32, arp_ignore/arp_announce).
                let r = try lab.sh(ns, "\(VRRPLab.binary("lvs-realserver")) start \(Self.vip)")
                guard r.status == 0 else { throw LabFailure("lvs-realserver in \(ns): \(r.output)") }
                _ = try await lab.startNginx(ns, name: name, body: body, ports: [8898])
            }
        } catch {
            lab.close()
            throw error
        }
    }

    /// The seed's keepalived.conf for A, or for B with the seed's own edits (BACKUP, priority 99).
    static func config(master: Bool) -> String {
        master
            ? SeedConfigs.seed001
            : SeedConfigs.seed001.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 100", with: "priority 99")
    }

    /// One curl per client source address: the bodies (nil where it failed).
    func curlAll(timeout: Double = 2) -> [String?] {
        Self.sources.map { s in
            guard let r = try? lab.sh(client, "curl -s -m \(timeout) --interface \(s) \(Self.url)"), r.status == 0
            else { return nil }
            return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// How many answers came from each nginx.
    static func tally(_ bodies: [String?]) -> [String: Int] {
        var t: [String: Int] = [:]
        for b in bodies { t[b ?? "(failed)", default: 0] += 1 }
        return t
    }

    /// The guard's rules in `ns` (`nft list table netdev swiftlvs`).
    func guardRules(_ ns: String) -> String {
        guard let r = try? lab.sh(ns, "nft list table netdev swiftlvs"), r.status == 0 else { return "" }
        return r.output
    }
}

extension VRRPLabs {
    @Suite(
        "Seed 001 lab: LVS and real server on the same two boxes (local real server, VRRP backup as real server)",
        .enabled(
            if: vrrpLabSkipReason == nil && VRRPLab.tool("nginx") != nil && VRRPLab.tool("curl") != nil
                && VRRPLab.tool("nft") != nil
                && FileManager.default.isExecutableFile(atPath: VRRPLab.binary("lvs-realserver")),
            Comment(rawValue: vrrpLabSkipReason ?? "needs nginx, curl and nft")))
    struct Seed001LabTests {
        @Test(
            "seed 001 as written on both boxes: curl VIP:8898 reaches A's and B's own nginx through the master (-Lnc on A), B never reschedules; kill -9 of A's lvsd → B intercepts and serves; SIGTERM → B schedules to both boxes"
        )
        func sameTwoBoxes() async throws {
            let l = try await Seed001Lab("seed001dp")
            defer { l.lab.close() }
            let dirA = try LabDirector(lab: l.lab, namespace: l.a, name: "A", config: Seed001Lab.config(master: true))
            let dirB = try LabDirector(lab: l.lab, namespace: l.b, name: "B", config: Seed001Lab.config(master: false))
            try await dirA.start()
            try await dirB.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { l.lab.holds(l.a, Seed001Lab.vip, on: "eth0") } != nil)
            #expect(
                await VRRPLab.waitUntil(seconds: 5) {
                    dirA.logText.contains("VRRP address 192.168.0.239 owned (instance MASTER)")
                } != nil, "\(dirA.logText)")
            #expect(!l.lab.holds(l.b, Seed001Lab.vip, on: "eth0"))
            #expect(dirB.logText.contains("VRRP address 192.168.0.239 not owned (instance not MASTER)"))

            // Through the master: six clients, twice each (persistence: the same box both times).
            let first = l.curlAll()
            let second = l.curlAll()
            print("[seed001-lab] through A (master): \(Seed001Lab.tally(first + second))")
            #expect(first.allSatisfy { $0 != nil }, "\(first)\n\(dirA.logText)\n\(dirB.logText)")
            #expect(first == second, "persistence_timeout 50 keeps each client on one box")
            // rr over six new clients: three to each box.
            #expect(Seed001Lab.tally(first) == ["A nginx": 3, "B nginx": 3], "\(first)")
            let lnc = try dirA.ipvsadm("-Lnc").output
            #expect(lnc.contains("192.168.0.239:8898 192.168.0.236:8898"), "\(lnc)")
            #expect(lnc.contains("192.168.0.239:8898 192.168.0.238:8898"), "\(lnc)")
            #expect(inPackets(try dirA.ipvsadm("-Ln --stats").output) > 0)
            // B (BACKUP) left what A forwarded to its own stack: it scheduled nothing.
            #expect(inPackets(try dirB.ipvsadm("-Ln --stats").output) == 0)
            #expect(l.guardRules(l.a).contains("192.168.0.239 . tcp . 8898"))
            #expect(!l.guardRules(l.b).contains("192.168.0.239 . tcp . 8898"), "\(l.guardRules(l.b))")

            // kill -9 of A's lvsd: the kernel removes A's guard with its socket at once, so until B takes
            // over, A's own stack answers for the VIP (A's nginx); then B becomes MASTER, sends
            // its gratuitous ARP and intercepts (its guard gains the drop rule).
            let t0 = Date()
            await dirA.crash()
            let macB = l.lab.mac(l.b, "eth0")
            let tookOver = await VRRPLab.waitUntil(seconds: 10) {
                l.lab.holds(l.b, Seed001Lab.vip, on: "eth0") && l.lab.neighbour(l.client, Seed001Lab.vip) == macB
            }
            #expect(tookOver != nil, "\(dirB.logText)")
            print(
                "[seed001-lab] kill -9 of A's lvsd -> VIP and client ARP entry on B after \(Date().timeIntervalSince(t0)) s"
            )
            #expect(dirB.logText.contains("VRRP address 192.168.0.239 owned (instance MASTER)"))
            #expect(l.guardRules(l.b).contains("192.168.0.239 . tcp . 8898"))
            #expect(l.guardRules(l.a).isEmpty, "\(l.guardRules(l.a))")
            let afterCrash = l.curlAll(timeout: 1)
            print("[seed001-lab] through B after kill -9 of A's lvsd: \(Seed001Lab.tally(afterCrash))")
            #expect(afterCrash.allSatisfy { $0 != nil }, "\(afterCrash)\n\(dirB.logText)")
            #expect(Set(afterCrash.compactMap { $0 }) == ["A nginx", "B nginx"], "\(afterCrash)")
            let lncAfterCrash = try dirB.ipvsadm("-Lnc").output
            #expect(lncAfterCrash.contains("192.168.0.239:8898 192.168.0.238:8898"), "\(lncAfterCrash)")
            #expect(lncAfterCrash.contains("192.168.0.239:8898 192.168.0.236:8898"), "\(lncAfterCrash)")

            // A's lvsd restarted (as a service manager would): it installs its guard again and
            // preempts (priority 100 > 99); B goes back to serving as a real server.
            try await dirA.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 10) {
                    l.lab.holds(l.a, Seed001Lab.vip, on: "eth0") && !l.lab.holds(l.b, Seed001Lab.vip, on: "eth0")
                        && !l.guardRules(l.b).contains("192.168.0.239 . tcp . 8898")
                } != nil, "\(dirA.logText)")
            try await Task.sleep(for: .milliseconds(500))
            let again = l.curlAll()
            print("[seed001-lab] through A again: \(Seed001Lab.tally(again))")
            #expect(Seed001Lab.tally(again) == ["A nginx": 3, "B nginx": 3], "\(again)")

            // SIGTERM: A's lvsd removes its VIP and guard; A is a plain real server, B schedules to both.
            #expect(await dirA.terminate() == 0)
            // Until B's gratuitous ARP the client still reaches A directly (now a plain real
            // server): wait for the client's ARP entry to move to B.
            let moved = await VRRPLab.waitUntil(seconds: 5) {
                l.lab.holds(l.b, Seed001Lab.vip, on: "eth0") && l.lab.neighbour(l.client, Seed001Lab.vip) == macB
            }
            #expect(moved != nil, "\(dirB.logText)")
            print("[seed001-lab] SIGTERM of A's lvsd -> VIP and client ARP entry on B after \(moved ?? -1) s")
            #expect(l.guardRules(l.a).isEmpty)
            let throughB = l.curlAll()
            print("[seed001-lab] through B after SIGTERM of A: \(Seed001Lab.tally(throughB))")
            #expect(throughB.allSatisfy { $0 != nil }, "\(throughB)\n\(dirB.logText)")
            #expect(Set(throughB.compactMap { $0 }) == ["A nginx", "B nginx"], "\(throughB)")
            let lncB = try dirB.ipvsadm("-Lnc").output
            #expect(lncB.contains("192.168.0.239:8898 192.168.0.236:8898"), "\(lncB)")
        }
    }
}
