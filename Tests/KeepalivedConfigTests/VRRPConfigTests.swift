// vrrp_instance, vrrp_script, vrrp_sync_group and global VRRP settings: parsed and validated.
import KeepalivedConfig
import LVSCore
import Testing

private func instance(_ body: String) -> (VRRPInstance?, ConfigCheckResult) {
    let r = check("vrrp_instance VI_1 {\n  virtual_router_id 7\n\(body)\n}\n")
    return (r.configuration.vrrpInstances.first, r)
}

@Suite("vrrp_instance")
struct VRRPInstanceTests {
    @Test("K:vrrp_ipaddress.c: the full VIP entry format")
    func vipFormat() throws {
        let (v, r) = instance(
            "  virtual_ipaddress {\n    192.168.200.17/24 brd 192.168.200.255 dev eth1 scope link label eth1:1 peer 10.9.9.9 home -nodad noprefixroute no_track preferred_lft forever use_vmac\n    192.168.200.18 brd + dev eth2\n    192.168.200.19/25 brd -\n  }"
        )
        #expect(messages(r).isEmpty)
        let vips = try #require(v?.virtualIPAddresses)
        #expect(vips.count == 3)
        let a = vips[0]
        #expect(a.address == IPAddress("192.168.200.17") && a.prefixLength == 24)
        #expect(a.broadcast == .address(IPAddress("192.168.200.255")!))
        #expect(a.device == "eth1" && a.scope == .link && a.label == "eth1:1" && a.peer == IPAddress("10.9.9.9"))
        #expect(a.home && a.noDAD && a.noPrefixRoute && a.noTrack && a.useVMAC)
        #expect(a.preferredLifetime == .forever)
        #expect(vips[1].prefixLength == 32 && vips[1].broadcast == .setHostBits && vips[1].device == "eth2")
        #expect(vips[2].broadcast == .clearHostBits)
        #expect(a.location == SourceLocation(file: "keepalived.conf", line: 4))
    }

