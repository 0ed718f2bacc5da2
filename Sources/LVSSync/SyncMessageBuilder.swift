// Writes sync messages as the kernel fills its sync buffers (K:ip_vs_sync.c ip_vs_sync_conn,
// ip_vs_sync_conn_v0, ip_vs_sync_buff_create): entries padded to 4 bytes, a new buffer when the
// next entry does not fit in `sync_maxlen`, and one buffer per protocol version.

import LVSCore

/// One message being filled.
public struct SyncMessageBuilder: Sendable {
    public let syncID: UInt8
    /// `sync_maxlen`: the message size (a first entry larger than it still gets a message).
    public let maximumLength: Int
    /// With a key, every message ends with an authentication trailer (counted in the size).
    public let key: SyncKey?
    /// The version of the message being filled.
    public private(set) var version: UInt8
    private var bytes: [UInt8] = []
    private var capacity = 0
    /// Entries in the message being filled.
    public private(set) var count = 0
    /// When the message being filled got its first entry (`firstuse`).
    public private(set) var firstUse: Timestamp?
    /// The trailer's sender id and the last sequence number used.
    public let sender: UInt32
    public private(set) var sequence: UInt64 = 0

    public init(syncID: UInt8, maximumLength: Int, version: UInt8 = 1, key: SyncKey? = nil, sender: UInt32 = 0) {
        self.syncID = syncID
        self.maximumLength = max(maximumLength, SyncWire.headerSize)
        self.version = version
        self.key = key
        self.sender = sender
    }

    /// The next trailer (for a control message sent between connection messages).
    public mutating func nextTrailer() -> SyncTrailer {
        sequence &+= 1
        return SyncTrailer(sender: sender, sequence: sequence)
    }

    /// The entry's size in a version 1 message, without padding.
    public static func entrySize(_ c: SyncConnection) -> Int {
        var len = c.family == .inet6 ? SyncWire.entrySizeV6 : SyncWire.entrySizeV4
        // The kernel writes it for IN_SEQ/OUT_SEQ connections; an entry carries it when it has it.
        if c.hasSequence { len += SyncWire.sequenceOptionSize + 2 }
        if let pe = c.persistence, !pe.data.isEmpty {
            len += min(pe.data.count, SyncWire.engineDataLimit) + 2
            if !pe.engine.isEmpty { len += min(pe.engine.count, SyncWire.engineNameLimit) + 2 }
        }
        if c.local != nil { len += (c.family == .inet6 ? 18 : 6) + 2 }
        return len
    }

    /// Adds `c` in `version`'s format. Returns the finished previous message when `c` did not fit
    /// in it or the version changed. Version 0 carries IPv4 entries only (others are left out).
    public mutating func append(_ c: SyncConnection, version v: UInt8, now: Timestamp) -> [UInt8]? {
        if v == 0 && c.family != .inet { return nil }
        var done: [UInt8]? = nil
        let trailer = key != nil ? SyncTrailer.size : 0
        if v == 0 {
            let len =
                c.flags.intersection(.sequenceMask).isEmpty ? SyncWire.entrySizeV0 : SyncWire.entrySizeV0Sequence
            if count > 0 && (version != 0 || bytes.count + len > capacity || count >= SyncWire.entriesPerMessage) {
                done = finish()
            }
            if count == 0 { start(version: 0, firstEntry: len, now: now, trailer: trailer) }
            writeV0(c)
        } else {
            let len = Self.entrySize(c)
            let pad = (4 - bytes.count & 3) & 3
            if count > 0
                && (version != 1 || bytes.count + pad + len > capacity || count >= SyncWire.entriesPerMessage)
            {
                done = finish()
            }
            if count == 0 {
                start(version: 1, firstEntry: len, now: now, trailer: trailer)
            } else {
                for _ in 0..<pad { bytes.append(0) }
            }
            writeV1(c, length: len)
        }
        count += 1
        return done
    }

