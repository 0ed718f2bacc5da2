// A clock that tests advance by hand.
import LVSCore

/// A monotonic clock that only moves when a test tells it to.
public final class FakeClock: LVSClock, @unchecked Sendable {
    private var current: Timestamp

    public init(_ start: Timestamp = .zero) { current = start }

    public func now() -> Timestamp { current }

    /// Moves the clock forward.
    public func advance(by d: Duration) { current = current + d }

    /// Moves the clock forward by `s` seconds.
    public func advance(seconds s: Double) { current = current + .nanoseconds(Int64(s * 1e9)) }
}
