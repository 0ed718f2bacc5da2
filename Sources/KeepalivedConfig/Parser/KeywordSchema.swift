// Every keyword keepalived 2.4 accepts, block by block, with its shape, arity and aliases.

/// The kinds of block a keepalived.conf can contain.
public enum ConfigBlockKind: String, Hashable, Sendable, CaseIterable {
    case root = "(top level)"
    case globalDefs = "global_defs"
    case vrrpScript = "vrrp_script"
    case vrrpTrackProcess = "vrrp_track_process"
    case trackFile = "track_file"
    case vrrpSyncGroup = "vrrp_sync_group"
    case garpGroup = "garp_group"
    case trackGroup = "track_group"
    case vrrpInstance = "vrrp_instance"
    case authentication = "authentication"
    case authHMAC = "auth_hmac"
    case bfdInstance = "bfd_instance"
    case ssl = "SSL"
    case virtualServer = "virtual_server"
    case realServer = "real_server"
    case httpGet = "HTTP_GET"
    case sslGet = "SSL_GET"
    case url = "url"
    case tcpCheck = "TCP_CHECK"
    case smtpCheck = "SMTP_CHECK"
    case smtpHost = "host"
    case dnsCheck = "DNS_CHECK"
    case miscCheck = "MISC_CHECK"
    case udpCheck = "UDP_CHECK"
    case pingCheck = "PING_CHECK"
    case fileCheck = "FILE_CHECK"
    case bfdCheck = "BFD_CHECK"
}

/// How a keyword is written.
enum KeywordShape: Hashable, Sendable {
    /// `keyword args...` on one line.
    case value
    /// `keyword args... { sub-keywords }`.
    case block(ConfigBlockKind)
    /// `keyword args... { lines of values }` (addresses, names, ...), read without keywords.
    case valueBlock
}

/// One keyword of a block.
struct KeywordSpec: Sendable {
    let name: String
    let shape: KeywordShape
    /// Fewest words after the keyword.
    let minArgs: Int
    /// Most words after the keyword that mean something (nil: no limit).
    let maxArgs: Int?
    /// For an alias or legacy spelling, the keyword it stands for.
    let canonical: String?
    /// For a legacy or deprecated keyword, the note printed when it is used.
    let legacyNote: String?
    /// True for script-valued keywords, whose words are re-split shell-fashion.
    let quoted: Bool

    var canonicalName: String { canonical ?? name }
}

/// The keyword tables (keepalived `global_parser.c`, `vrrp_parser.c`, `check_parser.c`,
/// `check_*.c`, `bfd_parser.c`, `track_file.c`).
enum KeywordSchema {
    private static func v(_ name: String, _ min: Int = 1, _ max: Int? = -1, quoted: Bool = false) -> KeywordSpec {
        KeywordSpec(
            name: name, shape: .value, minArgs: min, maxArgs: max == -1 ? min : max, canonical: nil, legacyNote: nil,
            quoted: quoted)
    }
    private static func flag(_ name: String) -> KeywordSpec { v(name, 0, 0) }
    private static func bool(_ name: String) -> KeywordSpec { v(name, 0, 1) }
    private static func script(_ name: String, _ min: Int = 1) -> KeywordSpec { v(name, min, 3, quoted: true) }
    private static func block(_ name: String, _ kind: ConfigBlockKind, _ min: Int = 0, _ max: Int? = -1)
        -> KeywordSpec
    {
        KeywordSpec(
            name: name, shape: .block(kind), minArgs: min, maxArgs: max == -1 ? min : max, canonical: nil,
            legacyNote: nil, quoted: false)
    }
    private static func list(_ name: String, _ min: Int = 0) -> KeywordSpec {
        KeywordSpec(
            name: name, shape: .valueBlock, minArgs: min, maxArgs: min, canonical: nil, legacyNote: nil, quoted: false)
    }
    private static func alias(_ name: String, of target: KeywordSpec, note: String? = nil) -> KeywordSpec {
        KeywordSpec(
            name: name, shape: target.shape, minArgs: target.minArgs, maxArgs: target.maxArgs,
            canonical: target.name, legacyNote: note, quoted: target.quoted)
    }
    private static func legacy(_ name: String, _ min: Int, _ max: Int?, note: String) -> KeywordSpec {
        KeywordSpec(
            name: name, shape: .value, minArgs: min, maxArgs: max, canonical: nil, legacyNote: note, quoted: false)
    }

