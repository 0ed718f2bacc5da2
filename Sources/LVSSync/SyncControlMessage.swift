// SwiftLVS extension: bulk-resync control messages on the sync port, shaped so kernels ignore them.
//
//  0     1       2      4     5      6     8     9    10    12      16      20
// +-----+------+------+-----+------+-----+-----+----+-----+-------+-------+
// |  0  |syncid| size |  0  | 0xB1 | 0 0 |kind | 0  | 0 0 | nonce | count |  (+ trailer with a key)
// +-----+------+------+-----+------+-----+-----+----+-----+-------+-------+
// A kernel backup reads a version other than 1 as version 0 with nr_conns = byte 0 = 0: nothing.

/// A bulk-resync request or its end marker.
public struct SyncControlMessage: Hashable, Sendable {
    /// The version byte that marks a control message.
    public static let version: UInt8 = 0xB1
    public static let size = 20

    public enum Kind: UInt8, Hashable, Sendable {
        /// "Send me your whole table": from a backup that starts or comes back.
        case bulkRequest = 1
        /// "That was all of it": from a master after its bulk answer.
        case bulkDone = 2
    }

    public var kind: Kind
    /// The requester's sync id (a request; 0 asks every master), or the master's (done).
    public var syncID: UInt8
    /// Chosen by the requester; the answer repeats it.
    public var nonce: UInt32
    /// Done: how many entries the master sent.
    public var count: UInt32

    public init(kind: Kind, syncID: UInt8, nonce: UInt32, count: UInt32 = 0) {
        self.kind = kind
        self.syncID = syncID
        self.nonce = nonce
        self.count = count
    }

    /// The datagram, with a trailer when `key` is given.
    public func encode(key: SyncKey? = nil, trailer: SyncTrailer? = nil) -> [UInt8] {
        var m: [UInt8] = []
        m.reserveCapacity(Self.size + SyncTrailer.size)
        m.put8(0)
        m.put8(syncID)
        m.put16(UInt16(Self.size + (key != nil ? SyncTrailer.size : 0)))
        m.put8(0)
        m.put8(Self.version)
        m.put16(0)
        m.put8(kind.rawValue)
        m.put8(0)
        m.put16(0)
        m.put32(nonce)
        m.put32(count)
        if let key, let trailer { trailer.append(to: &m, key: key) }
        return m
    }

    static func decode(_ w: WireReader, body: Int) -> Result<SyncControlMessage, SyncError> {
        guard body >= size, let kind = Kind(rawValue: w.u8(8)) else {
            return .failure(SyncError(.badControl, "\(body) bytes"))
        }
        return .success(SyncControlMessage(kind: kind, syncID: w.u8(1), nonce: w.u32(12), count: w.u32(16)))
    }
}
