// The system's monotonic clock (CLOCK_MONOTONIC), the one real clock every driver is given.
import CLVSLinux
import LVSCore

/// CLOCK_MONOTONIC as an `LVSSleepingClock`: `now()` reads the kernel's monotonic time, and
/// `sleep(until:)` waits on Swift's continuous clock (both run at the same rate).
public struct MonotonicClock: LVSSleepingClock {
    public init() {}

    @inlinable public func now() -> Timestamp { Timestamp(nanoseconds: Self.nanoseconds()) }

    /// Nanoseconds since boot (the raw reading, for loops that only need differences).
    @inlinable public static func nanoseconds() -> UInt64 { clvs_monotonic_ns() }

    public func sleep(until deadline: Timestamp) async throws {
        let left = deadline - now()
        if left > .zero { try await Task.sleep(for: left) } else { try Task.checkCancellation() }
    }
}