    @Test("K:vrrp_ipaddress.c: ':' means IPv6 (/128 default); VIPs of the other family become excluded")
    func vipFamilies() throws {
        let (v, r) = instance(
            "  virtual_ipaddress {\n    10.0.0.1\n    2001:db8::1\n  }\n  virtual_ipaddress_excluded {\n    2001:db8::2/64\n  }"
        )
        #expect(
            messages(r) == [
                "keepalived.conf:5: (VI_1) virtual address 2001:db8::1 is not the instance's address family - treating it as excluded"
            ])
        let i = try #require(v)
        #expect(i.virtualIPAddresses.map(\.address.description) == ["10.0.0.1"])
        #expect(i.excludedVirtualIPAddresses.map(\.address.description) == ["2001:db8::2", "2001:db8::1"])
        #expect(i.excludedVirtualIPAddresses.map(\.prefixLength) == [64, 128])
        #expect(i.family == .inet)
    }

    @Test("K:vrrp_ipaddress.c: a bad VIP is reported and skipped")
    func badVIP() {
        let (v, r) = instance(
            "  virtual_ipaddress {\n    10.0.0.300\n    10.0.0.1/33\n    10.0.0.2 dev\n    10.0.0.3 bogus\n  }")
        #expect(
            messages(r) == [
                "keepalived.conf:4: invalid virtual IP address '10.0.0.300' - skipping",
                "keepalived.conf:5: invalid prefix length in '10.0.0.1/33' - skipping",
                "keepalived.conf:6: 'dev' has no value in virtual address '10.0.0.2'",
                "keepalived.conf:7: unknown option 'bogus' in virtual address '10.0.0.3'",
            ])
        #expect(v?.virtualIPAddresses.map(\.address.description) == ["10.0.0.2", "10.0.0.3"])
    }

    @Test("K:vrrp_parser.c: authentication AH|PASS (case-sensitive); only the first 8 characters of auth_pass count")
    func authentication() {
        let (v, r) = instance(
            "  virtual_ipaddress { 10.0.0.1 }\n  authentication {\n    auth_type AH\n    auth_pass 0123456789\n  }")
        #expect(v?.authentication?.type == .ah)
        #expect(v?.authentication?.password == Array("01234567".utf8))
        #expect(messages(r) == ["keepalived.conf:6: (VI_1) auth_pass is longer than 8 characters - truncating"])
        let (_, lower) = instance("  virtual_ipaddress { 10.0.0.1 }\n  authentication {\n    auth_type pass\n  }")
        #expect(
            messages(lower) == ["keepalived.conf:5: (VI_1) unknown authentication type 'pass' (expected PASS or AH)"])
    }

    @Test("K:vrrp_parser.c: priority 1..255 (default 100), advert_int decimal (default 1 s), preempt_delay, version")
    func timersAndPriority() throws {
        let (v, r) = instance(
            "  virtual_ipaddress { 10.0.0.1 }\n  priority 254\n  advert_int 0.5\n  preempt_delay 4.12\n  version 3")
        #expect(messages(r).isEmpty)
        let i = try #require(v)
        #expect(i.priority == 254)
        #expect(i.advertInterval == TimerValue(microseconds: 500_000))
        #expect(i.preemptDelay == TimerValue(microseconds: 4_120_000))
        #expect(i.version == 3)
        let (d, _) = instance("  virtual_ipaddress { 10.0.0.1 }")
        #expect(d?.priority == 100 && d?.advertInterval == .seconds(1) && d?.state == nil)
    }

    @Test("K:vrrp_parser.c: track_interface/track_script/track_file entries with weight and reverse")
    func tracking() throws {
        let text = """
            vrrp_script chk {
              script "/bin/check"
              weight 10
            }
            vrrp_instance VI_1 {
              virtual_router_id 7
              virtual_ipaddress { 10.0.0.1 }
              track_interface {
                eth0
                eth1 weight -20 reverse
              }
              track_script {
                chk weight 5
                missing
              }
              track_file {
                f1 weight 254
              }
            }
            """
        let r = check(text)
        #expect(
            messages(r, atLeast: .error) == ["keepalived.conf:14: (VI_1) track_script missing not found - ignoring"])
        let v = try #require(r.configuration.vrrpInstances.first)
        #expect(
            v.tracking.interfaces == [
                TrackedObject(name: "eth0", location: SourceLocation(file: "keepalived.conf", line: 9)),
                TrackedObject(
                    name: "eth1", weight: -20, reverse: true,
                    location: SourceLocation(file: "keepalived.conf", line: 10)),
            ])
        #expect(v.tracking.scripts.map(\.name) == ["chk"])
        #expect(v.tracking.scripts.first?.weight == 5)
        #expect(v.tracking.files.first?.weight == 254)
        #expect(r.configuration.vrrpScript(named: "chk")?.weight == 10)
    }

    @Test("K:vrrp_parser.c: unicast_src_ip and unicast_peer { IP [min_ttl N] [max_ttl N] }")
    func unicast() throws {
        let (v, r) = instance(
            "  virtual_ipaddress { 10.0.0.1 }\n  unicast_src_ip 10.0.0.2\n  unicast_peer {\n    10.0.0.3\n    10.0.0.4 min_ttl 250 max_ttl 255\n  }\n  unicast_ttl 255"
        )
        #expect(messages(r).isEmpty)
        let i = try #require(v)
        #expect(i.unicastSourceIP == IPAddress("10.0.0.2"))
        #expect(i.unicastPeers.map(\.address.description) == ["10.0.0.3", "10.0.0.4"])
        #expect(i.unicastPeers[1].minTTL == 250 && i.unicastPeers[1].maxTTL == 255)
        #expect(i.unicastTTL == 255)
        let (_, noPeers) = instance("  virtual_ipaddress { 10.0.0.1 }\n  unicast_ttl 5")
        #expect(
            messages(noPeers) == ["keepalived.conf:4: (VI_1) cannot use unicast_ttl without unicast peers - resetting"])
    }

    @Test("K:vrrp_parser.c: GARP settings; garp_master_repeat 0 becomes 1")
    func garp() throws {
        let (v, r) = instance(
            "  virtual_ipaddress { 10.0.0.1 }\n  garp_master_delay 10\n  garp_master_repeat 0\n  garp_master_refresh 60\n  garp_master_refresh_repeat 2\n  garp_lower_prio_delay 3\n  garp_lower_prio_repeat 4"
        )
        #expect(messages(r) == ["keepalived.conf:5: (VI_1) garp_master_repeat must be greater than 0, setting to 1"])
        let i = try #require(v)
        #expect(i.garpMasterDelay == 10 && i.garpMasterRepeat == 1 && i.garpMasterRefresh == 60)
        #expect(i.garpMasterRefreshRepeat == 2 && i.garpLowerPrioDelay == 3 && i.garpLowerPrioRepeat == 4)
    }

    @Test("K:vrrp_parser.c: notify scripts (with user [:group]); a second notify_master is an error")
    func notify() throws {
        let (v, r) = instance(
            "  virtual_ipaddress { 10.0.0.1 }\n  notify_master \"/etc/keepalived/master.sh VI_1\" root :wheel\n  notify_master /x\n  notify_backup /etc/keepalived/backup.sh\n  notify /etc/keepalived/any.sh\n  notify_deleted\n  smtp_alert\n  accept\n  nopreempt"
        )
        #expect(
            messages(r, atLeast: .error) == [
                "keepalived.conf:5: (VI_1) notify_master script already specified - ignoring"
            ])
        let i = try #require(v)
        #expect(i.notify.master?.arguments == ["/etc/keepalived/master.sh", "VI_1"])
        #expect(i.notify.master?.user == "root" && i.notify.master?.group == "wheel")
        #expect(i.notify.backup?.program == "/etc/keepalived/backup.sh")
        #expect(i.notify.any?.program == "/etc/keepalived/any.sh")
        #expect(i.notify.notifyDeleted && i.notify.deleted == nil)
        #expect(i.smtpAlert == true && i.accept == true && i.nopreempt)
    }

    @Test(
        "K:vrrp.c vrrp_complete_instance: no virtual_router_id drops the instance; nopreempt at priority 255 is cleared"
    )
    func completeInstance() {
        let r = check(
            "vrrp_instance A {\n  virtual_ipaddress { 10.0.0.1 }\n}\nvrrp_instance B {\n  virtual_router_id 9\n  priority 255\n  nopreempt\n  virtual_ipaddress { 10.0.0.2 }\n}\n"
        )
        #expect(
            messages(r) == [
                "keepalived.conf:1: (A) the virtual router id (virtual_router_id) must be set - ignoring the instance",
                "keepalived.conf:7: (B) nopreempt is incompatible with priority 255 - resetting nopreempt",
            ])
        #expect(r.configuration.vrrpInstances.map(\.name) == ["B"])
        #expect(r.configuration.vrrpInstances.first?.nopreempt == false)
    }

    @Test("K:vrrp_parser.c: a second vrrp_instance with the same name is an error; same VRID on the same interface too")
    func duplicates() {
        let r = check(
            "vrrp_instance A {\n virtual_router_id 1\n interface eth0\n virtual_ipaddress { 10.0.0.1 }\n}\nvrrp_instance A {\n virtual_router_id 2\n}\nvrrp_instance C {\n virtual_router_id 1\n interface eth0\n virtual_ipaddress { 10.0.0.3 }\n}\n"
        )
        #expect(
            messages(r) == [
                "keepalived.conf:6: vrrp_instance A already defined - ignoring",
                "keepalived.conf:10: (C) VRID 1 is already used by A on the same interface",
            ])
    }
}

