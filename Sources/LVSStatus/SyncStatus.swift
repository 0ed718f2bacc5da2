// What lvsd shows of its connection-sync daemons: traffic, drops, the master's queue, the backup's lag.

/// One sync daemon (`ipvsadm --start-daemon`, keepalived's `lvs_sync_daemon`) at one moment.
///
/// ```
///  master: table queue ─▶ message being filled (queuedEntries, oldest) ─▶ sent ─▶ group
///  backup: group ─▶ received | dropped by reason ─▶ applied by result; lag = now − last message
/// ```
public struct SyncDaemonStatus: Hashable, Sendable {
    /// `master` or `backup`.
    public var role: String
    public var syncID: UInt8
    /// `--mcast-interface`.
    public var interface: String
    public var group: String
    public var port: UInt16
    public var ttl: UInt8
    /// `--sync-maxlen` in force.
    public var maxLength: UInt16
    /// True while the daemon's thread runs.
    public var running: Bool
    /// Datagrams the socket accepted (master: connection messages and bulk answers; backup: bulk
    /// requests).
    public var sent: SyncTraffic
    /// Datagrams accepted (decoded, authenticated, for this sync id): the backup's intake. A
    /// master counts the bulk requests it answered here.
    public var received: SyncTraffic
    /// Drops by reason, every reason of the role (zeros included): the backup's decoder reasons
    /// (`wrong_sync_id`, `unauthenticated`, …), the master's `queue_full` and `send_failed`.
    public var drops: [NamedCounter]
    public var master: SyncMasterStatus?
    public var backup: SyncBackupStatus?

    public init(
        role: String, syncID: UInt8, interface: String, group: String, port: UInt16, ttl: UInt8, maxLength: UInt16,
        running: Bool, sent: SyncTraffic = .init(), received: SyncTraffic = .init(), drops: [NamedCounter] = [],
        master: SyncMasterStatus? = nil, backup: SyncBackupStatus? = nil
    ) {
        self.role = role
        self.syncID = syncID
        self.interface = interface
        self.group = group
        self.port = port
        self.ttl = ttl
        self.maxLength = maxLength
        self.running = running
        self.sent = sent
        self.received = received
        self.drops = drops
        self.master = master
        self.backup = backup
    }
}

/// Messages, connection entries and bytes in one direction.
public struct SyncTraffic: Hashable, Sendable {
    public var messages: UInt64
    public var entries: UInt64
    public var bytes: UInt64

    public init(messages: UInt64 = 0, entries: UInt64 = 0, bytes: UInt64 = 0) {
        self.messages = messages
        self.entries = entries
        self.bytes = bytes
    }

    /// Adds another count to this one.
    public mutating func add(_ o: SyncTraffic) {
        messages &+= o.messages
        entries &+= o.entries
        bytes &+= o.bytes
    }
}

/// One bulk resync: entries and how long it took.
public struct SyncBulkRun: Hashable, Sendable {
    public var entries: UInt64
    public var durationSeconds: Double

    public init(entries: UInt64, durationSeconds: Double) {
        self.entries = entries
        self.durationSeconds = durationSeconds
    }
}

/// The master side: what waits to be sent, and the bulk answers it gave.
public struct SyncMasterStatus: Hashable, Sendable {
    /// Connection entries queued and not sent yet (the message being filled, sent when full or
    /// 2 s after its first entry).
    public var queuedEntries: Int
    /// Age of the oldest queued entry; nil when nothing waits.
    public var oldestQueuedSeconds: Double?
    /// Bulk resync requests answered.
    public var bulkAnswers: UInt64
    public var lastBulkAnswer: SyncBulkRun?

    public init(
        queuedEntries: Int = 0, oldestQueuedSeconds: Double? = nil, bulkAnswers: UInt64 = 0,
        lastBulkAnswer: SyncBulkRun? = nil
    ) {
        self.queuedEntries = queuedEntries
        self.oldestQueuedSeconds = oldestQueuedSeconds
        self.bulkAnswers = bulkAnswers
        self.lastBulkAnswer = lastBulkAnswer
    }
}

/// The backup side: how far behind its masters it may be, what the table did, bulk resyncs.
public struct SyncBackupStatus: Hashable, Sendable {
    /// Seconds since the last message accepted from a master; nil before the first.
    public var lagSeconds: Double?
    /// Received entries by what the table did with them (`created`, `created_unbound`,
    /// `updated`, `replaced`, `ignored_stale`, `refused`).
    public var applied: [NamedCounter]
    /// A bulk resync was asked for and its answer is awaited.
    public var bulkInProgress: Bool
    public var bulkCompleted: UInt64
    public var bulkTimedOut: UInt64
    /// The last completed bulk resync (the entries its master said it sent).
    public var lastBulk: SyncBulkRun?

    public init(
        lagSeconds: Double? = nil, applied: [NamedCounter] = [], bulkInProgress: Bool = false,
        bulkCompleted: UInt64 = 0, bulkTimedOut: UInt64 = 0, lastBulk: SyncBulkRun? = nil
    ) {
        self.lagSeconds = lagSeconds
        self.applied = applied
        self.bulkInProgress = bulkInProgress
        self.bulkCompleted = bulkCompleted
        self.bulkTimedOut = bulkTimedOut
        self.lastBulk = lastBulk
    }
}