    static let root: [KeywordSpec] = [
        block("global_defs", .globalDefs),
        block("vrrp_script", .vrrpScript, 1),
        block("vrrp_track_process", .vrrpTrackProcess, 1),
        block("track_file", .trackFile, 1),
        alias(
            "vrrp_track_file", of: block("track_file", .trackFile, 1),
            note: "'vrrp_track_file' is deprecated; read as 'track_file'"),
        block("vrrp_sync_group", .vrrpSyncGroup, 1),
        block("garp_group", .garpGroup),
        block("vrrp_instance", .vrrpInstance, 1),
        list("static_ipaddress"), list("static_routes"), list("static_rules"),
        block("track_group", .trackGroup, 1),
        list("linkbeat_interfaces"), list("interface_up_down_delays"),
        block("bfd_instance", .bfdInstance, 1),
        block("SSL", .ssl),
        list("virtual_server_group", 1),
        block("virtual_server", .virtualServer, 1, 2),
        v("net_namespace"), v("net_namespace_ipvs", 0, 1), flag("namespace_with_ipsets"), flag("use_pid_dir"),
        v("instance"), v("child_wait_time"), flag("linkbeat_use_polling"),
    ]

    static let globalDefs: [KeywordSpec] = {
        var k: [KeywordSpec] = [
            flag("process_names"), v("process_name"), v("vrrp_process_name"), v("checker_process_name"),
            v("bfd_process_name"), v("router_id"), v("notification_email_from"), v("smtp_server", 1, 2),
            v("smtp_helo_name"), v("smtp_connect_timeout"), list("notification_email"), bool("smtp_alert"),
            script("startup_script"), v("startup_script_timeout"), script("shutdown_script"),
            v("shutdown_script_timeout"), v("max_auto_priority", 0, 1), v("min_auto_priority_delay"),
            bool("smtp_alert_vrrp"), bool("smtp_alert_checker"), bool("checker_log_all_failures"),
            v("dynamic_interfaces", 0, 1), flag("no_email_faults"), v("default_interface"), flag("disable_local_igmp"),
            v("lvs_timeouts", 2, 6), flag("lvs_flush"), v("lvs_flush_on_stop", 0, 1), v("lvs_sync_daemon", 1, nil),
            v("lvs_sync_daemon_auth_key", 1, 1), v("lvs_sync_daemon_bulk_wait", 1, 1),
            v("lvs_announce_table", 1, 3),
            v("vrrp_mcast_group4"), v("vrrp_mcast_group6"), v("vrrp_garp_master_delay"), v("vrrp_garp_master_repeat"),
            v("vrrp_garp_master_refresh"), v("vrrp_garp_master_refresh_repeat"), v("vrrp_garp_lower_prio_delay"),
            v("vrrp_garp_lower_prio_repeat"), v("vrrp_garp_interval"), v("vrrp_gna_interval"), bool("vrrp_min_garp"),
            v("vrrp_garp_extra_if", 1, 2), v("vrrp_down_timer_adverts"), bool("vrrp_lower_prio_no_advert"),
            bool("vrrp_higher_prio_send_advert"), v("vrrp_version"), bool("v3_checksum_as_v2"),
            v("vrrp_iptables", 0, 2), v("vrrp_ipsets", 0, 6), v("nftables", 0, 1), v("nftables_priority"),
            flag("nftables_ifindex"), v("nftables_ipvs", 0, 1), v("nftables_ipvs_priority"),
            v("nftables_ipvs_start_fwmark"), flag("nftables_counters"), flag("vrrp_check_unicast_src"),
            bool("vrrp_skip_check_adv_addr"), flag("vrrp_strict"), v("vrrp_priority"), flag("vrrp_no_swap"),
            v("vrrp_rt_priority"), v("vrrp_cpu_affinity", 1, nil), v("vrrp_rlimit_rttime"),
            script("notify_fifo"), script("notify_fifo_script"), script("vrrp_notify_fifo"),
            script("vrrp_notify_fifo_script"), bool("vrrp_notify_priority_changes"), script("lvs_notify_fifo"),
            script("lvs_notify_fifo_script"), v("checker_priority"), flag("checker_no_swap"), v("checker_rt_priority"),
            v("checker_cpu_affinity", 1, nil), v("checker_rlimit_rttime"), v("bfd_priority"), flag("bfd_no_swap"),
            v("bfd_rt_priority"), v("bfd_cpu_affinity", 1, nil), v("bfd_rlimit_rttime"), v("snmp_socket"),
            flag("enable_traps"), flag("enable_snmp_vrrp"), flag("enable_snmp_rfc"), flag("enable_snmp_rfcv2"),
            flag("enable_snmp_rfcv3"), flag("enable_snmp_checker"), v("snmp_vs_stats_update_interval"),
            v("snmp_rs_stats_update_interval"), flag("enable_dbus"), v("dbus_service_name"),
            v("dbus_no_interface_name"), v("script_user", 1, 2), flag("enable_script_security"),
            v("vrrp_netlink_cmd_rcv_bufs"), bool("vrrp_netlink_cmd_rcv_bufs_force"),
            v("vrrp_netlink_monitor_rcv_bufs"), bool("vrrp_netlink_monitor_rcv_bufs_force"),
            v("process_monitor_rcv_bufs"), bool("process_monitor_rcv_bufs_force"), v("lvs_netlink_cmd_rcv_bufs"),
            bool("lvs_netlink_cmd_rcv_bufs_force"), v("lvs_netlink_monitor_rcv_bufs"),
            bool("lvs_netlink_monitor_rcv_bufs_force"), flag("rs_init_notifies"), flag("no_checker_emails"),
            v("vrrp_rx_bufs_policy"), v("vrrp_rx_bufs_multiplier"), v("vrrp_startup_delay"),
            v("vrrp_delay_after_boot"), flag("log_unknown_vrids"), v("vmac_prefix"), v("vmac_addr_prefix"),
            v("umask", 1, nil), v("random_seed"), v("reload_check_config", 0, 1), v("reload_time_file"),
            flag("reload_repeat"), v("reload_file", 0, 1), v("include_check", 0, nil), v("tmp_config_directory"),
            v("config_save_dir"), bool("data_use_instance"), bool("use_symlink_paths"),
            flag("set_supplementary_groups"),
            flag("fifo_write_vrrp_states_on_reload"), v("state_file_location"), v("stats_file_location"),
            v("json_file_location"), v("json_version"), v("iproute_usr_dir"), v("iproute_etc_dir"),
        ]
        func find(_ n: String) -> KeywordSpec { k.first { $0.name == n }! }
        // Old names keepalived still reads, with a note saying which keyword they became.
        k += [
            ("lvs_process_name", "checker_process_name"), ("lvs_flush_onstop", "lvs_flush_on_stop"),
            ("vrrp_vmac_garp_intvl", "vrrp_garp_extra_if"), ("vrrp_rlimit_rtime", "vrrp_rlimit_rttime"),
            ("checker_rlimit_rtime", "checker_rlimit_rttime"), ("bfd_rlimit_rtime", "bfd_rlimit_rttime"),
            ("enable_snmp_keepalived", "enable_snmp_vrrp"),
        ].map { old, new in alias(old, of: find(new), note: "'\(old)' is deprecated; read as '\(new)'") }
        k.append(alias("lvs_id", of: find("router_id"), note: "'lvs_id' is keepalived 1.x's name for 'router_id'"))
        return k
    }()

