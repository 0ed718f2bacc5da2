// Two lvsd directors with the seeds' keepalived.conf on one bridge: VIP ownership, failover, preempt, scripts, split brain.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// seed 003 §3.1's addresses: directors .210 / .211, client .220, VIP .240.
private let vip003 = "192.168.0.240"

/// Switch + two directors + a client on 192.168.0.0/24, interfaces named as in the seeds.
private func pairTopology(
    _ lab: VRRPLab, interface: String = "eth0", d1: String, d2: String, client: String
) throws -> (String, String, String) {
    _ = try lab.makeSwitch()
    let n1 = try lab.host("d1")
    let n2 = try lab.host("d2")
    let nc = try lab.host("client")
    try lab.attach(n1, interface, address: d1)
    try lab.attach(n2, interface, address: d2)
    try lab.attach(nc, "eth0", address: client)
    return (n1, n2, nc)
}

/// Makes the client talk to `vip` once (a TCP SYN; nothing needs to answer on port 80), so it
/// has an ARP entry for it.
private func touch(_ lab: VRRPLab, _ client: String, _ vip: String) {
    _ = try? lab.sh(client, "curl -s -m 1 -o /dev/null http://\(vip)/; true")
}

private func note(_ s: String) { print("[vrrp-lab] \(s)") }

extension VRRPLabs {
    @Suite(
        "VRRP labs: two lvsd directors with the seeds' configurations",
        .enabled(if: vrrpLabSkipReason == nil, Comment(rawValue: vrrpLabSkipReason ?? "")))
    struct VRRPFailoverLabTests {
        @Test(
            "seed 003 §3.5–3.8: only the master holds the VIP (eth0:240); kill -9 → the backup holds it within 3×advert_int+skew and clients' ARP follows; the master returns and preempts; SIGTERM → priority 0 and a fast takeover"
        )
        func seed003() async throws {
            let lab = try VRRPLab("seed003")
            defer { lab.close() }
            let (n1, n2, nc) = try pairTopology(
                lab, d1: "192.168.0.210/24", d2: "192.168.0.211/24", client: "192.168.0.220/24")
            let master = try LabDirector(lab: lab, namespace: n1, name: "lvs01", config: SeedConfigs.seed003MasterVRRP)
            let backup = try LabDirector(lab: lab, namespace: n2, name: "lvs02", config: SeedConfigs.seed003BackupVRRP)
            try await master.start()
            try await backup.start()
            // §3.6: the same ipvsadm rules on both directors; the IPVS table runs on both.
            for d in [master, backup] {
                for line in [
                    "-A -t 192.168.0.240:80 -s rr", "-a -t 192.168.0.240:80 -r 192.168.0.223:80 -g -w 1",
                    "-a -t 192.168.0.240:80 -r 192.168.0.224:80 -g -w 1",
                ] {
                    #expect(try d.ipvsadm(line).status == 0)
                }
            }
            // §3.7: the VIP on the master only, labelled eth0:240 as `ifconfig` shows it.
            #expect(
                await VRRPLab.waitUntil(seconds: 5) { lab.holds(n1, vip003, on: "eth0") } != nil, "\(master.logText)")
            #expect(lab.addresses(n1, "eth0").contains("inet 192.168.0.240/24 scope global secondary eth0:240"))
            try await Task.sleep(for: .seconds(4))  // longer than the backup's Master_Down_Interval (3.61 s)
            #expect(!lab.holds(n2, vip003, on: "eth0"), "\(backup.logText)")
            #expect(backup.logText.contains("(VI_1) Entering BACKUP STATE"))
            for d in [master, backup] { #expect(try d.ipvsadm("-Ln").output.contains("TCP  192.168.0.240:80 rr")) }
            touch(lab, nc, vip003)
            #expect(lab.neighbour(nc, vip003) == lab.mac(n1, "eth0"))

            // §3.8: the master dies (SIGKILL: no priority 0, nothing cleaned up).
            await master.crash()
            let took = await VRRPLab.waitUntil(seconds: 8) { lab.holds(n2, vip003, on: "eth0") }
            #expect(took != nil, "\(backup.logText)")
            note(
                "seed 003: kill -9 of the master -> backup holds the VIP after \(took ?? -1) s (3 x 1 s + skew 0.61 s)")
            // Its gratuitous ARPs move the client.
            #expect(await VRRPLab.waitUntil(seconds: 2) { lab.neighbour(nc, vip003) == lab.mac(n2, "eth0") } != nil)
            #expect(backup.logText.contains("(VI_1) Entering MASTER STATE"))

            // The master returns: it takes the VIP back (priority 150 > 100, preempt).
            try await master.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 6) {
                    lab.holds(n1, vip003, on: "eth0") && !lab.holds(n2, vip003, on: "eth0")
                }
                    != nil, "\(master.logText)\n\(backup.logText)")
            #expect(await VRRPLab.waitUntil(seconds: 2) { lab.neighbour(nc, vip003) == lab.mac(n1, "eth0") } != nil)
            #expect(backup.logText.contains("with higher priority 150, ours 100"))

