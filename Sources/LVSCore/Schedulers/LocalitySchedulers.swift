// lblc and lblcr: locality-based least connection, with and without replication
// (K:ip_vs_lblc.c, K:ip_vs_lblcr.c).

/// The cache table of lblc/lblcr: 1024 buckets of entries keyed by destination address,
/// `hash_32(ntohl(addr), 10)`, each bucket newest-first, at most 16384 entries before the
/// periodic cleanup trims idle ones.
struct LocalityCache<Value> {
    struct Entry {
        var address: IPAddress
        var value: Value
        var lastUse: Timestamp
    }
    static var bits: Int { 10 }
    var buckets = [[Entry]](repeating: [], count: 1 << 10)
    var count = 0
    /// Where the partial cleanup resumes (`tbl->rover`).
    var rover = 0
    /// Runs since the last full cleanup (`tbl->counter`, starts at 1).
    var counter = 1

    static func bucket(_ a: IPAddress) -> Int { Int(hash32(a.folded32, bits: bits)) }

    func find(_ a: IPAddress) -> (Int, Int)? {
        let b = Self.bucket(a)
        guard let i = buckets[b].firstIndex(where: { $0.address == a }) else { return nil }
        return (b, i)
    }

    mutating func insert(_ e: Entry) {
        buckets[Self.bucket(e.address)].insert(e, at: 0)
        count += 1
    }

    /// The periodic check (`ip_vs_lblc_check_expire`): every 30th run drops entries idle for
    /// `expiration`; otherwise, only when over `maxSize`, drops entries idle ≥ 6 minutes until
    /// `(count − max)·4/3` (at most max/2) are gone, resuming where the last pass stopped.
    mutating func periodic(now: Timestamp, expiration: Duration, maxSize: Int, drop: (Value) -> Void) {
        let mask = buckets.count - 1
        if counter % 30 == 0 {
            var j = rover
            for _ in 0..<buckets.count {
                j = (j + 1) & mask
                buckets[j].removeAll { e in
                    if now < e.lastUse + expiration { return false }
                    drop(e.value)
                    count -= 1
                    return true
                }
            }
            rover = j
            counter = 1
            return
        }
        if count <= maxSize {
            counter += 1
            return
        }
        var goal = (count - maxSize) * 4 / 3
        if goal > maxSize / 2 { goal = maxSize / 2 }
        var j = rover
        for _ in 0..<buckets.count {
            j = (j + 1) & mask
            buckets[j].removeAll { e in
                if now < e.lastUse + .seconds(6 * 60) { return false }
                drop(e.value)
                count -= 1
                goal -= 1
                return true
            }
            if goal <= 0 { break }
        }
        rover = j
    }
}

/// What lblc and lblcr share: wlc over the whole service as the fallback choice, and lblc's notion
/// of "overloaded" (`active > weight` while some listed server has `2·active < weight`), kept as a
/// count so the check is O(1).
class LocalityScheduler: BestServerScheduler {
    /// Listed servers with `2·active < weight`.
    private var underHalf = 0
    private var isUnderHalf: [Bool] = []

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        recountUnderHalf()
    }

    override func isBetter(_ b: Int32, than a: Int32) -> Bool {
        Int64(store.overhead(a)) * Int64(store.weight(b)) > Int64(store.overhead(b)) * Int64(store.weight(a))
    }

    private func recountUnderHalf() {
        isUnderHalf = members.map { store.activeConnections($0) &* 2 < store.weight($0) }
        underHalf = isUnderHalf.filter { $0 }.count
    }

    private func refreshUnderHalf(_ slot: Int32) {
        guard let p = listPosition(slot) else { return }
        let now = store.activeConnections(slot) &* 2 < store.weight(slot)
        if now != isUnderHalf[p] {
            isUnderHalf[p] = now
            underHalf += now ? 1 : -1
        }
    }

    /// lblc/lblcr's `is_overloaded`.
    final func isLocallyOverloaded(_ slot: Int32) -> Bool {
        store.activeConnections(slot) > store.weight(slot) && underHalf > 0
    }

    override func destinationAdded(_ slot: Int32) {
        super.destinationAdded(slot)
        recountUnderHalf()
    }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) {
        super.destinationRemoved(slot, formerPosition: formerPosition)
        recountUnderHalf()
    }
    override func destinationUpdated(_ slot: Int32) {
        super.destinationUpdated(slot)
        refreshUnderHalf(slot)
    }
    override func loadChanged(_ slot: Int32) {
        super.loadChanged(slot)
        refreshUnderHalf(slot)
    }
}

/// lblc: each destination address maps to one server. The cached server is used while it is
/// listed, has weight > 0 and is not "overloaded" in lblc's sense (`active > weight` while some
/// server of the service has `2·active < weight`); otherwise wlc picks and the entry is
/// overwritten.
final class LocalityBasedLeastConnectionScheduler: LocalityScheduler {
    override class var name: String { "lblc" }
    private var cache = LocalityCache<Int32>()
    var expiration: Duration { service.lblcExpiration }