@Suite("vrrp_script and vrrp_sync_group")
struct VRRPScriptAndSyncGroupTests {
    @Test(
        "K:vrrp_parser.c: vrrp_script interval (default 1), timeout (default interval), weight -253..253 reverse, rise, fall, user, init_fail"
    )
    func script() throws {
        let r = check(
            "vrrp_script s {\n  script \"/usr/bin/killall -0 haproxy\"\n  interval 3\n  weight 254\n  rise 2\n  fall 3\n  user nobody\n  init_fail\n}\nvrrp_script t {\n  script /bin/true\n  weight -5 reverse\n  timeout 9\n}\n"
        )
        #expect(messages(r, atLeast: .error) == ["keepalived.conf:4: 'weight' 254 is outside [-253, 253]"])
        let s = try #require(r.configuration.vrrpScript(named: "s"))
        #expect(s.script?.arguments == ["/usr/bin/killall", "-0", "haproxy"])
        #expect(s.interval == .seconds(3) && s.effectiveTimeout == .seconds(3))
        #expect(s.weight == 0 && s.rise == 2 && s.fall == 3 && s.user == "nobody" && s.initFail)
        let t = try #require(r.configuration.vrrpScript(named: "t"))
        #expect(t.weight == -5 && t.weightReverse && t.effectiveTimeout == .seconds(9))
    }

    @Test("K:vrrp_parser.c: a vrrp_script without script is removed with an error")
    func scriptWithoutScript() {
        let r = check("vrrp_script s {\n  interval 2\n}\n")
        #expect(messages(r) == ["keepalived.conf:1: vrrp_script s has no script"])
        #expect(r.configuration.vrrpScripts.isEmpty)
    }