    static let vrrpScript: [KeywordSpec] = [
        v("script", 1, nil, quoted: true), v("interval"), v("timeout"), v("weight", 1, 2), v("rise"), v("fall"),
        v("user", 1, 2), flag("init_fail"),
    ]

    static let vrrpTrackProcess: [KeywordSpec] = [
        v("process", 1, nil), v("param_match", 0, 1), v("weight", 1, 2), v("quorum"), v("quorum_max"), v("delay"),
        v("terminate_delay"), v("fork_delay"), flag("full_command"),
    ]

    static let trackFile: [KeywordSpec] = [v("file"), v("weight", 1, 2), v("init_file", 0, 2)]

    private static let trackers: [KeywordSpec] = [
        list("track_interface"), list("track_script"), list("track_file"), list("track_process"), list("track_bfd"),
    ]

    static let vrrpSyncGroup: [KeywordSpec] =
        [list("group")] + trackers + [
            script("notify_backup"), script("notify_master"), script("notify_fault"), script("notify_stop"),
            script("notify_deleted", 0), script("notify"), bool("smtp_alert"),
            legacy(
                "global_tracking", 0, 0,
                note: "'global_tracking' is deprecated: use track_interface/track_script/track_file on the sync group"),
            flag("sync_group_tracking_weight"), bool("notify_priority_changes"),
        ]

