// A task executor with a thread of its own, so VRRP timers never wait behind other work.
import Foundation

/// Runs the VRRP driver's jobs (its actor, timers, readers, script loops) on one dedicated
/// thread instead of Swift's shared cooperative pool, which has one thread per core. Work that
/// blocks a pool thread elsewhere in the process (a slow health check, a synchronous test) would
/// otherwise delay adverts and down timers, and a backup would take over from a live master —
/// keepalived's "A thread timer expired" failovers under CPU starvation.
public final class VRRPExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor VRRPService uses unless told otherwise.
    public static let shared = VRRPExecutor(name: "lvs-vrrp")

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    /// Starts the executor's thread (it lives as long as the process).
    public init(name: String) {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = name
        thread.qualityOfService = .userInteractive
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
