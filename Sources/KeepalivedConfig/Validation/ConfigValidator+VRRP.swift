// keepalived's check-config rules for VRRP instances and sync groups, and script security.
import LVSCore

extension ConfigValidator {
    // MARK: - VRRP

    mutating func validateVRRP(_ config: inout KeepalivedConfiguration) {
        let scriptNames = Set(config.vrrpScripts.filter { $0.script != nil }.map(\.name))
        config.vrrpScripts.removeAll { $0.script == nil }
        var kept: [VRRPInstance] = []
        var multicastOwners: [String: String] = [:]
        for var v in config.vrrpInstances {
            guard v.virtualRouterID != nil else {
                report(
                    .error, "(\(v.name)) the virtual router id (virtual_router_id) must be set - ignoring the instance",
                    at: v.location)
                continue
            }
            if v.priority == 255 && v.nopreempt {
                report(
                    .warning, "(\(v.name)) nopreempt is incompatible with priority 255 - resetting nopreempt",
                    at: v.keywordLocations["nopreempt"] ?? v.location)
                v.nopreempt = false
            }
            if v.state == .master {
                if v.nopreempt {
                    report(
                        .warning, "(\(v.name)) nopreempt will not work with initial state MASTER - clearing",
                        at: v.keywordLocations["nopreempt"] ?? v.location)
                    v.nopreempt = false
                }
                if v.preemptDelay != nil {
                    report(
                        .warning, "(\(v.name)) preempt_delay will not work with initial state MASTER - clearing",
                        at: v.keywordLocations["preempt_delay"] ?? v.location)
                    v.preemptDelay = nil
                }
            }
            if v.preemptDelay != nil && v.nopreempt {
                report(
                    .warning, "(\(v.name)) preempt_delay is incompatible with nopreempt - resetting",
                    at: v.keywordLocations["preempt_delay"] ?? v.location)
                v.preemptDelay = nil
            }
            if v.unicastTTL != nil && v.unicastPeers.isEmpty {
                report(
                    .error, "(\(v.name)) cannot use unicast_ttl without unicast peers - resetting",
                    at: v.keywordLocations["unicast_ttl"] ?? v.location)
                v.unicastTTL = nil
            }
            separateFamilies(&v)
            if v.family == .inet6 && v.version == 2 {
                report(
                    .error, "(\(v.name)) IPv6 instances cannot use VRRP version 2 - using version 3",
                    at: v.keywordLocations["version"] ?? v.location)
                v.version = 3
            }
            if v.virtualIPAddresses.isEmpty && !v.noVirtualIPAddress {
                report(.warning, "(\(v.name)) no virtual_ipaddress specified; at least one is required", at: v.location)
            }
            v.tracking.scripts = v.tracking.scripts.filter { tracked in
                if scriptNames.contains(tracked.name) { return true }
                report(.error, "(\(v.name)) track_script \(tracked.name) not found - ignoring", at: tracked.location)
                return false
            }
            if v.unicastPeers.isEmpty {
                let key = "\(v.virtualRouterID!)/\(v.interface ?? "")/\(String(describing: v.family))"
                if let owner = multicastOwners[key] {
                    report(
                        .error,
                        "(\(v.name)) VRID \(v.virtualRouterID!) is already used by \(owner) on the same interface",
                        at: v.keywordLocations["virtual_router_id"] ?? v.location)
                } else {
                    multicastOwners[key] = v.name
                }
            }
            kept.append(v)
        }
        config.vrrpInstances = kept

        var member: [String: String] = [:]
        let instancesByName = Dictionary(kept.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        config.vrrpSyncGroups = config.vrrpSyncGroups.compactMap { g in
            var g = g
            g.instances = g.instances.filter { name in
                guard let instance = instancesByName[name] else {
                    report(
                        .error, "virtual router \(name) specified in sync group \(g.name) doesn't exist - ignoring",
                        at: g.location)
                    return false
                }
                if let other = member[name] {
                    report(
                        .error, "vrrp instance \(name) cannot be in sync group \(g.name) and \(other) - ignoring",
                        at: g.location)
                    return false
                }
                member[name] = g.name
                if !g.syncGroupTrackingWeight {
                    let t = instance.tracking
                    for tracked in t.interfaces + t.scripts + t.files + t.processes + t.bfds
                    where (tracked.weight ?? 0) != 0 {
                        report(
                            .warning,
                            "(\(name)) tracker \(tracked.name) has a weight but the instance is in sync group \(g.name): the weight is ignored",
                            at: tracked.location)
                    }
                }
                return true
            }
            if g.instances.isEmpty {
                report(.error, "sync group \(g.name) has no valid members - removing", at: g.location)
                return nil
            }
            return g
        }
    }

    /// An instance's addresses must share its family (that of the first VIP); other-family
    /// entries move to the excluded list, which is never advertised.
    private mutating func separateFamilies(_ v: inout VRRPInstance) {
        guard let family = v.family else { return }
        let (same, other) = (
            v.virtualIPAddresses.filter { $0.address.family == family },
            v.virtualIPAddresses.filter { $0.address.family != family }
        )
        for vip in other {
            report(
                .warning,
                "(\(v.name)) virtual address \(vip.address) is not the instance's address family - treating it as excluded",
                at: vip.location)
        }
        v.virtualIPAddresses = same
        v.excludedVirtualIPAddresses += other
    }

    // MARK: - Script security

    /// keepalived refuses (`-t` exit 5) configurations that run scripts as root without
    /// `enable_script_security`. A script runs as root unless a user is given on its line, by
    /// `user` (vrrp_script, MISC_CHECK) or by global `script_user`. (keepalived would use the
    /// `keepalived_script` user if it existed; SwiftLVS does not look users up, so it assumes it
    /// does not, as on a default install.)
    mutating func checkScriptSecurity(_ config: KeepalivedConfiguration) {
        let g = config.globalDefs
        guard !g.enableScriptSecurity else { return }
        var scripts: [ScriptCommand] = []
        for s in config.vrrpScripts {
            if var script = s.script {
                script.user = script.user ?? s.user
                scripts.append(script)
            }
        }
        for v in config.vrrpInstances { scripts += v.notify.all }
        for sg in config.vrrpSyncGroups { scripts += sg.notify.all }
        for vs in config.virtualServers {
            scripts += [vs.quorumUp, vs.quorumDown].compactMap { $0 }
            for rs in vs.realServers {
                scripts += [rs.notifyUp, rs.notifyDown].compactMap { $0 }
                for c in rs.checkers {
                    if case .misc(let misc) = c.kind, let s = misc.script { scripts.append(s) }
                }
            }
        }
        scripts += [
            g.notifyFIFOScript, g.vrrpNotifyFIFOScript, g.lvsNotifyFIFOScript, g.startupScript, g.shutdownScript,
        ]
        .compactMap { $0 }
        let asRoot = scripts.filter { ($0.user ?? g.scriptUser ?? "root") == "root" }
        guard let first = asRoot.min(by: { $0.location < $1.location }) else { return }
        report(
            .security,
            "scripts would run as root but enable_script_security is not set (first: '\(first.commandLine)')",
            at: first.location)
    }
}
