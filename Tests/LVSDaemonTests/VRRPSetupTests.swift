// keepalived.conf's VRRP blocks mapped to LVSVRRP configurations: the seeds and keepalived's rules.
import KeepalivedConfig
import LVSCore
import LVSDaemon
import LVSVRRP
import Testing

/// Maps `text` (checked as keepalived.conf) with host name "lvs-test".
private func setup(_ text: String) -> VRRPSetup {
    VRRPSetup(configuration: KeepalivedConfigLoader.check(text: text).configuration, hostName: "lvs-test")
}

/// The mapping's messages without their `file:line: ` prefix.
private func messages(_ s: VRRPSetup) -> [String] { s.diagnostics.map(\.message) }

/// One instance around `body`.
private func instance(_ body: String, name: String = "VI_1", global: String = "", extra: String = "") -> String {
    """
    global_defs {
    \(global)
    }
    \(extra)
    vrrp_instance \(name) {
        interface eth0
        virtual_router_id 51
        virtual_ipaddress {
            10.0.0.100
        }
    \(body)
    }
    """
}

private func v4(_ s: String) -> IPv4Address { IPv4Address(s)! }
private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

@Suite("VRRPSetup: the seeds' keepalived.conf")
struct VRRPSetupSeedTests {
    @Test("seed 003 §3.5 master: VI_1 eth0 VRID 55 priority 150 MASTER, v2 PASS 1111, VIP /24 dev eth0 label eth0:240")
    func seed003Master() throws {
        let s = setup(SeedConfigs.seed003MasterVRRP)
        #expect(s.diagnostics.isEmpty)
        let c = try #require(s.instances.first)
        #expect(s.instances.count == 1)
        #expect(c.name == "VI_1")
        #expect(c.interface == "eth0")
        #expect(c.virtualRouterID == 55)
        #expect(c.priority == 150)
        #expect(c.initialState == .master)
        #expect(c.effectiveVersion == .v2)
        #expect(c.advertInterval == .seconds(1))
        #expect(c.authentication == .pass("1111"))
        #expect(
            c.virtualIPAddresses == [
                LVSVRRP.VirtualIPAddress(.v4(v4("192.168.0.240")), prefixLength: 24, device: "eth0", label: "eth0:240")
            ])
        // keepalived's defaults (global_data): GARP 5 × after 5 s, no refresh, 3 adverts, 224.0.0.18.
        #expect(c.garpMasterDelay == .seconds(5))
        #expect(c.garpMasterRepeat == 5)
        #expect(c.garpMasterRefresh == .zero)
        #expect(c.garpMasterRefreshRepeat == 1)
        #expect(c.downTimerAdverts == 3)
        #expect(c.garpLowerPriorityRepeat == 5 && c.garpLowerPriorityDelay == .seconds(5))
        #expect(c.multicastGroup4 == v4("224.0.0.18"))
        #expect(!c.nopreempt && !c.lowerPriorityNoAdvert && !c.higherPrioritySendAdvert)
        #expect(s.routerID == "LVS01")
        // notification_email + smtp_server alone send no VRRP alert: smtp_alert is off by default.
        #expect(s.alertingInstances.isEmpty)
    }

    @Test("seed 003 §3.5 backup: priority 100 BACKUP, router_id LVS02")
    func seed003Backup() throws {
        let s = setup(SeedConfigs.seed003BackupVRRP)
        let c = try #require(s.instances.first)
        #expect(c.priority == 100)
        #expect(c.initialState == .backup)
        #expect(c.virtualRouterID == 55)
        #expect(s.routerID == "LVS02")
    }

    @Test("seed 003 §3.9 full config: the VRRP part is the §3.5 master's")
    func seed003Full() {
        #expect(setup(SeedConfigs.seed003Full).instances == setup(SeedConfigs.seed003MasterVRRP).instances)
    }

    @Test("seed 000: VRID 51 priority 100 MASTER, VIP 192.168.0.110/32 on the instance's interface")
    func seed000() throws {
        let s = setup(SeedConfigs.seed000Master)
        let c = try #require(s.instances.first)
        #expect(c.virtualRouterID == 51)
        #expect(c.priority == 100)
        #expect(c.initialState == .master)
        #expect(c.virtualIPAddresses == [LVSVRRP.VirtualIPAddress(.v4(v4("192.168.0.110")))])
        #expect(c.virtualIPAddresses[0].prefixLength == 32)
        #expect(s.routerID == "lvs-test")
    }

    @Test("seed 001: router_id LVS_SUNINGPOSINF_PRD, VRID 51 priority 100, VIP 192.168.0.239")
    func seed001() throws {
        let s = setup(SeedConfigs.seed001)
        let c = try #require(s.instances.first)
        #expect(s.routerID == "LVS_SUNINGPOSINF_PRD")
        #expect(c.virtualRouterID == 51 && c.priority == 100)
        #expect(c.virtualIPAddresses.map(\.address) == [ip("192.168.0.239")])
    }

    @Test("seed 002 master: chk_nginx interval 2 weight -20 tracked; nopreempt cleared by state MASTER; mcast_src_ip")
    func seed002Master() throws {
        let s = setup(SeedConfigs.seed002Master)
        let c = try #require(s.instances.first)
        #expect(c.virtualRouterID == 121)
        #expect(c.mcastSourceIP == ip("192.168.159.129"))
        #expect(c.nopreempt == false)
        #expect(c.trackScripts == [TrackedScript("chk_nginx")])
        let script = try #require(s.scripts.first)
        #expect(script.name == "chk_nginx")
        #expect(script.script == "/etc/keepalived/nginx_check.sh")
        #expect(script.interval == .seconds(2))
        #expect(script.weight == -20)
        #expect(script.effectiveTimeout == .seconds(2))
        #expect(script.rise == 1 && script.fall == 1)
    }

    @Test("seed 002 backup: state BACKUP keeps nopreempt; the same VRID and script")
    func seed002Backup() throws {
        let s = setup(SeedConfigs.seed002Backup)
        let c = try #require(s.instances.first)
        #expect(c.nopreempt)
        #expect(c.initialState == .backup)
        #expect(c.mcastSourceIP == ip("192.168.159.130"))
        #expect(s.scripts.map(\.weight) == [-20])
    }

    @Test("K:vrrp_init_state: seed 003's master (MASTER, priority 150) waits advert_int + minimum skew, then is MASTER")
    func seed003MasterRuns() throws {
        let s = setup(SeedConfigs.seed003MasterVRRP)
        var node = try VRRPNode(
            instances: s.instances, sourceAddresses: ["VI_1": ip("192.168.0.210")], scripts: s.scripts,
            syncGroups: s.syncGroups)
        let t0 = Timestamp(nanoseconds: 1_000_000_000)
        _ = node.handle(.interfaceState(name: "eth0", up: true), now: t0)
        _ = node.handle(.start, now: t0)
        #expect(node.instance("VI_1")?.state == .backup)
        // v2 minimum skew: 1/256 s = 3 906 µs.
        let acts = node.handle(.timer, now: t0 + .seconds(1) + .microseconds(3906))
        #expect(node.instance("VI_1")?.state == .master)
        #expect(acts.contains { $0.action == .sendAdvert(priority: 150) })
        #expect(acts.contains { if case .addAddresses = $0.action { return true } else { return false } })
    }
}

