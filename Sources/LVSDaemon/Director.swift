// The director's state: the one IPVS model of this lvsd, owned behind a lock, served to clients.
import Glibc
import LVSControl
import LVSCore

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
public final class Director: ControlRequestHandler, @unchecked Sendable {
    // Invariant: `model` is only touched while `lock` is held.
    private let model: any IPVSControlTarget
    private let lock = DirectorLock()
    public let clock: any LVSClock

    public init(model: any IPVSControlTarget, clock: any LVSClock = MonotonicClock()) {
        self.model = model
        self.clock = clock
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
        return withModel { m in
            requests.map { $0.perform(on: m, now: now, mayChangeState: mayChangeState) }
        }
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
