// Builds GlobalDefs from the global_defs block.
import LVSCore

extension ConfigBuilder {
    mutating func buildGlobalDefs(_ block: ConfigNode, into g: inout GlobalDefs) {
        if g.location == nil { g.location = block.location }
        for node in block.children {
            g.keywordLocations[node.canonical] = node.location
            let a = node.arguments
            switch node.canonical {
            case "notification_email":
                g.notificationEmails += node.values.flatMap(\.words)
            case "notification_email_from": g.notificationEmailFrom = a[0]
            case "smtp_server":
                var server = SMTPServer(host: a[0])
                if a.count > 1, let p = port(a[1], for: node.keyword, at: node.location, allowZero: false) {
                    server.port = p
                }
                g.smtpServer = server
            case "smtp_helo_name": g.smtpHeloName = a[0]
            case "smtp_connect_timeout":
                g.smtpConnectTimeout = timer(node, minimum: TimerValue(microseconds: 1))
            case "smtp_alert": g.smtpAlert = bool(node)
            case "smtp_alert_vrrp": g.smtpAlertVRRP = bool(node)
            case "smtp_alert_checker": g.smtpAlertChecker = bool(node)
            case "checker_log_all_failures": g.checkerLogAllFailures = bool(node)
            case "no_email_faults": g.noEmailFaults = true
            case "router_id": g.routerID = a[0]
            case "lvs_timeouts": g.lvsTimeouts = lvsTimeouts(node)
            case "lvs_flush": g.lvsFlush = true
            case "lvs_flush_on_stop":
                if a.isEmpty {
                    g.lvsFlushOnStop = .all
                } else if a[0] == "VS" {
                    g.lvsFlushOnStop = .virtualServersOnly
                } else {
                    report(.error, "invalid lvs_flush_on_stop option '\(a[0])' (expected VS)", at: node.location)
                }
            case "lvs_sync_daemon": g.lvsSyncDaemon = lvsSyncDaemon(node)
            case "lvs_sync_daemon_auth_key":
                if a[0].isEmpty {
                    report(.error, "lvs_sync_daemon_auth_key is empty", at: node.location)
                } else {
                    g.lvsSyncAuthKey = a[0]
                }
            case "lvs_sync_daemon_bulk_wait": g.lvsSyncBulkWait = unsigned(node, 0...60).map(UInt32.init)
            case "lvs_announce_table": g.lvsAnnounce = lvsAnnounce(node)
            case "vrrp_mcast_group4":
                if let v4 = IPv4Address(a[0]), v4.isMulticast {
                    g.vrrpMulticastGroup4 = v4
                } else {
                    report(.error, "vrrp_mcast_group4 '\(a[0])' is not an IPv4 multicast address", at: node.location)
                }
            case "vrrp_mcast_group6":
                if let v6 = IPv6Address(a[0]), v6.isMulticast {
                    g.vrrpMulticastGroup6 = v6
                } else {
                    report(.error, "vrrp_mcast_group6 '\(a[0])' is not an IPv6 multicast address", at: node.location)
                }
            case "vrrp_version":
                if let v = unsigned(node, 2...3) { g.vrrpVersion = Int(v) }
            case "vrrp_garp_master_delay": g.vrrpGarpMasterDelay = unsigned(node, 0...4294).map(UInt32.init)
            case "vrrp_garp_master_repeat": g.vrrpGarpMasterRepeat = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
            case "vrrp_garp_master_refresh": g.vrrpGarpMasterRefresh = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
            case "vrrp_garp_master_refresh_repeat":
                g.vrrpGarpMasterRefreshRepeat = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
            case "vrrp_garp_lower_prio_delay": g.vrrpGarpLowerPrioDelay = unsigned(node, 0...4294).map(UInt32.init)
            case "vrrp_garp_lower_prio_repeat":
                g.vrrpGarpLowerPrioRepeat = unsigned(node, 0...0x7FFF_FFFF).map(UInt32.init)
            case "vrrp_garp_interval": g.vrrpGarpInterval = timer(node)
            case "vrrp_gna_interval": g.vrrpGnaInterval = timer(node)
            case "vrrp_min_garp": g.vrrpMinGarp = bool(node)
            case "vrrp_down_timer_adverts": g.vrrpDownTimerAdverts = unsigned(node, 1...100).map(UInt32.init)
            case "vrrp_lower_prio_no_advert": g.vrrpLowerPrioNoAdvert = bool(node)
            case "vrrp_higher_prio_send_advert": g.vrrpHigherPrioSendAdvert = bool(node)
            case "vrrp_check_unicast_src": g.vrrpCheckUnicastSource = true
            case "vrrp_skip_check_adv_addr": g.vrrpSkipCheckAdvertAddresses = bool(node)
            case "vrrp_strict": g.vrrpStrict = true
            case "vrrp_startup_delay": g.vrrpStartupDelay = timer(node)
            case "vrrp_delay_after_boot": g.vrrpDelayAfterBoot = timer(node)
            case "v3_checksum_as_v2": g.v3ChecksumAsV2 = bool(node)
            case "dynamic_interfaces": g.dynamicInterfaces = true
            case "default_interface": g.defaultInterface = a[0]
            case "script_user":
                g.scriptUser = a[0]
                g.scriptGroup = userGroup(a).1
            case "enable_script_security": g.enableScriptSecurity = true
            case "notify_fifo": g.notifyFIFO = fifo(node)
            case "vrrp_notify_fifo": g.vrrpNotifyFIFO = fifo(node)
            case "lvs_notify_fifo": g.lvsNotifyFIFO = fifo(node)
            case "notify_fifo_script": g.notifyFIFOScript = script(node)
            case "vrrp_notify_fifo_script": g.vrrpNotifyFIFOScript = script(node)
            case "lvs_notify_fifo_script": g.lvsNotifyFIFOScript = script(node)
            case "startup_script": g.startupScript = script(node)
            case "shutdown_script": g.shutdownScript = script(node)
            case "startup_script_timeout", "shutdown_script_timeout":
                _ = unsigned(node, 1...1000)
                g.otherSettings.append(setting(node))
            case "vrrp_priority", "checker_priority", "bfd_priority":
                _ = integer(a[0], for: node.keyword, in: -20...19, at: node.location)
                g.otherSettings.append(setting(node))
            case "vrrp_rt_priority", "checker_rt_priority", "bfd_rt_priority":
                _ = unsigned(node, 1...99)
                g.otherSettings.append(setting(node))
            default:
                g.otherSettings.append(setting(node))
            }
        }
    }