@Suite("VRRPSetup: keepalived's rules")
struct VRRPSetupRuleTests {
    @Test("K:vrrp_complete_instance: without priority, state MASTER means the owner (255), BACKUP means 100")
    func priorityFromState() throws {
        let master = setup(instance("state MASTER"))
        #expect(master.instances.first?.priority == 255)
        let backup = setup(instance("state BACKUP"))
        #expect(backup.instances.first?.priority == 100)
        let none = setup(instance(""))
        #expect(none.instances.first?.priority == 100)
        #expect(none.instances.first?.initialState == nil)
    }

    @Test("K:global vrrp_version 3 makes IPv4 instances v3; v3 ignores authentication with keepalived's message")
    func globalVersionAndV3Auth() throws {
        let s = setup(
            instance(
                "authentication {\nauth_type PASS\nauth_pass secret\n}", global: "vrrp_version 3"))
        let c = try #require(s.instances.first)
        #expect(c.effectiveVersion == .v3)
        #expect(c.authentication == LVSVRRP.VRRPAuthentication.none)
        #expect(messages(s) == ["(VI_1) VRRP version 3 does not support authentication. Ignoring."])
    }

    @Test("K:instance version 2 overrides global vrrp_version 3; IPv6 instances are always v3")
    func versions() throws {
        #expect(setup(instance("version 2", global: "vrrp_version 3")).instances.first?.effectiveVersion == .v2)
        let v6 = setup(
            """
            vrrp_instance V6 {
                interface eth0
                virtual_router_id 9
                virtual_ipaddress {
                    fe80::1
                    2001:db8::10/64
                }
            }
            """)
        #expect(v6.instances.first?.effectiveVersion == .v3)
        #expect(v6.instances.first?.virtualIPAddresses.map(\.prefixLength) == [128, 64])
    }

