// Monotonic time as the core sees it: injected by the caller, never read from the system.

/// A point on a monotonic clock, in nanoseconds. The core never reads a clock: callers pass
/// `Timestamp`s in, so tests drive time by hand.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// A timestamp `s` seconds after the clock's origin.
    @inlinable public static func seconds(_ s: Double) -> Timestamp {
        Timestamp(nanoseconds: UInt64(s * 1e9))
    }

    /// The origin of the clock.
    public static let zero = Timestamp(nanoseconds: 0)

    /// Whole milliseconds since the origin.
    @inlinable public var milliseconds: UInt64 { nanoseconds / 1_000_000 }

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    /// `t + d`.
    @inlinable public static func + (t: Timestamp, d: Duration) -> Timestamp {
        let c = d.components
        let ns = Int64(c.seconds) * 1_000_000_000 + c.attoseconds / 1_000_000_000
        return Timestamp(nanoseconds: ns >= 0 ? t.nanoseconds &+ UInt64(ns) : t.nanoseconds &- UInt64(-ns))
    }

    /// The duration from `b` to `a` (negative if `a` is earlier).
    @inlinable public static func - (a: Timestamp, b: Timestamp) -> Duration {
        .nanoseconds(Int64(bitPattern: a.nanoseconds &- b.nanoseconds))
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

/// A source of monotonic time. The daemon uses the system's; tests use a fake they advance.
public protocol LVSClock: Sendable {
    /// The current time.
    func now() -> Timestamp
}

/// A clock drivers also wait on (VRRP timers, health-check rounds): real time in lvsd
/// (`MonotonicClock`), virtual time in tests (`TestClock`), so a test never waits for a timer.
public protocol LVSSleepingClock: LVSClock {
    /// Returns once the clock reads `deadline` or later; throws `CancellationError` if the
    /// calling task is cancelled first.
    func sleep(until deadline: Timestamp) async throws
}

extension LVSSleepingClock {
    /// Waits `duration` from now.
    public func sleep(for duration: Duration) async throws { try await sleep(until: now() + duration) }
}
