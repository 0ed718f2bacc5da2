// Reloading a node's configuration as keepalived does on SIGHUP: matched instances keep their state.
import LVSCore

/// What a reload produces: the instances that are gone (with the actions that retire them) and
/// the new node (with the actions that start or restore its instances).
public struct VRRPNodeReload: Sendable {
    /// A node holding only the instances the new configuration no longer has.
    public var retired: VRRPNode
    /// A retiring master's priority-0 advert and VIP removal, for `retired`.
    public var retiredActions: [VRRPNodeAction]
    /// The node of the new configuration.
    public var node: VRRPNode
    /// Restored instances' VIP changes and immediate adverts, new instances' start, ending with
    /// one `scheduleTimer`.
    public var actions: [VRRPNodeAction]
    /// Names of the new configuration's instances that kept their state.
    public var restored: [String]
}

extension VRRPInstanceConfig {
    /// keepalived's `vrrp_exist`: an instance of the new configuration is the same virtual
    /// router as an old one when VRID, family, interface and unicast mode (and, in unicast, the
    /// source address) are the same; the instance name does not matter.
    public func isSameRouter(as other: VRRPInstanceConfig) -> Bool {
        guard virtualRouterID == other.virtualRouterID, family == other.family, interface == other.interface,
            isUnicast == other.isUnicast
        else { return false }
        return !isUnicast || configuredSourceIP == other.configuredSourceIP
    }
}

extension VRRPScriptTracker {
    /// A tracker carried over a reload in a known state.
    init(config: VRRPScriptConfig, restoring ok: Bool?) {
        self.init(config: config)
        if let ok { _ = record(success: ok) }
    }
}

extension VRRPNode {
    init(retiring instances: [VRRPInstance]) {
        self.instances = instances
        self.scripts = [:]
        self.syncGroups = []
    }

    /// Reloads `old` with a new configuration at `now` (keepalived's `clear_diff_vrrp` and
    /// `restore_vrrp_state`):
    /// - an instance that is the same virtual router as an old one (`isSameRouter`) keeps its
    ///   state and tracker results: a MASTER stays MASTER and sends an advert at once, VIPs the
    ///   new configuration dropped are removed and the ones it added are installed and announced;
    ///   a BACKUP restarts its down timer; no notify runs, since the state did not change;
    /// - an old instance with no match is retired: a master sends priority 0 and removes its VIPs;
    /// - a new instance starts as at start-up;
    /// - a `vrrp_script` that was succeeding is "considered successful on reload"; a failing one
    ///   keeps its state when its configuration is unchanged.
    /// `interfaceStates` gives the link state of tracked interfaces. Throws what `init` throws;
    /// `old` is then untouched.
    public static func reloading(
        _ old: VRRPNode, instances configs: [VRRPInstanceConfig], sourceAddresses: [String: IPAddress],
        scripts: [VRRPScriptConfig] = [], syncGroups: [VRRPSyncGroupConfig] = [], interfaceStates: [String: Bool] = [:],
        now: Timestamp
    ) throws(VRRPError) -> VRRPNodeReload {
        var new = try VRRPNode(
            instances: configs, sourceAddresses: sourceAddresses, scripts: scripts, syncGroups: syncGroups)
        var out: [VRRPNodeAction] = []
        for (name, tracker) in new.scripts {
            guard let previous = old.scripts[name], let ok = previous.ok else { continue }
            if ok {
                new.scripts[name] = VRRPScriptTracker(config: tracker.config, restoring: true)
                out.append(
                    VRRPNodeAction(instance: name, action: .log("VRRP_Script(\(name)) considered successful on reload"))
                )
            } else if previous.config == tracker.config {
                new.scripts[name] = previous
            }
        }
        var matched = Set<Int>()
        var before: [VRRPState] = []
        var restored: [String] = []
        for i in new.instances.indices {
            for n in new.instances[i].scriptWeights.keys {
                if let ok = new.scripts[n]?.ok { new.instances[i].scriptOK[n] = ok }
            }
            for n in new.instances[i].interfaceWeights.keys {
                if let up = interfaceStates[n] { new.instances[i].interfaceUp[n] = up }
            }
            let name = new.instances[i].name
            let j = old.instances.indices.first {
                !matched.contains($0) && old.instances[$0].config.isSameRouter(as: new.instances[i].config)
            }
            var acts: [VRRPAction] = []
            if let j, old.instances[j].started, old.instances[j].state != .initialize, old.instances[j].state != .stop {
                matched.insert(j)
                before.append(old.instances[j].state)
                restored.append(name)
                new.instances[i].restore(from: old.instances[j], now: now, into: &acts)
            } else {
                if let j { matched.insert(j) }
                before.append(.initialize)
                new.instances[i].start(now: now, into: &acts)
            }
            out += acts.map { VRRPNodeAction(instance: name, action: $0) }
        }
        for (name, state) in old.groupStates where new.syncGroups.contains(where: { $0.name == name }) {
            new.groupStates[name] = state
        }
        new.syncGroupsStep(before: before, now: now, into: &out)
        out.removeAll { if case .scheduleTimer = $0.action { return true } else { return false } }
        if let t = new.nextDeadline, let i = new.instances.first(where: { $0.nextDeadline == t }) {
            out.append(VRRPNodeAction(instance: i.name, action: .scheduleTimer(at: t)))
        }

        var gone = old.instances.indices.filter { !matched.contains($0) }.map { old.instances[$0] }
        var retiredActions: [VRRPNodeAction] = []
        for k in gone.indices {
            var acts: [VRRPAction] = []
            gone[k].retire(into: &acts)
            retiredActions += acts.map { VRRPNodeAction(instance: gone[k].name, action: $0) }
        }
        return VRRPNodeReload(
            retired: VRRPNode(retiring: gone), retiredActions: retiredActions, node: new, actions: out,
            restored: restored)
    }
}

