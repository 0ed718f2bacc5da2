// The connection-sync daemons of lvsd: one thread each for master and backup, over SyncChannels.
//
//  master thread: wait 20 ms ─▶ bulk request heard? ─▶ answer (table walk in chunks, paced)
//                 └▶ lock: drainSyncQueue ─▶ SyncMasterEngine ─▶ channel.send
//  backup thread: wait ─▶ receive ≤ 256 datagrams ─▶ SyncBackupEngine (decode, auth) ─▶
//                 lock: applySynced each ─▶ bulk done / timed out ─▶ onBulkFinished
import Glibc
import LVSCore
import LVSDataPlane
import LVSPlatform
import LVSStatus
import LVSSync
import Logging
import Synchronization

/// How a bulk resync ended.
public enum SyncBulkResult: Hashable, Sendable {
    /// A master answered: `entries` it said it sent.
    case completed(entries: UInt32)
    /// Nobody answered within the wait.
    case timedOut
    /// The backup daemon stopped first.
    case cancelled
}

/// Starts and stops lvsd's sync daemons for the IPVS table (`IPVS.syncDaemonLauncher`).
public final class SyncDaemonRunner: SyncDaemonLauncher, @unchecked Sendable {
    /// Settings beyond `--start-daemon`'s (from keepalived.conf's SwiftLVS keywords).
    public struct Settings: Sendable {
        /// `lvs_sync_daemon_auth_key`.
        public var key: SyncKey?
        /// How long a backup waits for a bulk answer; zero: no bulk request.
        public var bulkWait: Duration = .seconds(3)

        public init(key: SyncKey? = nil, bulkWait: Duration = .seconds(3)) {
            self.key = key
            self.bulkWait = bulkWait
        }
    }

    /// Makes a daemon's channel (the multicast sockets; an in-memory one in tests).
    public typealias ChannelFactory = @Sendable (SyncDaemonSpec) throws(IPVSError) -> SyncChannel

    private let makeChannel: ChannelFactory
    private let log: @Sendable (String) -> Void
    private let state = Mutex<State>(State())

    struct State {
        var owner: (any IPVSOwner)?
        var clock: (any LVSClock)?
        var settings = Settings()
        var daemons: [SyncDaemonSpec.Role: SyncDaemonThread] = [:]
        var onBulkFinished: (@Sendable (SyncBulkResult) -> Void)?
    }

    public init(
        log: @escaping @Sendable (String) -> Void = { Logger(label: "lvsd").info("\($0)") },
        makeChannel: @escaping ChannelFactory = { spec throws(IPVSError) in try MulticastSyncChannel(spec: spec) }
    ) {
        self.log = log
        self.makeChannel = makeChannel
    }

    /// The table's owner (lvsd's director), whose lock the daemons take.
    public func attach(owner: any IPVSOwner, clock: any LVSClock) {
        state.withLock {
            $0.owner = owner
            $0.clock = clock
        }
    }

    /// Settings for daemons started from now on.
    public var settings: Settings {
        get { state.withLock { $0.settings } }
        set { state.withLock { $0.settings = newValue } }
    }

    /// Called on the backup daemon's thread when a bulk resync it asked for ends.
    public func onBulkFinished(_ body: (@Sendable (SyncBulkResult) -> Void)?) {
        state.withLock { $0.onBulkFinished = body }
    }

    public func start(_ spec: SyncDaemonSpec) throws(IPVSError) {
        let (owner, clock, settings) = state.withLock { ($0.owner, $0.clock, $0.settings) }
        guard let owner, let clock else { throw IPVSError(.systemError, detail: "sync daemons are not available") }
        let channel = try makeChannel(spec)
        let t = SyncDaemonThread(
            spec: spec, channel: channel, owner: owner, clock: clock, settings: settings, log: log,
            bulkFinished: { [weak self] (r: SyncBulkResult) in
                let body = self?.state.withLock { $0.onBulkFinished }
                body?(r)
            })
        state.withLock { $0.daemons[spec.role] = t }
        guard PlatformThread.detach(name: spec.role == .master ? "lvsd-sync-m" : "lvsd-sync-b", { t.run() }) else {
            state.withLock { $0.daemons[spec.role] = nil }
            channel.close()
            throw IPVSError(.noMemory, detail: "cannot start the sync thread")
        }
        log(
            "sync thread started: state = \(spec.role == .master ? "MASTER" : "BACKUP"), mcast_ifn = \(spec.multicastInterface), syncid = \(spec.syncID), group \(spec.group.map { "\($0)" } ?? "224.0.0.81"):\(spec.port), maxlen \(spec.maxLength)"
        )
    }

