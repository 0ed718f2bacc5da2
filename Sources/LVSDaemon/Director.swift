// The director's state: the one IPVS model of this lvsd, owned behind a lock, served to clients.
import Glibc
import LVSControl
import LVSCore
import LVSDataPlane

/// A monotonic clock read from `CLOCK_MONOTONIC`.
public struct MonotonicClock: LVSClock {
    public init() {}
    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Timestamp(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// The single owner of the IPVS model. The model is not thread-safe: every access goes through
/// `withModel`, which holds the director's lock, so the control server, and later the keepalived
/// configuration, health checkers and VRRP, never touch it concurrently.
public final class Director: ControlRequestHandler, IPVSOwner, @unchecked Sendable {
    // Invariant: `model` is only touched while `lock` is held.
    private let model: any IPVSControlTarget
    /// The model as the packet path's IPVS table (nil for fakes).
    private let ipvs: IPVS?
    private let lock = DirectorLock()
    public let clock: any LVSClock
    /// Called (without the lock) after requests that changed the table.
    private var changeObservers: [@Sendable () -> Void] = []
    private let observersLock = DirectorLock()

    public init(model: any IPVSControlTarget, clock: any LVSClock = MonotonicClock()) {
        self.model = model
        self.ipvs = model as? IPVS
        self.clock = clock
    }

    /// The data plane's access: the IPVS table under the lock, once per batch of packets.
    public func withIPVS(_ body: (IPVS) -> Void) {
        guard let ipvs else { return }
        lock.lock()
        defer { lock.unlock() }
        body(ipvs)
    }

    /// Registers `observer`, called after every control frame that changed the table (and by
    /// `notifyChanged`), without the lock held.
    public func addChangeObserver(_ observer: @escaping @Sendable () -> Void) {
        observersLock.lock()
        changeObservers.append(observer)
        observersLock.unlock()
    }

    /// Tells the observers that the table changed (for changes made through `withModel`).
    public func notifyChanged() {
        observersLock.lock()
        let observers = changeObservers
        observersLock.unlock()
        for o in observers { o() }
    }

    /// Runs `body` with exclusive access to the model.
    public func withModel<R>(_ body: (any IPVSControlTarget) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(model)
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

/// A pthread mutex.
final class DirectorLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}