    /// `lvs_timeouts [tcp N] [tcpfin N] [udp N]` (0...86400*31 s each); unset fields are 0,
    /// meaning "leave unchanged".
    private mutating func lvsTimeouts(_ node: ConfigNode) -> IPVSTimeouts? {
        var t = IPVSTimeouts(tcp: 0, tcpFin: 0, udp: 0)
        var i = 0
        let a = node.arguments
        var any = false
        while i < a.count {
            let name = a[i]
            guard ["tcp", "tcpfin", "udp"].contains(name) else {
                report(.error, "unknown lvs_timeouts option '\(name)'", at: node.location)
                i += i + 1 < a.count && a[i + 1].allSatisfy(\.isASCIIDigit) ? 2 : 1
                continue
            }
            guard i + 1 < a.count else {
                report(.error, "no value given for lvs_timeouts \(name) - ignoring", at: node.location)
                break
            }
            if let v = unsigned(a[i + 1], for: "lvs_timeouts \(name)", in: 0...(86400 * 31), at: node.location) {
                any = true
                switch name {
                case "tcp": t.tcp = UInt32(v)
                case "tcpfin": t.tcpFin = UInt32(v)
                default: t.udp = UInt32(v)
                }
            }
            i += 2
        }
        return any ? t : nil
    }

    private mutating func lvsSyncDaemon(_ node: ConfigNode) -> LVSSyncDaemonConfig? {
        let a = node.arguments
        var config = LVSSyncDaemonConfig(interface: a[0], location: node.location)
        var i = 1
        while i < a.count {
            let option = a[i]
            let value = i + 1 < a.count ? a[i + 1] : nil
            switch option {
            case "id":
                if let v = value {
                    config.syncID = unsigned(v, for: "lvs_sync_daemon id", in: 0...255, at: node.location).map(
                        UInt8.init)
                }
            case "maxlen":
                if let v = value {
                    config.maxLength = unsigned(v, for: "lvs_sync_daemon maxlen", in: 1...65507, at: node.location).map(
                        UInt16.init)
                }
            case "port":
                if let v = value {
                    config.port = port(v, for: "lvs_sync_daemon port", at: node.location, allowZero: false)
                }
            case "ttl":
                if let v = value {
                    config.ttl = unsigned(v, for: "lvs_sync_daemon ttl", in: 1...255, at: node.location).map(UInt8.init)
                }
            case "group":
                if let v = value { config.group = address(v, for: "lvs_sync_daemon group", at: node.location) }
            case "inst":
                config.vrrpInstance = value
            default:
                if i == 1 {
                    config.vrrpInstance = option
                    i += 1
                    continue
                }
                report(.error, "unknown lvs_sync_daemon option '\(option)'", at: node.location)
                i += 1
                continue
            }
            if value == nil {
                report(.error, "lvs_sync_daemon option '\(option)' has no value", at: node.location)
            }
            i += 2
        }
        return config
    }

    private func fifo(_ node: ConfigNode) -> NotifyFIFO {
        let (user, group) = userGroup(Array(node.arguments.dropFirst()))
        return NotifyFIFO(path: node.arguments[0], user: user, group: group, location: node.location)
    }
}
