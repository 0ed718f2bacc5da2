// The connection table: records in large unmanaged chunks, one hash table serving both directions,
// and a timing wheel for expiry driven by the caller's clock.
//
//   client → VIP     lookup(in):  hash(proto, client addr, client port)  ─┐
//   server → client  lookup(out): hash(proto, dst addr, dst port)        ─┤→ one bucket array
//   (NAT reply: dst = client;  FULLNAT reply: dst = local addr:port)     ─┘   chains of tagged refs
//
// A chain link is `id << 1 | tag` (tag 0: the entry's client key, tag 1: its FULLNAT local key), so
// a FULLNAT connection sits in the one table under both of its keys.

/// The connection table of one IPVS instance. Not thread-safe.
@_spi(Internals) public final class ConnectionTable {
    /// "No connection".
    public static let none: UInt32 = .max
    static let chunkShift = 16
    static let chunkSize = 1 << 16
    /// Ticks are 2^24 ns (≈ 16.8 ms).
    static let tickShift: UInt64 = 24
    static let wheelBits = 14
    static let wheelSize = 1 << 14
    static let notInWheel: UInt16 = 0xFFFF
    static let inScratch: UInt16 = 0xFFFE

    private var chunks: [UnsafeMutablePointer<ConnectionRecord>] = []
    /// SYN proxy state, in chunks parallel to the records' (made when a chunk first holds a proxied
    /// connection), so records stay 128 bytes for everyone else.
    private var proxyChunks: [UnsafeMutablePointer<SynProxyEntry>?] = []
    private var highWater: UInt32 = 0
    private var freeHead: UInt32 = ConnectionTable.none
    /// Live records (connections and templates).
    public private(set) var count = 0
    /// The most records the table will hold (`net.ipv4.vs.lvsd_conn_max`; lowering it below the
    /// live count refuses new entries until enough expire).
    public var maxConnections: Int {
        didSet { maxConnections = max(0, min(maxConnections, Int(Int32.max) - 1)) }
    }
    /// The longest chain a new entry may join.
    public var maxChain: Int
    private var buckets: UnsafeMutablePointer<UInt32>
    private var bucketBits: Int
    private var entriesHashed = 0
    private let seed: UInt64
    private let seed2: UInt64
    private var wheel: UnsafeMutablePointer<UInt32>
    /// The next tick the wheel will process.
    public private(set) var cursor: UInt32 = 0
    private var cursorStarted = false
    /// The entries of the wheel slot being run. Sized up front (64 KiB) so that expiring a slot
    /// of up to 16 384 connections allocates nothing on the packet worker; beyond that it grows
    /// once and keeps the capacity.
    private var scratch: [UInt32] = []

    @_spi(Testing) public init(
        maxConnections: Int, seed: UInt64, seed2: UInt64 = 0x243F_6A88_85A3_08D3, maxChain: Int = 32
    ) {
        self.maxConnections = min(maxConnections, Int(Int32.max) - 1)
        self.seed = seed
        self.seed2 = seed2
        self.maxChain = maxChain
        scratch.reserveCapacity(16_384)
        bucketBits = 10
        buckets = .allocate(capacity: 1 << 10)
        buckets.initialize(repeating: ConnectionTable.none, count: 1 << 10)
        wheel = .allocate(capacity: ConnectionTable.wheelSize)
        wheel.initialize(repeating: ConnectionTable.none, count: ConnectionTable.wheelSize)
    }

    deinit {
        for c in chunks { c.deallocate() }
        for case let p? in proxyChunks { p.deallocate() }
        buckets.deallocate()
        wheel.deallocate()
    }

    /// The number of hash buckets currently in use.
    public var bucketCount: Int { 1 << bucketBits }

    /// Bytes of memory the table holds (records, buckets, wheel).
    public var memoryBytes: Int {
        chunks.count * ConnectionTable.chunkSize * MemoryLayout<ConnectionRecord>.stride + (4 << bucketBits)
            + 4 * ConnectionTable.wheelSize
    }

    // MARK: time

    /// The tick of a timestamp.
    @_spi(Testing) public static func tick(_ t: Timestamp) -> UInt32 {
        UInt32(truncatingIfNeeded: t.nanoseconds >> tickShift)
    }

