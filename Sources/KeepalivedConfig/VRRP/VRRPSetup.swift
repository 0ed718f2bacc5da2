// keepalived.conf's VRRP blocks as LVSVRRP configurations, with keepalived's defaults and rules.
import LVSCore
import LVSVRRP

private typealias ConfInstance = KeepalivedConfig.VRRPInstance
private typealias ConfVIP = KeepalivedConfig.VirtualIPAddress
private typealias ConfScript = KeepalivedConfig.ScriptCommand
private typealias VIP = LVSVRRP.VirtualIPAddress

/// What lvsd runs for the VRRP part of a keepalived.conf: the instances, scripts and sync groups
/// in LVSVRRP's terms, plus what the daemon needs around them (SMTP alert switches, router id).
///
/// ```
///  KeepalivedConfiguration ─▶ VRRPSetup(configuration:hostName:) ─▶ VRRPService(instances:scripts:syncGroups:)
///     (parsed, validated)        keepalived's defaults: global_defs vrrp_*,     + diagnostics (file:line)
///                                 script_user, priority from state, v2/v3 rules
/// ```
///
/// The rules applied are keepalived 2.2's (`vrrp_complete_instance`, `alloc_vrrp`, global
/// defaults); what KeepalivedConfig's validator already did (nopreempt cleared for MASTER/255,
/// preempt_delay with nopreempt, wrong-family VIPs moved to excluded, unknown track_script
/// names) is not repeated. Everything SwiftLVS cannot do is reported, never silently dropped.
public struct VRRPSetup: Hashable, Sendable {
    public var instances: [VRRPInstanceConfig] = []
    public var scripts: [VRRPScriptConfig] = []
    public var syncGroups: [VRRPSyncGroupConfig] = []
    /// Instances that send an SMTP alert on each transition: `smtp_alert` in the instance, else
    /// global `smtp_alert_vrrp`, else global `smtp_alert`; off by default (keepalived).
    public var alertingInstances: Set<String> = []
    /// Sync groups that send an SMTP alert when all members change state.
    public var alertingGroups: Set<String> = []
    /// `router_id` (default: the host name), the `[...]` of an alert's subject.
    public var routerID: String
    /// `no_email_faults`: no alert for a FAULT transition.
    public var noEmailFaults: Bool
    /// What keepalived would report, plus what SwiftLVS does not support, as `file:line: ...`.
    public var diagnostics: [Diagnostic] = []

    /// True when the configuration has no VRRP instance (lvsd then runs no VRRP at all).
    public var isEmpty: Bool { instances.isEmpty }

    /// Maps a configuration. `hostName` is the default `router_id`.
    public init(configuration c: KeepalivedConfiguration, hostName: String) {
        let g = c.globalDefs
        routerID = g.routerID ?? hostName
        noEmailFaults = g.noEmailFaults
        var m = Mapper(global: g, scripts: c.vrrpScripts)
        let groupOf = Dictionary(
            c.vrrpSyncGroups.flatMap { sg in sg.instances.map { ($0, sg) } }, uniquingKeysWith: { a, _ in a })
        for v in c.vrrpInstances {
            guard let mapped = m.instance(v, syncGroup: groupOf[v.name]) else { continue }
            instances.append(mapped)
            if v.smtpAlert ?? g.smtpAlertVRRP ?? g.smtpAlert ?? false { alertingInstances.insert(v.name) }
        }
        scripts = c.vrrpScripts.compactMap { m.script($0) }
        let kept = Set(instances.map(\.name))
        for sg in c.vrrpSyncGroups {
            guard let group = m.syncGroup(sg, members: kept) else { continue }
            syncGroups.append(group)
            if sg.smtpAlert ?? g.smtpAlertVRRP ?? g.smtpAlert ?? false { alertingGroups.insert(sg.name) }
        }
        m.globalNotices()
        diagnostics = m.diagnostics
    }

    /// A command line that LVSVRRP's splitter turns back into exactly `arguments` (each word
    /// single-quoted unless it is plain).
    public static func commandLine(_ arguments: [String]) -> String {
        arguments.map { word in
            let plain =
                !word.isEmpty
                && word.unicodeScalars.allSatisfy { ch in
                    (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || (ch >= "0" && ch <= "9")
                        || "/._-+=:,@%".unicodeScalars.contains(ch)
                }
            if plain { return word }
            var quoted = "'"
            for ch in word {
                if ch == "'" { quoted += "'\\''" } else { quoted.append(ch) }
            }
            return quoted + "'"
        }.joined(separator: " ")
    }
}

/// The mapping itself, collecting diagnostics as it goes.
private struct Mapper {
    let g: GlobalDefs
    let scriptsByName: [String: VRRPScript]
    var diagnostics: [Diagnostic] = []

