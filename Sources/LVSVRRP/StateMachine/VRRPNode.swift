// Several VRRP instances with their scripts and sync groups, stepped together as one value.
import LVSCore

/// An action for one instance (or, for group notifies, the instance whose change caused it).
public struct VRRPNodeAction: Hashable, Sendable {
    public var instance: String
    public var action: VRRPAction
}

/// Events for a node.
public enum VRRPNodeEvent: Hashable, Sendable {
    case start
    case timer
    /// A packet; it goes to the instance(s) with its VRID and family on its interface.
    case packet(ReceivedVRRPPacket)
    /// One run of `vrrp_script` `name` finished (timeout counts as failure).
    case scriptResult(name: String, success: Bool)
    case interfaceState(name: String, up: Bool)
    /// SwiftLVS (connection sync): instance `instance` does not preempt a lower-priority master
    /// before `until` (nil lifts the hold), like a `preempt_delay` that ends when the bulk
    /// resync does.
    case holdPreemption(instance: String, until: Timestamp?)
    case stop
}

/// The VRRP side of one director: its instances, the scripts they track and their sync groups
/// (keepalived's vrrp process), as a value stepped by `handle(_:now:)`.
public struct VRRPNode: Sendable {
    public internal(set) var instances: [VRRPInstance]
    public internal(set) var scripts: [String: VRRPScriptTracker]
    public let syncGroups: [VRRPSyncGroupConfig]
    /// The state each sync group last notified.
    public internal(set) var groupStates: [String: VRRPState] = [:]
    private var unknownVRIDLogged: [String: Timestamp] = [:]

    /// Builds a node, refusing what keepalived refuses and what this implementation does not do
    /// (IPsec AH). `sourceAddresses` maps instance names to their primary address.
    public init(
        instances configs: [VRRPInstanceConfig], sourceAddresses: [String: IPAddress],
        scripts: [VRRPScriptConfig] = [], syncGroups: [VRRPSyncGroupConfig] = []
    ) throws(VRRPError) {
        var built: [VRRPInstance] = []
        for c in configs {
            try Self.validate(c, scripts: scripts)
            if built.contains(where: { $0.name == c.name }) {
                throw VRRPError(.invalidConfig, "(\(c.name)) duplicate vrrp_instance name")
            }
            guard let src = c.configuredSourceIP ?? sourceAddresses[c.name] else {
                throw VRRPError(
                    .invalidConfig,
                    "(\(c.name)) no source address: the interface has no address of the instance's family")
            }
            let group = syncGroups.first { $0.instances.contains(c.name) }
            built.append(
                VRRPInstance(
                    config: c, sourceAddress: src, scripts: scripts,
                    extraTrackedScripts: group?.trackScripts ?? [], extraTrackedInterfaces: group?.trackInterfaces ?? []
                ))
        }
        for g in syncGroups {
            for m in g.instances where !configs.contains(where: { $0.name == m }) {
                throw VRRPError(.invalidConfig, "Virtual router \(m) specified in sync group \(g.name) doesn't exist")
            }
        }
        instances = built
        var s: [String: VRRPScriptTracker] = [:]
        for sc in scripts { s[sc.name] = VRRPScriptTracker(config: sc) }
        self.scripts = s
        self.syncGroups = syncGroups
    }

