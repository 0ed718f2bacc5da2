// Virtual time for drivers' tests: a clock tasks sleep on that only moves when the test moves it.
import LVSCore
import LVSPlatform
import Synchronization

/// An `LVSSleepingClock` in virtual time. `sleep(until:)` parks the task until a test moves the
/// clock past its deadline with `advance(to:)`; nothing ever waits for real time to pass.
public final class TestClock: LVSSleepingClock, Sendable {
    private struct Sleeper {
        var deadline: Timestamp
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Timestamp
        var sleepers: [UInt64: Sleeper] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Starts at `start` (default 1000 s: far from zero, as a monotonic clock is).
    public init(start: Timestamp = .seconds(1000)) { state = Mutex(State(now: start)) }

    public func now() -> Timestamp { state.withLock { $0.now } }

    public func sleep(until deadline: Timestamp) async throws {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> Result<Bool, CancellationError> in
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= s.now { return .success(true) }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: c)
                    return .success(false)
                }
                switch outcome {
                case .failure(let e): c.resume(throwing: e)
                case .success(true): c.resume()
                case .success(false): break
                }
            }
        } onCancel: {
            let parked = state.withLock { s in
                guard let p = s.sleepers.removeValue(forKey: id) else {
                    s.cancelled.insert(id)
                    return nil as Sleeper?
                }
                return p
            }
            parked?.continuation.resume(throwing: CancellationError())
        }
    }

    /// The earliest deadline a task sleeps until, if any.
    public var nextDeadline: Timestamp? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    /// How many tasks sleep on the clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves the clock to `t` (never back) and wakes every task whose deadline has come.
    public func advance(to t: Timestamp) {
        let due = state.withLock { s -> [Sleeper] in
            if t > s.now { s.now = t }
            let ready = s.sleepers.filter { $0.value.deadline <= s.now }
            for id in ready.keys { s.sleepers[id] = nil }
            return ready.values.sorted { $0.deadline < $1.deadline }
        }
        for d in due { d.continuation.resume() }
    }

    /// Moves the clock forward by `d`.
    public func advance(by d: Duration) { advance(to: now() + d) }
}

/// A driver's world in virtual time: a `TestClock` and the executor the driver's tasks run on,
/// so a test can move time and then wait until everything that time set off has run.
///
/// ```
///  test: run(for:) ─▶ clock.advance(to: next deadline) ─▶ woken tasks' jobs ─▶ executor
///                   ◀─ settle(): executor idle ◀──────────────────────────────┘
/// ```
public final class VirtualTime: Sendable {
    public let clock: TestClock
    /// Give it to the driver (`executor:`) and start the driver's task on it.
    public let executor: ThreadExecutor

    public init(start: Timestamp = .seconds(1000)) {
        clock = TestClock(start: start)
        executor = ThreadExecutor(name: "virtual-time")
    }

    /// Waits until the executor has run everything queued (no timer is waited for).
    public func settle() async {
        var idle = 0
        while idle < 3 {
            if executor.isIdle {
                idle += 1
                await Task.yield()
            } else {
                idle = 0
                try? await Task.sleep(for: .microseconds(50))
            }
        }
    }

    /// Lets `d` of virtual time pass: wakes each deadline in order, settling after each.
    public func run(for d: Duration) async {
        await settle()
        let end = clock.now() + d
        while let next = clock.nextDeadline, next <= end {
            clock.advance(to: next)
            await settle()
        }
        clock.advance(to: end)
        await settle()
    }

    /// Lets virtual time pass, deadline by deadline, until `condition` holds (true) or `limit`
    /// has passed (false).
    public func run(limit: Duration = .seconds(60), until condition: () async -> Bool) async -> Bool {
        await settle()
        let end = clock.now() + limit
        while true {
            if await condition() { return true }
            guard let next = clock.nextDeadline, next <= end else { return await condition() }
            clock.advance(to: next)
            await settle()
        }
    }
}
