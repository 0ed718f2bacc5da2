// One VRRP instance as a value type: states, timers and transitions, stepped by events and a given time.
import LVSCore

/// A tracker (script or interface) as an instance weighs it.
public struct VRRPTrackerWeight: Hashable, Sendable {
    public var weight: Int
    public var reverse = false
}

/// A VRRP instance (keepalived's `vrrp_t`), driven seesaw-style: `handle(_:now:)` takes an event
/// and the current time and returns the actions to perform. It reads no clock and opens no socket.
///
/// ```
///            start ──► INIT ──(scripts known)──► BACKUP ◄──(higher prio advert)── MASTER
///                                    │  ▲            └──(master-down timer)──────────► ▲
///                 (tracker fails)    ▼  │ (trackers OK)                                │
///                                   FAULT ◄────────────(tracker fails: prio 0 advert)──┘
///            stop: any ──► STOP (priority 0 advert and VIPs removed if MASTER)
/// ```
public struct VRRPInstance: Sendable {
    /// The configuration, with `nopreempt` cleared where keepalived clears it.
    public internal(set) var config: VRRPInstanceConfig
    /// Our primary address: compared with a master's on equal priority and used as advert source.
    public let sourceAddress: IPAddress
    public internal(set) var state: VRRPState = .initialize
    /// The configured priority (lowered to 254 on an address-owner conflict).
    public internal(set) var basePriority: UInt8
    /// The priority advertised: base plus tracker weights, clamped to 1…254 (255 stays 255).
    public internal(set) var effectivePriority: UInt8
    /// Master_Adver_Interval: ours, or (v3) the one the current master advertises.
    public internal(set) var masterAdvertInterval: Duration
    /// The master last heard from, and its priority.
    public internal(set) var masterAddress: IPAddress?
    public internal(set) var masterPriority: UInt8?
    /// True while our VIPs are installed.
    public internal(set) var addressesInstalled = false
    /// Warnings found when the configuration was normalised (logged on start).
    public let configWarnings: [String]

    var downDeadline: Timestamp?
    /// The last advert sent at once in answer to one received (priority 0, lower priority):
    /// such answers are rate limited (`immediateAdvertGap`), so a flood of adverts is not echoed.
    var lastImmediateAdvert: Timestamp?
    /// Dropped-advert log lines: at most one per `dropLogGap`; the rest are counted and summed up.
    var dropLogAllowedAt: Timestamp?
    var suppressedDropLogs = 0
    var advertDeadline: Timestamp?
    var garpDelayDeadline: Timestamp?
    var garpRefreshDeadline: Timestamp?
    var garpLowerPriorityDeadline: Timestamp?
    var preemptUntil: Timestamp?
    /// A preemption hold (connection sync's bulk resync): lower-priority adverts are accepted
    /// until then.
    public internal(set) var preemptionHeldUntil: Timestamp?
    var wantMaster: Bool
    var started = false
    /// Tracked scripts: weight, and state (nil until the first result).
    var scriptWeights: [String: VRRPTrackerWeight]
    var scriptOK: [String: Bool] = [:]
    var interfaceWeights: [String: VRRPTrackerWeight]
    var interfaceUp: [String: Bool] = [:]
    /// Set by a sync group while another member is in FAULT.
    var groupFault = false