    @Test("K:vrrp_sync.c: sync group members must exist; trackers of members should be unweighted")
    func syncGroup() throws {
        let text = """
            vrrp_script chk {
              script /bin/true
            }
            vrrp_instance VI_1 {
              virtual_router_id 1
              virtual_ipaddress { 10.0.0.1 }
              track_script {
                chk weight 10
              }
            }
            vrrp_instance VI_2 {
              virtual_router_id 2
              virtual_ipaddress { 10.0.1.1 }
            }
            vrrp_sync_group G1 {
              group {
                VI_1
                VI_2
                VI_9
              }
              notify_master "/etc/keepalived/g.sh MASTER"
              track_interface {
                eth3
              }
            }
            vrrp_sync_group G2 {
              group {
              }
            }
            """
        let r = check(text)
        #expect(
            messages(r, atLeast: .warning) == [
                "keepalived.conf:8: (VI_1) tracker chk has a weight but the instance is in sync group G1: the weight is ignored",
                "keepalived.conf:15: virtual router VI_9 specified in sync group G1 doesn't exist - ignoring",
                "keepalived.conf:26: sync group G2 has no members - removing",
            ])
        let g = try #require(r.configuration.vrrpSyncGroups.first)
        #expect(r.configuration.vrrpSyncGroups.count == 1)
        #expect(g.instances == ["VI_1", "VI_2"])
        #expect(g.notify.master?.arguments == ["/etc/keepalived/g.sh", "MASTER"])
        #expect(g.tracking.interfaces.map(\.name) == ["eth3"])
    }
}

@Suite("global_defs")
struct GlobalDefsTests {
    @Test("K:global_parser.c: notification, identity, VRRP defaults, scripts and FIFOs")
    func globalDefs() throws {
        let text = """
            global_defs {
              notification_email {
                a@example.com "Ops <ops@example.com>"
              }
              notification_email_from lvs@example.com
              smtp_server mail.example.com 2525
              smtp_connect_timeout 15
              router_id LVS_A
              vrrp_mcast_group4 224.0.0.19
              vrrp_version 3
              vrrp_strict
              vrrp_garp_master_delay 10
              vrrp_garp_interval 0.001
              script_user keepalived_script
              enable_script_security
              lvs_notify_fifo /run/lvs.fifo nobody
              vrrp_notify_fifo_script "/usr/bin/fifo.sh"
              process_names
              checker_priority -5
            }
            """
        let r = check(text)
        #expect(messages(r).isEmpty)
        let g = r.configuration.globalDefs
        #expect(g.notificationEmails == ["a@example.com", "Ops <ops@example.com>"])
        #expect(g.smtpServer == SMTPServer(host: "mail.example.com", port: 2525))
        #expect(g.smtpConnectTimeout == .seconds(15))
        #expect(g.routerID == "LVS_A")
        #expect(g.vrrpMulticastGroup4 == IPv4Address(224, 0, 0, 19))
        #expect(g.vrrpMulticastGroup6.description == "ff02::12")
        #expect(g.vrrpVersion == 3 && g.vrrpStrict && g.vrrpGarpMasterDelay == 10)
        #expect(g.vrrpGarpInterval == TimerValue(microseconds: 1000))
        #expect(g.scriptUser == "keepalived_script" && g.enableScriptSecurity)
        #expect(
            g.lvsNotifyFIFO
                == NotifyFIFO(
                    path: "/run/lvs.fifo", user: "nobody", location: SourceLocation(file: "keepalived.conf", line: 16)))
        #expect(g.vrrpNotifyFIFOScript?.program == "/usr/bin/fifo.sh")
        #expect(g.otherSettings.map(\.keyword) == ["process_names", "checker_priority"])
        #expect(g.keywordLocations["router_id"] == SourceLocation(file: "keepalived.conf", line: 8))
    }

    @Test("Recognised blocks nobody models yet are kept as written (static_ipaddress, bfd_instance, SSL, ...)")
    func otherBlocks() {
        let text = """
            static_ipaddress {
              192.168.1.1/24 dev eth0 scope global
            }
            bfd_instance b1 {
              neighbor_ip 10.0.0.9
              min_rx 10
            }
            SSL {
              ca /etc/ssl/ca.pem
            }
            garp_group {
              garp_interval 0.01
              interfaces {
                eth0
              }
            }
            net_namespace lvs
            """
        let r = check(text)
        #expect(messages(r).isEmpty)
        #expect(
            r.configuration.otherBlocks.map(\.keyword) == ["static_ipaddress", "bfd_instance", "SSL", "garp_group"])
        #expect(r.configuration.otherBlocks[0].lines == [["192.168.1.1/24", "dev", "eth0", "scope", "global"]])
        #expect(r.configuration.otherBlocks[1].arguments == ["b1"])
        #expect(r.configuration.otherBlocks[1].settings.map(\.keyword) == ["neighbor_ip", "min_rx"])
        #expect(
            r.configuration.otherBlocks[3].settings.map(\.keyword) == ["garp_interval", "interfaces", "interfaces"])
        #expect(r.configuration.rootSettings.map(\.keyword) == ["net_namespace"])
    }
}
