// Control work for the IPVS table, handed to the packet workers and run between their batches.
import LVSPlatform
import Synchronization

/// How control threads reach the IPVS table while packet workers own it.
///
/// ```
///  control thread ──submit(job)──▶ [queue] ──wake──▶ worker: batch of frames ─▶ runPending(budget) ─▶ next batch
///        ▲ waits on its WakeDescriptor                      │ job runs under the workers' lock
///        └────────────────────────────── signal ◀────────────┘
/// ```
/// While no worker serves the queue (before the data plane starts, after it stops, in tests),
/// `submit` returns false and the caller runs the job itself under the same lock. A worker looks
/// at one atomic per batch: the packet path takes no lock shared with a control thread, and a
/// control request waits at most one batch plus the jobs queued before it.
public final class ControlQueue: @unchecked Sendable {
    /// A job: runs once, on a worker holding the table's lock. The closure is dropped before its
    /// submitter is woken (it does not outlive `submit`).
    final class Slot: @unchecked Sendable {
        var job: (() -> Void)?
        let done: WakeDescriptor
        init(job: @escaping () -> Void, done: WakeDescriptor) {
            self.job = job
            self.done = done
        }
        func run() {
            job?()
            job = nil
            done.signal()
        }
    }

    struct State {
        var items: [Slot?] = []
        var head = 0
        var served = false
        var wake: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())
    private let waiting = Atomic<Int>(0)
    /// Jobs run by workers (for statistics and tests).
    private let ran = Atomic<UInt64>(0)

    public init() {}

    /// True while workers serve the queue.
    public var isServed: Bool { state.withLock { $0.served } }

    /// Jobs waiting (one atomic load: the worker's per-batch check).
    @inline(__always) public var hasWork: Bool { waiting.load(ordering: .acquiring) > 0 }

    /// Jobs workers have run so far.
    public var jobsRun: UInt64 { ran.load(ordering: .relaxed) }

    /// Queues `job` for a worker and waits until it has run; false (nothing queued) when no
    /// worker serves the queue: the caller then runs it itself.
    public func submit(_ job: () -> Void) -> Bool {
        withoutActuallyEscaping(job) { job in
            guard let done = try? WakeDescriptor(blocking: true) else { return false }
            let slot = Slot(job: job, done: done)
            let wake = state.withLock { s -> (@Sendable () -> Void)?? in
                guard s.served else { return .none }
                s.items.append(slot)
                return .some(s.wake)
            }
            guard case .some(let w) = wake else {
                slot.job = nil
                return false
            }
            waiting.add(1, ordering: .releasing)
            w?()
            done.wait()
            return true
        }
    }

    /// Called by a worker holding the table's lock: runs queued jobs until `budget` says stop
    /// (asked before each job with the number run so far). Returns how many ran.
    @discardableResult
    public func runPending(while budget: (Int) -> Bool) -> Int {
        var n = 0
        while hasWork && budget(n) {
            guard let slot = take() else { break }
            ran.add(1, ordering: .relaxed)
            slot.run()
            n += 1
        }
        return n
    }

    private func take() -> Slot? {
        state.withLock { s -> Slot? in
            guard s.head < s.items.count else { return nil }
            let slot = s.items[s.head]
            s.items[s.head] = nil
            s.head += 1
            if s.head == s.items.count {
                s.items.removeAll(keepingCapacity: true)
                s.head = 0
            }
            waiting.subtract(1, ordering: .releasing)
            return slot
        }
    }

    /// Workers serve the queue from now on; `wake` wakes one of them (called after each submit).
    public func startServing(wake: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.served = true
            $0.wake = wake
        }
    }

    /// No worker serves the queue any more: jobs already queued are run by `runLeft` (which must
    /// hold the table's lock), later submits run on their callers.
    public func stopServing(runLeft: (() -> Void) -> Void) {
        state.withLock {
            $0.served = false
            $0.wake = nil
        }
        runLeft { runPending { _ in true } }
    }
}