    public func stop(_ role: SyncDaemonSpec.Role) {
        let t = state.withLock { $0.daemons.removeValue(forKey: role) }
        t?.stop()
        if t != nil { log("stopping \(role == .master ? "master" : "backup") sync thread") }
    }

    /// Stops every daemon (lvsd's shutdown).
    public func stopAll() {
        let all = state.withLock { s in
            defer { s.daemons = [:] }
            return Array(s.daemons.values)
        }
        for t in all { t.stop() }
    }

    /// Asks the running backup daemon to request a bulk resync now (a director that comes back);
    /// false when no backup daemon runs or bulk resync is off.
    @discardableResult
    public func requestBulkResync() -> Bool {
        guard let t = state.withLock({ $0.daemons[.backup] }) else { return false }
        return t.requestBulk()
    }

    /// A running daemon's traffic counts.
    public func counters(_ role: SyncDaemonSpec.Role) -> SyncDaemonStatistics? {
        state.withLock { $0.daemons[role] }?.statistics
    }

    /// The running daemons (master first) and the clock, for `status()`.
    func daemonsForStatus() -> ([SyncDaemonThread], (any LVSClock)?) {
        state.withLock { s in ([s.daemons[.master], s.daemons[.backup]].compactMap { $0 }, s.clock) }
    }
}

/// Counts of one daemon (sent or received, applied, dropped by reason), its queue and lag.
public struct SyncDaemonStatistics: Sendable {
    /// The engine's counts: the backup's received messages and drops by reason; the master's
    /// messages built (`sent` below counts what the socket accepted).
    public var traffic = SyncCounters()
    /// Datagrams the socket accepted: messages, connection entries, bytes.
    public var sent = SyncTraffic()
    /// Master: bulk requests answered (messages and their bytes).
    public var bulkRequests = SyncTraffic()
    /// Master: entries queued and not sent yet, and when the oldest of them was queued.
    public var queuedEntries = 0
    public var oldestQueued: Timestamp?
    /// Master: the last bulk answer (entries, how long it took).
    public var lastBulkAnswer: (entries: UInt64, duration: Duration)?
    /// Backup: when the last message from a master was accepted.
    public var lastMessage: Timestamp?
    /// Backup: a bulk request awaits its answer; completed and timed-out requests; the last one.
    public var bulkInProgress = false
    public var bulkCompleted: UInt64 = 0
    public var bulkTimedOut: UInt64 = 0
    public var lastBulk: (entries: UInt64, duration: Duration)?
    /// Backup: received entries by what the table did with them.
    public var created: UInt64 = 0
    public var createdUnbound: UInt64 = 0
    public var updated: UInt64 = 0
    public var replaced: UInt64 = 0
    public var ignoredStale: UInt64 = 0
    public var refused: UInt64 = 0
    /// Master: datagrams the socket refused.
    public var sendErrors: UInt64 = 0
    /// Master: entries the table's queue had no room for.
    public var queueDrops: UInt64 = 0
}

/// One daemon's thread.
final class SyncDaemonThread: @unchecked Sendable {
    let spec: SyncDaemonSpec
    let channel: SyncChannel
    let owner: any IPVSOwner
    let clock: any LVSClock
    let settings: SyncDaemonRunner.Settings
    let log: @Sendable (String) -> Void
    let bulkFinished: @Sendable (SyncBulkResult) -> Void
    private let stopped = Atomic<Bool>(false)
    private let bulkWanted = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private let stats = Mutex(SyncDaemonStatistics())
    /// Bulk answers are paced: at most this many datagrams, then a pause of `pacePause`.
    static let paceBurst = 128
    static let pacePause: UInt32 = 2_000  // µs

    init(
        spec: SyncDaemonSpec, channel: SyncChannel, owner: any IPVSOwner, clock: any LVSClock,
        settings: SyncDaemonRunner.Settings, log: @escaping @Sendable (String) -> Void,
        bulkFinished: @escaping @Sendable (SyncBulkResult) -> Void
    ) {
        self.spec = spec
        self.channel = channel
        self.owner = owner
        self.clock = clock
        self.settings = settings
        self.log = log
        self.bulkFinished = bulkFinished
        if spec.role == .backup && settings.bulkWait > .zero { bulkWanted.store(true, ordering: .relaxed) }
    }

