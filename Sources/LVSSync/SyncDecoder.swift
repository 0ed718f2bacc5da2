// Reads sync messages as the kernel's backup does (K:ip_vs_sync.c ip_vs_process_message,
// ip_vs_proc_sync_conn, ip_vs_process_message_v0), strictly: a malformed message is dropped whole.

import LVSCore

/// Why a received datagram was dropped. Every drop is counted under its code.
public struct SyncError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// Shorter than a version 0 header ("message header too short").
        case headerTooShort
        /// The header's size is not the datagram's length ("bogus message size").
        case sizeMismatch
        /// Longer than this backup's `sync_maxlen` (the kernel's receive buffer would cut it).
        case oversized
        /// Another sync id, on a backup whose sync id is not 0.
        case wrongSyncID
        /// The connection count runs past the message ("too small", "bogus conn").
        case truncatedEntry
        /// An entry's size runs past the message ("msg > buffer").
        case entryBeyondMessage
        /// An entry of an unknown version ("Unknown version").
        case unknownEntryVersion
        /// An entry type other than IPv4 or IPv6.
        case unknownEntryType
        /// A malformed option: truncated, zero or overlong length, a duplicate, a bad sequence size.
        case badOption
        /// A key is configured and the message has no valid authentication trailer.
        case unauthenticated
        /// An authenticated message whose sequence number was already seen from its sender.
        case replayed
        /// A SwiftLVS control message of an unknown kind or size.
        case badControl
    }

    public var code: Code
    public var detail: String?

    public init(_ code: Code, _ detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail.map { "\(code.rawValue): \($0)" } ?? code.rawValue }
}

/// A decoded connection message.
public struct SyncMessage: Hashable, Sendable {
    /// 0 or 1.
    public var version: UInt8
    public var syncID: UInt8
    /// The entries to apply, in message order (entries with an unknown mandatory option left out).
    public var connections: [SyncConnection]
    /// Entries left out for an unknown mandatory option (the kernel skips them, keeps the rest).
    public var skippedEntries = 0
    /// The authentication trailer, when the message had one and a key checked it.
    public var trailer: SyncTrailer?
}

/// What a datagram on the sync port is.
public enum SyncDatagram: Hashable, Sendable {
    /// A kernel-format connection message.
    case connections(SyncMessage)
    /// A SwiftLVS control message (bulk resync), which kernels ignore.
    case control(SyncControlMessage, trailer: SyncTrailer?)
}

/// Decodes datagrams received on the sync port.
public struct SyncDecoder: Sendable {
    /// The backup's sync id: 0 accepts every id.
    public var syncID: UInt8
    /// The shared key: when set, only messages with a valid trailer are accepted.
    public var key: SyncKey?
    /// The backup's `sync_maxlen`: longer datagrams are dropped (0: no limit).
    public var maximumLength: Int

    public init(syncID: UInt8 = 0, key: SyncKey? = nil, maximumLength: Int = 0) {
        self.syncID = syncID
        self.key = key
        self.maximumLength = maximumLength
    }

    /// Decodes one datagram, or says why it is dropped. Never traps, whatever the bytes.
    public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SyncDatagram, SyncError> {
        let length = bytes.count
        if maximumLength > 0 && length > maximumLength { return .failure(SyncError(.oversized, "\(length) bytes")) }
        if length < SyncWire.headerSizeV0 { return .failure(SyncError(.headerTooShort, "\(length) bytes")) }
        let w = WireReader(bytes)
        if Int(w.u16(2)) != length {
            return .failure(SyncError(.sizeMismatch, "size \(w.u16(2)), datagram \(length) bytes"))
        }
        if syncID != 0 && w.u8(1) != syncID { return .failure(SyncError(.wrongSyncID, "\(w.u8(1))")) }
        var body = length
        var trailer: SyncTrailer? = nil
        if let key {
            guard let t = SyncTrailer.verify(bytes, key: key) else { return .failure(SyncError(.unauthenticated)) }
            trailer = t
            body = length - SyncTrailer.size
        }
        if length >= SyncWire.headerSize && w.u8(0) == 0 && w.u8(4) == 0 && w.u8(5) == SyncControlMessage.version {
            return SyncControlMessage.decode(w, body: body).map { .control($0, trailer: trailer) }
        }
        if length >= SyncWire.headerSize && w.u8(5) == SyncWire.version1 && w.u8(0) == 0 && w.u16(6) == 0 {
            return decodeV1(w, body: body).map { m in
                var m = m
                m.trailer = trailer
                return .connections(m)
            }
        }
        return decodeV0(w, body: body).map { m in
            var m = m
            m.trailer = trailer
            return .connections(m)
        }
    }

    private func decodeV1(_ w: WireReader, body: Int) -> Result<SyncMessage, SyncError> {
        let count = Int(w.u8(4))
        var out: [SyncConnection] = []
        out.reserveCapacity(count)
        var skipped = 0
        var next = SyncWire.headerSize
        for i in 0..<count {
            let p = next
            if p + SyncWire.entrySizeV4 > body { return .failure(SyncError(.truncatedEntry, "entry \(i)")) }
            let verSize = w.u16(p + 2)
            let size = Int(verSize & SyncWire.entrySizeMask)
            let end = p + size
            if end > body { return .failure(SyncError(.entryBeyondMessage, "entry \(i)")) }
            if verSize >> SyncWire.entryVersionShift != 0 {
                return .failure(SyncError(.unknownEntryVersion, "\(verSize >> SyncWire.entryVersionShift)"))
            }
            switch Self.entry(w, at: p, end: end) {
            case .failure(let e): return .failure(e)
            case .success(let c?): out.append(c)
            case .success(nil): skipped += 1
            }
            next = p + ((size + 3) & ~3)
        }
        return .success(SyncMessage(version: 1, syncID: w.u8(1), connections: out, skippedEntries: skipped))
    }

