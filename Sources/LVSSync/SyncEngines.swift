// The master and backup daemons' logic as pure state machines: bytes and connections in,
// datagrams and table changes out (the daemon's threads do the I/O and hold the table's lock).
//
//  master:  drainSyncQueue ─▶ enqueue ─▶ [datagram]      tick(now) ─▶ [datagram] (buffer ≥ 2 s old)
//           bulk request ─▶ answer? ─▶ syncTableSnapshot chunks ─▶ enqueue ─▶ flush ─▶ bulkDone
//  backup:  datagram ─▶ receive ─▶ .apply([SyncConnection]) | .bulkDone | .dropped(reason)

import LVSCore

/// Remembers the last sequence number of each authenticated sender, to refuse replays.
public struct SyncReplayWindow: Sendable {
    private var last: [UInt32: UInt64] = [:]
    private var order: [UInt32] = []
    static let senders = 64

    public init() {}

    /// Accepts `t` if its sequence is above the sender's last one.
    public mutating func accept(_ t: SyncTrailer) -> Bool {
        if let l = last[t.sender] {
            if t.sequence <= l { return false }
        } else {
            order.append(t.sender)
            if order.count > Self.senders { last[order.removeFirst()] = nil }
        }
        last[t.sender] = t.sequence
        return true
    }
}

/// Counts of a daemon's traffic (`ipvsadm` has no view of them; lvsd logs and exports them).
public struct SyncCounters: Hashable, Sendable {
    public var messages: UInt64 = 0
    public var bytes: UInt64 = 0
    public var entries: UInt64 = 0
    /// Entries a received message held that were left out (unknown mandatory option).
    public var skippedEntries: UInt64 = 0
    /// Dropped datagrams by reason.
    public var dropped: [SyncError.Code: UInt64] = [:]
    /// Bulk answers sent (master) or bulk resyncs completed (backup).
    public var bulk: UInt64 = 0

    public init() {}

    public var droppedTotal: UInt64 { dropped.values.reduce(0, +) }
}

/// The master daemon: fills messages from the queued connections and sends them when full, or
/// when the one being filled is 2 s old; answers bulk-resync requests.
public struct SyncMasterEngine: Sendable {
    public let syncID: UInt8
    private var builder: SyncMessageBuilder
    private var decoder: SyncDecoder
    private var replay = SyncReplayWindow()
    public private(set) var counters = SyncCounters()

    /// `sender` is a random id for the authentication trailer (used with a key).
    public init(syncID: UInt8, maximumLength: Int, key: SyncKey? = nil, sender: UInt32 = 0) {
        self.syncID = syncID
        builder = SyncMessageBuilder(syncID: syncID, maximumLength: maximumLength, key: key, sender: sender)
        decoder = SyncDecoder(syncID: 0, key: key)
    }

    /// Adds connections in `version`'s format; returns the messages that filled up.
    public mutating func enqueue(_ connections: [SyncConnection], version: UInt8, now: Timestamp) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for c in connections {
            if let m = builder.append(c, version: version, now: now) { out.append(m) }
        }
        count(out)
        return out
    }

    /// The message being filled, once it has waited 2 s (`IPVS_SYNC_FLUSH_TIME`).
    public mutating func tick(now: Timestamp) -> [[UInt8]] {
        guard builder.isDue(now: now), let m = builder.finish() else { return [] }
        count([m])
        return [m]
    }

    /// The message being filled, now (end of a bulk answer, daemon stop).
    public mutating func flush() -> [[UInt8]] {
        guard let m = builder.finish() else { return [] }
        count([m])
        return [m]
    }

    private mutating func count(_ ms: [[UInt8]]) {
        for m in ms {
            counters.messages &+= 1
            counters.bytes &+= UInt64(m.count)
            counters.entries &+= UInt64(m.withUnsafeBytes { b in b[5] == SyncWire.version1 ? b[4] : b[0] })
        }
    }

    /// A datagram heard on the sync port: the bulk request this master answers, or nil (its own
    /// peers' connection messages, other ids, malformed or unauthenticated datagrams).
    public mutating func bulkRequest(in bytes: UnsafeRawBufferPointer) -> SyncControlMessage? {
        guard case .success(.control(let m, let trailer)) = decoder.decode(bytes), m.kind == .bulkRequest,
            m.syncID == 0 || m.syncID == syncID
        else { return nil }
        if let trailer, !replay.accept(trailer) { return nil }
        return m
    }

    /// The end marker of a bulk answer (after `flush()`).
    public mutating func bulkDone(nonce: UInt32, count: UInt32) -> [UInt8] {
        counters.bulk &+= 1
        let m = SyncControlMessage(kind: .bulkDone, syncID: syncID, nonce: nonce, count: count)
        return m.encode(key: builder.key, trailer: builder.nextTrailer())
    }
}

