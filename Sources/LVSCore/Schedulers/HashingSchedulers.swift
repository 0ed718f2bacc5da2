// dh and sh: destination and source hashing over 256-bucket tables (K:ip_vs_dh.c, K:ip_vs_sh.c).

/// dh: 256 buckets filled round-robin in list order (weight ignored), rebuilt on add and delete
/// only. Bucket = `hash_32(ntohl(daddr), 8)`. No fallback: an unavailable, weight-0 or
/// overloaded server gives no destination.
final class DestinationHashingScheduler: Scheduler {
    override class var name: String { "dh" }
    static let bits = 8
    private(set) var buckets = [Int32](repeating: -1, count: 1 << 8)

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        reassign()
    }

    private func reassign() {
        let m = members
        for i in 0..<buckets.count { buckets[i] = m.isEmpty ? -1 : m[i % m.count] }
    }

    override func destinationAdded(_ slot: Int32) { reassign() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) { reassign() }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let slot = buckets[Int(hash32(request.destination.folded32, bits: Self.bits))]
        guard slot >= 0, store.flags(slot).contains(.available), store.isEligible(slot) else { return -1 }
        return slot
    }
}

/// sh: `1 << shBits` buckets (default 256); each server in list order takes `weight` consecutive
/// buckets (a weight-0 server still takes one), cycling until full; rebuilt on add, delete and
/// edit. The key is the source address (plus the source port with `sh-port`);
/// `bucket(off) = (off + hash_32(port + ntohl(addr), bits)) & mask`. With `sh-fallback` an
/// unavailable server's bucket is followed by probes at offsets ihash, ihash+1, … (so bucket
/// (2·ihash + i) & mask), stopping at an empty bucket.
final class SourceHashingScheduler: Scheduler {
    override class var name: String { "sh" }
    let bits: Int
    private(set) var buckets: [Int32]

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        bits = service.shTableBits
        buckets = [Int32](repeating: -1, count: 1 << bits)
        super.init(service: service, store: store)
        reassign()
    }

    private func reassign() {
        let m = members
        if m.isEmpty {
            for i in 0..<buckets.count { buckets[i] = -1 }
            return
        }
        var p = 0
        var count: Int32 = 0
        for i in 0..<buckets.count {
            let slot = m[p]
            buckets[i] = slot
            count += 1
            if count >= store.weight(slot) {
                p = (p + 1) % m.count
                count = 0
            }
        }
    }

    override func destinationAdded(_ slot: Int32) { reassign() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) { reassign() }
    override func destinationUpdated(_ slot: Int32) { reassign() }

    private func key(_ request: SchedulingRequest) -> UInt32 {
        let port: UInt16 = service.spec.flags.contains(.scheduler2) && request.transport != nil ? request.sourcePort : 0
        return UInt32(port) &+ request.source.folded32
    }

    @inline(__always) private func available(_ slot: Int32) -> Bool { store.isEligible(slot) }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let mask = UInt32(buckets.count - 1)
        let ihash = hash32(key(request), bits: bits) & mask
        let first = buckets[Int(ihash)]
        if first < 0 { return -1 }
        if available(first) { return first }
        guard service.spec.flags.contains(.scheduler1) else { return -1 }
        for offset in 0..<UInt32(buckets.count) {
            let roffset = (offset &+ ihash) % UInt32(buckets.count)
            let slot = buckets[Int((roffset &+ ihash) & mask)]
            if slot < 0 { break }
            if available(slot) { return slot }
        }
        return -1
    }
}
