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

/// Two-NIC NAT directors: the VIP outside, a VRRP gateway address inside for the real servers.
///
/// ```
///  outer br0: client 192.168.0.220 ── lvs01 eth0 .210 / lvs02 eth0 .211      VIP 192.168.0.240
///  inner br1: web01 10.0.1.11, web02 10.0.1.12 ── lvs01 eth1 10.0.1.2 / lvs02 eth1 10.0.1.3
///             gateway 10.0.1.254 (VRRP, the same instance)
/// ```
private func natConfig(master: Bool) -> String {
    """
    global_defs {
       router_id \(master ? "LVS01" : "LVS02")
       lvs_sync_daemon eth0 VI_1
       lvs_sync_daemon_bulk_wait 3
    }
    vrrp_instance VI_1 {
        state \(master ? "MASTER" : "BACKUP")
        interface eth0
        virtual_router_id 56
        priority \(master ? 150 : 100)
        advert_int 1
        virtual_ipaddress {
            192.168.0.240/24 dev eth0
            10.0.1.254/24 dev eth1
        }
    }
    virtual_server 192.168.0.240 80 {
        delay_loop 6
        lb_algo rr
        lb_kind NAT
        persistence_timeout 50
        protocol TCP
        real_server 10.0.1.11 80 {
            weight 1
            TCP_CHECK { connect_timeout 3 }
        }
        real_server 10.0.1.12 80 {
            weight 1
            TCP_CHECK { connect_timeout 3 }
        }
    }

    """
}

extension VRRPLabs.SyncLabTests {
    @Test(
        "NAT (two-NIC directors, VRRP gateway inside): a long download survives failover and failback; the persistent client keeps its real server"
    )
    func natFailoverAndFailback() async throws {
        let lab = try VRRPLab("sync-nat")
        defer { lab.close() }
        let sw = try lab.makeSwitch()
        try lab.ip(sw, "link add br1 type bridge")
        try lab.ip(sw, "link set br1 up")
        var port = 0
        func inner(_ ns: String, _ address: String) throws {
            port += 1
            try lab.ip(ns, "link add eth1 type veth peer name q\(port) netns \(sw)")
            try lab.ip(sw, "link set q\(port) master br1")
            try lab.ip(sw, "link set q\(port) up")
            try lab.ip(ns, "addr add \(address)/24 dev eth1")
            try lab.ip(ns, "link set eth1 up")
        }
        let d1 = try lab.host("lvs01")
        let d2 = try lab.host("lvs02")
        let client = try lab.host("client")
        try lab.attach(d1, "eth0", address: "192.168.0.210/24")
        try lab.attach(d2, "eth0", address: "192.168.0.211/24")
        try lab.attach(client, "eth0", address: "192.168.0.220/24")
        try inner(d1, "10.0.1.2")
        try inner(d2, "10.0.1.3")
        for (name, address) in [("web01", "10.0.1.11"), ("web02", "10.0.1.12")] {
            let ns = try lab.host(name)
            try inner(ns, address)
            try lab.ip(ns, "route add default via 10.0.1.254")
            _ = try await lab.startNginx(ns, name: name, body: "\(name) nat")
            let dir = lab.directory + "/nginx-\(name)/html"
            #expect(try lab.sh(ns, "head -c \(fileSize) /dev/zero > \(dir)/big.bin").status == 0)
            #expect(try lab.sh(ns, "tc qdisc add dev eth1 root tbf rate 16mbit burst 32kb latency 400ms").status == 0)
        }
        let master = try LabDirector(lab: lab, namespace: d1, name: "lvs01", config: natConfig(master: true))
        let backup = try LabDirector(lab: lab, namespace: d2, name: "lvs02", config: natConfig(master: false))
        try await master.start()
        try await backup.start()
        #expect(await VRRPLab.waitUntil(seconds: 6) { lab.holds(d1, "10.0.1.254", on: "eth1") } != nil)
        try await Task.sleep(for: .seconds(4))
        let url = "http://192.168.0.240"
        let home = lab.curl(client, url + "/", timeout: 3)
        #expect(home == "web01 nat" || home == "web02 nat", "\(master.logText)")

        let first = Download(lab: lab, namespace: client, url: url + "/big.bin", rate: "100M")
        try await Task.sleep(for: .seconds(3))
        try lab.ip(d1, "link set eth0 down")
        try lab.ip(d1, "link set eth1 down")
        #expect(await VRRPLab.waitUntil(seconds: 8) { lab.holds(d2, "10.0.1.254", on: "eth1") } != nil)
        let afterFailover = lab.curl(client, url + "/", timeout: 5)
        #expect(afterFailover == home, "persistent client after failover")
        let second = Download(lab: lab, namespace: client, url: url + "/big.bin", rate: "100M")
        try await Task.sleep(for: .seconds(2))
        try lab.ip(d1, "link set eth1 up")
        try lab.ip(d1, "link set eth0 up")
        let took = await VRRPLab.waitUntil(seconds: 15) {
            lab.holds(d1, "10.0.1.254", on: "eth1") && !lab.holds(d2, "10.0.1.254", on: "eth1")
        }
        #expect(took != nil, "\(master.logText)")
        #expect(await first.wait(seconds: 60))
        #expect(first.output == "200 \(fileSize)", "NAT, first download: \(first.output)\n\(backup.logText)")
        #expect(await second.wait(seconds: 60))
        #expect(second.output == "200 \(fileSize)", "NAT, second download: \(second.output)\n\(master.logText)")
        note("NAT: downloads across failover \(first.output), across failback \(second.output)")
        let afterFailback = lab.curl(client, url + "/", timeout: 5)
        #expect(afterFailback == home, "persistent client after failback")
        #expect(await master.terminate() == 0)
        #expect(await backup.terminate() == 0)
    }
}