            // SIGTERM: priority 0 advert, VIP removed (contract 6); the backup takes over after its skew.
            #expect(await master.terminate() == 0)
            #expect(!lab.holds(n1, vip003, on: "eth0"))
            #expect(master.logText.contains("(VI_1) sent 0 priority"))
            let fast = await VRRPLab.waitUntil(seconds: 3) { lab.holds(n2, vip003, on: "eth0") }
            #expect(fast != nil)
            note("seed 003: SIGTERM of the master -> backup holds the VIP after \(fast ?? -1) s (skew 0.61 s)")
            #expect(backup.logText.contains("(VI_1) Backup received priority 0 advertisement"))
            #expect(await backup.terminate() == 0)
            #expect(!lab.holds(n2, vip003, on: "eth0"))
        }

        @Test(
            "seed 000 §3: MASTER 100 / BACKUP 90 (as the seed says): the master holds 192.168.0.110; kill -9 → the backup; back → preempt"
        )
        func seed000() async throws {
            let lab = try VRRPLab("seed000")
            defer { lab.close() }
            let vip = "192.168.0.110"
            let (n1, n2, nc) = try pairTopology(
                lab, d1: "192.168.0.101/24", d2: "192.168.0.102/24", client: "192.168.0.200/24")
            let backupConfig = SeedConfigs.seed000Master.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 100", with: "priority 90")
            let master = try LabDirector(lab: lab, namespace: n1, name: "dir1", config: SeedConfigs.seed000Master)
            let backup = try LabDirector(lab: lab, namespace: n2, name: "dir2", config: backupConfig)
            try await master.start()
            try await backup.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { lab.holds(n1, vip, on: "eth0") } != nil, "\(master.logText)")
            try await Task.sleep(for: .seconds(4))
            #expect(!lab.holds(n2, vip, on: "eth0"))
            touch(lab, nc, vip)
            #expect(lab.neighbour(nc, vip) == lab.mac(n1, "eth0"))
            await master.crash()
            let took = await VRRPLab.waitUntil(seconds: 8) { lab.holds(n2, vip, on: "eth0") }
            #expect(took != nil, "\(backup.logText)")
            note(
                "seed 000: kill -9 of the master -> backup holds the VIP after \(took ?? -1) s (3 x 1 s + skew 0.65 s)")
            #expect(await VRRPLab.waitUntil(seconds: 2) { lab.neighbour(nc, vip) == lab.mac(n2, "eth0") } != nil)
            try await master.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 6) {
                    lab.holds(n1, vip, on: "eth0") && !lab.holds(n2, vip, on: "eth0")
                } != nil)
        }

        @Test(
            "K:nopreempt (seed 002): the returning master (state MASTER clears nopreempt, equal priority 100) does not take the VIP back"
        )
        func seed002NoTakeBack() async throws {
            let lab = try VRRPLab("seed002np")
            defer { lab.close() }
            let vip = "192.168.159.110"
            let (n1, n2, _) = try pairTopology(
                lab, interface: "ens33", d1: "192.168.159.129/24", d2: "192.168.159.130/24",
                client: "192.168.159.200/24")
            let script = try checkScript(lab)
            _ = try await lab.startNginx(n1, name: "n1", body: "129 nginx")
            _ = try await lab.startNginx(n2, name: "n2", body: "130 nginx")
            let master = try LabDirector(
                lab: lab, namespace: n1, name: "129", config: seed002(SeedConfigs.seed002Master, script))
            let backup = try LabDirector(
                lab: lab, namespace: n2, name: "130", config: seed002(SeedConfigs.seed002Backup, script))
            try await master.start()
            #expect(await VRRPLab.waitUntil(seconds: 6) { lab.holds(n1, vip, on: "ens33") } != nil, "\(master.logText)")
            try await backup.start()
            #expect(master.logText.contains("nopreempt will not work with initial state MASTER - clearing"))
            await master.crash()
            #expect(await VRRPLab.waitUntil(seconds: 8) { lab.holds(n2, vip, on: "ens33") } != nil, "\(backup.logText)")
            try await master.start()
            // Longer than the returning master's wait (advert_int + skew) and a few adverts.
            try await Task.sleep(for: .seconds(5))
            #expect(lab.holds(n2, vip, on: "ens33"))
            #expect(!lab.holds(n1, vip, on: "ens33"), "\(master.logText)")
        }

        @Test(
            "K:nopreempt (keepalived's way: both BACKUP, on the higher priority): a returning 150 does not take the VIP back from 100"
        )
        func nopreemptHigherPriority() async throws {
            let lab = try VRRPLab("nopreempt")
            defer { lab.close() }
            let (n1, n2, _) = try pairTopology(
                lab, d1: "192.168.0.210/24", d2: "192.168.0.211/24", client: "192.168.0.220/24")
            let high = SeedConfigs.seed003MasterVRRP.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 150", with: "priority 150\n    nopreempt")
            let low = SeedConfigs.seed003BackupVRRP.replacingOccurrences(
                of: "priority 100", with: "priority 100\n    nopreempt")
            let a = try LabDirector(lab: lab, namespace: n1, name: "high", config: high)
            let b = try LabDirector(lab: lab, namespace: n2, name: "low", config: low)
            try await a.start()
            #expect(await VRRPLab.waitUntil(seconds: 6) { lab.holds(n1, vip003, on: "eth0") } != nil, "\(a.logText)")
            try await b.start()
            await a.crash()
            #expect(await VRRPLab.waitUntil(seconds: 8) { lab.holds(n2, vip003, on: "eth0") } != nil, "\(b.logText)")
            try await a.start()
            try await Task.sleep(for: .seconds(6))  // longer than its Master_Down_Interval (3 × 1 + 0.41 s)
            #expect(lab.holds(n2, vip003, on: "eth0"))
            #expect(!lab.holds(n1, vip003, on: "eth0"), "\(a.logText)")
            #expect(a.logText.contains("(VI_1) Entering BACKUP STATE"))
        }

        @Test(
            "seed 002 vrrp_script chk_nginx weight -20 (the backup without nopreempt): stopping nginx on the master moves the VIP"
        )
        func scriptWeightMovesVIP() async throws {
            let lab = try VRRPLab("seed002w")
            defer { lab.close() }
            let vip = "192.168.159.110"
            let (n1, n2, nc) = try pairTopology(
                lab, interface: "ens33", d1: "192.168.159.129/24", d2: "192.168.159.130/24",
                client: "192.168.159.200/24")
            let script = try checkScript(lab)
            let nginx1 = try await lab.startNginx(n1, name: "n1", body: "129 nginx")
            _ = try await lab.startNginx(n2, name: "n2", body: "130 nginx")
            let backupConfig = seed002(SeedConfigs.seed002Backup, script).replacingOccurrences(
                of: "    nopreempt # 优先级高的设置 nopreempt 解决异常恢复后再次抢占的问题\n", with: "")
            let master = try LabDirector(
                lab: lab, namespace: n1, name: "129", config: seed002(SeedConfigs.seed002Master, script))
            let backup = try LabDirector(lab: lab, namespace: n2, name: "130", config: backupConfig)
            try await master.start()
            #expect(await VRRPLab.waitUntil(seconds: 8) { lab.holds(n1, vip, on: "ens33") } != nil, "\(master.logText)")
            try await backup.start()
            try await Task.sleep(for: .seconds(2))
            // seed 002 §9: the VIP leads to the master's nginx.
            #expect(lab.curl(nc, "http://\(vip)/") == "129 nginx")
            #expect(lab.neighbour(nc, vip) == lab.mac(n1, "ens33"))
            // nginx stops on the master: the script fails, priority 100 → 80, the backup (100) preempts.
            await lab.stop(nginx1)
            let moved = await VRRPLab.waitUntil(seconds: 10) {
                lab.holds(n2, vip, on: "ens33") && !lab.holds(n1, vip, on: "ens33")
            }
            #expect(moved != nil, "\(master.logText)\n\(backup.logText)")
            #expect(master.logText.contains("VRRP_Script(chk_nginx) failed"))
            #expect(master.logText.contains("(VI_1) Changing effective priority from 100 to 80"))
            #expect(await VRRPLab.waitUntil(seconds: 2) { lab.neighbour(nc, vip) == lab.mac(n2, "ens33") } != nil)
            // ... and now to the backup's.
            #expect(lab.curl(nc, "http://\(vip)/") == "130 nginx")
        }

        @Test(
            "seed 002 verbatim (nopreempt on the backup): stopping nginx only lowers the master to 80; the backup accepts it and the VIP stays, as with keepalived"
        )
        func scriptWeightVerbatimNopreempt() async throws {
            let lab = try VRRPLab("seed002v")
            defer { lab.close() }
            let vip = "192.168.159.110"
            let (n1, n2, _) = try pairTopology(
                lab, interface: "ens33", d1: "192.168.159.129/24", d2: "192.168.159.130/24",
                client: "192.168.159.200/24")
            let script = try checkScript(lab)
            let nginx1 = try await lab.startNginx(n1, name: "n1", body: "129 nginx")
            _ = try await lab.startNginx(n2, name: "n2", body: "130 nginx")
            let master = try LabDirector(
                lab: lab, namespace: n1, name: "129", config: seed002(SeedConfigs.seed002Master, script))
            let backup = try LabDirector(
                lab: lab, namespace: n2, name: "130", config: seed002(SeedConfigs.seed002Backup, script))
            try await master.start()
            #expect(await VRRPLab.waitUntil(seconds: 8) { lab.holds(n1, vip, on: "ens33") } != nil)
            try await backup.start()
            await lab.stop(nginx1)
            #expect(
                await VRRPLab.waitUntil(seconds: 6) {
                    master.logText.contains("Changing effective priority from 100 to 80")
                }
                    != nil)
            try await Task.sleep(for: .seconds(5))
            #expect(lab.holds(n1, vip, on: "ens33"))
            #expect(!lab.holds(n2, vip, on: "ens33"), "\(backup.logText)")
        }

        @Test(
            "split brain healed: the VRRP link cut → both masters; restored → exactly one master (150) remains and the client's ARP entry points to it"
        )
        func splitBrain() async throws {
            let lab = try VRRPLab("split")
            defer { lab.close() }
            let (n1, n2, nc) = try pairTopology(
                lab, d1: "192.168.0.210/24", d2: "192.168.0.211/24", client: "192.168.0.220/24")
            let sw = lab.switchNamespace!
            guard VRRPLab.tool("nft") != nil else { throw LabFailure("split brain lab needs nft") }
            let a = try LabDirector(lab: lab, namespace: n1, name: "lvs01", config: SeedConfigs.seed003MasterVRRP)
            let b = try LabDirector(lab: lab, namespace: n2, name: "lvs02", config: SeedConfigs.seed003BackupVRRP)
            try await a.start()
            try await b.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { lab.holds(n1, vip003, on: "eth0") } != nil)
            touch(lab, nc, vip003)
            #expect(lab.neighbour(nc, vip003) == lab.mac(n1, "eth0"))
            // Cut the link between the directors: the switch drops VRRP (IP protocol 112).
            let cut = try lab.sh(
                sw,
                "nft add table bridge vrrpcut && nft add chain bridge vrrpcut cut '{ type filter hook forward priority 0; }' && nft add rule bridge vrrpcut cut ip protocol 112 drop"
            )
            #expect(cut.status == 0, "\(cut.output)")
            let both = await VRRPLab.waitUntil(seconds: 8) {
                lab.holds(n1, vip003, on: "eth0") && lab.holds(n2, vip003, on: "eth0")
            }
            #expect(both != nil, "\(b.logText)")
            // The last master to announce itself (the backup) has the client.
            #expect(await VRRPLab.waitUntil(seconds: 2) { lab.neighbour(nc, vip003) == lab.mac(n2, "eth0") } != nil)
            // Restore the link.
            #expect(try lab.sh(sw, "nft delete table bridge vrrpcut").status == 0)
            let healed = await VRRPLab.waitUntil(seconds: 5) {
                lab.holds(n1, vip003, on: "eth0") && !lab.holds(n2, vip003, on: "eth0")
            }
            #expect(healed != nil, "\(a.logText)\n\(b.logText)")
            #expect(b.logText.contains("with higher priority 150, ours 100"))
            // The remaining master's gratuitous ARPs (garp_lower_prio_repeat) move the client back.
            #expect(await VRRPLab.waitUntil(seconds: 3) { lab.neighbour(nc, vip003) == lab.mac(n1, "eth0") } != nil)
            try await Task.sleep(for: .seconds(3))
            #expect(lab.holds(n1, vip003, on: "eth0") && !lab.holds(n2, vip003, on: "eth0"))
        }

        @Test(
            "seed 001's case: LVS and real server on the same two boxes (VIP on lo with arp_ignore as realserver.sh does): only the VRRP master answers ARP for the VIP, before and after a failover"
        )
        func seed001SameBoxes() async throws {
            let lab = try VRRPLab("seed001")
            defer { lab.close() }
            let vip = "192.168.0.239"
            let (na, nb, nc) = try pairTopology(
                lab, d1: "192.168.0.236/24", d2: "192.168.0.238/24", client: "192.168.0.200/24")
            // realserver.sh start on both boxes.
            for ns in [na, nb] {
                let r = try lab.sh(
                    ns,
                    "ip addr add \(vip)/32 brd \(vip) dev lo label lo:0 && sysctl -qw net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"
                )
                #expect(r.status == 0, "\(r.output)")
            }
            let bConfig = SeedConfigs.seed001.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 100", with: "priority 99")
            let a = try LabDirector(lab: lab, namespace: na, name: "A", config: SeedConfigs.seed001)
            let b = try LabDirector(lab: lab, namespace: nb, name: "B", config: bConfig)
            try await a.start()
            try await b.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { lab.holds(na, vip, on: "eth0") } != nil, "\(a.logText)")
            try await Task.sleep(for: .seconds(4))
            #expect(!lab.holds(nb, vip, on: "eth0"))
            touch(lab, nc, vip)
            #expect(lab.neighbour(nc, vip) == lab.mac(na, "eth0"))
            await a.crash()
            #expect(await VRRPLab.waitUntil(seconds: 8) { lab.holds(nb, vip, on: "eth0") } != nil, "\(b.logText)")
            #expect(await VRRPLab.waitUntil(seconds: 2) { lab.neighbour(nc, vip) == lab.mac(nb, "eth0") } != nil)
        }
    }
}