    /// Creates an instance. `scriptWeights` gives each tracked script's weight (the
    /// `track_script` override, else the `vrrp_script`'s own); `sourceAddress` is the
    /// `unicast_src_ip`/`mcast_src_ip`, else the interface's primary address.
    public init(
        config: VRRPInstanceConfig, sourceAddress: IPAddress, scripts: [VRRPScriptConfig] = [],
        extraTrackedScripts: [TrackedScript] = [], extraTrackedInterfaces: [TrackedInterface] = []
    ) {
        var c = config
        var warnings: [String] = []
        if c.nopreempt && c.priority == 255 {
            warnings.append("(\(c.name)) nopreempt is incompatible with priority 255 - resetting nopreempt")
            c.nopreempt = false
        } else if c.nopreempt && c.initialState == .master {
            warnings.append("(\(c.name)) Warning - nopreempt will not work with initial state MASTER - clearing")
            c.nopreempt = false
        }
        if c.nopreempt && c.preemptDelay > .zero {
            warnings.append("(\(c.name)) preempt_delay is incompatible with nopreempt - clearing preempt_delay")
            c.preemptDelay = .zero
        }
        self.config = c
        self.configWarnings = warnings
        self.sourceAddress = sourceAddress
        self.basePriority = c.priority
        self.effectivePriority = c.priority
        self.masterAdvertInterval = c.advertInterval
        self.wantMaster = (c.initialState ?? (c.priority == 255 ? .master : .backup)) == .master
        var sw: [String: VRRPTrackerWeight] = [:]
        for t in c.trackScripts + extraTrackedScripts {
            let own = scripts.first { $0.name == t.name }
            sw[t.name] = VRRPTrackerWeight(
                weight: t.weight ?? own?.weight ?? 0, reverse: t.reverse != (own?.reverse ?? false))
        }
        scriptWeights = sw
        var iw: [String: VRRPTrackerWeight] = [:]
        if let i = c.interface, !c.dontTrackPrimary { iw[i] = VRRPTrackerWeight(weight: 0) }
        for t in c.trackInterfaces + extraTrackedInterfaces {
            iw[t.name] = VRRPTrackerWeight(weight: t.weight, reverse: t.reverse)
        }
        interfaceWeights = iw
        for s in scripts where sw[s.name] != nil && s.initFail { scriptOK[s.name] = false }
    }

    /// The instance's name.
    public var name: String { config.name }

    // MARK: - Timers

    /// The skew time of keepalived's VRRP_TIMER_SKEW_CALC for `units` (256 − priority, or 1 for
    /// the minimum): v2 `units/256` s (not scaled by the interval, RFC 3768); v3
    /// `units × Master_Adver_Interval / 256` (RFC 5798), both truncated to microseconds.
    public func skew(units: Int) -> Duration {
        if config.effectiveVersion == .v2 {
            return .microseconds(units * 1_000_000 / 256)
        }
        let centis = Int(masterAdvertInterval / .milliseconds(10))
        return .microseconds(units * centis * 625 / 16)
    }

    /// Skew_Time for our effective priority.
    public var skewTime: Duration { skew(units: 256 - Int(effectivePriority)) }

    /// Master_Down_Interval = down_timer_adverts × Master_Adver_Interval + Skew_Time.
    public var masterDownInterval: Duration {
        masterAdvertInterval * config.downTimerAdverts + skewTime
    }

    /// The earliest pending deadline.
    public var nextDeadline: Timestamp? {
        [downDeadline, advertDeadline, garpDelayDeadline, garpRefreshDeadline, garpLowerPriorityDeadline]
            .compactMap { $0 }.min()
    }

    // MARK: - Events

    /// Applies one event at time `now` and returns the actions to perform, ending with a
    /// `scheduleTimer` when a deadline is pending.
    public mutating func handle(_ event: VRRPEvent, now: Timestamp) -> [VRRPAction] {
        var out: [VRRPAction] = []
        switch event {
        case .start: start(now: now, into: &out)
        case .timer: timer(now: now, into: &out)
        case .packet(let p): receive(p, now: now, into: &out)
        case .scriptState(let n, let ok):
            guard scriptWeights[n] != nil, state != .stop else { break }
            scriptOK[n] = ok
            trackersChanged(now: now, into: &out)
        case .interfaceState(let n, let up):
            guard interfaceWeights[n] != nil, state != .stop else { break }
            interfaceUp[n] = up
            trackersChanged(now: now, into: &out)
        case .stop: stop(into: &out)
        }
        if let t = nextDeadline { out.append(.scheduleTimer(at: t)) }
        return out
    }

