// The director's state: the one IPVS model of this lvsd, owned behind a lock, served to clients.
import LVSControl
import LVSCore
import LVSDataPlane
import LVSPlatform
import Synchronization

/// The single owner of the IPVS model. The model is not thread-safe: every access holds the
/// director's lock. While packet workers run, only they take that lock (once per batch); control
/// threads (the control server, health checks, VRRP, sync) hand their work to the `controlQueue`
/// and a worker runs it between two batches, within a budget, so no control request holds the
/// packet path up for longer than one small job. Before the workers start and after they stop,
/// control threads take the lock themselves.
///
/// ```
///  ipvsadm ─▶ handle([requests]) ─▶ chunks of 64 ─▶ controlQueue ─▶ worker, between batches
///  -Lnc / -Ln ─▶ listed in steps (buckets / services) ─▶ one queued job per step
/// ```
public final class Director: ControlRequestHandler, IPVSOwner, @unchecked Sendable {
    // Invariant: `model` is only touched while `lock` is held.
    private let model: any IPVSControlTarget
    /// The model as the packet path's IPVS table (nil for fakes).
    private let ipvs: IPVS?
    private let lock = Mutex(())
    /// Serialises control frames (taken before `lock`): a frame's operations are never interleaved
    /// with another client's, while the packet worker gets the table between operations and
    /// between the pieces of a connection listing.
    private let frameLock = Mutex(())
    /// Connections listed per hold of the lock.
    static let listingPiece = 4096
    public let clock: any LVSSleepingClock
    /// Called (without the lock) after requests that changed the table.
    private let changeObservers = Mutex<[@Sendable () -> Void]>([])
    /// Control work the packet workers run between batches (while they serve it).
    public let controlQueue: ControlQueue? = ControlQueue()

    /// Requests of one control frame run per queued job (an `ipvsadm -R` frame holds up to 2000).
    public static let requestsPerJob = 64
    /// Connection-table buckets / services listed per queued job.
    public static let bucketsPerJob = 256
    public static let servicesPerJob = 256
    /// What a worker runs of the queue after each batch: at most this many jobs and this long.
    public static let jobsPerBatch = 8
    public static let jobNanosecondsPerBatch: UInt64 = 200_000

    public init(model: any IPVSControlTarget, clock: any LVSSleepingClock = MonotonicClock()) {
        self.model = model
        self.ipvs = model as? IPVS
        self.clock = clock
    }

    /// Exclusive access to the IPVS table from any thread (sync daemons, the data plane's set-up).
    public func withIPVS(_ body: (IPVS) -> Void) {
        guard let ipvs else { return }
        withModel { _ in body(ipvs) }
    }

    /// A packet worker's access, once per batch: the lock (taken by workers only while they run),
    /// `body`, then queued control jobs while the budget lasts.
    public func withIPVSAsWorker(_ body: (IPVS) -> Void) {
        guard let ipvs else { return }
        lock.withLock { _ in
            body(ipvs)
            guard let q = controlQueue, q.hasWork else { return }
            let start = MonotonicClock.nanoseconds()
            q.runPending { n in
                n == 0 || (n < Self.jobsPerBatch && MonotonicClock.nanoseconds() &- start < Self.jobNanosecondsPerBatch)
            }
        }
    }

    /// Registers `observer`, called after every control frame that changed the table (and by
    /// `notifyChanged`), without the lock held.
    public func addChangeObserver(_ observer: @escaping @Sendable () -> Void) {
        changeObservers.withLock { $0.append(observer) }
    }

    /// Tells the observers that the table changed (for changes made through `withModel`).
    public func notifyChanged() {
        for o in changeObservers.withLock({ $0 }) { o() }
    }

    /// Runs `body` with exclusive access to the model: on a packet worker between batches while
    /// the workers run, else under the lock here. Not to be called from a packet worker.
    public func withModel<R, E: Error>(_ body: (any IPVSControlTarget) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withoutActuallyEscaping(body) { body in
            let run = { result = Result { () throws(E) -> R in try body(self.model) } }
            if let q = controlQueue, q.submit(run) { return }
            lock.withLock { _ in run() }
        }
        return try result!.get()
    }

