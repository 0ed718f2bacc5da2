// Index trees over a service's real-server list that let schedulers answer in O(log n) what the
// kernel finds by an O(n) scan, with the same first-in-list tie-breaking.

/// A max tree over list positions: each leaf holds a value (an "effective weight"), each inner node
/// the maximum of its children. Answers "first position ≥ p whose value ≥ x".
struct MaxTree {
    private(set) var leafCount = 1
    private var nodes: [Int32] = [0, 0]

    /// Rebuilds the tree for `count` positions with `value(p)` at each.
    mutating func rebuild(count: Int, _ value: (Int) -> Int32) {
        var n = 1
        while n < count { n <<= 1 }
        leafCount = n
        nodes = [Int32](repeating: 0, count: 2 * n)
        for p in 0..<count { nodes[n + p] = value(p) }
        var i = n - 1
        while i >= 1 {
            nodes[i] = max(nodes[2 * i], nodes[2 * i + 1])
            i -= 1
        }
    }

    /// Sets the value at position `p`.
    mutating func set(_ p: Int, _ v: Int32) {
        var i = leafCount + p
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
    func value(_ p: Int) -> Int32 { nodes[leafCount + p] }

    /// The largest value in the tree.
    var maximum: Int32 { nodes[1] }

    /// The first position in `from...through` whose value is ≥ `x`, or -1.
    func first(atLeast x: Int32, from: Int, through: Int) -> Int {
        if from > through || nodes[1] < x { return -1 }
        return search(node: 1, lo: 0, hi: leafCount - 1, from: from, through: through, x: x)
    }

    private func search(node: Int, lo: Int, hi: Int, from: Int, through: Int, x: Int32) -> Int {
        if hi < from || lo > through || nodes[node] < x { return -1 }
        if lo == hi { return lo }
        let mid = (lo + hi) >> 1
        let left = search(node: 2 * node, lo: lo, hi: mid, from: from, through: through, x: x)
        if left >= 0 { return left }
        return search(node: 2 * node + 1, lo: mid + 1, hi: hi, from: from, through: through, x: x)
    }
}

/// A sum tree over list positions: answers "first position whose prefix sum ≥ r" (twos).
struct SumTree {
    private(set) var leafCount = 1
    private var nodes: [Int64] = [0, 0]

    mutating func rebuild(count: Int, _ value: (Int) -> Int64) {
        var n = 1
        while n < count { n <<= 1 }
        leafCount = n
        nodes = [Int64](repeating: 0, count: 2 * n)
        for p in 0..<count { nodes[n + p] = value(p) }
        var i = n - 1
        while i >= 1 {
            nodes[i] = nodes[2 * i] + nodes[2 * i + 1]
            i -= 1
        }
    }

    mutating func set(_ p: Int, _ v: Int64) {
        var i = leafCount + p
        let delta = v - nodes[i]
        if delta == 0 { return }
        while i >= 1 {
            nodes[i] += delta
            i >>= 1
        }
    }

    var total: Int64 { nodes[1] }

    /// The first position whose prefix sum (inclusive) is ≥ `r` (r ≥ 1), or -1.
    func first(prefixAtLeast r: Int64) -> Int {
        if r > nodes[1] { return -1 }
        var i = 1
        var remaining = r
        while i < leafCount {
            if nodes[2 * i] >= remaining {
                i = 2 * i
            } else {
                remaining -= nodes[2 * i]
                i = 2 * i + 1
            }
        }
        return i - leafCount
    }
}

/// A tournament tree over list positions holding, at each node, the best slot of its range (-1 for
/// none). `better(b, a)` says whether `b` (later in the list) strictly beats `a`; ties keep the
/// earlier one, exactly like the kernel's "replace only when strictly better" scans.
struct BestTree {
    private(set) var leafCount = 1
    private var nodes: [Int32] = [-1, -1]

    @inline(__always)
    private static func combine(_ a: Int32, _ b: Int32, _ better: (Int32, Int32) -> Bool) -> Int32 {
        if a < 0 { return b }
        if b < 0 { return a }
        return better(b, a) ? b : a
    }

    @inline(__always)
    mutating func rebuild(count: Int, leaf: (Int) -> Int32, better: (Int32, Int32) -> Bool) {
        var n = 1
        while n < count { n <<= 1 }
        leafCount = n
        nodes = [Int32](repeating: -1, count: 2 * n)
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
    mutating func update(_ p: Int, leaf: Int32, better: (Int32, Int32) -> Bool) {
        var i = leafCount + p
        nodes[i] = leaf
        i >>= 1
        while i >= 1 {
            nodes[i] = BestTree.combine(nodes[2 * i], nodes[2 * i + 1], better)
            i >>= 1
        }
    }

    /// The best slot of the whole list, or -1.
    var best: Int32 { nodes[1] }
}
