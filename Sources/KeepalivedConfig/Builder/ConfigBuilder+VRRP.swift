// Builds vrrp_script, vrrp_instance (with VIP entries) and vrrp_sync_group.
import LVSCore

extension ConfigBuilder {
    mutating func buildVRRPScript(_ block: ConfigNode) -> VRRPScript {
        var s = VRRPScript(name: block.arguments[0], location: block.location)
        for node in block.children {
            s.keywordLocations[node.canonical] = node.location
            switch node.canonical {
            case "script": s.script = script(node)
            case "interval":
                if let v = unsigned(node, 0...4294) { s.interval = .seconds(max(v, 1)) }
            case "timeout":
                if let v = unsigned(node, 0...4294) { s.timeout = .seconds(max(v, 1)) }
            case "weight":
                if let w = integer(node.arguments[0], for: "weight", in: -253...253, at: node.location) {
                    s.weight = Int(w)
                }
                if node.arguments.count > 1 {
                    if node.arguments[1] == "reverse" {
                        s.weightReverse = true
                    } else {
                        report(
                            .error, "unknown weight option '\(node.arguments[1])' in vrrp_script \(s.name)",
                            at: node.location)
                    }
                }
            case "rise": s.rise = unsigned(node, 1...0x7FFF_FFFF).map(UInt32.init) ?? 1
            case "fall": s.fall = unsigned(node, 1...0x7FFF_FFFF).map(UInt32.init) ?? 1
            case "user":
                (s.user, s.group) = userGroup(node.arguments)
            case "init_fail": s.initFail = true
            default: break
            }
        }
        if s.script == nil {
            report(.error, "vrrp_script \(s.name) has no script", at: block.location)
        }
        return s
    }

    mutating func buildVRRPInstance(_ block: ConfigNode) -> VRRPInstance {
        var v = VRRPInstance(name: block.arguments[0], location: block.location)
        for node in block.children {
            v.keywordLocations[node.canonical] = node.location
            let a = node.arguments
            switch node.canonical {
            case "state":
                switch a[0] {
                case "MASTER": v.state = .master
                case "BACKUP":
                    if v.state == .master {
                        report(
                            .error, "(\(v.name)) state previously set as MASTER - ignoring BACKUP", at: node.location)
                    } else {
                        v.state = .backup
                    }
                default:
                    report(.error, "(\(v.name)) unknown state '\(a[0])', defaulting to BACKUP", at: node.location)
                    v.state = .backup
                }
            case "interface": v.interface = a[0]
            case "virtual_router_id":
                if let id = unsigned(node, 1...255) { v.virtualRouterID = UInt8(id) }
            case "priority":
                if let p = unsigned(node, 1...255) { v.priority = UInt8(p) }
            case "advert_int":
                if let t = timer(node, minimum: TimerValue(microseconds: 10_000)) {
                    if t > .seconds(255) {
                        report(.error, "(\(v.name)) advert_int \(a[0]) is more than 255 seconds", at: node.location)
                    } else {
                        v.advertInterval = t
                    }
                }
            case "version":
                if let ver = unsigned(node, 2...3) { v.version = Int(ver) }
            case "nopreempt": v.nopreempt = true
            case "preempt": v.nopreempt = false
            case "preempt_delay":
                if let t = timer(node) {
                    if t <= .seconds(1000) {
                        v.preemptDelay = t
                    } else {
                        report(
                            .error, "(\(v.name)) preempt_delay must be between 0 and 1000 seconds", at: node.location)
                    }
                }
            case "authentication": v.authentication = authentication(node, instance: v.name)
            case "virtual_ipaddress": v.virtualIPAddresses += node.values.compactMap { virtualIPAddress($0) }
            case "virtual_ipaddress_excluded":
                v.excludedVirtualIPAddresses += node.values.compactMap { virtualIPAddress($0) }
            case "virtual_routes": v.virtualRoutes += node.values.map(\.words)
            case "virtual_rules": v.virtualRules += node.values.map(\.words)
            case "no_virtual_ipaddress": v.noVirtualIPAddress = true
            case "track_interface": v.tracking.interfaces += trackedObjects(node, weightRange: -253...253)
            case "track_script": v.tracking.scripts += trackedObjects(node, weightRange: -253...253)
            case "track_file": v.tracking.files += trackedObjects(node, weightRange: -254...254)
            case "track_process": v.tracking.processes += trackedObjects(node, weightRange: -254...254)
            case "track_bfd": v.tracking.bfds += trackedObjects(node, weightRange: -253...253)
            case "dont_track_primary": v.dontTrackPrimary = true
            case "mcast_src_ip": v.multicastSourceIP = address(a[0], for: node.keyword, at: node.location)
            case "unicast_src_ip": v.unicastSourceIP = address(a[0], for: node.keyword, at: node.location)
            case "mcast_dst_ip":
                if let ip = address(a[0], for: node.keyword, at: node.location) {
                    let multicast = ip.v4?.isMulticast ?? ip.v6?.isMulticast ?? false
                    if multicast {
                        v.multicastDestinationIP = ip
                    } else {
                        report(
                            .error, "(\(v.name)) mcast_dst_ip \(a[0]) is not multicast - ignoring", at: node.location)
                    }
                }
            case "unicast_peer": v.unicastPeers += node.values.compactMap { unicastPeer($0) }
            case "unicast_ttl": v.unicastTTL = unsigned(node, 0...255).map(UInt8.init)
            case "unicast_fault_no_peer": v.unicastFaultNoPeer = true
            case "check_unicast_src": v.checkUnicastSource = true
            case "track_src_ip": v.trackSourceIP = true
            case "garp_master_delay": v.garpMasterDelay = unsigned(node, 0...4294).map(UInt32.init)
            case "garp_master_repeat": if let r = repeatCount(node, instance: v.name) { v.garpMasterRepeat = r }
            case "garp_master_refresh": v.garpMasterRefresh = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
            case "garp_master_refresh_repeat":
                if let r = repeatCount(node, instance: v.name) { v.garpMasterRefreshRepeat = r }
            case "garp_lower_prio_delay": v.garpLowerPrioDelay = unsigned(node, 0...4294).map(UInt32.init)
            case "garp_lower_prio_repeat": v.garpLowerPrioRepeat = unsigned(node, 0...0x7FFF_FFFF).map(UInt32.init)
            case "accept": v.accept = true
            case "no_accept": v.accept = false
            case "strict_mode": v.strictMode = bool(node)
            case "lower_prio_no_advert": v.lowerPrioNoAdvert = bool(node)
            case "higher_prio_send_advert": v.higherPrioSendAdvert = bool(node)
            case "skip_check_adv_addr": v.skipCheckAdvertAddresses = bool(node)
            case "down_timer_adverts": v.downTimerAdverts = unsigned(node, 1...100).map(UInt32.init)
            case "v3_checksum_as_v2": v.v3ChecksumAsV2 = bool(node)
            case "use_vmac": v.useVMAC = a
            case "vmac_xmit_base": v.vmacTransmitBase = true
            case "promote_secondaries": v.promoteSecondaries = true
            case "debug": v.debug = unsigned(node, 0...4).map(UInt8.init)
            case "smtp_alert": v.smtpAlert = bool(node)
            case "notify_priority_changes": v.notifyPriorityChanges = bool(node)
            case "lvs_sync_daemon_interface": v.lvsSyncDaemonInterface = a[0]
            case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_deleted", "notify",
                "notify_master_rx_lower_pri":
                setNotify(node, in: &v.notify, owner: "(\(v.name))")
            default:
                v.otherSettings.append(setting(node))
                for child in node.children { v.otherSettings.append(setting(child)) }
            }
        }
        return v
    }

