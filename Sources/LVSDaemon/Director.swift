// The director's state: the one IPVS model of this lvsd, owned behind a lock, served to clients.
import LVSControl
import LVSCore
import LVSDataPlane
import LVSPlatform
import Synchronization

/// The single owner of the IPVS model. The model is not thread-safe: every access goes through
/// `withModel`, which holds the director's lock, so the control server, and later the keepalived
/// configuration, health checkers and VRRP, never touch it concurrently.
public final class Director: ControlRequestHandler, IPVSOwner, @unchecked Sendable {
    // Invariant: `model` is only touched while `lock` is held.
    private let model: any IPVSControlTarget
    /// The model as the packet path's IPVS table (nil for fakes).
    private let ipvs: IPVS?
    private let lock = Mutex(())
    public let clock: any LVSSleepingClock
    /// Called (without the lock) after requests that changed the table.
    private let changeObservers = Mutex<[@Sendable () -> Void]>([])

    public init(model: any IPVSControlTarget, clock: any LVSSleepingClock = MonotonicClock()) {
        self.model = model
        self.ipvs = model as? IPVS
        self.clock = clock
    }

    /// The data plane's access: the IPVS table under the lock, once per batch of packets.
    public func withIPVS(_ body: (IPVS) -> Void) {
        guard let ipvs else { return }
        lock.withLock { _ in body(ipvs) }
    }

    /// Registers `observer`, called after every control frame that changed the table (and by
    /// `notifyChanged`), without the lock held.
    public func addChangeObserver(_ observer: @escaping @Sendable () -> Void) {
        changeObservers.withLock { $0.append(observer) }
    }

    /// Tells the observers that the table changed (for changes made through `withModel`).
    public func notifyChanged() {
        for o in changeObservers.withLock({ $0 }) { o() }
    }

    /// Runs `body` with exclusive access to the model.
    public func withModel<R>(_ body: (any IPVSControlTarget) throws -> R) rethrows -> R {
        try lock.withLock { _ in try body(model) }
    }

    /// Serves one control frame: every request in order, under one hold of the lock.
    public func handle(_ requests: [ControlRequest], mayChangeState: Bool) -> [ControlResult] {
        let now = clock.now()
        let results = withModel { m in
            requests.map { $0.perform(on: m, now: now, mayChangeState: mayChangeState) }
        }
        if mayChangeState && requests.contains(where: \.isMutating) { notifyChanged() }
        return results
    }
}