    /// Configuration checks: what keepalived rejects, and AH.
    public static func validate(_ c: VRRPInstanceConfig, scripts: [VRRPScriptConfig]) throws(VRRPError) {
        let n = c.name
        if case .ah = c.authentication {
            throw VRRPError(
                .authAHUnsupported,
                "(\(n)) auth_type AH (IPsec AH) is not supported by SwiftLVS; use auth_type PASS or no authentication")
        }
        if c.virtualRouterID == 0 { throw VRRPError(.invalidConfig, "(\(n)) the virtual id must be set!") }
        if c.priority == 0 { throw VRRPError(.invalidConfig, "(\(n)) priority must be 1..255") }
        if c.interface == nil && c.unicastPeers.isEmpty {
            throw VRRPError(.invalidConfig, "(\(n)) Unknown interface!")
        }
        let v = c.effectiveVersion
        if v == .v2 && c.family == .inet6 {
            throw VRRPError(.invalidConfig, "(\(n)) VRRP version 2 cannot carry IPv6 addresses; use version 3")
        }
        if (v == .v3 || c.family == .inet6) && c.advertisedAddresses.isEmpty {
            throw VRRPError(.invalidConfig, "(\(n)) No VIP specified; at least one is required")
        }
        if v == .v2 {
            let s = c.advertInterval.components
            if s.attoseconds != 0 || s.seconds < 1 || s.seconds > 255 {
                throw VRRPError(.invalidConfig, "(\(n)) VRRPv2 advert_int must be a whole number of seconds 1..255")
            }
        } else {
            let cs = c.advertInterval / .milliseconds(10)
            if cs < 1 || cs >= 4096 {
                throw VRRPError(.invalidConfig, "(\(n)) VRRPv3 advert_int must be 0.01..40.95 seconds")
            }
        }
        if c.preemptDelay < .zero || c.preemptDelay > .seconds(1000) {
            throw VRRPError(.invalidConfig, "(\(n)) preempt_delay must be 0..1000 seconds")
        }
        for t in c.trackScripts where !scripts.contains(where: { $0.name == t.name }) {
            throw VRRPError(.invalidConfig, "(\(n)) track_script \(t.name) not found, ignoring...")
        }
    }

    /// The instance called `name`.
    public func instance(_ name: String) -> VRRPInstance? { instances.first { $0.name == name } }

    /// The earliest pending deadline of any instance.
    public var nextDeadline: Timestamp? { instances.compactMap(\.nextDeadline).min() }

    /// Applies one event at `now`; returns every instance's actions, ending with one
    /// `scheduleTimer` for the earliest deadline (tagged with that instance's name).
    public mutating func handle(_ event: VRRPNodeEvent, now: Timestamp) -> [VRRPNodeAction] {
        var out: [VRRPNodeAction] = []
        let before = instances.map(\.state)
        switch event {
        case .start: forEach(.start, now: now, into: &out)
        case .timer: forEach(.timer, now: now, into: &out)
        case .stop: forEach(.stop, now: now, into: &out)
        case .interfaceState(let n, let up): forEach(.interfaceState(name: n, up: up), now: now, into: &out)
        case .scriptResult(let n, let ok):
            guard var t = scripts[n] else { break }
            if let changed = t.record(success: ok) {
                out.append(
                    VRRPNodeAction(instance: n, action: .log("VRRP_Script(\(n)) \(changed ? "succeeded" : "failed")")))
                scripts[n] = t
                forEach(.scriptState(name: n, ok: changed), now: now, into: &out)
            } else {
                scripts[n] = t
            }
        case .packet(let p): dispatch(p, now: now, into: &out)
        case .holdPreemption(let n, let until):
            if let i = instances.firstIndex(where: { $0.name == n }) {
                instances[i].preemptionHeldUntil = until
                let text = until == nil ? "preemption hold lifted" : "preemption held for connection sync"
                out.append(VRRPNodeAction(instance: n, action: .log("(\(n)) \(text)")))
            }
        }
        syncGroupsStep(before: before, now: now, into: &out)
        out.removeAll { if case .scheduleTimer = $0.action { return true } else { return false } }
        if let t = nextDeadline, let i = instances.first(where: { $0.nextDeadline == t }) {
            out.append(VRRPNodeAction(instance: i.name, action: .scheduleTimer(at: t)))
        }
        return out
    }

    private mutating func forEach(_ e: VRRPEvent, now: Timestamp, into out: inout [VRRPNodeAction]) {
        for i in instances.indices {
            let name = instances[i].name
            for a in instances[i].handle(e, now: now) { out.append(VRRPNodeAction(instance: name, action: a)) }
        }
    }

