// Remembers first fragments so later fragments of the same datagram reach the same real server.
import LVSCore

/// Tracks fragmented datagrams by (source, destination, protocol, ID). The first fragment carries
/// the ports and is scheduled like any packet; the data plane records it with a value of its
/// choice (e.g. the connection's slot). Later fragments have no ports: they are matched here by
/// fragment ID for a short time and get the first fragment's ports and value back.
///
/// Fixed size, allocated once: 4-way set-associative, entries expire by `Timestamp`. When a set is
/// full of live entries the oldest is evicted and `overflows` counts it (its later fragments then
/// drop as `.untrackedFragment`).
public struct FragmentTracker: Sendable {
    /// What a first fragment left for its later fragments.
    public struct Match: Equatable, Sendable {
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        /// The value given to `recordFirst`.
        public var value: UInt64

        @inlinable
        public init(sourcePort: UInt16, destinationPort: UInt16, value: UInt64) {
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
            self.value = value
        }
    }

    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var srcHigh: UInt64 = 0
        @usableFromInline var srcLow: UInt64 = 0
        @usableFromInline var dstHigh: UInt64 = 0
        @usableFromInline var dstLow: UInt64 = 0
        @usableFromInline var id: UInt32 = 0
        @usableFromInline var proto: UInt8 = 0
        @usableFromInline var isIPv6 = false
        @usableFromInline var sourcePort: UInt16 = 0
        @usableFromInline var destinationPort: UInt16 = 0
        @usableFromInline var value: UInt64 = 0
        /// Expiry in nanoseconds; 0 = empty.
        @usableFromInline var expires: UInt64 = 0

        @inlinable init() {}
    }

    @usableFromInline var entries: [Entry]
    @usableFromInline let setMask: Int
    @usableFromInline let timeoutNanoseconds: UInt64
    @usableFromInline var overflowCount: UInt64 = 0

    /// Entries evicted while still live.
    public var overflows: UInt64 { overflowCount }

    /// The ways per set.
    public static let ways = 4

    /// A tracker for about `capacity` datagrams (rounded up to a power of two, at least 4) whose
    /// entries live `timeout` after their first fragment (default 2 s).
    public init(capacity: Int = 4096, timeout: Duration = .seconds(2)) {
        var n = Self.ways
        while n < capacity { n <<= 1 }
        entries = [Entry](repeating: Entry(), count: n)
        setMask = n / Self.ways - 1
        let c = timeout.components
        timeoutNanoseconds = UInt64(max(1, c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000))
    }

    /// The number of entries.
    public var capacity: Int { entries.count }

    @inlinable @inline(__always)
    func set(sh: UInt64, sl: UInt64, dh: UInt64, dl: UInt64, id: UInt32, proto: UInt8) -> Int {
        var h = sh ^ (sl &* 0x9E37_79B9_7F4A_7C15) ^ (dh &* 0xC2B2_AE3D_27D4_EB4F) ^ dl
        h ^= UInt64(id) << 8 | UInt64(proto)
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        return (Int(truncatingIfNeeded: h) & setMask) &* Self.ways
    }

    @inlinable @inline(__always)
    static func matches(
        _ e: Entry, _ sh: UInt64, _ sl: UInt64, _ dh: UInt64, _ dl: UInt64, _ id: UInt32, _ proto: UInt8, _ v6: Bool
    ) -> Bool {
        e.id == id && e.srcLow == sl && e.dstLow == dl && e.srcHigh == sh && e.dstHigh == dh && e.proto == proto
            && e.isIPv6 == v6
    }

    /// Records a first fragment (`info.isFirstFragment`, ports read) with `value`. Returns false
    /// if a live entry had to be evicted (counted in `overflows`; count `.fragmentTrackerOverflow`).
    @inlinable @discardableResult
    public mutating func recordFirst(_ info: PacketInfo, value: UInt64, now: Timestamp) -> Bool {
        let (sh, sl, dh, dl) = (info.srcHigh, info.srcLow, info.dstHigh, info.dstLow)
        let base = set(sh: sh, sl: sl, dh: dh, dl: dl, id: info.fragmentID, proto: info.protocolNumber)
        let t = now.nanoseconds
        var victim = base
        var oldest = UInt64.max
        var evicted = false
        entries.withUnsafeMutableBufferPointer { e in
            for i in base..<(base &+ Self.ways) {
                let x = e[i]
                if x.expires > t && Self.matches(x, sh, sl, dh, dl, info.fragmentID, info.protocolNumber, info.isIPv6) {
                    victim = i
                    oldest = 0
                    break
                }
                if x.expires <= t {
                    if oldest != 0 {
                        victim = i
                        oldest = 0
                    }
                } else if x.expires < oldest {
                    victim = i
                    oldest = x.expires
                }
            }
            evicted = oldest != 0
            var n = Entry()
            n.srcHigh = sh
            n.srcLow = sl
            n.dstHigh = dh
            n.dstLow = dl
            n.id = info.fragmentID
            n.proto = info.protocolNumber
            n.isIPv6 = info.isIPv6
            n.sourcePort = info.sourcePort
            n.destinationPort = info.destinationPort
            n.value = value
            n.expires = t &+ timeoutNanoseconds
            e[victim] = n
        }
        if evicted { overflowCount &+= 1 }
        return !evicted
    }

    /// The first fragment's ports and value for a later fragment, or nil if none is tracked
    /// (count `.untrackedFragment`).
    @inlinable
    public func lookup(_ info: PacketInfo, now: Timestamp) -> Match? {
        let (sh, sl, dh, dl) = (info.srcHigh, info.srcLow, info.dstHigh, info.dstLow)
        let base = set(sh: sh, sl: sl, dh: dh, dl: dl, id: info.fragmentID, proto: info.protocolNumber)
        let t = now.nanoseconds
        return entries.withUnsafeBufferPointer { e -> Match? in
            for i in base..<(base &+ Self.ways) {
                let x = e[i]
                if x.expires > t && Self.matches(x, sh, sl, dh, dl, info.fragmentID, info.protocolNumber, info.isIPv6) {
                    return Match(sourcePort: x.sourcePort, destinationPort: x.destinationPort, value: x.value)
                }
            }
            return nil
        }
    }

    /// For a later fragment: fills `info`'s ports from its first fragment and returns the recorded
    /// value, so the fragment is looked up and forwarded like the first one. Nil if untracked.
    @inlinable
    public func resolve(_ info: inout PacketInfo, now: Timestamp) -> UInt64? {
        guard info.isLaterFragment, let m = lookup(info, now: now) else { return nil }
        info.sourcePort = m.sourcePort
        info.destinationPort = m.destinationPort
        info.hasPorts = true
        return m.value
    }

    /// The number of live entries at `now` (a scan; for tests and metrics, not the hot path).
    public func liveCount(now: Timestamp) -> Int {
        entries.reduce(0) { $0 + ($1.expires > now.nanoseconds ? 1 : 0) }
    }
}