    /// A `garp_*_repeat` count: 0 is raised to 1, with keepalived's error.
    private mutating func repeatCount(_ node: ConfigNode, instance: String) -> UInt32? {
        guard let r = unsigned(node, 0...0xFFFF_FFFF) else { return nil }
        if r == 0 {
            report(.error, "(\(instance)) \(node.canonical) must be greater than 0, setting to 1", at: node.location)
        }
        return UInt32(max(r, 1))
    }

    mutating func buildSyncGroup(_ block: ConfigNode) -> VRRPSyncGroup? {
        var g = VRRPSyncGroup(name: block.arguments[0], location: block.location)
        for node in block.children {
            g.keywordLocations[node.canonical] = node.location
            switch node.canonical {
            case "group":
                if !g.instances.isEmpty {
                    report(.error, "group list already specified for sync group \(g.name)", at: node.location)
                } else {
                    g.instances = node.values.flatMap(\.words)
                }
            case "track_interface": g.tracking.interfaces += trackedObjects(node, weightRange: -253...253)
            case "track_script": g.tracking.scripts += trackedObjects(node, weightRange: -253...253)
            case "track_file": g.tracking.files += trackedObjects(node, weightRange: -254...254)
            case "track_process": g.tracking.processes += trackedObjects(node, weightRange: -254...254)
            case "track_bfd": g.tracking.bfds += trackedObjects(node, weightRange: -253...253)
            case "smtp_alert": g.smtpAlert = bool(node)
            case "global_tracking", "sync_group_tracking_weight": g.syncGroupTrackingWeight = true
            case "notify_priority_changes": g.notifyPriorityChanges = bool(node)
            default: setNotify(node, in: &g.notify, owner: "vrrp_sync_group \(g.name):")
            }
        }
        if g.instances.isEmpty {
            report(.error, "sync group \(g.name) has no members - removing", at: block.location)
            return nil
        }
        return g
    }

