// Every keyword the issue and keepalived.conf(5) list is recognised in its block.
import KeepalivedConfig
import Testing

@Suite("Keyword coverage (keepalived.conf(5), keepalived 2.4 parsers)")
struct KeywordCoverageTests {
    static let expected: [(ConfigBlockKind, [String])] = [
        (
            .root,
            [
                "global_defs", "vrrp_script", "vrrp_track_process", "track_file", "vrrp_sync_group", "garp_group",
                "vrrp_instance", "static_ipaddress", "static_routes", "static_rules", "track_group",
                "linkbeat_interfaces", "interface_up_down_delays", "bfd_instance", "SSL", "virtual_server_group",
                "virtual_server", "net_namespace", "instance",
            ]
        ),
        (
            .globalDefs,
            [
                "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout", "smtp_alert",
                "smtp_alert_vrrp", "smtp_alert_checker", "router_id", "lvs_sync_daemon", "lvs_timeouts", "lvs_flush",
                "lvs_flush_on_stop", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_version",
                "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh",
                "vrrp_garp_master_refresh_repeat", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat",
                "vrrp_garp_interval", "vrrp_gna_interval", "vrrp_min_garp", "vrrp_lower_prio_no_advert",
                "vrrp_higher_prio_send_advert", "vrrp_check_unicast_src", "vrrp_skip_check_adv_addr", "vrrp_strict",
                "vrrp_startup_delay", "script_user", "enable_script_security", "vrrp_notify_fifo", "lvs_notify_fifo",
                "include_check", "random_seed", "lvs_flush_onstop",
            ]
        ),
        (.vrrpScript, ["script", "interval", "timeout", "weight", "rise", "fall", "user", "init_fail"]),
        (
            .vrrpInstance,
            [
                "state", "interface", "virtual_router_id", "priority", "advert_int", "version", "nopreempt", "preempt",
                "preempt_delay", "authentication", "auth_hmac", "virtual_ipaddress", "virtual_ipaddress_excluded",
                "virtual_routes", "virtual_rules", "track_interface", "track_script", "track_file", "track_process",
                "track_bfd", "dont_track_primary", "mcast_src_ip", "unicast_src_ip", "unicast_peer", "unicast_ttl",
                "unicast_fault_no_peer", "check_unicast_src", "garp_master_delay", "garp_master_repeat",
                "garp_master_refresh", "garp_master_refresh_repeat", "garp_lower_prio_delay", "garp_lower_prio_repeat",
                "accept", "no_accept", "strict_mode", "lower_prio_no_advert", "higher_prio_send_advert",
                "down_timer_adverts", "v3_checksum_as_v2", "use_vmac", "notify_master", "notify_backup", "notify_fault",
                "notify_stop", "notify", "notify_master_rx_lower_pri", "smtp_alert", "lvs_sync_daemon_interface",
                "vmac_garp_intvl",
            ]
        ),
        (.authentication, ["auth_type", "auth_pass"]),
        (
            .vrrpSyncGroup,
            [
                "group", "track_interface", "track_script", "track_file", "track_process", "track_bfd", "notify_master",
                "notify_backup", "notify_fault", "notify_stop", "notify", "smtp_alert",
            ]
        ),
        (
            .virtualServer,
            [
                "lb_algo", "lvs_sched", "lb_kind", "lvs_method", "persistence_timeout", "persistence_granularity",
                "persistence_engine", "protocol", "ops", "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback",
                "mh-port", "mh-fallback", "sorry_server", "sorry_server_inhibit", "sorry_server_lvs_method", "quorum",
                "hysteresis", "quorum_up", "quorum_down", "alpha", "omega", "ha_suspend", "inhibit_on_failure",
                "delay_loop", "connect_timeout", "retry", "delay_before_retry", "warmup", "virtualhost", "ip_family",
                "real_server", "nat_mask",
            ]
        ),
        (
            .realServer,
            [
                "weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure", "notify_up", "notify_down",
                "smtp_alert", "alpha", "retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop",
                "virtualhost", "HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "DNS_CHECK", "SMTP_CHECK",
                "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK",
            ]
        ),
        (
            .tcpCheck,
            [
                "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "retry",
                "delay_before_retry", "warmup", "delay_loop", "alpha", "nb_get_retry", "fwmark",
            ]
        ),
        (
            .httpGet,
            ["url", "virtualhost", "http_protocol", "enable_sni", "fast_recovery", "nb_get_retry", "connect_port"]
        ),
        (.sslGet, ["url", "enable_sni", "sni_name", "tls_compliant", "nb_get_retry"]),
        (.url, ["path", "digest", "status_code", "virtualhost", "regex"]),
        (.miscCheck, ["misc_path", "misc_timeout", "misc_dynamic", "user", "retry", "delay_loop", "warmup"]),
        (.dnsCheck, ["type", "name", "connect_ip", "retry"]),
        (.smtpCheck, ["helo_name", "host", "connect_ip", "connect_port"]),
        (.udpCheck, ["payload", "require_reply", "min_reply_length", "max_reply_length", "connect_port"]),
        (.pingCheck, ["connect_ip", "retry", "delay_loop"]),
        (.fileCheck, ["track_file", "dynamic", "weight"]),
        (.bfdCheck, ["name"]),
    ]