    @Test("K:vrrp_complete_instance: v2 advert_int 1.4 is rounded to 1 s, v3 0.125 to 0.13 s, with a warning")
    func advertIntervalRounding() throws {
        let v2 = setup(instance("advert_int 1.4"))
        #expect(v2.instances.first?.advertInterval == .seconds(1))
        #expect(messages(v2).first?.contains("must be an integer - rounding") == true)
        let v2up = setup(instance("advert_int 2.5"))
        #expect(v2up.instances.first?.advertInterval == .seconds(3))
        let v3 = setup(instance("version 3\nadvert_int 0.125"))
        #expect(v3.instances.first?.advertInterval == .milliseconds(130))
        #expect(messages(v3).first?.contains("must be in units of 10ms") == true)
        let fast = setup(instance("version 3\nadvert_int 0.1"))
        #expect(fast.instances.first?.advertInterval == .milliseconds(100))
        #expect(fast.diagnostics.isEmpty)
    }

    @Test("auth_type AH is not run (SwiftLVS has no IPsec AH): error at the authentication block")
    func authAH() {
        let s = setup(instance("authentication {\nauth_type AH\nauth_pass 1111\n}"))
        #expect(s.instances.isEmpty)
        #expect(s.diagnostics.count == 1)
        #expect(s.diagnostics.first?.severity == .error)
        #expect(s.diagnostics.first?.description.hasPrefix("keepalived.conf:11: (VI_1) auth_type AH") == true)
    }

    @Test("K:vrrp_complete_instance: authentication without a password is ignored")
    func authWithoutPassword() {
        let s = setup(instance("authentication {\nauth_type PASS\n}"))
        #expect(s.instances.first?.authentication == LVSVRRP.VRRPAuthentication.none)
        #expect(messages(s) == ["(VI_1) Authentication specified but no password given. Ignoring"])
    }