    /// Ticks for a timeout in seconds.
    @_spi(Testing) public static func ticks(seconds: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: (UInt64(seconds) * 1_000_000_000 + (1 << tickShift) - 1) >> tickShift)
    }

    /// Whole seconds in a number of ticks.
    @_spi(Testing) public static func seconds(ticks: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: (UInt64(ticks) << tickShift) / 1_000_000_000)
    }

    /// `a` is at or before `b` on the wrapping tick clock.
    @inline(__always) static func notAfter(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) <= 0 }

    // MARK: records

    /// True if `id` names a connection in the table (allocated and hashed).
    @inline(__always) public func isLive(_ id: UInt32) -> Bool {
        id < highWater && pointer(id).pointee.flags.contains(.hashedIn)
    }

    /// The record of a connection id.
    @inline(__always) public func pointer(_ id: UInt32) -> UnsafeMutablePointer<ConnectionRecord> {
        chunks[Int(id >> UInt32(ConnectionTable.chunkShift))] + Int(id & UInt32(ConnectionTable.chunkSize - 1))
    }

    /// Allocates a record, or nil when the table is at its maximum.
    @_spi(Testing) public func allocate() -> UInt32? {
        if count >= maxConnections { return nil }
        let id: UInt32
        if freeHead != ConnectionTable.none {
            id = freeHead
            freeHead = pointer(id).pointee.inNext
        } else {
            if Int(highWater) >> ConnectionTable.chunkShift >= chunks.count {
                let c = UnsafeMutablePointer<ConnectionRecord>.allocate(capacity: ConnectionTable.chunkSize)
                chunks.append(c)
            }
            id = highWater
            highWater += 1
        }
        pointer(id).initialize(to: .empty)
        pointer(id).pointee.wheelSlot = ConnectionTable.notInWheel
        let c = Int(id >> UInt32(ConnectionTable.chunkShift))
        if c < proxyChunks.count, let p = proxyChunks[c] {
            p[Int(id & UInt32(ConnectionTable.chunkSize - 1))] = SynProxyEntry()
        }
        count += 1
        return id
    }

    /// Returns a record to the free list. It must be unhashed and out of the wheel.
    @_spi(Testing) public func free(_ id: UInt32) {
        let r = pointer(id)
        r.pointee.flags = []
        r.pointee.wheelSlot = ConnectionTable.notInWheel
        r.pointee.server = -1
        r.pointee.inNext = freeHead
        freeHead = id
        count -= 1
    }

    /// A connection's SYN proxy state (all zero when it is not proxied).
    @inline(__always) public func proxyEntry(_ id: UInt32) -> SynProxyEntry {
        let c = Int(id >> UInt32(ConnectionTable.chunkShift))
        guard c < proxyChunks.count, let p = proxyChunks[c] else { return SynProxyEntry() }
        return p[Int(id & UInt32(ConnectionTable.chunkSize - 1))]
    }

    /// Stores a connection's SYN proxy state.
    public func setProxyEntry(_ id: UInt32, _ e: SynProxyEntry) {
        let c = Int(id >> UInt32(ConnectionTable.chunkShift))
        while proxyChunks.count <= c { proxyChunks.append(nil) }
        if proxyChunks[c] == nil {
            let p = UnsafeMutablePointer<SynProxyEntry>.allocate(capacity: ConnectionTable.chunkSize)
            p.initialize(repeating: SynProxyEntry(), count: ConnectionTable.chunkSize)
            proxyChunks[c] = p
        }
        proxyChunks[c]![Int(id & UInt32(ConnectionTable.chunkSize - 1))] = e
    }

    // MARK: hashing

    /// The bucket of a key: a keyed mix (two secret 64-bit keys, one before and one after the
    /// multiplications) of the protocol, port and address; the top bits pick the bucket.
    @inline(__always) @_spi(Testing) public func bucket(_ proto: UInt8, _ a: RawAddress, _ port: UInt16) -> Int {
        var h = seed ^ (UInt64(proto) << 16 | UInt64(port))
        h = (h ^ a.high) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        h = (h ^ a.low ^ seed2) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 31
        h = (h ^ seed2.byteSwapped) &* 0x1656_67B1_9E37_79F9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h >> UInt64(64 - bucketBits))
    }

    /// Entries in the chain a key hashes to, counted up to `limit`.
    @inline(__always) public func chainLength(_ proto: UInt8, _ a: RawAddress, _ port: UInt16, limit: Int) -> Int {
        var n = 0
        var ref = buckets[bucket(proto, a, port)]
        while ref != ConnectionTable.none && n < limit {
            n += 1
            ref = next(of: ref)
        }
        return n
    }

    /// True when a new entry under this key may join its chain (`maxChain`).
    @inline(__always) public func chainHasRoom(_ proto: UInt8, _ a: RawAddress, _ port: UInt16) -> Bool {
        chainLength(proto, a, port, limit: maxChain) < maxChain
    }

    @inline(__always) private func next(of ref: UInt32) -> UInt32 {
        let r = pointer(ref >> 1)
        return ref & 1 == 0 ? r.pointee.inNext : r.pointee.outNext
    }

    @inline(__always) private func setNext(of ref: UInt32, _ v: UInt32) {
        let r = pointer(ref >> 1)
        if ref & 1 == 0 { r.pointee.inNext = v } else { r.pointee.outNext = v }
    }

    private func insert(ref: UInt32, bucket b: Int) {
        setNext(of: ref, buckets[b])
        buckets[b] = ref
        entriesHashed += 1
        if entriesHashed > (1 << bucketBits) && bucketBits < 30 { grow() }
    }

    private func remove(ref: UInt32, bucket b: Int) {
        var prev = ConnectionTable.none
        var cur = buckets[b]
        while cur != ConnectionTable.none {
            if cur == ref {
                let n = next(of: cur)
                if prev == ConnectionTable.none { buckets[b] = n } else { setNext(of: prev, n) }
                entriesHashed -= 1
                return
            }
            prev = cur
            cur = next(of: cur)
        }
    }

    private func grow() {
        let oldBits = bucketBits
        let old = buckets
        bucketBits += 1
        buckets = .allocate(capacity: 1 << bucketBits)
        buckets.initialize(repeating: ConnectionTable.none, count: 1 << bucketBits)
        entriesHashed = 0
        var refs: [UInt32] = []
        for b in 0..<(1 << oldBits) {
            var cur = old[b]
            while cur != ConnectionTable.none {
                refs.append(cur)
                cur = next(of: cur)
            }
        }
        old.deallocate()
        // Re-insert in reverse so each chain keeps its newest-first order.
        for ref in refs.reversed() {
            let r = pointer(ref >> 1).pointee
            let b =
                ref & 1 == 0
                ? bucket(r.protocolNumber, r.client, r.clientPort) : bucket(r.protocolNumber, r.local, r.localPort)
            setNext(of: ref, buckets[b])
            buckets[b] = ref
            entriesHashed += 1
        }
    }

    /// Enters a record under its client key (newest first in its chain, as `hlist_add_head`).
    @_spi(Testing) public func hashIn(_ id: UInt32) {
        let r = pointer(id)
        insert(ref: id << 1, bucket: bucket(r.pointee.protocolNumber, r.pointee.client, r.pointee.clientPort))
        r.pointee.flags.insert(.hashedIn)
    }

    /// Enters a FULLNAT record under its local key.
    @_spi(Testing) public func hashOut(_ id: UInt32) {
        let r = pointer(id)
        insert(ref: id << 1 | 1, bucket: bucket(r.pointee.protocolNumber, r.pointee.local, r.pointee.localPort))
        r.pointee.flags.insert(.hashedOut)
    }

    /// Removes a record from the lookup table.
    @_spi(Testing) public func unhash(_ id: UInt32) {
        let r = pointer(id)
        if r.pointee.flags.contains(.hashedIn) {
            remove(ref: id << 1, bucket: bucket(r.pointee.protocolNumber, r.pointee.client, r.pointee.clientPort))
            r.pointee.flags.remove(.hashedIn)
        }
        if r.pointee.flags.contains(.hashedOut) {
            remove(ref: id << 1 | 1, bucket: bucket(r.pointee.protocolNumber, r.pointee.local, r.pointee.localPort))
            r.pointee.flags.remove(.hashedOut)
        }
    }

    // MARK: lookups

    /// The connection of a client → VIP packet (`ip_vs_conn_in_get`), or `none`.
    public func lookupIn(
        protocol proto: UInt8, family: AddressFamily, client: RawAddress, clientPort: UInt16, virtual: RawAddress,
        virtualPort: UInt16
    ) -> UInt32 {
        firstHashedIn(bucket: bucket(proto, client, clientPort)) { r in
            r.pointee.clientPort == clientPort && r.pointee.virtualPort == virtualPort && r.pointee.client == client
                && r.pointee.virtual == virtual && r.pointee.protocolNumber == proto
                && r.pointee.familyRaw == family.rawValue && !r.pointee.flags.contains(.template)
        }
    }

    /// A persistence template (`ip_vs_ct_in_get`), or `none`. With `engineData` (a persistence
    /// engine's key, e.g. a SIP Call-ID digest) only templates with the same data match
    /// (`ct_match`); without it, any template with the key matches.
    public func lookupTemplate(
        protocol proto: UInt8, family: AddressFamily, client: RawAddress, virtual: RawAddress, virtualPort: UInt16,
        engineData: RawAddress? = nil
    ) -> UInt32 {
        firstHashedIn(bucket: bucket(proto, client, 0)) { r in
            r.pointee.flags.contains(.template) && r.pointee.clientPort == 0 && r.pointee.virtualPort == virtualPort
                && r.pointee.client == client && r.pointee.virtual == virtual && r.pointee.protocolNumber == proto
                && r.pointee.familyRaw == family.rawValue
                && (engineData == nil
                    || (r.pointee.flags.contains(.persistenceData) && r.pointee.local == engineData!))
        }
    }

    /// The first record of bucket `b`'s chain, hashed under its client key, that `match`
    /// accepts, or `none`.
    @inline(__always)
    private func firstHashedIn(bucket b: Int, where match: (UnsafeMutablePointer<ConnectionRecord>) -> Bool) -> UInt32 {
        var ref = buckets[b]
        while ref != ConnectionTable.none {
            let r = pointer(ref >> 1)
            if ref & 1 == 0 && match(r) { return ref >> 1 }
            ref = ref & 1 == 0 ? r.pointee.inNext : r.pointee.outNext
        }
        return ConnectionTable.none
    }

    /// The connection of a real server → client packet (`ip_vs_conn_out_get`): a NAT reply whose
    /// destination is the client, or a FULLNAT reply whose destination is the local address. Only
    /// masquerade and FULLNAT connections match (`ip_vs_out_hook` ignores other methods). With
    /// `family`, only connections whose real server is of that family match.
    public func lookupOut(
        protocol proto: UInt8, source: RawAddress, sourcePort: UInt16, destination: RawAddress, destinationPort: UInt16,
        family: AddressFamily? = nil
    ) -> UInt32 {
        var ref = buckets[bucket(proto, destination, destinationPort)]
        while ref != ConnectionTable.none {
            let r = pointer(ref >> 1)
            if r.pointee.destinationPort == sourcePort && r.pointee.destination == source
                && r.pointee.protocolNumber == proto && !r.pointee.flags.contains(.template)
                && (family == nil || r.pointee.destinationFamilyRaw == family!.rawValue)
            {
                if ref & 1 == 0 {
                    if r.pointee.clientPort == destinationPort && r.pointee.client == destination
                        && r.pointee.forwardingCode == 0
                    {
                        return ref >> 1
                    }
                } else if r.pointee.localPort == destinationPort && r.pointee.local == destination {
                    return ref >> 1
                }
            }
            ref = ref & 1 == 0 ? r.pointee.inNext : r.pointee.outNext
        }
        return ConnectionTable.none
    }

    /// Every hashed record, bucket by bucket (the order `/proc/net/ip_vs_conn` walks).
    public func forEachHashed(_ body: (UInt32) -> Void) {
        for b in 0..<(1 << bucketBits) { forEachHashed(bucket: b, body) }
    }

    /// The records hashed under their client key in bucket `b` (for walks done in steps).
    public func forEachHashed(bucket b: Int, _ body: (UInt32) -> Void) {
        guard b >= 0 && b < (1 << bucketBits) else { return }
        var ref = buckets[b]
        while ref != ConnectionTable.none {
            let n = next(of: ref)
            if ref & 1 == 0 { body(ref >> 1) }
            ref = n
        }
    }

    // MARK: timers

    @inline(__always) private func slot(_ tick: UInt32) -> UInt16 {
        UInt16(tick & UInt32(ConnectionTable.wheelSize - 1))
    }

    private func wheelLink(_ id: UInt32, slot s: UInt16) {
        let r = pointer(id)
        let head = wheel[Int(s)]
        r.pointee.wheelNext = head
        r.pointee.wheelPrev = ConnectionTable.none
        if head != ConnectionTable.none { pointer(head).pointee.wheelPrev = id }
        wheel[Int(s)] = id
        r.pointee.wheelSlot = s
    }

    /// Takes a record off the wheel.
    @_spi(Testing) public func wheelUnlink(_ id: UInt32) {
        let r = pointer(id)
        let s = r.pointee.wheelSlot
        if s == ConnectionTable.notInWheel { return }
        if s == ConnectionTable.inScratch {
            r.pointee.wheelSlot = ConnectionTable.notInWheel
            return
        }
        let p = r.pointee.wheelPrev
        let n = r.pointee.wheelNext
        if p == ConnectionTable.none { wheel[Int(s)] = n } else { pointer(p).pointee.wheelNext = n }
        if n != ConnectionTable.none { pointer(n).pointee.wheelPrev = p }
        r.pointee.wheelSlot = ConnectionTable.notInWheel
    }

    /// Sets a record's expiry (`mod_timer`). Moving it later is free (the wheel re-files it when
    /// its old slot comes round); moving it earlier re-files it now.
    @inline(__always) @_spi(Testing) public func arm(_ id: UInt32, expires: UInt32) {
        let r = pointer(id)
        r.pointee.expires = expires
        let s = r.pointee.wheelSlot
        if s == ConnectionTable.inScratch { return }
        if s != ConnectionTable.notInWheel {
            let visit = cursor &+ ((UInt32(s) &- cursor) & UInt32(ConnectionTable.wheelSize - 1))
            if ConnectionTable.notAfter(visit, expires) { return }
            let target = ConnectionTable.notAfter(expires, cursor) ? cursor : expires
            if slot(target) == s { return }
            wheelUnlink(id)
            wheelLink(id, slot: slot(target))
            return
        }
        let target = ConnectionTable.notAfter(expires, cursor) ? cursor : expires
        wheelLink(id, slot: slot(target))
    }

    /// Starts the wheel's clock at `now` if it has not started.
    @_spi(Testing) public func startClock(_ now: UInt32) {
        if !cursorStarted {
            cursor = now
            cursorStarted = true
        }
    }

    /// Runs every timer due up to `now`, calling `expire(id, tick)` for each record whose expiry has
    /// come, with the tick it was due. The handler may re-arm, unhash or free records. Timers fire in
    /// tick order, except after a jump of more than one wheel revolution (≈ 275 s), when the
    /// overdue ones fire in slot order.
    @_spi(Testing) public func advance(to now: UInt32, expire: (UInt32, UInt32) -> Void) {
        startClock(now)
        if Int32(bitPattern: now &- cursor) >= Int32(ConnectionTable.wheelSize) {
            cursor = now &- UInt32(ConnectionTable.wheelSize - 1)
        }
        while ConnectionTable.notAfter(cursor, now) {
            let s = slot(cursor)
            if wheel[Int(s)] != ConnectionTable.none {
                scratch.removeAll(keepingCapacity: true)
                var id = wheel[Int(s)]
                while id != ConnectionTable.none {
                    scratch.append(id)
                    let r = pointer(id)
                    let n = r.pointee.wheelNext
                    r.pointee.wheelSlot = ConnectionTable.inScratch
                    id = n
                }
                wheel[Int(s)] = ConnectionTable.none
                let tick = cursor
                cursor &+= 1  // entries re-filed now go to later slots
                for id in scratch where pointer(id).pointee.wheelSlot == ConnectionTable.inScratch {
                    let r = pointer(id)
                    r.pointee.wheelSlot = ConnectionTable.notInWheel
                    if ConnectionTable.notAfter(r.pointee.expires, tick) {
                        // Late only after a jump of more than a revolution: report the due tick.
                        expire(id, r.pointee.expires)
                    } else {
                        arm(id, expires: r.pointee.expires)
                    }
                }
            } else {
                cursor &+= 1
            }
        }
    }
}

/// The SYN proxy's state of one connection (`LVSPacket.SynProxyConnection` packed).
public struct SynProxyEntry: Hashable, Sendable {
    public var packed: UInt16 = 0
    public var sequenceDelta: UInt32 = 0
    public var timestampDelta: UInt32 = 0

    public init(packed: UInt16 = 0, sequenceDelta: UInt32 = 0, timestampDelta: UInt32 = 0) {
        self.packed = packed
        self.sequenceDelta = sequenceDelta
        self.timestampDelta = timestampDelta
    }
}
