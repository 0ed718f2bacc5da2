// Connection sync between two lvsd directors (keepalived.conf lvs_sync_daemon): long downloads survive
// failover and failback, persistent clients keep their real server.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A download running in a namespace on a thread of its own.
final class Download: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private(set) var output = ""
    private(set) var status: Int32 = -1

    init(lab: VRRPLab, namespace: String, url: String, rate: String) {
        let cmd = "curl -s -o /dev/null -w '%{http_code} %{size_download}' --limit-rate \(rate) -m 120 \(url)"
        Thread { [self] in
            let r = try? lab.sh(namespace, cmd)
            output = r?.output ?? ""
            status = r?.status ?? -1
            done.signal()
        }.start()
    }

    /// Waits for curl to end (async-friendly polling); true when it ended.
    func wait(seconds: Double) async -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if done.wait(timeout: .now()) == .success {
                done.signal()
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

/// The DR lab of seed 003 (DataPathLab), with lvs_sync_daemon and persistence, and a large file.
private func syncConfig(master: Bool, extra: String = "") -> String {
    DataPathLab.config(master: master)
        .replacingOccurrences(
            of: "   router_id LVS0",
            with: "   lvs_sync_daemon eth0 VI_1\n   lvs_sync_daemon_bulk_wait 3\n\(extra)   router_id LVS0"
        )
        .replacingOccurrences(of: "#    persistence_timeout 50", with: "    persistence_timeout 50")
}

private let fileSize = 24 << 20
private func note(_ s: String) { print("[sync-lab] \(s)") }

extension VRRPLabs {
    @Suite(
        "Sync labs: two lvsd directors with lvs_sync_daemon (DR, nginx real servers)",
        .enabled(if: vrrpLabSkipReason == nil, Comment(rawValue: vrrpLabSkipReason ?? "")))
    struct SyncLabTests {
        @Test(
            "DR: a long download through the master completes when the master leaves the network; one started on the backup completes when the master returns and preempts (after the bulk resync); the persistent client keeps its real server throughout"
        )
        func drFailoverAndFailback() async throws {
            let l = try await DataPathLab("sync-dr")
            defer { l.lab.close() }
            for web in ["web01", "web02"] {
                let dir = l.lab.directory + "/nginx-\(web)/html"
                #expect(try l.lab.sh(l.client, "head -c \(fileSize) /dev/zero > \(dir)/big.bin").status == 0)
                // The real servers send at 16 Mbit/s: a download lasts ~12 s (curl's --limit-rate
                // would not slow the server: the client's kernel keeps acknowledging).
                try l.lab.ip(l.lab.prefix + "-" + web, "link set eth0 txqueuelen 1000")
                let tc = try l.lab.sh(
                    l.lab.prefix + "-" + web, "tc qdisc add dev eth0 root tbf rate 16mbit burst 32kb latency 400ms")
                #expect(tc.status == 0, "\(tc.output)")
            }
            let master = try LabDirector(lab: l.lab, namespace: l.d1, name: "lvs01", config: syncConfig(master: true))
            let backup = try LabDirector(lab: l.lab, namespace: l.d2, name: "lvs02", config: syncConfig(master: false))
            try await master.start()
            try await backup.start()
            #expect(await VRRPLab.waitUntil(seconds: 6) { l.lab.holds(l.d1, DataPathLab.vip, on: "eth0") } != nil)
            // keepalived's rule: MASTER runs the master daemon, BACKUP the backup daemon.
            let daemons = await VRRPLab.waitUntil(seconds: 6) {
                (try? master.ipvsadm("-L --daemon").output)
                    == "master sync daemon (mcast=eth0, syncid=55, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
                    && (try? backup.ipvsadm("-L --daemon").output)
                        == "backup sync daemon (mcast=eth0, syncid=55, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
            }
            let listed = (try master.ipvsadm("-L --daemon").output) + (try backup.ipvsadm("-L --daemon").output)
            #expect(daemons != nil, "\(listed)")
            try await Task.sleep(for: .seconds(1))
            let url = "http://\(DataPathLab.vip)"
            // The persistent client's real server.
            let home = l.lab.curl(l.client, url + "/")
            #expect(home != nil, "\(master.logText)")

            // 1. A download through the master; the master leaves the network in the middle of it.
            let first = Download(lab: l.lab, namespace: l.client, url: url + "/big.bin", rate: "100M")
            try await Task.sleep(for: .seconds(3))
            let known = try backup.ipvsadm("-Lnc").output
            #expect(known.contains("ESTABLISHED"), "the backup knows the download: \(known)")
            try l.lab.ip(l.d1, "link set eth0 down")
            #expect(await VRRPLab.waitUntil(seconds: 8) { l.lab.holds(l.d2, DataPathLab.vip, on: "eth0") } != nil)
            let switched = await VRRPLab.waitUntil(seconds: 4) {
                (try? backup.ipvsadm("-L --daemon").output)?.hasPrefix("master sync daemon") == true
            }
            #expect(switched != nil, "the new MASTER runs the master daemon")
            let afterFailover = l.lab.curl(l.client, url + "/", timeout: 5)
            #expect(afterFailover == home, "persistent client after failover")

            // 2. A download through the new master; the old one returns and preempts meanwhile.
            let second = Download(lab: l.lab, namespace: l.client, url: url + "/big.bin", rate: "100M")
            try await Task.sleep(for: .seconds(2))
            try l.lab.ip(l.d1, "link set eth0 up")
            let took = await VRRPLab.waitUntil(seconds: 15) {
                l.lab.holds(l.d1, DataPathLab.vip, on: "eth0") && !l.lab.holds(l.d2, DataPathLab.vip, on: "eth0")
            }
            #expect(took != nil, "\(master.logText)")
            note("the returning master took the VIP back \(took ?? -1) s after its link came up")
            #expect(master.logText.contains("bulk resync done"), "\(master.logText)")
            #expect(master.logText.contains("preemption held for connection sync"))
            #expect(await first.wait(seconds: 60))
            #expect(first.output == "200 \(fileSize)", "first download: \(first.output)\n\(backup.logText)")
            note("download across failover: \(first.output)")
            #expect(await second.wait(seconds: 60))
            #expect(second.output == "200 \(fileSize)", "second download: \(second.output)\n\(master.logText)")
            note("download across failback: \(second.output)")
            let afterFailback = l.lab.curl(l.client, url + "/", timeout: 5)
            #expect(afterFailback == home, "persistent client after failback")
            #expect(await master.terminate() == 0)
            #expect(await backup.terminate() == 0)
        }
    }
}
