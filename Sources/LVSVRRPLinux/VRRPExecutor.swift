// The thread VRRP's driver runs on in lvsd, so its timers never wait behind other work.
import LVSPlatform
import LVSVRRP

/// Where lvsd runs VRRP: a `ThreadExecutor` of its own instead of Swift's shared cooperative
/// pool, which has one thread per core. Work that blocks a pool thread elsewhere in the process
/// (a slow health check, a synchronous test) would otherwise delay adverts and down timers, and a
/// backup would take over from a live master — keepalived's "A thread timer expired" failovers
/// under CPU starvation.
public enum VRRPExecutor {
    /// The executor of lvsd's VRRP service (its thread lives as long as the process).
    public static let shared = ThreadExecutor(name: "lvs-vrrp")
}