extension VRRPLabs {
    @Suite(
        "VRRP labs: lvsd -f with the full configuration, notify scripts, SMTP alerts and SIGHUP",
        .enabled(if: vrrpLabSkipReason == nil, Comment(rawValue: vrrpLabSkipReason ?? "")))
    struct VRRPReloadLabTests {
        @Test(
            "seed 003 §3.9: the full configuration on both directors: the IPVS table and checkers run on both, the VIP only on the master"
        )
        func seed003Full() async throws {
            let lab = try VRRPLab("seed003full")
            defer { lab.close() }
            let (n1, n2, _) = try pairTopology(
                lab, d1: "192.168.0.210/24", d2: "192.168.0.211/24", client: "192.168.0.220/24")
            let backupConfig = SeedConfigs.seed003Full.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 150", with: "priority 100")
                .replacingOccurrences(of: "router_id LVS01", with: "router_id LVS02")
            let master = try LabDirector(lab: lab, namespace: n1, name: "lvs01", config: SeedConfigs.seed003Full)
            let backup = try LabDirector(lab: lab, namespace: n2, name: "lvs02", config: backupConfig)
            try await master.start()
            try await backup.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 5) { lab.holds(n1, vip003, on: "eth0") } != nil, "\(master.logText)")
            try await Task.sleep(for: .seconds(4))
            #expect(!lab.holds(n2, vip003, on: "eth0"))
            for d in [master, backup] {
                let listing = try d.ipvsadm("-Ln").output
                #expect(listing.contains("TCP  192.168.0.240:80 rr"), "\(d.name): \(listing)")
            }
            // SIGTERM: the VIP goes with the VRRP instance.
            #expect(await master.terminate() == 0)
            #expect(!lab.holds(n1, vip003, on: "eth0"))
            #expect(await VRRPLab.waitUntil(seconds: 3) { lab.holds(n2, vip003, on: "eth0") } != nil)
        }

        @Test(
            "notify_master/backup/stop and notify run with keepalived's arguments; SMTP alerts (smtp_alert) reach the smtp_server on every transition, Stopping included",
            .enabled(if: smtpPython != nil, "needs python3 with aiosmtpd (PyPI)"))
        func notifyAndAlerts() async throws {
            let lab = try VRRPLab("notify")
            defer { lab.close() }
            _ = try lab.makeSwitch()
            let n1 = try lab.host("d1")
            let mail = try lab.host("mail")
            try lab.attach(n1, "eth0", address: "192.168.0.210/24")
            try lab.attach(mail, "eth0", address: "192.168.0.230/24")
            let mailLog = lab.directory + "/mail.log"
            _ = try lab.start(
                mail,
                [
                    "/usr/bin/env", "PYTHONUNBUFFERED=1", smtpPython!, "-m", "aiosmtpd", "-n", "-l", "192.168.0.230:25",
                    "-c",
                    "aiosmtpd.handlers.Debugging",
                ], log: mailLog)
            let notified = lab.directory + "/notified"
            let script = lab.directory + "/notify.sh"
            try "#!/bin/sh\necho \"$@\" >> \(notified)\n".write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
            let config = """
                global_defs {
                    notification_email {
                        ops@example.com
                    }
                    notification_email_from lvs@example.com
                    smtp_server 192.168.0.230
                    smtp_connect_timeout 5
                    router_id LVS01
                }
                vrrp_instance VI_1 {
                    state MASTER
                    interface eth0
                    virtual_router_id 55
                    priority 150
                    advert_int 1
                    smtp_alert
                    notify_master "\(script) master"
                    notify_backup "\(script) backup"
                    notify_stop "\(script) stop"
                    notify \(script)
                    virtual_ipaddress {
                        192.168.0.240/24 dev eth0 label eth0:240
                    }
                }
                """
            _ = await VRRPLab.waitUntil(seconds: 3) {
                (try? lab.sh(mail, "cat /proc/net/tcp | grep -q ':0019 '").status) == 0
            }
            let d = try LabDirector(lab: lab, namespace: n1, name: "lvs01", config: config)
            try await d.start()
            let text = { (try? String(contentsOfFile: notified, encoding: .utf8)) ?? "" }
            let mails = { (try? String(contentsOfFile: mailLog, encoding: .utf8)) ?? "" }
            #expect(
                await VRRPLab.waitUntil(seconds: 5) { text().contains("INSTANCE VI_1 MASTER 150") } != nil,
                "\(d.logText)")
            // Each transition runs its own script and `notify` (concurrently, as keepalived forks them).
            #expect(
                Set(text().components(separatedBy: "\n").filter { !$0.isEmpty }) == [
                    "backup", "INSTANCE VI_1 BACKUP 150", "master", "INSTANCE VI_1 MASTER 150",
                ], "\(text())")
            #expect(
                await VRRPLab.waitUntil(seconds: 8) {
                    mails().contains("Subject: [LVS01] VRRP Instance VI_1 - Entering MASTER state")
                }
                    != nil, "\(mails())\n\(d.logText)")
            #expect(mails().contains("=> VRRP Instance is now owning VRRP VIPs <="))
            #expect(mails().contains("Subject: [LVS01] VRRP Instance VI_1 - Entering BACKUP state"))
            #expect(await d.terminate() == 0)
            #expect(text().contains("stop\n") && text().contains("INSTANCE VI_1 STOP 150"), "\(text())")
            #expect(
                await VRRPLab.waitUntil(seconds: 3) {
                    mails().contains("Subject: [LVS01] VRRP Instance VI_1 - Stopping")
                } != nil,
                "\(mails())\n\(d.logText)")
            #expect(mails().contains("=> VRRP Instance stopping <="))
        }

        @Test(
            "K:reload (SIGHUP): the master keeps its state and adds a new VIP with no new transition; a file that does not parse is refused and the VIPs stay"
        )
        func sighup() async throws {
            let lab = try VRRPLab("sighup")
            defer { lab.close() }
            let (n1, n2, _) = try pairTopology(
                lab, d1: "192.168.0.210/24", d2: "192.168.0.211/24", client: "192.168.0.220/24")
            let master = try LabDirector(lab: lab, namespace: n1, name: "lvs01", config: SeedConfigs.seed003MasterVRRP)
            let backup = try LabDirector(lab: lab, namespace: n2, name: "lvs02", config: SeedConfigs.seed003BackupVRRP)
            try await master.start()
            try await backup.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { lab.holds(n1, vip003, on: "eth0") } != nil)
            try await Task.sleep(for: .seconds(4))
            let added = SeedConfigs.seed003MasterVRRP.replacingOccurrences(
                of: "    192.168.0.240/24 dev eth0 label eth0:240\n",
                with: "    192.168.0.240/24 dev eth0 label eth0:240\n    192.168.0.241/24 dev eth0 label eth0:241\n")
            try master.rewrite(added)
            master.signal(SIGHUP)
            #expect(
                await VRRPLab.waitUntil(seconds: 3) { lab.holds(n1, "192.168.0.241", on: "eth0") } != nil,
                "\(master.logText)")
            #expect(
                await VRRPLab.waitUntil(seconds: 2) {
                    master.logText.contains("VRRP configuration reloaded: 1 instance(s), 1 kept their state")
                } != nil)
            #expect(master.logText.components(separatedBy: "(VI_1) Entering MASTER STATE").count == 2)
            try await Task.sleep(for: .seconds(2))
            #expect(lab.holds(n1, vip003, on: "eth0") && !lab.holds(n2, vip003, on: "eth0"), "\(backup.logText)")
            // A half-saved edit: refused, the running configuration stays.
            try master.rewrite("vrrp_instance VI_1 {\n    state MASTER\n")
            master.signal(SIGHUP)
            #expect(
                await VRRPLab.waitUntil(seconds: 3) {
                    master.logText.contains("refused, the running configuration stays")
                } != nil
            )
            #expect(lab.holds(n1, vip003, on: "eth0") && lab.holds(n1, "192.168.0.241", on: "eth0"))
            // The added VIP removed again.
            try master.rewrite(SeedConfigs.seed003MasterVRRP)
            master.signal(SIGHUP)
            #expect(await VRRPLab.waitUntil(seconds: 3) { !lab.holds(n1, "192.168.0.241", on: "eth0") } != nil)
            #expect(lab.holds(n1, vip003, on: "eth0"))
        }
    }
}

/// A python3 that can import aiosmtpd (PyPI), if any.
private let smtpPython: String? = {
    for p in ["/root/.pyenv/versions/3.11.7/bin/python3", "/usr/local/bin/python3", "/usr/bin/python3"]
    where FileManager.default.isExecutableFile(atPath: p) {
        if let r = try? VRRPLab.run([p, "-c", "import aiosmtpd"]), r.status == 0 { return p }
    }
    if let r = try? VRRPLab.run(["/usr/bin/env", "python3", "-c", "import sys, aiosmtpd; print(sys.executable)"]),
        r.status == 0
    {
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return nil
}()

/// seed 002's check script, adapted to a namespace: nginx answering on 127.0.0.1 (the seed's
/// `ps -C nginx` would see every namespace's nginx on one machine).
private func checkScript(_ lab: VRRPLab) throws -> String {
    let path = lab.directory + "/nginx_check.sh"
    try "#!/bin/sh\nexec curl -s -o /dev/null -m 1 http://127.0.0.1/\n".write(
        toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
}

/// A seed 002 configuration with the check script's path adapted.
private func seed002(_ text: String, _ script: String) -> String {
    text.replacingOccurrences(of: "/etc/keepalived/nginx_check.sh", with: script)
}