    private mutating func setNotify(_ node: ConfigNode, in scripts: inout VRRPNotifyScripts, owner: String) {
        if node.canonical == "notify_deleted" {
            scripts.notifyDeleted = true
            if !node.arguments.isEmpty { scripts.deleted = script(node) }
            return
        }
        let keyPath: WritableKeyPath<VRRPNotifyScripts, ScriptCommand?>
        switch node.canonical {
        case "notify_master": keyPath = \.master
        case "notify_backup": keyPath = \.backup
        case "notify_fault": keyPath = \.fault
        case "notify_stop": keyPath = \.stop
        case "notify_master_rx_lower_pri": keyPath = \.masterReceivedLowerPriority
        case "notify": keyPath = \.any
        default: return
        }
        if scripts[keyPath: keyPath] != nil {
            report(.error, "\(owner) \(node.keyword) script already specified - ignoring", at: node.location)
            return
        }
        scripts[keyPath: keyPath] = script(node)
    }

    private mutating func authentication(_ block: ConfigNode, instance: String) -> VRRPAuthentication {
        var auth = VRRPAuthentication(location: block.location)
        for node in block.children {
            switch node.canonical {
            case "auth_type":
                if let t = VRRPAuthentication.AuthType(rawValue: node.arguments[0]) {
                    auth.type = t
                } else {
                    report(
                        .error,
                        "(\(instance)) unknown authentication type '\(node.arguments[0])' (expected PASS or AH)",
                        at: node.location)
                }
            case "auth_pass":
                let bytes = Array(node.arguments[0].utf8)
                if bytes.count > 8 {
                    report(
                        .warning, "(\(instance)) auth_pass is longer than 8 characters - truncating", at: node.location)
                }
                auth.password = Array(bytes.prefix(8))
            default: break
            }
        }
        return auth
    }

    /// `IP[/len] [brd IP|+|-] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad]
    /// [noprefixroute] [no_track] [preferred_lft N|forever] [use_vmac] [mngtmpaddr] [autojoin]`.
    mutating func virtualIPAddress(_ line: ConfigLine) -> VirtualIPAddress? {
        let w = line.words
        let parts = w[0].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let ip = IPAddress(parts[0]) else {
            report(.error, "invalid virtual IP address '\(w[0])' - skipping", at: line.location)
            return nil
        }
        var prefix: Int?
        if parts.count == 2 {
            let maxLen = ip.family == .inet ? 32 : 128
            guard let p = Int(parts[1]), (0...maxLen).contains(p) else {
                report(.error, "invalid prefix length in '\(w[0])' - skipping", at: line.location)
                return nil
            }
            prefix = p
        }
        var vip = VirtualIPAddress(address: ip, prefixLength: prefix, location: line.location)
        var i = 1
        func value() -> String? {
            guard i + 1 < w.count else {
                report(.error, "'\(w[i])' has no value in virtual address '\(w[0])'", at: line.location)
                return nil
            }
            i += 1
            return w[i]
        }
        while i < w.count {
            switch w[i] {
            case "brd":
                guard let b = value() else { break }
                if b == "+" {
                    vip.broadcast = .setHostBits
                } else if b == "-" {
                    vip.broadcast = .clearHostBits
                } else if let a = IPAddress(b), a.family == .inet {
                    vip.broadcast = .address(a)
                } else {
                    report(.error, "invalid broadcast address '\(b)'", at: line.location)
                }
            case "dev": vip.device = value()
            case "scope":
                guard let s = value() else { break }
                if let scope = VirtualIPAddress.Scope(rawValue: s) {
                    vip.scope = scope
                } else {
                    report(
                        .error, "invalid scope '\(s)' (expected global, site, link, host or nowhere)", at: line.location
                    )
                }
            case "label": vip.label = value()
            case "peer":
                guard let p = value() else { break }
                vip.peer = address(String(p.split(separator: "/").first ?? ""), for: "peer", at: line.location)
            case "home": vip.home = true
            case "-nodad": vip.noDAD = true
            case "noprefixroute": vip.noPrefixRoute = true
            case "no_track": vip.noTrack = true
            case "mngtmpaddr": vip.manageTemporaryAddresses = true
            case "autojoin": vip.autojoin = true
            case "use_vmac": vip.useVMAC = true
            case "preferred_lft":
                guard let p = value() else { break }
                if p == "forever" {
                    vip.preferredLifetime = .forever
                } else if let n = UInt32(p) {
                    vip.preferredLifetime = .seconds(n)
                } else {
                    report(.error, "invalid preferred_lft '\(p)'", at: line.location)
                }
            case "track_group": _ = value()
            default:
                report(.error, "unknown option '\(w[i])' in virtual address '\(w[0])'", at: line.location)
            }
            i += 1
        }
        return vip
    }

    private mutating func unicastPeer(_ line: ConfigLine) -> UnicastPeer? {
        guard let ip = address(line.words[0], for: "unicast_peer", at: line.location) else { return nil }
        var peer = UnicastPeer(address: ip, location: line.location)
        var i = 1
        while i < line.words.count {
            let option = line.words[i]
            guard option == "min_ttl" || option == "max_ttl", i + 1 < line.words.count else {
                report(.error, "unknown unicast_peer option '\(option)'", at: line.location)
                break
            }
            let ttl = unsigned(line.words[i + 1], for: option, in: 0...255, at: line.location).map(UInt8.init)
            if option == "min_ttl" { peer.minTTL = ttl } else { peer.maxTTL = ttl }
            i += 2
        }
        return peer
    }
}
