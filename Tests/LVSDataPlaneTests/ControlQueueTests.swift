// The control queue: jobs handed to a worker thread and run between its batches, within a budget.
import Glibc
import LVSDataPlane
import LVSPlatform
import Synchronization
import Testing

@Suite("Control queue (control work run by the packet workers)")
struct ControlQueueTests {
    @Test("without a worker serving it, submit runs nothing and the caller runs the job itself")
    func notServed() {
        let q = ControlQueue()
        var ran = false
        #expect(!q.submit { ran = true })
        #expect(!ran && !q.hasWork)
    }

    /// What the test's threads share.
    final class Shared: @unchecked Sendable {
        let q = ControlQueue()
        let wake: WakeDescriptor
        let stop = Atomic<Bool>(false)
        let batches = Mutex<[Int]>([])
        let order = Mutex<[Int]>([])
        let wrongThread = Atomic<Int>(0)
        let workerThread = Mutex<pthread_t?>(nil)
        init() throws { wake = try WakeDescriptor() }
    }

    @Test("jobs run on the worker's thread, in order, at most `budget` per batch; stopServing runs what is left")
    func servedByAWorker() throws {
        let s = try Shared()
        s.q.startServing(wake: { [s] in s.wake.signal() })
        let worker = PlatformThread.start(name: "test-worker") { [s] in
            s.workerThread.withLock { $0 = pthread_self() }
            while !s.stop.load(ordering: .acquiring) {
                _ = Readiness.wait([s.wake.descriptor], timeoutMilliseconds: 5)
                s.wake.drain()
                let n = s.q.runPending { $0 < 2 }
                if n > 0 { s.batches.withLock { $0.append(n) } }
            }
        }
        try #require(worker != nil)
        var submitters: [PlatformThread] = []
        for i in 0..<6 {
            let t = PlatformThread.start(name: "test-ctl\(i)") { [s] in
                let ok = s.q.submit {
                    s.order.withLock { $0.append(i) }
                    if s.workerThread.withLock({ $0 }).map({ pthread_equal($0, pthread_self()) == 0 }) ?? true {
                        s.wrongThread.add(1, ordering: .relaxed)
                    }
                }
                if !ok { s.wrongThread.add(100, ordering: .relaxed) }
            }
            if let t { submitters.append(t) }
        }
        for t in submitters { t.join() }
        #expect(s.order.withLock { $0.sorted() } == Array(0..<6))
        #expect(s.wrongThread.load(ordering: .relaxed) == 0)
        #expect(s.batches.withLock { $0.allSatisfy { $0 <= 2 } })
        #expect(s.q.jobsRun == 6)
        s.stop.store(true, ordering: .releasing)
        worker?.join()
        s.q.stopServing { run in run() }
        var late = false
        #expect(!s.q.submit { late = true })
        #expect(!late)
    }
}