extension VRRPInstance {
    /// Takes over the state of `old` (the same virtual router under the previous configuration).
    mutating func restore(from old: VRRPInstance, now: Timestamp, into out: inout [VRRPAction]) {
        started = true
        for w in configWarnings { out.append(.log(w)) }
        recomputePriority(into: &out, logChange: false)
        if effectivePriority != old.effectivePriority {
            out.append(
                .log("(\(name)) Changing effective priority from \(old.effectivePriority) to \(effectivePriority)"))
        }
        masterAddress = old.masterAddress
        masterPriority = old.masterPriority
        masterAdvertInterval =
            old.state == .backup && config.effectiveVersion == .v3 && old.config.advertInterval == config.advertInterval
            ? old.masterAdvertInterval : config.advertInterval
        state = old.state
        switch old.state {
        case .master:
            let previous = old.addressesInstalled ? old.config.allInstalledAddresses : []
            let current = config.allInstalledAddresses
            let removed = previous.filter { !current.contains($0) }
            let added = current.filter { !previous.contains($0) }
            if !removed.isEmpty { out.append(.removeAddresses(removed)) }
            if !added.isEmpty {
                out.append(.addAddresses(added))
                if config.garpMasterRepeat > 0 { out.append(.sendGratuitous(added, repeat: config.garpMasterRepeat)) }
            }
            addressesInstalled = true
            if faultCondition {
                becomeFault(into: &out)
                return
            }
            // keepalived's reload_master: the first advert goes out at once.
            out.append(.sendAdvert(priority: effectivePriority))
            advertDeadline = now + config.advertInterval
            garpRefreshDeadline =
                config.garpMasterRefresh > .zero && !current.isEmpty ? now + config.garpMasterRefresh : nil
        case .backup:
            if faultCondition {
                becomeFault(into: &out)
                return
            }
            downDeadline = now + (wantMaster ? masterAdvertInterval + skew(units: 1) : masterDownInterval)
        case .fault:
            if !faultCondition { leaveFault(now: now, into: &out) }
        case .initialize, .stop:
            break
        }
    }

    /// An instance the new configuration no longer has: a master sends priority 0 and removes
    /// its VIPs (keepalived's `vrrp_restore_interface` on reload). No notify runs.
    mutating func retire(into out: inout [VRRPAction]) {
        out.append(.log("(\(name)) removed from the configuration"))
        leave(into: &out)
        state = .stop
    }
}
