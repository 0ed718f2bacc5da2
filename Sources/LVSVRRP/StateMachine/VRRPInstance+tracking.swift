// Tracking: script and interface states turned into FAULT or an effective priority (1…254).
import LVSCore

extension VRRPInstance {
    /// A tracker is "good" when its state, flipped by `reverse`, is OK/up. Unknown counts as good.
    private static func good(_ ok: Bool?, _ w: VRRPTrackerWeight) -> Bool? {
        guard let ok else { return nil }
        return w.reverse ? !ok : ok
    }

    /// True when the instance's own fault (not the sync group's) holds: an unweighted tracker is bad.
    public var ownFaultCondition: Bool {
        for (n, w) in scriptWeights where w.weight == 0 {
            if Self.good(scriptOK[n], w) == false { return true }
        }
        for (n, w) in interfaceWeights where w.weight == 0 {
            if Self.good(interfaceUp[n], w) == false { return true }
        }
        return false
    }

    /// True when the instance must be in FAULT (own trackers or its sync group).
    public var faultCondition: Bool { groupFault || ownFaultCondition }

    /// Base priority plus weights: a positive weight counts while its tracker is good, a negative
    /// one while it is bad; clamped to 1…254. An owner (255) ignores weights.
    public var computedPriority: UInt8 {
        if basePriority == 255 { return 255 }
        var p = Int(basePriority)
        for (n, w) in scriptWeights where w.weight != 0 {
            guard let g = Self.good(scriptOK[n], w) else { continue }
            if w.weight > 0 && g { p += w.weight }
            if w.weight < 0 && !g { p += w.weight }
        }
        for (n, w) in interfaceWeights where w.weight != 0 {
            guard let g = Self.good(interfaceUp[n], w) else { continue }
            if w.weight > 0 && g { p += w.weight }
            if w.weight < 0 && !g { p += w.weight }
        }
        return UInt8(min(254, max(1, p)))
    }

    mutating func recomputePriority(into out: inout [VRRPAction], logChange: Bool = true) {
        let p = computedPriority
        if p != effectivePriority {
            if logChange {
                out.append(.log("(\(name)) Changing effective priority from \(effectivePriority) to \(p)"))
            }
            effectivePriority = p
        }
    }

    /// Re-evaluates FAULT and the effective priority after a tracker or sync group change.
    mutating func trackersChanged(now: Timestamp, into out: inout [VRRPAction]) {
        recomputePriority(into: &out)
        switch state {
        case .initialize:
            guard started, !scriptWeights.keys.contains(where: { scriptOK[$0] == nil }) else { return }
            initialState(now: now, into: &out)
        case .backup, .master:
            if faultCondition { becomeFault(into: &out) }
        case .fault:
            if !faultCondition { leaveFault(now: now, into: &out) }
        case .stop:
            break
        }
    }
}