    /// The cache's references go with it (`ip_vs_lblc_flush` on `done_service`).
    deinit { for bucket in cache.buckets { for e in bucket { store.release(e.value) } } }

    override func periodic(now: Timestamp) {
        cache.periodic(now: now, expiration: expiration, maxSize: 16 * 1024) { store.release($0) }
    }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        if let (b, i) = cache.find(request.destination) {
            cache.buckets[b][i].lastUse = request.now
            let d = cache.buckets[b][i].value
            if store.flags(d).contains(.available) && store.weight(d) > 0 && !isLocallyOverloaded(d) {
                return d
            }
        }
        let d = tree.best
        if d < 0 { return -1 }
        if let (b, i) = cache.find(request.destination) {
            if cache.buckets[b][i].value == d { return d }
            store.release(cache.buckets[b][i].value)
            cache.buckets[b].remove(at: i)
            cache.count -= 1
        }
        store.retain(d)
        cache.insert(.init(address: request.destination, value: d, lastUse: request.now))
        return d
    }
}

/// lblcr: each destination address maps to a set of servers (newest first). The candidate is the
/// set's weighted-least-connection member (listed, weight > 0, not overloaded). A set with more
/// than one member that has not changed for `lblcr_expiration` loses its most loaded member. A
/// missing or (lblc-)overloaded candidate makes wlc pick over the whole service, and the pick
/// joins the set.
final class LocalityBasedLeastConnectionReplicationScheduler: LocalityScheduler {
    override class var name: String { "lblcr" }
    struct ServerSet {
        var members: [Int32] = []
        var lastModified: Timestamp
    }
    private var cache = LocalityCache<ServerSet>()
    var expiration: Duration { service.lblcrExpiration }

    /// The sets' references go with the cache (`ip_vs_lblcr_flush` on `done_service`).
    deinit { for bucket in cache.buckets { for e in bucket { for d in e.value.members { store.release(d) } } } }

    override func periodic(now: Timestamp) {
        cache.periodic(now: now, expiration: expiration, maxSize: 16 * 1024) { set in
            for d in set.members { store.release(d) }
        }
    }

    /// `ip_vs_dest_set_min`.
    private func setMinimum(_ set: ServerSet) -> Int32 {
        var least: Int32 = -1
        var i = 0
        while i < set.members.count {
            let d = set.members[i]
            i += 1
            if store.flags(d).contains(.overload) { continue }
            if store.weight(d) > 0 && store.flags(d).contains(.available) {
                least = d
                break
            }
        }
        if least < 0 { return -1 }
        var loh = Int64(store.overhead(least))
        while i < set.members.count {
            let d = set.members[i]
            i += 1
            if store.flags(d).contains(.overload) { continue }
            let doh = Int64(store.overhead(d))
            if loh * Int64(store.weight(d)) > doh * Int64(store.weight(least))
                && store.flags(d).contains(.available)
            {
                least = d
                loh = doh
            }
        }
        return least
    }

    /// `ip_vs_dest_set_max`.
    private func setMaximum(_ set: ServerSet) -> Int32 {
        var most: Int32 = -1
        var i = 0
        while i < set.members.count {
            let d = set.members[i]
            i += 1
            if store.weight(d) > 0 {
                most = d
                break
            }
        }
        if most < 0 { return -1 }
        var moh = Int64(store.overhead(most))
        while i < set.members.count {
            let d = set.members[i]
            i += 1
            let doh = Int64(store.overhead(d))
            if moh * Int64(store.weight(d)) < doh * Int64(store.weight(most)) && store.weight(d) > 0 {
                most = d
                moh = doh
            }
        }
        return most
    }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let now = request.now
        if let (b, i) = cache.find(request.destination) {
            cache.buckets[b][i].lastUse = now
            let candidate = setMinimum(cache.buckets[b][i].value)
            let set = cache.buckets[b][i].value
            if set.members.count > 1 && now > set.lastModified + expiration {
                let most = setMaximum(set)
                if most >= 0, let k = set.members.firstIndex(of: most) {
                    cache.buckets[b][i].value.members.remove(at: k)
                    cache.buckets[b][i].value.lastModified = now
                    store.release(most)
                }
            }
            if candidate >= 0 && !isLocallyOverloaded(candidate) { return candidate }
            let d = tree.best
            if d < 0 { return -1 }
            if !cache.buckets[b][i].value.members.contains(d) {
                store.retain(d)
                cache.buckets[b][i].value.members.insert(d, at: 0)
                cache.buckets[b][i].value.lastModified = now
            }
            return d
        }
        let d = tree.best
        if d < 0 { return -1 }
        store.retain(d)
        cache.insert(
            .init(address: request.destination, value: ServerSet(members: [d], lastModified: now), lastUse: now))
        return d
    }
}