/// The backup daemon: checks and decodes datagrams, hands their connections to the table, and
/// follows its own bulk-resync request.
public struct SyncBackupEngine: Sendable {
    /// What a received datagram means.
    public enum Event: Hashable, Sendable {
        /// Connections to apply (`IPVS.applySynced`), in order.
        case apply([SyncConnection])
        /// A master finished its bulk answer; `answersOurRequest` when it carries our nonce.
        case bulkDone(SyncControlMessage, answersOurRequest: Bool)
        /// Another backup's request (a master answers it; a backup ignores it).
        case ignored
        /// Dropped and counted.
        case dropped(SyncError)
    }

    public private(set) var decoder: SyncDecoder
    private var replay = SyncReplayWindow()
    public private(set) var counters = SyncCounters()
    /// The bulk request in progress: its nonce and until when it is awaited.
    public private(set) var pendingBulk: (nonce: UInt32, deadline: Timestamp)?
    private var sequence: UInt64 = 0
    private let sender: UInt32

    public init(syncID: UInt8, maximumLength: Int, key: SyncKey? = nil, sender: UInt32 = 0) {
        decoder = SyncDecoder(syncID: syncID, key: key, maximumLength: maximumLength)
        self.sender = sender
    }

    /// Handles one datagram.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, now: Timestamp) -> Event {
        switch decoder.decode(bytes) {
        case .failure(let e):
            counters.dropped[e.code, default: 0] &+= 1
            return .dropped(e)
        case .success(let d):
            let trailer: SyncTrailer?
            switch d {
            case .connections(let m): trailer = m.trailer
            case .control(_, let t): trailer = t
            }
            if let trailer, !replay.accept(trailer) {
                counters.dropped[.replayed, default: 0] &+= 1
                return .dropped(SyncError(.replayed))
            }
            counters.messages &+= 1
            counters.bytes &+= UInt64(bytes.count)
            switch d {
            case .connections(let m):
                counters.entries &+= UInt64(m.connections.count)
                counters.skippedEntries &+= UInt64(m.skippedEntries)
                return .apply(m.connections)
            case .control(let c, _):
                guard c.kind == .bulkDone else { return .ignored }
                let ours = pendingBulk?.nonce == c.nonce
                if ours {
                    pendingBulk = nil
                    counters.bulk &+= 1
                }
                return .bulkDone(c, answersOurRequest: ours)
            }
        }
    }

    /// Starts a bulk resync: the request datagram to send; it is awaited until `now + wait`.
    public mutating func requestBulk(nonce: UInt32, now: Timestamp, wait: Duration) -> [UInt8] {
        pendingBulk = (nonce, now + wait)
        sequence &+= 1
        let m = SyncControlMessage(kind: .bulkRequest, syncID: decoder.syncID, nonce: nonce)
        return m.encode(key: decoder.key, trailer: SyncTrailer(sender: sender, sequence: sequence))
    }

    /// True (once) when the pending bulk request's wait ran out without an answer.
    public mutating func bulkTimedOut(now: Timestamp) -> Bool {
        guard let p = pendingBulk, now >= p.deadline else { return false }
        pendingBulk = nil
        return true
    }
}