    static let garpGroup: [KeywordSpec] = [v("garp_interval"), v("gna_interval"), v("interface"), list("interfaces")]

    static let trackGroup: [KeywordSpec] = [list("group")]

    static let vrrpInstance: [KeywordSpec] = {
        var k: [KeywordSpec] =
            [
                v("use_vmac", 0, nil), flag("use_vmac_addr"), flag("vmac_xmit_base"), v("use_ipvlan", 0, nil),
                list("unicast_peer"), flag("unicast_fault_no_peer"), flag("check_unicast_src"),
                v("old_unicast_checksum", 0, 1), flag("native_ipv6"), v("state"), v("interface"), v("vrf"),
                flag("dont_track_primary"),
            ] + trackers + [
                v("mcast_src_ip"), v("unicast_src_ip"), v("mcast_dst_ip"), flag("track_src_ip"), v("virtual_router_id"),
                v("unicast_ttl"), v("version"), v("priority"), v("advert_int"), list("virtual_ipaddress"),
                list("virtual_ipaddress_excluded"), flag("no_virtual_ipaddress"), flag("promote_secondaries"),
                flag("linkbeat_use_polling"), bool("v3_checksum_as_v2"), list("virtual_routes"), list("virtual_rules"),
                flag("accept"), flag("no_accept"), bool("skip_check_adv_addr"), bool("strict_mode"), flag("preempt"),
                flag("nopreempt"), v("preempt_delay"), v("debug"), script("notify_backup"), script("notify_master"),
                script("notify_fault"), script("notify_stop"), script("notify_deleted", 0), script("notify"),
                script("notify_master_rx_lower_pri"), bool("smtp_alert"), bool("notify_priority_changes"),
                legacy(
                    "lvs_sync_daemon_interface", 1, 1,
                    note:
                        "'lvs_sync_daemon_interface' in a vrrp_instance is deprecated: use global_defs lvs_sync_daemon"),
                v("garp_master_delay"), v("garp_master_refresh"), v("garp_master_repeat"),
                v("garp_master_refresh_repeat"), v("garp_lower_prio_delay"), v("garp_lower_prio_repeat"),
                v("down_timer_adverts"), v("timer_expired_backup", 0, 1), v("garp_extra_if", 1, 2),
                bool("lower_prio_no_advert"), bool("higher_prio_send_advert"), v("kernel_rx_buf_size"),
                block("authentication", .authentication), block("auth_hmac", .authHMAC),
            ]
        k.append(
            alias(
                "vmac_garp_intvl", of: k.first { $0.name == "garp_extra_if" }!,
                note: "'vmac_garp_intvl' is deprecated; read as 'garp_extra_if'"))
        return k
    }()

    static let authentication: [KeywordSpec] = [v("auth_type"), v("auth_pass")]
    static let authHMAC: [KeywordSpec] = [
        v("key", 2), v("active_key"), v("anti_replay"), v("time_window"), v("mode"),
    ]