    @Test("K:vrrp_complete_instance: an address owner ignores weighted trackers (scripts and interfaces)")
    func ownerIgnoresWeights() throws {
        let s = setup(
            instance(
                "priority 255\ntrack_script {\nchk\nok_unweighted weight 0\n}\ntrack_interface {\neth1 weight 10\neth2\n}",
                extra:
                    "vrrp_script chk {\nscript /bin/true\nweight -20\n}\nvrrp_script ok_unweighted {\nscript /bin/true\n}"
            ))
        let c = try #require(s.instances.first)
        #expect(c.trackScripts == [TrackedScript("ok_unweighted", weight: 0)])
        #expect(c.trackInterfaces == [TrackedInterface("eth2")])
        #expect(
            messages(s) == [
                "(VI_1) ignoring eth1 tracked interface due to address owner",
                "(VI_1) ignoring tracked script chk with weights due to address owner",
            ])
    }

    @Test("K:vrrp_complete_instance: in a sync group, weighted scripts are dropped and interface weights set to 0")
    func syncGroupWeights() throws {
        let s = setup(
            instance(
                "track_script {\nchk\n}\ntrack_interface {\neth1 weight 10\n}",
                extra: "vrrp_script chk {\nscript /bin/true\nweight 5\n}\nvrrp_sync_group G {\ngroup {\nVI_1\n}\n}"))
        let c = try #require(s.instances.first)
        #expect(c.trackScripts.isEmpty)
        #expect(c.trackInterfaces == [TrackedInterface("eth1", weight: 0)])
        #expect(s.syncGroups == [VRRPSyncGroupConfig(name: "G", instances: ["VI_1"])])
        #expect(messages(s).contains("(VI_1) ignoring tracked script chk with weights due to SYNC group"))
    }

    @Test("sync_group_tracking_weight keeps members' weights")
    func syncGroupTrackingWeight() throws {
        let s = setup(
            instance(
                "track_script {\nchk\n}",
                extra:
                    "vrrp_script chk {\nscript /bin/true\nweight 5\n}\nvrrp_sync_group G {\ngroup {\nVI_1\n}\nsync_group_tracking_weight\n}"
            ))
        #expect(s.instances.first?.trackScripts == [TrackedScript("chk")])
    }

    @Test("K:vrrp_complete_instance: track_interface naming the instance's own interface is ignored")
    func ownInterface() {
        let s = setup(instance("track_interface {\neth0 weight 5\neth1\n}"))
        #expect(s.instances.first?.trackInterfaces == [TrackedInterface("eth1")])
        #expect(messages(s) == ["(VI_1) Ignoring track_interface eth0 since own interface"])
    }

    @Test("K:TRACK_ADDR: a VIP on another device makes that device tracked (unless no_track)")
    func vipDeviceTracked() {
        let s = setup(
            """
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 51
                virtual_ipaddress {
                    10.0.0.100
                    10.1.0.100 dev eth1
                    10.2.0.100 dev eth2 no_track
                }
            }
            """)
        #expect(s.instances.first?.trackInterfaces == [TrackedInterface("eth1")])
    }

    @Test("K:alloc_vrrp: global vrrp_garp_master_* and friends are each instance's defaults; the instance's own win")
    func globalDefaults() throws {
        let s = setup(
            instance(
                "garp_master_repeat 2",
                global: """
                    vrrp_garp_master_delay 10
                    vrrp_garp_master_repeat 3
                    vrrp_garp_master_refresh 60
                    vrrp_garp_master_refresh_repeat 2
                    vrrp_lower_prio_no_advert
                    vrrp_higher_prio_send_advert
                    vrrp_mcast_group4 224.0.0.19
                    vrrp_check_unicast_src
                    vrrp_garp_lower_prio_repeat 2
                    vrrp_garp_lower_prio_delay 0
                    """))
        let c = try #require(s.instances.first)
        #expect(c.garpMasterDelay == .seconds(10))
        #expect(c.garpMasterRepeat == 2)
        #expect(c.garpMasterRefresh == .seconds(60))
        #expect(c.garpMasterRefreshRepeat == 2)
        #expect(c.lowerPriorityNoAdvert)
        #expect(c.higherPrioritySendAdvert)
        #expect(c.multicastGroup4 == v4("224.0.0.19"))
        #expect(c.checkUnicastSource)
        #expect(c.garpLowerPriorityRepeat == 2 && c.garpLowerPriorityDelay == .zero)
    }

    @Test("K:global_parser vrrp_min_garp: one GARP and no second burst; a later vrrp_garp_master_repeat wins")
    func minGarp() throws {
        let s = setup(instance("", global: "vrrp_min_garp"))
        let c = try #require(s.instances.first)
        #expect(c.garpMasterRepeat == 1)
        #expect(c.garpMasterDelay == .zero)
        let later = setup(instance("", global: "vrrp_min_garp\nvrrp_garp_master_repeat 4"))
        #expect(later.instances.first?.garpMasterRepeat == 4)
        let earlier = setup(instance("", global: "vrrp_garp_master_repeat 4\nvrrp_min_garp"))
        #expect(earlier.instances.first?.garpMasterRepeat == 1)
    }

    @Test("K:vrrp_complete_instance smtp_alert: the instance's, else smtp_alert_vrrp, else smtp_alert, else off")
    func smtpAlertResolution() {
        #expect(setup(instance("smtp_alert")).alertingInstances == ["VI_1"])
        #expect(setup(instance("", global: "smtp_alert")).alertingInstances == ["VI_1"])
        #expect(setup(instance("", global: "smtp_alert\nsmtp_alert_vrrp off")).alertingInstances.isEmpty)
        #expect(setup(instance("smtp_alert off", global: "smtp_alert")).alertingInstances.isEmpty)
        #expect(setup(instance("")).alertingInstances.isEmpty)
    }

    @Test("script_user runs scripts and notifies; a user on the notify line or in vrrp_script wins")
    func scriptUsers() throws {
        let s = setup(
            instance(
                "notify_master \"/etc/keepalived/master.sh\"\nnotify_backup /etc/keepalived/backup.sh nobody nogroup\ntrack_script {\nchk\n}",
                global: "script_user keepalived_script\nenable_script_security",
                extra: "vrrp_script chk {\nscript /bin/true\nuser daemon\n}\nvrrp_script other {\nscript /bin/false\n}")
        )
        let c = try #require(s.instances.first)
        #expect(c.notify.master == "/etc/keepalived/master.sh")
        #expect(c.notify.runAs[.master] == VRRPScriptUser("keepalived_script"))
        #expect(c.notify.runAs[.backup] == VRRPScriptUser("nobody", group: "nogroup"))
        #expect(s.scripts.first { $0.name == "chk" }?.user == "daemon")
        #expect(s.scripts.first { $0.name == "other" }?.user == "keepalived_script")
    }

    @Test("notify command lines keep keepalived's words exactly through LVSVRRP's splitter (quotes, spaces, ')")
    func notifyWords() throws {
        let s = setup(instance("notify \"/usr/local/bin/notify.sh 'two words' it\\\\'s\""))
        let line = try #require(s.instances.first?.notify.generic)
        let conf = KeepalivedConfigLoader.check(
            text: instance("notify \"/usr/local/bin/notify.sh 'two words' it\\\\'s\""))
        let words = try #require(conf.configuration.vrrpInstances.first?.notify.any?.arguments)
        #expect(LVSVRRP.ScriptCommand.split(line) == words)
        #expect(VRRPSetup.commandLine(["/bin/echo", "a b", "it's", ""]) == "/bin/echo 'a b' 'it'\\''s' ''")
        #expect(
            LVSVRRP.ScriptCommand.split(VRRPSetup.commandLine(["/bin/echo", "a b", "it's", ""])) == [
                "/bin/echo", "a b", "it's", "",
            ])
    }

    @Test("VIP options: brd + and - computed, scope and label kept; peer / preferred_lft reported as unsupported")
    func vipOptions() throws {
        let s = setup(
            """
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 51
                virtual_ipaddress {
                    192.168.0.240/24 brd + dev eth0 label eth0:240 scope link
                    192.168.1.240/24 brd -
                    192.168.2.240/24 brd 192.168.2.255 peer 192.168.2.1 preferred_lft 0
                }
            }
            """)
        let vips = try #require(s.instances.first?.virtualIPAddresses)
        #expect(vips[0].broadcast == v4("192.168.0.255"))
        #expect(vips[0].scope == .link)
        #expect(vips[0].label == "eth0:240")
        #expect(vips[1].broadcast == v4("192.168.1.0"))
        #expect(vips[2].broadcast == v4("192.168.2.255"))
        #expect(
            messages(s) == [
                "(VI_1) virtual address 192.168.2.240: option peer is not supported by SwiftLVS - ignored",
                "(VI_1) virtual address 192.168.2.240: option preferred_lft is not supported by SwiftLVS - ignored",
            ])
    }

    @Test("unicast: peers with min/max TTL, unicast_src_ip, unicast_ttl")
    func unicast() throws {
        let s = setup(
            """
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 51
                unicast_src_ip 10.0.0.1
                unicast_ttl 64
                unicast_peer {
                    10.0.0.2
                    10.0.0.3 min_ttl 60 max_ttl 64
                }
                virtual_ipaddress {
                    10.0.0.100
                }
            }
            """)
        let c = try #require(s.instances.first)
        #expect(c.isUnicast)
        #expect(c.unicastSourceIP == ip("10.0.0.1"))
        #expect(c.unicastTTL == 64)
        #expect(
            c.unicastPeers == [
                LVSVRRP.UnicastPeer(ip("10.0.0.2")), LVSVRRP.UnicastPeer(ip("10.0.0.3"), minTTL: 60, maxTTL: 64),
            ])
    }

    @Test("K:vrrp_strict: no authentication, lower_prio_no_advert forced; unsupported parts reported")
    func strict() throws {
        let s = setup(instance("authentication {\nauth_type PASS\nauth_pass 1111\n}", global: "vrrp_strict"))
        let c = try #require(s.instances.first)
        #expect(c.authentication == LVSVRRP.VRRPAuthentication.none)
        #expect(c.lowerPriorityNoAdvert)
        #expect(messages(s).contains("(VI_1) Strict mode does not support authentication. Ignoring."))
        #expect(messages(s).contains("(VI_1) vrrp_strict is not supported by SwiftLVS - ignored"))
    }

    @Test("unsupported keywords are reported at their line, never silently dropped")
    func unsupported() {
        let s = setup(
            instance(
                "use_vmac\ntrack_file {\nf1\n}\nno_accept",
                extra: "track_file f1 {\nfile /tmp/x\n}"))
        let m = messages(s)
        #expect(m.contains("(VI_1) use_vmac is not supported by SwiftLVS - ignored"))
        #expect(m.contains("(VI_1) track_file is not supported by SwiftLVS - ignored"))
        #expect(m.contains("(VI_1) no_accept is not supported by SwiftLVS - ignored"))
        #expect(s.instances.count == 1)
    }

    @Test(
        "an instance LVSVRRP refuses (no interface, no unicast peer) is reported and not run; its sync group goes too")
    func refusedInstance() {
        let s = setup(
            """
            vrrp_instance VI_1 {
                virtual_router_id 51
                virtual_ipaddress {
                    10.0.0.100
                }
            }
            vrrp_sync_group G {
                group {
                    VI_1
                }
            }
            """)
        #expect(s.instances.isEmpty)
        #expect(s.syncGroups.isEmpty)
        #expect(messages(s).contains("(VI_1) Unknown interface! - the instance is not run"))
        #expect(messages(s).contains("sync group G has no member that can run - removing"))
    }

    @Test("mcast_dst_ip replaces the group of the instance's family")
    func multicastDestination() {
        let s = setup(instance("mcast_dst_ip 224.0.0.99"))
        #expect(s.instances.first?.multicastGroup4 == v4("224.0.0.99"))
    }

    @Test("a configuration with no vrrp_instance maps to an empty setup")
    func empty() {
        #expect(setup("global_defs {\nrouter_id X\n}").isEmpty)
    }
}
