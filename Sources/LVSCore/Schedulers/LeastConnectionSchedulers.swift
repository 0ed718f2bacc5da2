// lc, wlc, sed, nq, fo, ovf: the "pick the best server" schedulers (K:ip_vs_lc.c, ip_vs_wlc.c,
// ip_vs_sed.c, ip_vs_nq.c, ip_vs_fo.c, ip_vs_ovf.c), each answered from an index tree.

/// A scheduler whose choice is "the first server in list order that is best by some key among
/// the candidates". Subclasses give the candidate test and the strict "better" relation; the
/// tournament tree then returns exactly what the kernel's linear scan returns.
class BestServerScheduler: Scheduler {
    var tree = BestTree()

    deinit { tree.release() }

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        rebuild()
    }

    /// Whether the server may be chosen at all.
    func isCandidate(_ slot: Int32) -> Bool { store.isEligible(slot) }
    /// Whether `b` (later in the list) strictly beats `a`.
    func isBetter(_ b: Int32, than a: Int32) -> Bool { false }

    final func rebuild() {
        let m = memberSlots
        tree.rebuild(count: memberCount, leaf: { isCandidate(m[$0]) ? m[$0] : -1 }, better: isBetter)
    }

    final func refresh(_ slot: Int32) {
        guard let p = listPosition(slot) else { return }
        tree.update(p, leaf: isCandidate(slot) ? slot : -1, better: isBetter)
    }

    override func destinationAdded(_ slot: Int32) { rebuild() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) { rebuild() }
    override func destinationUpdated(_ slot: Int32) { refresh(slot) }
    override func overloadChanged(_ slot: Int32) { refresh(slot) }
    override func loadChanged(_ slot: Int32) { refresh(slot) }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 { tree.best }
}

/// lc: the smallest overhead (active × 256 + inactive), weight ignored except that weight 0
/// excludes a server; first in list order on a tie.
final class LeastConnectionScheduler: BestServerScheduler {
    override class var name: String { "lc" }
    override func isBetter(_ b: Int32, than a: Int32) -> Bool { store.overhead(b) < store.overhead(a) }
    override func loadChanged(_ slot: Int32) { refresh(slot) }
}

/// wlc (the default): the smallest overhead/weight, compared without division:
/// `oh(a)·w(b) > oh(b)·w(a)` in 64 bits.
final class WeightedLeastConnectionScheduler: BestServerScheduler {
    override class var name: String { "wlc" }
    override func isBetter(_ b: Int32, than a: Int32) -> Bool {
        Int64(store.overhead(a)) * Int64(store.weight(b)) > Int64(store.overhead(b))
            * Int64(store.weight(a))
    }
}

/// sed: the smallest (active + 1)/weight.
final class ShortestExpectedDelayScheduler: BestServerScheduler {
    override class var name: String { "sed" }
    override func isBetter(_ b: Int32, than a: Int32) -> Bool { store.hasShorterExpectedDelay(b, than: a) }
}

/// nq: the first candidate with no active connection; otherwise as sed.
final class NeverQueueScheduler: BestServerScheduler {
    override class var name: String { "nq" }
    private var idle = MaxTree()

    deinit { idle.release() }

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        rebuildIdle()
    }

    private func idleValue(_ slot: Int32) -> Int32 {
        isCandidate(slot) && store.activeConnections(slot) == 0 ? 1 : 0
    }

    private func rebuildIdle() {
        idle.rebuild(count: memberCount) { idleValue(memberSlots[$0]) }
    }

    private func refreshIdle(_ slot: Int32) {
        if let p = listPosition(slot) { idle.set(p, idleValue(slot)) }
    }

    override func isBetter(_ b: Int32, than a: Int32) -> Bool { store.hasShorterExpectedDelay(b, than: a) }

    override func destinationAdded(_ slot: Int32) {
        super.destinationAdded(slot)
        rebuildIdle()
    }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) {
        super.destinationRemoved(slot, formerPosition: formerPosition)
        rebuildIdle()
    }
    override func destinationUpdated(_ slot: Int32) {
        refresh(slot)
        refreshIdle(slot)
    }
    override func overloadChanged(_ slot: Int32) {
        refresh(slot)
        refreshIdle(slot)
    }
    override func loadChanged(_ slot: Int32) {
        refresh(slot)
        refreshIdle(slot)
    }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let p = idle.first(atLeast: 1, from: 0, through: memberCount - 1)
        return p >= 0 ? memberSlots[p] : tree.best
    }
}

extension DestinationStore {
    /// sed's order: `b` beats `a` if (active(b) + 1)/weight(b) < (active(a) + 1)/weight(a),
    /// compared without division in 64 bits.
    func hasShorterExpectedDelay(_ b: Int32, than a: Int32) -> Bool {
        let oa = Int64(activeConnections(a) &+ 1)
        let ob = Int64(activeConnections(b) &+ 1)
        return oa * Int64(weight(b)) > ob * Int64(weight(a))
    }
}

/// fo (weighted failover): the highest weight among candidates, first on a tie.
final class WeightedFailoverScheduler: BestServerScheduler {
    override class var name: String { "fo" }
    override func isBetter(_ b: Int32, than a: Int32) -> Bool { store.weight(b) > store.weight(a) }
    override func loadChanged(_ slot: Int32) {}
}

/// ovf (weighted overflow): the highest weight among candidates that also have
/// active ≤ weight, first on a tie.
final class WeightedOverflowScheduler: BestServerScheduler {
    override class var name: String { "ovf" }
    override func isCandidate(_ slot: Int32) -> Bool {
        store.isEligible(slot) && store.activeConnections(slot) <= store.weight(slot)
    }
    override func isBetter(_ b: Int32, than a: Int32) -> Bool { store.weight(b) > store.weight(a) }
}

/// twos (power of two choices): two weighted random draws `r = prandom % (total + 1)`, each
/// choosing the first candidate where the running weight sum reaches r; the second choice wins
/// if `w2·oh1 > w1·oh2` in the kernel's 32-bit int arithmetic.
final class PowerOfTwoChoicesScheduler: Scheduler {
    override class var name: String { "twos" }
    private var sums = SumTree()

    deinit { sums.release() }

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        rebuild()
    }

    private func rebuild() {
        sums.rebuild(count: memberCount) { Int64(effectiveWeight(store, memberSlots[$0])) }
    }

    private func refresh(_ slot: Int32) {
        if let p = listPosition(slot) { sums.set(p, Int64(effectiveWeight(store, slot))) }
    }

    override func destinationAdded(_ slot: Int32) { rebuild() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) { rebuild() }
    override func destinationUpdated(_ slot: Int32) { refresh(slot) }
    override func overloadChanged(_ slot: Int32) { refresh(slot) }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let total = sums.total
        if total <= 0 { return -1 }
        // `prandom_u32() % (total + 1)`, in 64 bits so that huge weights cannot divide by zero.
        let modulus = UInt64(total) + 1
        let r1 = Int64(UInt64(random.next32()) % modulus)
        let r2 = Int64(UInt64(random.next32()) % modulus)
        let m = memberSlots
        let c1 = m[sums.first(prefixAtLeast: max(r1, 1))]
        let c2 = m[sums.first(prefixAtLeast: max(r2, 1))]
        let w1 = store.weight(c1)
        let w2 = store.weight(c2)
        return Int64(w2) * Int64(store.overhead(c1)) > Int64(w1) * Int64(store.overhead(c2)) ? c2 : c1
    }
}
