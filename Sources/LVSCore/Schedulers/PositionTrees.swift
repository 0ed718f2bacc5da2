// Index trees over a service's real-server list that let schedulers answer in O(log n) what the
// kernel finds by an O(n) scan, with the same first-in-list tie-breaking. Storage is unmanaged
// (the owning scheduler frees it) so the packet path reads it without reference counting.

/// Unmanaged storage for a complete binary tree of `2 * leafCount` nodes (node 1 is the root).
struct TreeStorage<Element> {
    private(set) var leafCount = 0
    private(set) var nodes: UnsafeMutablePointer<Element>? = nil

    /// Resizes for `count` leaves (rounded up to a power of two), every node set to `fill`.
    mutating func reset(count: Int, fill: Element) {
        var n = 1
        while n < count { n <<= 1 }
        if n != leafCount || nodes == nil {
            release()
            nodes = .allocate(capacity: 2 * n)
            nodes!.initialize(repeating: fill, count: 2 * n)
            leafCount = n
        } else {
            nodes!.update(repeating: fill, count: 2 * n)
        }
    }

    /// Rebuilds for `count` positions with `value(p)` at each leaf (the rest `fill`) and
    /// `combine` of its children at each inner node.
    mutating func rebuild(
        count: Int, fill: Element, _ value: (Int) -> Element, combine: (Element, Element) -> Element
    ) {
        reset(count: max(count, 1), fill: fill)
        let nodes = nodes!
        let n = leafCount
        for p in 0..<count { nodes[n + p] = value(p) }
        var i = n - 1
        while i >= 1 {
            nodes[i] = combine(nodes[2 * i], nodes[2 * i + 1])
            i -= 1
        }
    }

    /// Frees the storage.
    mutating func release() {
        if let p = nodes {
            p.deinitialize(count: 2 * leafCount)
            p.deallocate()
        }
        nodes = nil
        leafCount = 0
    }
}

/// A max tree over list positions: each leaf holds a value (an "effective weight"), each inner node
/// the maximum of its children. Answers "first position ≥ p whose value ≥ x".
struct MaxTree {
    private var storage = TreeStorage<Int32>()
    var leafCount: Int { storage.leafCount }

    /// Rebuilds the tree for `count` positions with `value(p)` at each.
    mutating func rebuild(count: Int, _ value: (Int) -> Int32) {
        storage.rebuild(count: count, fill: 0, value, combine: max)
    }

    /// Sets the value at position `p`.
    func set(_ p: Int, _ v: Int32) {
        let nodes = storage.nodes!
        var i = storage.leafCount + p
        if nodes[i] == v { return }
        nodes[i] = v
        i >>= 1
        while i >= 1 {
            let m = max(nodes[2 * i], nodes[2 * i + 1])
            if nodes[i] == m { break }
            nodes[i] = m
            i >>= 1
        }
    }

    /// The value at position `p`.
    func value(_ p: Int) -> Int32 { storage.nodes![storage.leafCount + p] }

    /// The largest value in the tree.
    var maximum: Int32 { storage.nodes![1] }

    /// The first position in `from...through` whose value is ≥ `x`, or -1. Iterative: climb from
    /// the leaf to the first right-hand subtree that holds such a value, then descend into it.
    @inline(__always)
    func first(atLeast x: Int32, from: Int, through: Int) -> Int {
        let nodes = storage.nodes!
        let leaves = storage.leafCount
        if from > through || from >= leaves || nodes[1] < x { return -1 }
        var i = leaves + from
        if nodes[i] < x {
            while true {
                while i & 1 == 1 {
                    i >>= 1
                    if i <= 1 { return -1 }
                }
                i += 1
                if nodes[i] >= x { break }
            }
            while i < leaves { i = nodes[2 * i] >= x ? 2 * i : 2 * i + 1 }
        }
        let p = i - leaves
        return p <= through ? p : -1
    }

    mutating func release() { storage.release() }
}

/// A sum tree over list positions: answers "first position whose prefix sum ≥ r" (twos).
struct SumTree {
    private var storage = TreeStorage<Int64>()

    mutating func rebuild(count: Int, _ value: (Int) -> Int64) {
        storage.rebuild(count: count, fill: 0, value, combine: +)
    }

    func set(_ p: Int, _ v: Int64) {
        let nodes = storage.nodes!
        var i = storage.leafCount + p
        let delta = v - nodes[i]
        if delta == 0 { return }
        while i >= 1 {
            nodes[i] += delta
            i >>= 1
        }
    }

    var total: Int64 { storage.nodes![1] }

    /// The first position whose prefix sum (inclusive) is ≥ `r` (r ≥ 1), or -1.
    @inline(__always)
    func first(prefixAtLeast r: Int64) -> Int {
        let n = storage.nodes!
        if r > n[1] { return -1 }
        var i = 1
        var remaining = r
        let leaves = storage.leafCount
        while i < leaves {
            // Branch-free: a mispredicted branch per level would cost more than the level itself.
            let left = n[2 &* i]
            let right = (left &- remaining) >> 63  // -1 when left < remaining, else 0
            remaining &-= left & right
            i = 2 &* i &+ Int(right & 1)
        }
        return i &- leaves
    }

    mutating func release() { storage.release() }
}

/// A tournament tree over list positions holding, at each node, the best slot of its range (-1 for
/// none). `better(b, a)` says whether `b` (later in the list) strictly beats `a`; ties keep the
/// earlier one, exactly like the kernel's "replace only when strictly better" scans.
struct BestTree {
    private var storage = TreeStorage<Int32>()

    @inline(__always)
    private static func combine(_ a: Int32, _ b: Int32, _ better: (Int32, Int32) -> Bool) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        return better(b, a) ? b : a
    }

    @inline(__always)
    mutating func rebuild(count: Int, leaf: (Int) -> Int32, better: (Int32, Int32) -> Bool) {
        storage.reset(count: max(count, 1), fill: -1)
        let nodes = storage.nodes!
        let n = storage.leafCount
        for p in 0..<count { nodes[n + p] = leaf(p) }
        var i = n - 1
        while i >= 1 {
            nodes[i] = BestTree.combine(nodes[2 * i], nodes[2 * i + 1], better)
            i -= 1
        }
    }

    /// Sets the leaf at position `p` (a slot, or -1 if that server is not a candidate) and
    /// recomputes its ancestors.
    @inline(__always)
    func update(_ p: Int, leaf: Int32, better: (Int32, Int32) -> Bool) {
        let nodes = storage.nodes!
        var i = storage.leafCount + p
        nodes[i] = leaf
        i >>= 1
        while i >= 1 {
            nodes[i] = BestTree.combine(nodes[2 * i], nodes[2 * i + 1], better)
            i >>= 1
        }
    }

    /// The best slot of the whole list, or -1.
    var best: Int32 { storage.nodes![1] }

    mutating func release() { storage.release() }
}