    init(global: GlobalDefs, scripts: [VRRPScript]) {
        g = global
        scriptsByName = Dictionary(scripts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    mutating func report(_ severity: DiagnosticSeverity, _ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(severity, message, at: location))
    }

    // MARK: - Global defaults

    /// A global value's location, else the global_defs block's, else nowhere.
    func globalLocation(_ keyword: String) -> SourceLocation {
        g.keywordLocations[keyword] ?? g.location ?? SourceLocation(file: "keepalived.conf", line: 0)
    }

    /// `vrrp_min_garp` sets one GARP and no delayed burst; a `vrrp_garp_master_*` keyword given
    /// after it (keepalived applies them in file order) wins.
    func globalGarp(_ keyword: String, _ value: UInt32?, minGarp: UInt32, otherwise: UInt32) -> UInt32 {
        if g.vrrpMinGarp == true, let min = g.keywordLocations["vrrp_min_garp"] {
            if let value, let at = g.keywordLocations[keyword], min < at { return value }
            return minGarp
        }
        return value ?? otherwise
    }

    mutating func globalNotices() {
        let unsupported: [(String, Bool)] = [
            ("vrrp_garp_interval", g.vrrpGarpInterval != nil), ("vrrp_gna_interval", g.vrrpGnaInterval != nil),
            ("vrrp_startup_delay", g.vrrpStartupDelay != nil), ("vrrp_notify_fifo", g.vrrpNotifyFIFO != nil),
            ("notify_fifo", g.notifyFIFO != nil),
        ]
        for (keyword, set) in unsupported where set {
            report(.warning, "\(keyword) is not supported by SwiftLVS's VRRP - ignored", at: globalLocation(keyword))
        }
    }

    // MARK: - Instances

    mutating func instance(_ v: ConfInstance, syncGroup: VRRPSyncGroup?) -> VRRPInstanceConfig? {
        let n = v.name
        func at(_ keyword: String) -> SourceLocation { v.keywordLocations[keyword] ?? v.location }
        let family = v.family ?? .inet
        let strict = v.strictMode ?? g.vrrpStrict

        // version: IPv6 is always 3; else the instance's, else vrrp_version (default 2).
        let version: VRRPVersion
        if family == .inet6 {
            version = .v3
        } else if let ver = v.version ?? g.vrrpVersion {
            version = ver == 3 ? .v3 : .v2
        } else {
            version = .v2
        }

        // priority: without `priority`, MASTER means the address owner (255), else 100.
        let priority: UInt8 = v.keywordLocations["priority"] == nil ? (v.state == .master ? 255 : 100) : v.priority

        var c = VRRPInstanceConfig(
            name: n, interface: v.interface, virtualRouterID: v.virtualRouterID ?? 0, priority: priority,
            initialState: v.state.map { $0 == .master ? .master : .backup }, version: version)
        c.advertInterval = advertInterval(v, version: version)
        c.nopreempt = v.nopreempt
        c.preemptDelay = v.preemptDelay?.duration ?? .zero
        if strict && c.preemptDelay > .zero {
            report(
                .warning, "(\(n)) preempt_delay is incompatible with strict mode - resetting", at: at("preempt_delay"))
            c.preemptDelay = .zero
        }

        // authentication (v2 only).
        if let a = v.authentication, let type = a.type {
            if strict {
                report(.warning, "(\(n)) Strict mode does not support authentication. Ignoring.", at: a.location)
            } else if version == .v3 {
                report(.warning, "(\(n)) VRRP version 3 does not support authentication. Ignoring.", at: a.location)
            } else if a.password.isEmpty {
                report(.warning, "(\(n)) Authentication specified but no password given. Ignoring", at: a.location)
            } else if type == .ah {
                report(
                    .error,
                    "(\(n)) auth_type AH (IPsec AH) is not supported by SwiftLVS - the instance is not run; use auth_type PASS",
                    at: a.location)
                return nil
            } else {
                c.authentication = .pass(String(decoding: a.password, as: UTF8.self))
            }
        }

        // addresses.
        c.virtualIPAddresses = v.virtualIPAddresses.map { vip($0, instance: n) }
        c.excludedVirtualIPAddresses = v.excludedVirtualIPAddresses.map { vip($0, instance: n) }

        // tracking.
        let inGroup = syncGroup.map { !$0.syncGroupTrackingWeight } ?? false
        let owner = priority == 255
        let reason = inGroup ? "SYNC group" : "address owner"
        for t in v.tracking.interfaces {
            if t.name == v.interface {
                report(.warning, "(\(n)) Ignoring track_interface \(t.name) since own interface", at: t.location)
                continue
            }
            var weight = t.weight ?? 0
            if weight != 0 && (inGroup || owner) {
                if owner && !inGroup {
                    report(.warning, "(\(n)) ignoring \(t.name) tracked interface due to address owner", at: t.location)
                    continue
                }
                weight = 0  // KeepalivedConfig's validator already warned about sync group weights
            }
            c.trackInterfaces.append(TrackedInterface(t.name, weight: weight, reverse: t.reverse))
        }
        for t in v.tracking.scripts {
            let weight = t.weight ?? scriptsByName[t.name]?.weight ?? 0
            if weight != 0 && (inGroup || owner) {
                report(
                    .warning, "(\(n)) ignoring tracked script \(t.name) with weights due to \(reason)", at: t.location)
                continue
            }
            c.trackScripts.append(TrackedScript(t.name, weight: t.weight, reverse: t.reverse))
        }
        // keepalived also watches the interface of a VIP on another device (TRACK_ADDR).
        var vipDevices: [String] = []
        for vip in v.virtualIPAddresses + v.excludedVirtualIPAddresses where !vip.noTrack {
            if let d = vip.device, d != v.interface, !vipDevices.contains(d),
                !c.trackInterfaces.contains(where: { $0.name == d })
            {
                vipDevices.append(d)
            }
        }
        c.trackInterfaces += vipDevices.map { TrackedInterface($0) }
        for (kind, list) in [
            ("track_file", v.tracking.files), ("track_process", v.tracking.processes), ("track_bfd", v.tracking.bfds),
        ]
        where !list.isEmpty {
            report(.warning, "(\(n)) \(kind) is not supported by SwiftLVS - ignored", at: at(kind))
        }
        c.dontTrackPrimary = v.dontTrackPrimary

        // transport.
        c.mcastSourceIP = v.multicastSourceIP
        c.unicastSourceIP = v.unicastSourceIP
        c.unicastPeers = v.unicastPeers.map {
            LVSVRRP.UnicastPeer($0.address, minTTL: $0.minTTL.map(Int.init), maxTTL: $0.maxTTL.map(Int.init))
        }
        c.unicastTTL = v.unicastTTL ?? 255
        // lvsd checks unicast sources by default (keepalived only with check_unicast_src): an
        // advert from anyone but a listed peer could otherwise take the VIP.
        c.checkUnicastSource = true
        c.multicastGroup4 = g.vrrpMulticastGroup4
        c.multicastGroup6 = g.vrrpMulticastGroup6
        if let d = v.multicastDestinationIP {
            switch d {
            case .v4(let a): c.multicastGroup4 = a
            case .v6(let a): c.multicastGroup6 = a
            }
        }
        if strict && !c.unicastPeers.isEmpty {
            report(.error, "(\(n)) Unicast peers are not supported in strict mode", at: at("unicast_peer"))
            return nil
        }

        // GARP and protocol options: the instance's, else global_defs', else keepalived's defaults.
        let delay =
            v.garpMasterDelay ?? globalGarp("vrrp_garp_master_delay", g.vrrpGarpMasterDelay, minGarp: 0, otherwise: 5)
        c.garpMasterDelay = .seconds(Int(delay))
        c.garpMasterRepeat = Int(
            v.garpMasterRepeat
                ?? globalGarp("vrrp_garp_master_repeat", g.vrrpGarpMasterRepeat, minGarp: 1, otherwise: 5))
        c.garpMasterRefresh = .seconds(
            Int(
                v.garpMasterRefresh
                    ?? globalGarp("vrrp_garp_master_refresh", g.vrrpGarpMasterRefresh, minGarp: 0, otherwise: 0)))
        c.garpMasterRefreshRepeat = Int(
            v.garpMasterRefreshRepeat
                ?? globalGarp(
                    "vrrp_garp_master_refresh_repeat", g.vrrpGarpMasterRefreshRepeat, minGarp: 1, otherwise: 1))
        // After a lower-priority advert (split brain healing): 5 GARPs now and 5 s later; none in strict mode.
        c.garpLowerPriorityRepeat = Int(v.garpLowerPrioRepeat ?? (strict ? 0 : g.vrrpGarpLowerPrioRepeat ?? 5))
        c.garpLowerPriorityDelay = .seconds(Int(v.garpLowerPrioDelay ?? (strict ? 0 : g.vrrpGarpLowerPrioDelay ?? 5)))
        c.lowerPriorityNoAdvert = v.lowerPrioNoAdvert ?? (strict ? true : g.vrrpLowerPrioNoAdvert ?? false)
        if strict && !c.lowerPriorityNoAdvert {
            report(
                .warning, "(\(n)) Strict mode requires no lower priority advert - resetting",
                at: at("lower_prio_no_advert"))
            c.lowerPriorityNoAdvert = true
        }
        c.higherPrioritySendAdvert = v.higherPrioSendAdvert ?? (strict ? false : g.vrrpHigherPrioSendAdvert ?? false)
        if strict && c.higherPrioritySendAdvert {
            report(
                .warning, "(\(n)) strict mode requires higher_prio_send_advert to be clear - resetting",
                at: at("higher_prio_send_advert"))
            c.higherPrioritySendAdvert = false
        }
        c.downTimerAdverts = Int(v.downTimerAdverts ?? g.vrrpDownTimerAdverts ?? 3)
        c.v3ChecksumAsV2 = v.v3ChecksumAsV2 ?? g.v3ChecksumAsV2 ?? false

        // notify scripts.
        c.notify = notify(v.notify)
        unsupportedInstanceOptions(v)

        do {
            try VRRPNode.validate(c, scripts: scriptsByName.values.compactMap { script($0) })
        } catch {
            report(.error, "\(error.message) - the instance is not run", at: v.location)
            return nil
        }
        return c
    }

    /// advert_int rounded as keepalived does: v2 whole seconds below 256, v3 centiseconds below 40.96 s.
    mutating func advertInterval(_ v: ConfInstance, version: VRRPVersion) -> Duration {
        let us = v.advertInterval.microseconds
        let at = v.keywordLocations["advert_int"] ?? v.location
        let (limit, unit, outOfRange, notWhole): (UInt64, UInt64, String, (UInt64) -> String) =
            version == .v2
            ? (
                256_000_000, 1_000_000, "Must be less than 256s. Setting to 255s",
                { "must be an integer - rounding to \($0)s" }
            )
            : (
                40_960_000, 10_000, "Must be less than 40.96s. Setting to 40.95s",
                { _ in "must be in units of 10ms - rounding" }
            )
        let interval = "(\(v.name)) VRRPv\(version.rawValue) advertisement interval \(v.advertInterval)"
        if us >= limit {
            report(.warning, "\(interval) is out of range. \(outOfRange)", at: at)
            return .microseconds(Int64(limit - unit))
        }
        if us % unit != 0 {
            let rounded = max(1, (us + unit / 2) / unit)
            report(.warning, "\(interval) \(notWhole(rounded))", at: at)
            return .microseconds(Int64(rounded * unit))
        }
        return .microseconds(Int64(us))
    }

    /// One VIP entry; options SwiftLVS cannot apply are reported.
    mutating func vip(_ a: ConfVIP, instance n: String) -> VIP {
        var broadcast: IPv4Address?
        if case .v4(let ip) = a.address {
            let mask = IPv4Address.mask(prefixLength: a.prefixLength).value
            switch a.broadcast {
            case .address(let b)?: broadcast = b.v4
            case .setHostBits?: broadcast = IPv4Address(ip.value | ~mask)
            case .clearHostBits?: broadcast = IPv4Address(ip.value & mask)
            case nil: broadcast = nil
            }
        }
        let scope = a.scope.flatMap { AddressScope(name: $0.rawValue) } ?? .global
        let unsupported: [(String, Bool)] = [
            ("peer", a.peer != nil), ("home", a.home), ("-nodad", a.noDAD), ("noprefixroute", a.noPrefixRoute),
            ("mngtmpaddr", a.manageTemporaryAddresses), ("autojoin", a.autojoin),
            ("preferred_lft", a.preferredLifetime != nil), ("use_vmac", a.useVMAC),
        ]
        for (option, set) in unsupported where set {
            report(
                .warning,
                "(\(n)) virtual address \(a.address): option \(option) is not supported by SwiftLVS - ignored",
                at: a.location)
        }
        return VIP(
            a.address, prefixLength: a.prefixLength, device: a.device, label: a.label, broadcast: broadcast,
            scope: scope)
    }

    mutating func unsupportedInstanceOptions(_ v: ConfInstance) {
        let n = v.name
        func at(_ keyword: String) -> SourceLocation { v.keywordLocations[keyword] ?? v.location }
        var options: [String] = []
        if v.useVMAC != nil { options.append("use_vmac") }
        if v.vmacTransmitBase { options.append("vmac_xmit_base") }
        if !v.virtualRoutes.isEmpty { options.append("virtual_routes") }
        if !v.virtualRules.isEmpty { options.append("virtual_rules") }
        if v.accept == false { options.append("no_accept") }
        if v.trackSourceIP { options.append("track_src_ip") }
        if v.unicastFaultNoPeer { options.append("unicast_fault_no_peer") }
        if v.promoteSecondaries { options.append("promote_secondaries") }
        if v.skipCheckAdvertAddresses == true { options.append("skip_check_adv_addr") }
        if v.notify.masterReceivedLowerPriority != nil { options.append("notify_master_rx_lower_pri") }
        if v.notify.notifyDeleted { options.append("notify_deleted") }
        if v.notifyPriorityChanges == true { options.append("notify_priority_changes") }
        if v.strictMode ?? g.vrrpStrict { options.append(v.strictMode != nil ? "strict_mode" : "vrrp_strict") }
        for o in options {
            report(.warning, "(\(n)) \(o) is not supported by SwiftLVS - ignored", at: at(o))
        }
        for s in v.otherSettings {
            report(.warning, "(\(n)) \(s.keyword) is not supported by SwiftLVS - ignored", at: s.location)
        }
    }

    // MARK: - Scripts

    /// The user a script runs as: its own (`user`, or words after the command), else
    /// `script_user`; root means the daemon's own user.
    func runAs(_ user: String?, _ group: String?) -> VRRPScriptUser? {
        let u = user ?? g.scriptUser
        let gr = user != nil ? group : g.scriptGroup
        guard let u, u != "root" || gr != nil else { return nil }
        return VRRPScriptUser(u, group: gr)
    }

    func notify(_ n: KeepalivedConfig.VRRPNotifyScripts) -> LVSVRRP.VRRPNotifyScripts {
        var out = LVSVRRP.VRRPNotifyScripts()
        let pairs: [(VRRPNotifyKind, ConfScript?)] = [
            (.master, n.master), (.backup, n.backup), (.fault, n.fault), (.stop, n.stop), (.generic, n.any),
        ]
        for (kind, script) in pairs {
            guard let script else { continue }
            let line = VRRPSetup.commandLine(script.arguments)
            switch kind {
            case .master: out.master = line
            case .backup: out.backup = line
            case .fault: out.fault = line
            case .stop: out.stop = line
            case .generic: out.generic = line
            }
            if let who = runAs(script.user, script.group) { out.runAs[kind] = who }
        }
        return out
    }

    func script(_ s: VRRPScript) -> VRRPScriptConfig? {
        guard let command = s.script else { return nil }
        let who = runAs(s.user ?? command.user, s.user != nil ? s.group : command.group)
        return VRRPScriptConfig(
            name: s.name, script: VRRPSetup.commandLine(command.arguments), interval: s.interval.duration,
            timeout: s.timeout?.duration, weight: s.weight, reverse: s.weightReverse, rise: Int(s.rise),
            fall: Int(s.fall), user: who?.user, group: who?.group, initFail: s.initFail)
    }

    // MARK: - Sync groups

    mutating func syncGroup(_ sg: VRRPSyncGroup, members: Set<String>) -> VRRPSyncGroupConfig? {
        let kept = sg.instances.filter { members.contains($0) }
        guard !kept.isEmpty else {
            report(.error, "sync group \(sg.name) has no member that can run - removing", at: sg.location)
            return nil
        }
        let weighted = sg.syncGroupTrackingWeight
        var scripts: [TrackedScript] = []
        for t in sg.tracking.scripts {
            let weight = t.weight ?? scriptsByName[t.name]?.weight ?? 0
            if weight != 0 && !weighted {
                report(
                    .warning,
                    "vrrp_sync_group \(sg.name): ignoring weight of tracked script \(t.name) (set sync_group_tracking_weight)",
                    at: t.location)
            }
            scripts.append(TrackedScript(t.name, weight: weighted ? t.weight : 0, reverse: t.reverse))
        }
        let interfaces = sg.tracking.interfaces.map {
            TrackedInterface($0.name, weight: weighted ? ($0.weight ?? 0) : 0, reverse: $0.reverse)
        }
        for (kind, list) in [
            ("track_file", sg.tracking.files), ("track_process", sg.tracking.processes),
            ("track_bfd", sg.tracking.bfds),
        ]
        where !list.isEmpty {
            report(
                .warning, "vrrp_sync_group \(sg.name): \(kind) is not supported by SwiftLVS - ignored",
                at: sg.keywordLocations[kind] ?? sg.location)
        }
        return VRRPSyncGroupConfig(
            name: sg.name, instances: kept, trackScripts: scripts.filter { scriptsByName[$0.name] != nil },
            trackInterfaces: interfaces, notify: notify(sg.notify))
    }
}