    mutating func start(now: Timestamp, into out: inout [VRRPAction]) {
        guard !started else { return }
        started = true
        for w in configWarnings { out.append(.log(w)) }
        recomputePriority(into: &out, logChange: false)
        if scriptWeights.keys.contains(where: { scriptOK[$0] == nil }) { return }  // wait in INIT
        initialState(now: now, into: &out)
    }

    /// vrrp_init_state: owner wanting MASTER becomes master at once; MASTER with a lower
    /// priority waits one advert interval plus the minimum skew; BACKUP waits Master_Down_Interval.
    mutating func initialState(now: Timestamp, into out: inout [VRRPAction]) {
        if faultCondition {
            transition(to: .fault, suffix: " (init)", into: &out)
            return
        }
        if basePriority == 255 && wantMaster {
            becomeMaster(now: now, into: &out)
            return
        }
        transition(to: .backup, suffix: " (init)", into: &out)
        let wait = wantMaster ? masterAdvertInterval + skew(units: 1) : masterDownInterval
        downDeadline = now + wait
    }

    mutating func timer(now: Timestamp, into out: inout [VRRPAction]) {
        switch state {
        case .backup:
            if let d = downDeadline, d <= now {
                downDeadline = nil
                out.append(.log("(\(name)) Receive advertisement timeout"))
                becomeMaster(now: now, into: &out)
            }
        case .master:
            if let g = garpDelayDeadline, g <= now {
                garpDelayDeadline = nil
                out.append(.sendGratuitous(config.allInstalledAddresses, repeat: config.garpMasterRepeat))
            }
            if let l = garpLowerPriorityDeadline, l <= now {
                garpLowerPriorityDeadline = nil
                out.append(.sendGratuitous(config.allInstalledAddresses, repeat: config.garpLowerPriorityRepeat))
            }
            if let r = garpRefreshDeadline, r <= now {
                out.append(.sendGratuitous(config.allInstalledAddresses, repeat: config.garpMasterRefreshRepeat))
                garpRefreshDeadline = now + config.garpMasterRefresh
            }
            if let a = advertDeadline, a <= now {
                out.append(.sendAdvert(priority: effectivePriority))
                advertDeadline = now + config.advertInterval
            }
        default:
            break
        }
    }

    // MARK: - Transitions

    mutating func transition(to new: VRRPState, suffix: String = "", into out: inout [VRRPAction]) {
        let old = state
        state = new
        out.append(.log("(\(name)) Entering \(new.rawValue) STATE\(suffix)"))
        out.append(.stateChanged(from: old, to: new))
        notifies(into: &out)
    }

    /// Instance notifies for the current state: the state's own script, then `notify` with
    /// `INSTANCE name STATE priority` (vrrp_notify.c send_instance_notifies).
    func notifies(into out: inout [VRRPAction]) {
        let n = config.notify
        let own: (VRRPNotifyKind, String?)
        switch state {
        case .master: own = (.master, n.master)
        case .backup: own = (.backup, n.backup)
        case .fault: own = (.fault, n.fault)
        case .stop: own = (.stop, n.stop)
        case .initialize: return
        }
        if let cmd = own.1 {
            out.append(.notify(VRRPNotifyInvocation(kind: own.0, command: cmd, runAs: n.runAs[own.0])))
        }
        if let g = n.generic {
            out.append(
                .notify(
                    VRRPNotifyInvocation(
                        kind: .generic, command: g,
                        arguments: ["INSTANCE", name, state.rawValue, String(effectivePriority)],
                        runAs: n.runAs[.generic])))
        }
    }

