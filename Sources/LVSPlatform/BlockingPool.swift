// A bounded pool of named threads for blocking work (health probes), resumed as async calls.
import Synchronization

/// Runs blocking closures (a probe's connect, read and process wait) on up to `maxThreads`
/// threads of its own, so they never tie up Swift's cooperative pool (two cores here). Threads
/// are started as work arrives and then stay; when all are busy, work waits its turn in order.
///
/// ```
///  run(work) ─▶ queue ─signal─▶ WakeDescriptor (semaphore) ─▶ idle thread ─▶ work() ─▶ resume caller
/// ```
public final class BlockingPool: @unchecked Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var threads = 0
        var idle = 0
    }

    public let name: String
    public let maxThreads: Int
    private let stackSize: Int
    private let state = Mutex(State())
    private let ready: WakeDescriptor

    public init(name: String, maxThreads: Int, stackSize: Int = 512 * 1024) {
        self.name = name
        self.maxThreads = max(1, maxThreads)
        self.stackSize = stackSize
        guard let w = try? WakeDescriptor(semaphore: true, blocking: true) else {
            fatalError("\(name): eventfd refused")
        }
        ready = w
    }

    /// Queues `job`; a new thread starts for it if none is idle and the pool is not full.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        let (grow, index) = state.withLock { s -> (Bool, Int) in
            s.jobs.append(job)
            guard s.idle == 0, s.threads < maxThreads else { return (false, 0) }
            s.threads += 1
            return (true, s.threads)
        }
        ready.signal()
        if grow && !PlatformThread.detach(name: "\(name)-\(index)", stackSize: stackSize, { [self] in work() }) {
            state.withLock { $0.threads -= 1 }
            // No thread: run it here rather than never (the caller is blocked either way).
            // (Its signal stays: a thread that takes it finds no job and waits again.)
            if let job = state.withLock({ $0.jobs.isEmpty ? nil : $0.jobs.removeLast() }) { job() }
        }
    }

    /// Runs `work` on the pool and returns its result to the calling task.
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in submit { c.resume(returning: work()) } }
    }

    private func work() {
        while true {
            state.withLock { $0.idle += 1 }
            ready.wait()
            let job = state.withLock { s -> (@Sendable () -> Void)? in
                s.idle -= 1
                return s.jobs.isEmpty ? nil : s.jobs.removeFirst()
            }
            job?()
        }
    }
}
