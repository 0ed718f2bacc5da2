// A vrrp_script's result history: rise/fall counting into an OK or failed state.

/// The state of one `vrrp_script` after `rise`/`fall` (keepalived vrrp_track.c semantics): the
/// first result decides at once (unless `init_fail`, which starts failed); after that an OK
/// script fails after `fall` consecutive failures and a failed one recovers after `rise`
/// consecutive successes. A timed-out run counts as a failure.
public struct VRRPScriptTracker: Hashable, Sendable {
    public let config: VRRPScriptConfig
    /// nil until the first result (or failed from the start with `init_fail`).
    public private(set) var ok: Bool?
    private var streak = 0

    public init(config: VRRPScriptConfig) {
        self.config = config
        ok = config.initFail ? false : nil
    }

    /// Records one run's result; returns the new state if it changed.
    public mutating func record(success: Bool) -> Bool? {
        guard let current = ok else {
            ok = success
            streak = 0
            return success
        }
        if success == current {
            streak = 0
            return nil
        }
        streak += 1
        if streak >= max(1, success ? config.rise : config.fall) {
            ok = success
            streak = 0
            return success
        }
        return nil
    }
}