    @Test(
        "Every keyword of global_defs, vrrp_script, vrrp_instance, vrrp_sync_group, virtual_server, real_server and the checkers is recognised"
    )
    func recognised() {
        for (block, keywords) in Self.expected {
            for keyword in keywords {
                #expect(KeepalivedKeywords.isRecognised(keyword, in: block), "\(keyword) in \(block.rawValue)")
            }
        }
    }

    @Test("Legacy aliases map to the keyword keepalived reads them as")
    func aliases() {
        #expect(KeepalivedKeywords.canonicalName(of: "lvs_sched", in: .virtualServer) == "lb_algo")
        #expect(KeepalivedKeywords.canonicalName(of: "lvs_method", in: .virtualServer) == "lb_kind")
        #expect(KeepalivedKeywords.canonicalName(of: "nb_get_retry", in: .tcpCheck) == "retry")
        #expect(KeepalivedKeywords.canonicalName(of: "nb_get_retry", in: .httpGet) == "retry")
        #expect(KeepalivedKeywords.canonicalName(of: "lvs_flush_onstop", in: .globalDefs) == "lvs_flush_on_stop")
        #expect(KeepalivedKeywords.canonicalName(of: "vrrp_track_file", in: .root) == "track_file")
        #expect(KeepalivedKeywords.canonicalName(of: "lb_algo", in: .virtualServer) == nil)
    }

    @Test("Keywords are per block: a checker keyword is not a virtual_server keyword")
    func perBlock() {
        #expect(!KeepalivedKeywords.isRecognised("connect_port", in: .virtualServer))
        #expect(!KeepalivedKeywords.isRecognised("lb_algo", in: .realServer))
        #expect(!KeepalivedKeywords.isRecognised("STATE", in: .vrrpInstance))
        #expect(!KeepalivedKeywords.isRecognised("misc_path", in: .tcpCheck))
    }

    @Test("Every value keyword of every block parses without an unknown-keyword error")
    func everyKeywordParses() {
        for block in [ConfigBlockKind.globalDefs, .vrrpInstance, .virtualServer] {
            for keyword in KeepalivedKeywords.keywords(in: block) {
                let text: String
                switch block {
                case .globalDefs: text = "global_defs {\n \(keyword) 1 1 1\n}\n"
                case .vrrpInstance: text = "vrrp_instance V {\n \(keyword) 1 1 1\n}\n"
                default: text = "virtual_server 10.0.0.1 80 {\n \(keyword) 1 1 1\n}\n"
                }
                let r = check(text)
                #expect(
                    !r.diagnostics.contains { $0.message.hasPrefix("unknown keyword") },
                    "\(keyword) in \(block.rawValue)")
            }
        }
    }
}