    private mutating func dispatch(_ p: ReceivedVRRPPacket, now: Timestamp, into out: inout [VRRPNodeAction]) {
        guard let vrid = p.virtualRouterID else { return }
        var matched = false
        for i in instances.indices {
            let c = instances[i].config
            guard c.virtualRouterID == vrid, c.family == p.source.family else { continue }
            if let pi = p.interface, let ci = c.interface, pi != ci { continue }
            matched = true
            let name = instances[i].name
            for a in instances[i].handle(.packet(p), now: now) { out.append(VRRPNodeAction(instance: name, action: a)) }
        }
        if !matched {
            let key = "\(p.interface ?? "-")|\(vrid)|\(p.source)"
            if let last = unknownVRIDLogged[key], now < last + .seconds(60) { return }
            unknownVRIDLogged[key] = now
            out.append(
                VRRPNodeAction(
                    instance: "",
                    action: .log(
                        "VRRP advert from \(p.source)\(p.interface.map { " on \($0)" } ?? "") for VRID \(vrid): no instance has this VRID - ignored"
                    )))
        }
    }

    /// Sync groups: a member entering FAULT takes the others to FAULT; one becoming MASTER takes
    /// the BACKUP members to MASTER; one falling back to BACKUP takes the MASTER members with it.
    mutating func syncGroupsStep(before: [VRRPState], now: Timestamp, into out: inout [VRRPNodeAction]) {
        guard !syncGroups.isEmpty else { return }
        var previous = before
        for _ in 0..<4 {
            var changed = false
            for g in syncGroups {
                let idx = instances.indices.filter { g.instances.contains(instances[$0].name) }
                let anyFault = idx.contains { instances[$0].ownFaultCondition }
                for i in idx {
                    let n = instances[i].name
                    var acts: [VRRPAction] = []
                    instances[i].setGroupFault(anyFault, now: now, into: &acts)
                    out += acts.map { VRRPNodeAction(instance: n, action: $0) }
                }
                let toMaster = idx.contains { previous[$0] != .master && instances[$0].state == .master }
                let toBackup = idx.contains { previous[$0] == .master && instances[$0].state == .backup }
                for i in idx {
                    let n = instances[i].name
                    var acts: [VRRPAction] = []
                    if toMaster && instances[i].state == .backup {
                        acts.append(.log("(\(n)) Sync group \(g.name): member became MASTER, following"))
                        instances[i].syncToMaster(now: now, into: &acts)
                    } else if toBackup && !toMaster && instances[i].state == .master {
                        acts.append(.log("(\(n)) Sync group \(g.name): member became BACKUP, following"))
                        instances[i].syncToBackup(now: now, into: &acts)
                    }
                    out += acts.map { VRRPNodeAction(instance: n, action: $0) }
                }
            }
            let now2 = instances.map(\.state)
            for i in instances.indices where now2[i] != previous[i] { changed = true }
            previous = now2
            if !changed { break }
        }
        for g in syncGroups {
            let states = instances.filter { g.instances.contains($0.name) }.map(\.state)
            guard let s = states.first, states.allSatisfy({ $0 == s }), s != .initialize, groupStates[g.name] != s
            else { continue }
            groupStates[g.name] = s
            let who = g.name
            out.append(
                VRRPNodeAction(instance: who, action: .log("(\(g.name)) Syncing instances to \(s.rawValue) state")))
            let own: String?
            let kind: VRRPNotifyKind
            switch s {
            case .master: (own, kind) = (g.notify.master, .master)
            case .backup: (own, kind) = (g.notify.backup, .backup)
            case .fault: (own, kind) = (g.notify.fault, .fault)
            default: (own, kind) = (g.notify.stop, .stop)
            }
            if let cmd = own {
                out.append(
                    VRRPNodeAction(
                        instance: who,
                        action: .notify(VRRPNotifyInvocation(kind: kind, command: cmd, runAs: g.notify.runAs[kind]))))
            }
            if let gen = g.notify.generic {
                out.append(
                    VRRPNodeAction(
                        instance: who,
                        action: .notify(
                            VRRPNotifyInvocation(
                                kind: .generic, command: gen, arguments: ["GROUP", g.name, s.rawValue, "0"],
                                runAs: g.notify.runAs[.generic]))))
            }
        }
    }
}