    static let bfdInstance: [KeywordSpec] = {
        var k: [KeywordSpec] = [
            v("neighbor_ip"), v("source_ip"), v("min_rx"), v("min_tx"), v("idle_tx"), v("multiplier"),
            flag("passive"), v("ttl"), v("hoplimit"), v("max_hops"), bool("multihop"), v("weight", 1, 2),
            flag("vrrp"), flag("checker"),
        ]
        k.append(alias("neighbour_ip", of: k[0]))
        return k
    }()

    static let ssl: [KeywordSpec] = [v("password"), v("ca"), v("certificate"), v("key")]

    static let virtualServer: [KeywordSpec] = {
        var k: [KeywordSpec] = [
            v("ip_family"), v("retry"), v("delay_before_retry"), v("warmup"), v("connect_timeout"), v("delay_loop"),
            bool("inhibit_on_failure"), v("lb_algo"), flag("hashed"), flag("ops"), flag("flag-1"), flag("flag-2"),
            flag("flag-3"), flag("sh-port"), flag("sh-fallback"), flag("mh-port"), flag("mh-fallback"),
            v("lb_kind", 1, 6), v("persistence_engine"), v("persistence_timeout", 0, 1),
            v("persistence_granularity"), v("protocol"), flag("ha_suspend"), bool("smtp_alert"), v("virtualhost"),
            v("snmp_name"), flag("alpha"), flag("omega"), script("quorum_up"), script("quorum_down"), v("quorum"),
            v("hysteresis"), v("weight"), v("sorry_server", 1, 2), flag("sorry_server_inhibit"),
            v("sorry_server_lvs_method", 1, 6), block("real_server", .realServer, 1, 2),
            legacy(
                "nat_mask", 1, 1,
                note: "'nat_mask' is obsolete (it only ever applied to LVS on Linux 2.2) and is ignored"),
            // lvsd extension (DPVS's keepalived keyword): SYN proxy for a NAT/FULLNAT TCP service.
            flag("syn_proxy"),
        ]
        k.append(alias("lvs_sched", of: k.first { $0.name == "lb_algo" }!))
        k.append(alias("lvs_method", of: k.first { $0.name == "lb_kind" }!))
        return k
    }()

    static let checkerBlocks: [KeywordSpec] = [
        block("HTTP_GET", .httpGet), block("SSL_GET", .sslGet), block("TCP_CHECK", .tcpCheck),
        block("SMTP_CHECK", .smtpCheck), block("DNS_CHECK", .dnsCheck), block("MISC_CHECK", .miscCheck),
        block("BFD_CHECK", .bfdCheck), block("UDP_CHECK", .udpCheck), block("PING_CHECK", .pingCheck),
        block("FILE_CHECK", .fileCheck),
    ]

    static let realServer: [KeywordSpec] =
        [
            v("weight"), v("lvs_method", 1, 6), v("uthreshold"), v("lthreshold"), bool("inhibit_on_failure"),
            script("notify_up"), script("notify_down"), bool("alpha"), v("retry"), v("delay_before_retry"), v("warmup"),
            v("connect_timeout"), v("delay_loop"), bool("smtp_alert"), v("virtualhost"), v("snmp_name"),
        ] + checkerBlocks

    /// Options every checker except MISC_CHECK has: where to connect from and to.
    private static let connectionOptions: [KeywordSpec] = [
        v("connect_ip"), v("connect_port"), v("bindto"), v("bind_port"), v("bind_if"), v("connect_timeout"),
        v("fwmark"),
    ]

    /// Options every checker has. `nb_get_retry` (keepalived 1.x; 2.x still takes it in
    /// HTTP_GET/SSL_GET) is accepted in every checker, since the seeds use it in TCP_CHECK.
    private static let checkerOptions: [KeywordSpec] = [
        v("retry"), v("delay_before_retry"), v("warmup"), v("delay_loop"), bool("alpha"), bool("log_all_failures"),
        alias("nb_get_retry", of: v("retry")),
    ]

