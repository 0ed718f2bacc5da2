// A fixed-size, direct-mapped cache of egress decisions by destination address: no hashing seed, no growth.
import LVSCore

/// Remembers the egress (interface, next hop MAC, source address) toward recently used
/// destinations.
///
/// A `[IPAddress: Egress]` dictionary cost a seeded SipHash per packet (~3 % of the worker's
/// samples in `bench/RESULTS.md`'s profile) and grew with every client address NAT replies went
/// to. This cache has a fixed number of slots chosen by a multiplicative hash of the address; a
/// collision replaces the slot (the caller recomputes from the kernel tables on a miss).
struct EgressCache {
    static let slotBits = 10
    private var keys: [IPAddress?]
    private var values: [Egress?]

    init() {
        keys = [IPAddress?](repeating: nil, count: 1 << Self.slotBits)
        values = [Egress?](repeating: nil, count: 1 << Self.slotBits)
    }

    @inline(__always)
    static func slot(_ a: IPAddress) -> Int {
        switch a {
        case .v4(let v): return Int((v.value &* 0x9E37_79B1) >> (32 - UInt32(slotBits)))
        case .v6(let v): return Int(((v.high ^ v.low) &* 0x9E37_79B9_7F4A_7C15) >> (64 - UInt64(slotBits)))
        }
    }

    /// The cached egress toward `a`, or nil.
    @inline(__always)
    func lookup(_ a: IPAddress) -> Egress? {
        let i = Self.slot(a)
        return keys[i] == a ? values[i] : nil
    }

    /// Caches `e` as the egress toward `a` (replacing whatever shared its slot).
    mutating func store(_ a: IPAddress, _ e: Egress) {
        let i = Self.slot(a)
        keys[i] = a
        values[i] = e
    }

    /// Forgets everything (the kernel tables changed).
    mutating func removeAll() {
        for i in keys.indices {
            keys[i] = nil
            values[i] = nil
        }
    }
}