    var statistics: SyncDaemonStatistics { stats.withLock { $0 } }

    /// True while `run()` runs.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    func stop() {
        stopped.store(true, ordering: .releasing)
        channel.wake()
    }

    func requestBulk() -> Bool {
        guard settings.bulkWait > .zero else { return false }
        bulkWanted.store(true, ordering: .releasing)
        channel.wake()
        return true
    }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    func run() {
        running.store(true, ordering: .releasing)
        if spec.role == .master { runMaster() } else { runBackup() }
        channel.close()
        running.store(false, ordering: .releasing)
    }

    // MARK: master

    private func runMaster() {
        var engine = SyncMasterEngine(
            syncID: spec.syncID, maximumLength: Int(spec.maxLength), key: settings.key,
            sender: UInt32.random(in: 1...UInt32.max))
        var queued: [SyncConnection] = []
        queued.reserveCapacity(1 << 16)
        var rx = [UInt8](repeating: 0, count: 65536)
        // The table's overflow count is the table's; this daemon reports what overflowed since it started.
        var dropsAtStart: UInt64?
        while !isStopped {
            channel.wait(milliseconds: 20)
            if isStopped { break }
            var requests: [SyncControlMessage] = []
            var requestBytes: UInt64 = 0
            while let n = rx.withUnsafeMutableBytes({ channel.receive(into: $0) }) {
                let len = min(n, rx.count)
                if let r = rx.withUnsafeBytes({ engine.bulkRequest(in: UnsafeRawBufferPointer(rebasing: $0[0..<len])) })
                {
                    requests.append(r)
                    requestBytes &+= UInt64(len)
                }
            }
            var version: UInt8 = 1
            var drops: UInt64 = 0
            owner.withIPVS { ipvs in
                ipvs.drainSyncQueue(into: &queued)
                version = ipvs.sysctls.syncVersion
                drops = ipvs.syncQueueDrops
            }
            if dropsAtStart == nil { dropsAtStart = drops }
            let now = clock.now()
            send(engine.enqueue(queued, version: version, now: now) + engine.tick(now: now))
            stats.withLock {
                $0.queueDrops = drops &- (dropsAtStart ?? drops)
                $0.traffic = engine.counters
                $0.queuedEntries = engine.pendingEntries
                $0.oldestQueued = engine.oldestPending
                $0.bulkRequests.add(SyncTraffic(messages: UInt64(requests.count), bytes: requestBytes))
            }
            for r in requests where !isStopped { answerBulk(r, engine: &engine, version: version) }
        }
    }

    /// Sends `messages`; counts what the socket accepted and what it refused.
    private func send(_ messages: [[UInt8]]) {
        var failed: UInt64 = 0
        var sent = SyncTraffic()
        for m in messages {
            if channel.send(m) {
                sent.messages &+= 1
                sent.entries &+= UInt64(SyncWire.entryCount(of: m))
                sent.bytes &+= UInt64(m.count)
            } else {
                failed += 1
            }
        }
        guard !messages.isEmpty else { return }
        stats.withLock {
            $0.sendErrors &+= failed
            $0.sent.add(sent)
        }
    }

    /// A bulk answer: the whole table, in chunks taken under the lock, paced, then the end marker.
    private func answerBulk(_ request: SyncControlMessage, engine: inout SyncMasterEngine, version: UInt8) {
        let start = clock.now()
        var cursor = SyncTableCursor()
        var chunk: [SyncConnection] = []
        chunk.reserveCapacity(4096)
        var total = 0
        var sentSincePause = 0
        while !cursor.isFinished && !isStopped {
            chunk.removeAll(keepingCapacity: true)
            owner.withIPVS { $0.syncTableSnapshot(from: &cursor, limit: 512, into: &chunk) }
            total += chunk.count
            let messages = engine.enqueue(chunk, version: version, now: clock.now())
            for m in messages {
                send([m])
                sentSincePause += 1
                if sentSincePause >= Self.paceBurst {
                    usleep(Self.pacePause)
                    sentSincePause = 0
                }
            }
        }
        send(engine.flush())
        send([engine.bulkDone(nonce: request.nonce, count: UInt32(clamping: total))])
        let took = clock.now() - start
        stats.withLock {
            $0.traffic = engine.counters
            $0.queuedEntries = engine.pendingEntries
            $0.oldestQueued = engine.oldestPending
            $0.lastBulkAnswer = (UInt64(total), took)
        }
        log(
            "sync master: bulk resync for sync id \(request.syncID) (request \(request.nonce)): \(total) entries sent in \(clock.now() - start)"
        )
    }

    // MARK: backup

    private func runBackup() {
        var engine = SyncBackupEngine(
            syncID: spec.syncID, maximumLength: Int(spec.maxLength), key: settings.key,
            sender: UInt32.random(in: 1...UInt32.max))
        var rx = [UInt8](repeating: 0, count: 65536)
        var pending: [SyncConnection] = []
        pending.reserveCapacity(4096)
        var bulkStart: Timestamp?
        while !isStopped {
            if bulkWanted.exchange(false, ordering: .acquiringAndReleasing) {
                let now = clock.now()
                let request = engine.requestBulk(
                    nonce: UInt32.random(in: 1...UInt32.max), now: now, wait: settings.bulkWait)
                bulkStart = now
                if channel.send(request) {
                    stats.withLock {
                        $0.sent.add(SyncTraffic(messages: 1, bytes: UInt64(request.count)))
                        $0.bulkInProgress = true
                    }
                } else {
                    stats.withLock {
                        $0.sendErrors &+= 1
                        $0.bulkInProgress = true
                    }
                    log("sync backup: the bulk resync request could not be sent")
                }
            }
            channel.wait(milliseconds: 50)
            if isStopped { break }
            var bulkDone: SyncControlMessage? = nil
            var received = 0
            var lastMessage: Timestamp? = nil
            while received < 256, let n = rx.withUnsafeMutableBytes({ channel.receive(into: $0) }) {
                received += 1
                let len = min(n, rx.count)
                let now = clock.now()
                let event = rx.withUnsafeBytes {
                    engine.receive(UnsafeRawBufferPointer(rebasing: $0[0..<len]), now: now)
                }
                switch event {
                case .apply(let cs):
                    pending += cs
                    lastMessage = now
                case .bulkDone(let m, let ours):
                    if ours { bulkDone = m }
                    lastMessage = now
                case .ignored, .dropped: break
                }
            }
            if !pending.isEmpty { apply(&pending) }
            stats.withLock {
                $0.traffic = engine.counters
                if let lastMessage { $0.lastMessage = lastMessage }
            }
            if let m = bulkDone {
                let took = clock.now() - (bulkStart ?? clock.now())
                log(
                    "sync backup: bulk resync done: \(m.count) entries from the master with sync id \(m.syncID) in \(took)"
                )
                stats.withLock {
                    $0.bulkInProgress = false
                    $0.bulkCompleted &+= 1
                    $0.lastBulk = (UInt64(m.count), took)
                }
                bulkFinished(.completed(entries: m.count))
            } else if engine.bulkTimedOut(now: clock.now()) {
                log("sync backup: no bulk resync answer within \(settings.bulkWait)")
                stats.withLock {
                    $0.bulkInProgress = false
                    $0.bulkTimedOut &+= 1
                }
                bulkFinished(.timedOut)
            }
        }
        if engine.pendingBulk != nil { bulkFinished(.cancelled) }
    }

    private func apply(_ pending: inout [SyncConnection]) {
        var s = SyncDaemonStatistics()
        let now = clock.now()
        owner.withIPVS { ipvs in
            for c in pending {
                switch ipvs.applySynced(c, now: now) {
                case .created: s.created += 1
                case .createdUnbound: s.createdUnbound += 1
                case .updated: s.updated += 1
                case .replaced: s.replaced += 1
                case .ignoredStale: s.ignoredStale += 1
                case .refused: s.refused += 1
                }
            }
        }
        pending.removeAll(keepingCapacity: true)
        stats.withLock {
            $0.created &+= s.created
            $0.createdUnbound &+= s.createdUnbound
            $0.updated &+= s.updated
            $0.replaced &+= s.replaced
            $0.ignoredStale &+= s.ignoredStale
            $0.refused &+= s.refused
        }
    }
}