    /// One version 1 entry: nil when an unknown mandatory option makes the kernel skip it.
    static func entry(_ w: WireReader, at start: Int, end: Int) -> Result<SyncConnection?, SyncError> {
        let type = w.u8(start)
        let inet6: Bool
        if type & SyncWire.typeInet6 != 0 {
            inet6 = true
        } else if type == 0 {
            inet6 = false
        } else {
            return .failure(SyncError(.unknownEntryType, "\(type)"))
        }
        let fixed = inet6 ? SyncWire.entrySizeV6 : SyncWire.entrySizeV4
        if start + fixed > end { return .failure(SyncError(.truncatedEntry, "entry shorter than its addresses")) }
        let a = start + 24
        let step = inet6 ? 16 : 4
        var c = SyncConnection(
            family: inet6 ? .inet6 : .inet, protocolNumber: w.u8(start + 1),
            flags: KernelConnectionFlags(rawValue: w.u32(start + 4)).intersection(.backupMask).union(.sync),
            state: w.u16(start + 8), clientPort: w.u16(start + 10), virtualPort: w.u16(start + 12),
            destinationPort: w.u16(start + 14), firewallMark: w.u32(start + 16), timeout: w.u32(start + 20),
            client: w.address(a, inet6: inet6), virtual: w.address(a + step, inet6: inet6),
            destination: w.address(a + 2 * step, inet6: inet6))
        var p = start + fixed
        var seen: UInt8 = 0
        var engineData: [UInt8]? = nil
        var engineName: [UInt8]? = nil
        var mandatoryUnknown = false
        while p < end {
            if p + 2 > end { return .failure(SyncError(.badOption, "truncated option header")) }
            let ptype = w.u8(p)
            let plen = Int(w.u8(p + 1))
            p += 2
            if plen == 0 || p + plen > end { return .failure(SyncError(.badOption, "option \(ptype) length \(plen)")) }
            if ptype == SyncWire.optionLocalEndpoint {
                if plen == (inet6 ? 18 : 6) {
                    let addr = w.address(p, inet6: inet6).address(inet6 ? .inet6 : .inet)
                    c.local = Endpoint(addr, w.u16(p + plen - 2))
                }
                p += plen
                continue
            }
            switch ptype & ~SyncWire.optionalBit {
            case SyncWire.optionSequence:
                if plen != SyncWire.sequenceOptionSize || seen & 1 != 0 {
                    return .failure(SyncError(.badOption, "sequence option"))
                }
                seen |= 1
                c.hasSequence = true
                c.inSequence = SyncSequence(initialSequence: w.u32(p), delta: w.u32(p + 4), previousDelta: w.u32(p + 8))
                c.outSequence = SyncSequence(
                    initialSequence: w.u32(p + 12), delta: w.u32(p + 16), previousDelta: w.u32(p + 20))
            case SyncWire.optionEngineData:
                if seen & 2 != 0 { return .failure(SyncError(.badOption, "engine data twice")) }
                seen |= 2
                engineData = Array(UnsafeRawBufferPointer(rebasing: w.base[p..<(p + plen)]))
            case SyncWire.optionEngineName:
                if plen > SyncWire.engineNameLimit || seen & 4 != 0 {
                    return .failure(SyncError(.badOption, "engine name"))
                }
                seen |= 4
                engineName = Array(UnsafeRawBufferPointer(rebasing: w.base[p..<(p + plen)]))
            default:
                if ptype & SyncWire.optionalBit == 0 { mandatoryUnknown = true }
            }
            p += plen
        }
        if mandatoryUnknown { return .success(nil) }
        if let engineData {
            c.persistence = SyncPersistenceData(engine: engineName ?? [], data: engineData)
        }
        return .success(c)
    }

    private func decodeV0(_ w: WireReader, body: Int) -> Result<SyncMessage, SyncError> {
        let count = Int(w.u8(0))
        var out: [SyncConnection] = []
        out.reserveCapacity(count)
        var p = SyncWire.headerSizeV0
        for i in 0..<count {
            if p + SyncWire.entrySizeV0 > body { return .failure(SyncError(.truncatedEntry, "v0 entry \(i)")) }
            var flags = KernelConnectionFlags(rawValue: UInt32(w.u16(p + 20))).union(.sync)
            flags.remove(.hashed)
            var c = SyncConnection(
                family: .inet, protocolNumber: w.u8(p + 1), flags: flags, state: w.u16(p + 22),
                clientPort: w.u16(p + 2), virtualPort: w.u16(p + 4), destinationPort: w.u16(p + 6), timeout: 0,
                client: w.address(p + 8, inet6: false), virtual: w.address(p + 12, inet6: false),
                destination: w.address(p + 16, inet6: false))
            if !flags.intersection(.sequenceMask).isEmpty {
                if p + SyncWire.entrySizeV0Sequence > body {
                    return .failure(SyncError(.truncatedEntry, "v0 entry \(i) options"))
                }
                // Version 0 copies the sequence structure as the master holds it (host order on
                // the kernel's side); it is carried as read.
                let o = p + SyncWire.entrySizeV0
                c.hasSequence = true
                c.inSequence = SyncSequence(initialSequence: w.u32(o), delta: w.u32(o + 4), previousDelta: w.u32(o + 8))
                c.outSequence = SyncSequence(
                    initialSequence: w.u32(o + 12), delta: w.u32(o + 16), previousDelta: w.u32(o + 20))
                p += SyncWire.entrySizeV0Sequence
            } else {
                p += SyncWire.entrySizeV0
            }
            out.append(c)
        }
        return .success(SyncMessage(version: 0, syncID: w.u8(1), connections: out))
    }
}