    static let httpGet: [KeywordSpec] =
        connectionOptions + checkerOptions + [
            v("virtualhost"), v("http_protocol"), bool("enable_sni"), bool("fast_recovery"), block("url", .url),
            v("sni_name"), bool("tls_compliant"),
        ]

    static let url: [KeywordSpec] = [
        v("path"), v("digest"), v("status_code", 1, nil), v("virtualhost"), v("regex"), flag("regex_no_match"),
        v("regex_options", 1, nil), v("regex_stack", 2), v("regex_min_offset"), v("regex_max_offset"),
        bool("tls_compliant"),
    ]

    static let tcpCheck: [KeywordSpec] = connectionOptions + checkerOptions
    static let smtpCheck: [KeywordSpec] =
        [v("helo_name", 1, nil)] + connectionOptions + checkerOptions + [block("host", .smtpHost)]
    static let dnsCheck: [KeywordSpec] = connectionOptions + checkerOptions + [v("type"), v("name")]
    static let miscCheck: [KeywordSpec] =
        checkerOptions + [
            v("misc_path", 1, nil, quoted: true), v("misc_timeout"), flag("misc_dynamic"), v("user", 1, 2),
        ]
    static let udpCheck: [KeywordSpec] =
        connectionOptions + checkerOptions + [
            v("payload", 1, nil), v("require_reply", 0, nil), v("min_reply_length"), v("max_reply_length"),
        ]
    static let fileCheck: [KeywordSpec] = [v("track_file"), flag("dynamic"), v("weight", 1, 2)]
    static let bfdCheck: [KeywordSpec] = [v("name")]

    /// The keywords of a block, by name (aliases included).
    static func keywords(of kind: ConfigBlockKind) -> [String: KeywordSpec] { table[kind] ?? [:] }

    private static let table: [ConfigBlockKind: [String: KeywordSpec]] = {
        let lists: [ConfigBlockKind: [KeywordSpec]] = [
            .root: root, .globalDefs: globalDefs, .vrrpScript: vrrpScript, .vrrpTrackProcess: vrrpTrackProcess,
            .trackFile: trackFile, .vrrpSyncGroup: vrrpSyncGroup, .garpGroup: garpGroup, .trackGroup: trackGroup,
            .vrrpInstance: vrrpInstance, .authentication: authentication, .authHMAC: authHMAC,
            .bfdInstance: bfdInstance, .ssl: ssl, .virtualServer: virtualServer, .realServer: realServer,
            .httpGet: httpGet, .sslGet: httpGet, .url: url, .tcpCheck: tcpCheck, .smtpCheck: smtpCheck,
            .smtpHost: connectionOptions + checkerOptions, .dnsCheck: dnsCheck, .miscCheck: miscCheck,
            .udpCheck: udpCheck, .pingCheck: tcpCheck, .fileCheck: fileCheck, .bfdCheck: bfdCheck,
        ]
        return lists.mapValues { specs in Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }) }
    }()

    /// The blocks in which `keyword` is valid (for "valid in ..." hints).
    static func blocks(accepting keyword: String) -> [ConfigBlockKind] {
        ConfigBlockKind.allCases.filter { keywords(of: $0)[keyword] != nil }
    }

}

/// The public view of the keyword tables: which keywords each block recognises.
public enum KeepalivedKeywords {
    /// The keywords (aliases and legacy spellings included) that `block` accepts, sorted.
    public static func keywords(in block: ConfigBlockKind) -> [String] {
        KeywordSchema.keywords(of: block).keys.sorted()
    }

    /// True when `keyword` is recognised in `block` (keywords are case-sensitive).
    public static func isRecognised(_ keyword: String, in block: ConfigBlockKind) -> Bool {
        KeywordSchema.keywords(of: block)[keyword] != nil
    }

    /// For an alias or legacy spelling, the keyword it is read as; nil for a keyword that is not
    /// an alias.
    public static func canonicalName(of keyword: String, in block: ConfigBlockKind) -> String? {
        KeywordSchema.keywords(of: block)[keyword]?.canonical
    }
}
