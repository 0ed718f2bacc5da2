// rr and wrr: round-robin and weighted round-robin (K:ip_vs_rr.c, K:ip_vs_wrr.c).

/// The effective weight a round-robin walk compares against: 0 when overloaded.
@inline(__always) func effectiveWeight(_ store: DestinationStore, _ slot: Int32) -> Int32 {
    store.flags(slot).contains(.overload) ? 0 : max(store.weight(slot), 0)
}

/// rr: continue from the last server picked to the next one with weight > 0 that is not
/// overloaded, wrapping once. The cursor stays on its server when others are added; when the
/// cursor's server is deleted the cursor moves to its predecessor (`ip_vs_rr_del_dest`).
final class RoundRobinScheduler: Scheduler {
    override class var name: String { "rr" }
    /// The slot of the last server picked, or -1 for the list head.
    private(set) var cursor: Int32 = -1
    private var tree = MaxTree()

    deinit { tree.release() }

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        rebuild()
    }

    private func rebuild() {
        tree.rebuild(count: memberCount) { effectiveWeight(store, memberSlots[$0]) }
    }

    override func destinationAdded(_ slot: Int32) { rebuild() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) {
        if cursor == slot { cursor = formerPosition > 0 ? members[formerPosition - 1] : -1 }
        rebuild()
    }
    override func destinationUpdated(_ slot: Int32) { refresh(slot) }
    override func overloadChanged(_ slot: Int32) { refresh(slot) }

    private func refresh(_ slot: Int32) {
        if let p = listPosition(slot) { tree.set(p, effectiveWeight(store, slot)) }
    }

    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let m = memberSlots
        let last = memberCount - 1
        var found = -1
        if cursor < 0 {
            found = tree.first(atLeast: 1, from: 0, through: last)
        } else {
            let p = Int(store.position(cursor))
            found = tree.first(atLeast: 1, from: p + 1, through: last)
            if found < 0 { found = tree.first(atLeast: 1, from: 0, through: p) }
        }
        if found < 0 { return -1 }
        cursor = m[found]
        return cursor
    }
}

/// wrr: the kernel's weighted round-robin with `cw` (current weight), `mw` (max − (gcd − 1)) and
/// `di` (gcd). Every add, delete or edit moves the cursor back to the head and recomputes di and
/// mw; cw becomes mw when it is above mw or 0, else is aligned to di (`ip_vs_wrr_dest_changed`).
final class WeightedRoundRobinScheduler: Scheduler {
    override class var name: String { "wrr" }
    /// Slot of the current server, or -1 for the list head (`mark->cl`).
    private(set) var cursor: Int32 = -1
    private(set) var cw: Int32 = 0
    private(set) var mw: Int32 = 0
    private(set) var di: Int32 = 1
    private var tree = MaxTree()

    deinit { tree.release() }

    required init(service: VirtualServiceRuntime, store: DestinationStore) {
        super.init(service: service, store: store)
        (di, mw) = weights()
        cw = mw
        rebuildTree()
    }

    /// (gcd of positive weights or 1, max weight − (gcd − 1)).
    private func weights() -> (Int32, Int32) {
        let (g, maxW) = Self.weightGCDAndMaximum(members) { store.weight($0) }
        let d = g > 0 ? g : 1
        return (d, maxW - (d - 1))
    }

    private func rebuildTree() {
        tree.rebuild(count: memberCount) { effectiveWeight(store, memberSlots[$0]) }
    }

    private func changed() {
        cursor = -1
        (di, mw) = weights()
        if cw > mw || cw == 0 {
            cw = mw
        } else if di > 1 {
            cw = (cw / di) * di + 1
        }
        rebuildTree()
    }

    override func destinationAdded(_ slot: Int32) { changed() }
    override func destinationRemoved(_ slot: Int32, formerPosition: Int) { changed() }
    override func destinationUpdated(_ slot: Int32) { changed() }
    override func overloadChanged(_ slot: Int32) {
        if let p = listPosition(slot) { tree.set(p, effectiveWeight(store, slot)) }
    }

    /// `ip_vs_wrr_schedule`: each walk over the list is one tree query; runs of fruitless walks
    /// from the head are skipped in one step (they only lower cw).
    override func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 {
        let m = memberSlots
        if mw == 0 { return -1 }
        let end = memberCount - 1
        let lastPos = cursor < 0 ? -1 : Int(store.position(cursor))  // -1: last is the head
        var from = lastPos + 1
        var stop = -2  // position of `stop`, or -2 for none
        var lastPass = false
        var restarted = false
        while true {
            let through = stop >= 0 ? stop : end
            let hit = tree.first(atLeast: cw, from: from, through: through)
            if hit >= 0 {
                cursor = m[hit]
                return cursor
            }
            if stop >= 0 {
                cursor = m[stop]  // err_over with dest == stop
                return -1
            }
            // The walk reached the end of the list: lower cw.
            if from == 0 && stop < 0 {
                // A whole-list walk found nothing at cw: every walk until cw drops to the tree's
                // maximum, to ≤ di, or to ≤ 0 is equally fruitless. Skip them in one step.
                let floor = max(tree.maximum, di)
                if cw - di > floor {
                    cw -= ((cw - 1 - floor) / di) * di
                }
            }
            cw -= di
            if cw <= 0 {
                cw = mw
                if lastPass || lastPos < 0 {
                    cursor = -1  // err_over at the head
                    return -1
                }
                restarted = true
            }
            lastPass = cw <= di
            if lastPass && restarted && lastPos >= 0 { stop = lastPos }
            from = 0
        }
    }
}
