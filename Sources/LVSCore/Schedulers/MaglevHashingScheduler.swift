// mh: Maglev hashing with the kernel's table size, keys, weights and fill order (K:ip_vs_mh.c).

/// The kernel's `hsiphash` on 64-bit machines (SipHash-1-3 over one 32-bit word, truncated to
/// 32 bits), as ip_vs_mh hashes `offset + port + ntohl(addr)`.
@_spi(Internals) @inlinable public func hsiphash32(_ value: UInt32, key0: UInt64, key1: UInt64) -> UInt32 {
    var v0: UInt64 = 0x736f_6d65_7073_6575 ^ key0
    var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ key1
    var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ key0
    var v3: UInt64 = 0x7465_6462_7974_6573 ^ key1
    @inline(__always) func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
    @inline(__always) func round() {
        v0 &+= v1
        v1 = rotl(v1, 13)
        v1 ^= v0
        v0 = rotl(v0, 32)
        v2 &+= v3
        v3 = rotl(v3, 16)
        v3 ^= v2
        v0 &+= v3
        v3 = rotl(v3, 21)
        v3 ^= v0
        v2 &+= v1
        v1 = rotl(v1, 17)
        v1 ^= v2
        v2 = rotl(v2, 32)
    }
    let b: UInt64 = (4 << 56) | UInt64(value)
    v3 ^= b
    round()
    v0 ^= b
    v2 ^= 0xff
    round()
    round()
    round()
    return UInt32(truncatingIfNeeded: (v0 ^ v1) ^ (v2 ^ v3))
}

/// mh: a Maglev lookup table of M slots (M = 4093 by default, `CONFIG_IP_VS_MH_TAB_INDEX` 12).
/// Each server's permutation is `offset = h1 % M`, `skip = h2 % (M − 1) + 1` of its address and
/// port; servers take turns in list order, `turns = (last_weight/gcd) >> rshift` slots per round
/// (at least 1), each at its next free permutation position. `last_weight` keeps a quiesced
/// server's share so weight 0 does not reshuffle the table. Lookup hashes the source address
/// (and port with `mh-port`); `mh-fallback` re-hashes with offsets ihash, ihash+1, … until an
/// available server or an empty slot.
final class MaglevHashingScheduler: Scheduler {
    override class var name: String { "mh" }
    static let primes = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071]
    static let key1: UInt64 = 2_654_435_761
    static let key2: UInt64 = 2_654_446_892

    /// The table size M.
    let size: Int
    /// `IP_VS_MH_TAB_BITS` = table index / 2 (6 by default).
    let tableBits: Int
    private(set) var lookup: [Int32]

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        let index = service.mhTableIndex
        size = Self.primes[index - 8]
        tableBits = index / 2
        lookup = [Int32](repeating: -1, count: size)
        super.init(service: service, store: store)
        reassign()
    }

    static func hash(_ v: UInt32, key: UInt64) -> UInt32 { hsiphash32(v, key0: key, key1: key) }

    private static func fls(_ x: Int32) -> Int32 { x == 0 ? 0 : 32 - Int32(x.leadingZeroBitCount) }

    /// Rebuilds the table (`ip_vs_mh_dest_changed` → permutate + populate).
    private func reassign() {
        let m = members
        if m.count > size {
            // The kernel refuses with EINVAL and keeps the old table (whose entries hold references
            // to their servers); ours holds none, so entries of servers no longer listed go empty.
            let listed = Set(m)
            for i in 0..<size where lookup[i] >= 0 && !listed.contains(lookup[i]) { lookup[i] = -1 }
            return
        }
        let (g, maxW) = Self.weightGCDAndMaximum(m) { store.lastWeight($0) }
        if g < 1 {
            for i in 0..<size { lookup[i] = -1 }
            return
        }
        let shift = max(Self.fls(maxW / g) - Int32(tableBits), 0)
        let msize = UInt32(size)
        var perm = [UInt32](repeating: 0, count: m.count)
        var skip = [UInt32](repeating: 0, count: m.count)
        var turns = [Int32](repeating: 0, count: m.count)
        for (i, s) in m.enumerated() {
            let v = UInt32(store.endpoint(s).port) &+ store.endpoint(s).address.folded32
            perm[i] = Self.hash(v, key: Self.key1) % msize
            skip[i] = Self.hash(v, key: Self.key2) % (msize - 1) + 1
            let lw = store.lastWeight(s)
            let t = (lw / g) >> shift
            turns[i] = t != 0 ? t : (lw != 0 ? 1 : 0)
        }
        var taken = [Bool](repeating: false, count: size)
        var n = 0
        var d = 0
        var dtCount: Int32 = 0
        while n < size {
            if d == m.count { d = 0 }
            while d < m.count {
                if turns[d] < 1 {
                    d += 1
                    continue
                }
                var c = Int(perm[d])
                while taken[c] {
                    perm[d] += skip[d]
                    if perm[d] >= msize { perm[d] -= msize }
                    c = Int(perm[d])
                }
                taken[c] = true
                lookup[c] = m[d]
                n += 1
                if n == size { return }
                dtCount += 1
                if dtCount >= turns[d] {
                    dtCount = 0
                    d += 1
                }
            }
        }
    }

    override func destinationAdded(_ slot: Int32) { reassign() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) { reassign() }
    override func destinationUpdated(_ slot: Int32) { reassign() }

    private func key(_ request: SchedulingRequest, offset: UInt32) -> Int {
        let port: UInt16 = service.spec.flags.contains(.scheduler2) && request.transport != nil ? request.sourcePort : 0
        let v = offset &+ UInt32(port) &+ request.source.folded32
        return Int(Self.hash(v, key: Self.key1) % UInt32(size))
    }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let ihash = key(request, offset: 0)
        let first = lookup[ihash]
        if first < 0 { return -1 }
        if store.isEligible(first) { return first }
        guard service.spec.flags.contains(.scheduler1) else { return -1 }
        for offset in 0..<size {
            let slot = lookup[key(request, offset: UInt32((offset + ihash) % size))]
            if slot < 0 { break }
            if store.isEligible(slot) { return slot }
        }
        return -1
    }
}