    private mutating func start(version v: UInt8, firstEntry len: Int, now: Timestamp, trailer: Int) {
        version = v
        bytes.removeAll(keepingCapacity: true)
        let header = v == 0 ? SyncWire.headerSizeV0 : SyncWire.headerSize
        capacity = max(len + header, maximumLength - trailer)
        bytes.reserveCapacity(capacity + trailer)
        if v == 0 {
            bytes += [0, syncID, 0, 0]
        } else {
            bytes += [0, syncID, 0, 0, 0, SyncWire.version1, 0, 0]
        }
        firstUse = now
    }

    private mutating func writeV1(_ c: SyncConnection, length: Int) {
        let inet6 = c.family == .inet6
        bytes.put8(inet6 ? SyncWire.typeInet6 : 0)
        bytes.put8(c.protocolNumber)
        bytes.put16(UInt16(length) & SyncWire.entrySizeMask)
        var flags = c.flags
        flags.remove(.hashed)
        bytes.put32(flags.rawValue)
        bytes.put16(c.state)
        bytes.put16(c.clientPort)
        bytes.put16(c.virtualPort)
        bytes.put16(c.destinationPort)
        bytes.put32(c.firewallMark)
        bytes.put32(c.timeout)
        bytes.putAddress(c.client, inet6: inet6)
        bytes.putAddress(c.virtual, inet6: inet6)
        bytes.putAddress(c.destination, inet6: inet6)
        if c.hasSequence {
            bytes.put8(SyncWire.optionSequence)
            bytes.put8(UInt8(SyncWire.sequenceOptionSize))
            for s in [c.inSequence, c.outSequence] {
                bytes.put32(s.initialSequence)
                bytes.put32(s.delta)
                bytes.put32(s.previousDelta)
            }
        }
        if let pe = c.persistence, !pe.data.isEmpty {
            let data = pe.data.prefix(SyncWire.engineDataLimit)
            bytes.put8(SyncWire.optionEngineData)
            bytes.put8(UInt8(data.count))
            bytes += data
            if !pe.engine.isEmpty {
                let name = pe.engine.prefix(SyncWire.engineNameLimit)
                bytes.put8(SyncWire.optionEngineName)
                bytes.put8(UInt8(name.count))
                bytes += name
            }
        }
        if let local = c.local {
            bytes.put8(SyncWire.optionLocalEndpoint)
            bytes.put8(inet6 ? 18 : 6)
            bytes.putAddress(RawAddress(local.address), inet6: inet6)
            bytes.put16(local.port)
        }
    }

    private mutating func writeV0(_ c: SyncConnection) {
        bytes.put8(0)
        bytes.put8(c.protocolNumber)
        bytes.put16(c.clientPort)
        bytes.put16(c.virtualPort)
        bytes.put16(c.destinationPort)
        bytes.put32(c.client.w3)
        bytes.put32(c.virtual.w3)
        bytes.put32(c.destination.w3)
        var flags = c.flags
        flags.remove(.hashed)
        bytes.put16(UInt16(truncatingIfNeeded: flags.rawValue))
        bytes.put16(c.state)
        if !c.flags.intersection(.sequenceMask).isEmpty {
            for s in [c.inSequence, c.outSequence] {
                bytes.put32(s.initialSequence)
                bytes.put32(s.delta)
                bytes.put32(s.previousDelta)
            }
        }
    }

    /// Completes the message being filled (count, size, trailer) and returns it; nil when empty.
    public mutating func finish() -> [UInt8]? {
        guard count > 0 else { return nil }
        var m = bytes
        let total = m.count + (key != nil ? SyncTrailer.size : 0)
        m.set16(UInt16(total), at: 2)
        if version == 0 { m[0] = UInt8(count) } else { m[4] = UInt8(count) }
        if let key { nextTrailer().append(to: &m, key: key) }
        count = 0
        firstUse = nil
        bytes.removeAll(keepingCapacity: true)
        return m
    }

    /// True when the message being filled has waited `SyncWire.flushTime` since its first entry.
    public func isDue(now: Timestamp) -> Bool {
        guard let f = firstUse else { return false }
        return now >= f + SyncWire.flushTime
    }
}