    /// Becoming master: advert first, then the VIPs, the first GARP burst, the notifies; the
    /// second burst after garp_master_delay, refreshes every garp_master_refresh.
    mutating func becomeMaster(now: Timestamp, into out: inout [VRRPAction]) {
        let old = state
        state = .master
        out.append(.log("(\(name)) Entering MASTER STATE"))
        out.append(.stateChanged(from: old, to: .master))
        out.append(.sendAdvert(priority: effectivePriority))
        let addrs = config.allInstalledAddresses
        if !addrs.isEmpty {
            out.append(.addAddresses(addrs))
            if config.garpMasterRepeat > 0 { out.append(.sendGratuitous(addrs, repeat: config.garpMasterRepeat)) }
        }
        addressesInstalled = true
        notifies(into: &out)
        downDeadline = nil
        preemptUntil = nil
        masterAddress = sourceAddress
        masterPriority = effectivePriority
        masterAdvertInterval = config.advertInterval
        advertDeadline = now + config.advertInterval
        garpDelayDeadline = config.garpMasterDelay > .zero && !addrs.isEmpty ? now + config.garpMasterDelay : nil
        garpRefreshDeadline = config.garpMasterRefresh > .zero && !addrs.isEmpty ? now + config.garpMasterRefresh : nil
    }

    /// Leaves MASTER: VIPs removed and master timers cleared (the caller sends any advert).
    mutating func releaseMaster(into out: inout [VRRPAction]) {
        if addressesInstalled && !config.allInstalledAddresses.isEmpty {
            out.append(.removeAddresses(config.allInstalledAddresses))
        }
        addressesInstalled = false
        advertDeadline = nil
        garpDelayDeadline = nil
        garpRefreshDeadline = nil
        garpLowerPriorityDeadline = nil
    }

    /// MASTER or FAULT → BACKUP with a full Master_Down_Interval.
    mutating func becomeBackup(now: Timestamp, into out: inout [VRRPAction]) {
        if state == .master { releaseMaster(into: &out) }
        preemptUntil = nil
        transition(to: .backup, into: &out)
        downDeadline = now + masterDownInterval
    }

    /// Any state → FAULT; a master first sends a priority 0 advert and removes its VIPs.
    mutating func becomeFault(into out: inout [VRRPAction]) {
        if state == .master {
            out.append(.sendAdvert(priority: 0))
            releaseMaster(into: &out)
        }
        downDeadline = nil
        transition(to: .fault, into: &out)
    }

    /// FAULT → BACKUP (or MASTER for an owner that wants it) once every tracker is fine.
    mutating func leaveFault(now: Timestamp, into out: inout [VRRPAction]) {
        masterAdvertInterval = config.advertInterval
        if basePriority == 255 && wantMaster {
            becomeMaster(now: now, into: &out)
        } else {
            becomeBackup(now: now, into: &out)
        }
    }

    mutating func stop(into out: inout [VRRPAction]) {
        guard state != .stop else { return }
        leave(into: &out)
        transition(to: .stop, into: &out)
    }

    /// Leaving (stop, or removed by a reload): a master sends priority 0 and releases its VIPs;
    /// no down timer runs any more.
    mutating func leave(into out: inout [VRRPAction]) {
        if state == .master {
            out.append(.sendAdvert(priority: 0))
            out.append(.log("(\(name)) sent 0 priority"))
            releaseMaster(into: &out)
        }
        downDeadline = nil
    }

    // MARK: - Used by sync groups

    /// A sync group moves this member to MASTER (it must be in BACKUP).
    mutating func syncToMaster(now: Timestamp, into out: inout [VRRPAction]) {
        guard state == .backup else { return }
        becomeMaster(now: now, into: &out)
    }

    /// A sync group moves this member to BACKUP (from MASTER).
    mutating func syncToBackup(now: Timestamp, into out: inout [VRRPAction]) {
        guard state == .master else { return }
        becomeBackup(now: now, into: &out)
    }

    /// A sync group puts this member in (or takes it out of) FAULT because of another member.
    mutating func setGroupFault(_ on: Bool, now: Timestamp, into out: inout [VRRPAction]) {
        guard groupFault != on else { return }
        groupFault = on
        trackersChanged(now: now, into: &out)
    }
}
