// A task executor with a named thread of its own, for work that must never wait behind the shared pool.
import Synchronization

/// Runs the jobs of tasks that prefer it (`Task(executorPreference:)`,
/// `withTaskExecutorPreference`) on one dedicated thread instead of Swift's shared cooperative
/// pool, which has one thread per core: work blocking a pool thread elsewhere in the process (a
/// slow health check, a synchronous test) cannot delay them. VRRP's timers run on one
/// (keepalived's "A thread timer expired" failovers under CPU starvation are what it avoids).
///
/// The thread sleeps on a `WakeDescriptor` while the queue is empty.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var running = false
    }

    private let queue = Mutex(Queue())
    private let wake: WakeDescriptor

    /// Starts the executor's thread, called `name` (it lives as long as the process).
    public init(name: String) {
        // An eventfd or a thread refused at start-up leaves nothing sensible to run VRRP on.
        guard let w = try? WakeDescriptor(blocking: true) else { fatalError("\(name): eventfd refused") }
        wake = w
        let started = PlatformThread.detach(name: name) { [unowned self] in self.loop() }
        if !started { fatalError("\(name): cannot start its thread") }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        wake.signal()
    }

    /// True when no job is queued or running (tests wait for this after moving a `TestClock`).
    public var isIdle: Bool { queue.withLock { $0.jobs.isEmpty && !$0.running } }

    private func loop() {
        while true {
            let batch = queue.withLock { q -> [UnownedJob] in
                let b = q.jobs
                q.jobs.removeAll(keepingCapacity: true)
                q.running = !b.isEmpty
                return b
            }
            if batch.isEmpty {
                wake.wait()
                continue
            }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