    /// Serves one control frame, encoded as it goes, with `frameLock` held so frames never
    /// interleave: operations in jobs of `requestsPerJob` (through `withModel`: on a packet worker
    /// between batches while the workers run), the service listing in steps, and a connection
    /// listing in pieces of `listingPiece` entries written straight into the response, never as a
    /// whole list in memory. A response beyond what a client accepts becomes a `tooLarge` rejection.
    public func respond(to requests: [ControlRequest], mayChangeState: Bool) -> [UInt8] {
        let frame = frameLock.withLock { _ -> [UInt8] in
            let now = clock.now()
            var w = ControlByteWriter(reservingCapacity: 4096)
            ControlCodec.writeHeader(.response, into: &w)
            w.u32(UInt32(truncatingIfNeeded: requests.count))
            runJobs(
                requests, now: now, mayChangeState: mayChangeState, stepListings: ipvs != nil,
                listing: { r in
                    if case .listConnections = r {
                        writeConnectionsInPieces(now: now, into: &w)
                    } else {
                        ControlCodec.encode(.services(listServicesInSteps()), into: &w)
                    }
                },
                results: { results in for r in results { ControlCodec.encode(r, into: &w) } })
            return ControlCodec.finish(w)
        }
        if mayChangeState && requests.contains(where: \.isMutating) { notifyChanged() }
        return frame
    }

    /// A connection listing (result tag 7) written in pieces, each one job on the model.
    private func writeConnectionsInPieces(now: Timestamp, into w: inout ControlByteWriter) {
        guard let ipvs else { return }
        w.u8(7)
        let countAt = w.count
        w.u32(0)
        var n: UInt32 = 0
        var cursor: ConnectionListingCursor? = ConnectionListingCursor()
        while let c = cursor, w.count <= ControlProtocol.maxResponseBody {
            cursor = withModel { _ in
                ipvs.connections(now: now, from: c, maxEntries: Self.listingPiece) { e in
                    w.connection(e)
                    n &+= 1
                }
            }
        }
        w.patchU32(n, at: countAt)
    }

    /// Serves one control frame: every request in order, in jobs of `requestsPerJob` requests
    /// (packets are forwarded between two jobs, as between two netlink commands); listings of
    /// connections and services are taken in steps.
    public func handle(_ requests: [ControlRequest], mayChangeState: Bool) -> [ControlResult] {
        let now = clock.now()
        var results: [ControlResult] = []
        results.reserveCapacity(requests.count)
        runJobs(
            requests, now: now, mayChangeState: mayChangeState, stepListings: true,
            listing: { r in
                if case .listConnections = r {
                    results.append(.connections(listConnectionsInSteps(now: now)))
                } else {
                    results.append(.services(listServicesInSteps()))
                }
            },
            results: { results += $0 })
        if mayChangeState && requests.contains(where: \.isMutating) { notifyChanged() }
        return results
    }

    /// Runs `requests` in order: with `stepListings`, each listing alone through `listing`; the
    /// other operations in jobs of at most `requestsPerJob` on the model, each job's results
    /// handed to `results`.
    private func runJobs(
        _ requests: [ControlRequest], now: Timestamp, mayChangeState: Bool, stepListings: Bool,
        listing: (ControlRequest) -> Void, results: ([ControlResult]) -> Void
    ) {
        var i = 0
        while i < requests.count {
            if stepListings, requests[i].isListing {
                listing(requests[i])
                i += 1
                continue
            }
            var end = i
            while end < requests.count && end - i < Self.requestsPerJob {
                if stepListings, requests[end].isListing { break }
                end += 1
            }
            let chunk = requests[i..<end]
            results(withModel { m in chunk.map { $0.perform(on: m, now: now, mayChangeState: mayChangeState) } })
            i = end
        }
    }

    /// `-Lnc`: the connection table, `bucketsPerJob` hash buckets per job.
    func listConnectionsInSteps(now: Timestamp) -> [ConnectionEntry] {
        guard ipvs != nil else { return withModel { $0.connections(now: now) } }
        var out: [ConnectionEntry] = []
        var next = 0
        while true {
            let done = withModel { m -> Bool in
                let t = m as! IPVS
                let count = t.connectionBucketCount
                guard next < count else { return true }
                let end = min(count, next + Self.bucketsPerJob)
                out += t.connections(now: now, buckets: next..<end)
                next = end
                return end >= count
            }
            if done { return out }
        }
    }

    /// `-Ln`: every service, `servicesPerJob` per job.
    func listServicesInSteps() -> [VirtualServiceEntry] {
        guard ipvs != nil else { return withModel { $0.services() } }
        var out: [VirtualServiceEntry] = []
        var next = 0
        while true {
            let done = withModel { m -> Bool in
                let t = m as! IPVS
                let end = min(t.serviceCount, next + Self.servicesPerJob)
                out += t.services(in: next..<end)
                next = end
                return end >= t.serviceCount
            }
            if done { return out }
        }
    }
}
