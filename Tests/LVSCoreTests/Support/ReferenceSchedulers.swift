// Literal O(n) transcriptions of the kernel's scheduler loops, the oracle for differential tests.
@_spi(Internals) import LVSCore

/// What a reference scheduler sees: the list (slots, head first) and the servers' state.
struct ReferenceView {
    var members: [Int32]
    var store: DestinationStore
    var flags: ServiceFlags

    func w(_ d: Int32) -> Int32 { store.weight(d) }
    func over(_ d: Int32) -> Bool { store.flags(d).contains(.overload) }
    func avail(_ d: Int32) -> Bool { store.flags(d).contains(.available) }
    func oh(_ d: Int32) -> Int32 { store.overhead(d) }
    func act(_ d: Int32) -> Int32 { store.activeConnections(d) }
}

/// A kernel scheduler, written as the kernel's list walk.
protocol ReferenceScheduler {
    mutating func added(_ d: Int32, _ v: ReferenceView)
    mutating func removed(_ d: Int32, formerPosition: Int, _ v: ReferenceView)
    mutating func updated(_ d: Int32, _ v: ReferenceView)
    mutating func schedule(_ r: SchedulingRequest, _ v: ReferenceView, _ random: inout SchedulerRandom) -> Int32
}

extension ReferenceScheduler {
    mutating func added(_ d: Int32, _ v: ReferenceView) {}
    mutating func removed(_ d: Int32, formerPosition: Int, _ v: ReferenceView) {}
    mutating func updated(_ d: Int32, _ v: ReferenceView) {}
}

/// K:ip_vs_rr.c
struct ReferenceRR: ReferenceScheduler {
    var cursor: Int32 = -1  // slot, -1 = head
    mutating func removed(_ d: Int32, formerPosition: Int, _ v: ReferenceView) {
        if cursor == d { cursor = formerPosition > 0 ? v.members[formerPosition - 1] : -1 }
    }
    mutating func schedule(_ r: SchedulingRequest, _ v: ReferenceView, _ random: inout SchedulerRandom) -> Int32 {
        let m = v.members
        let start = cursor < 0 ? 0 : m.firstIndex(of: cursor)! + 1
        var order = Array(m[start...])
        if cursor >= 0 { order += m[..<start] }
        for d in order where !v.over(d) && v.w(d) > 0 {
            cursor = d
            return d
        }
        return -1
    }
}

/// K:ip_vs_wrr.c, including last_pass/restarted/stop.
struct ReferenceWRR: ReferenceScheduler {
    var cl: Int32 = -1
    var cw: Int32 = 0
    var mw: Int32 = 0
    var di: Int32 = 1

    init(_ v: ReferenceView) {
        (di, mw) = Self.weights(v)
        cw = mw
    }

    static func weights(_ v: ReferenceView) -> (Int32, Int32) {
        func gcd(_ a: Int32, _ b: Int32) -> Int32 { b == 0 ? a : gcd(b, a % b) }
        var g: Int32 = 0
        var mx: Int32 = 0
        for d in v.members {
            let w = v.w(d)
            if w > 0 { g = g > 0 ? gcd(w, g) : w }
            if w > mx { mx = w }
        }
        let di = g > 0 ? g : 1
        return (di, mx - (di - 1))
    }

    mutating func changed(_ v: ReferenceView) {
        cl = -1
        (di, mw) = Self.weights(v)
        if cw > mw || cw == 0 { cw = mw } else if di > 1 { cw = (cw / di) * di + 1 }
    }
    mutating func added(_ d: Int32, _ v: ReferenceView) { changed(v) }
    mutating func removed(_ d: Int32, formerPosition: Int, _ v: ReferenceView) { changed(v) }
    mutating func updated(_ d: Int32, _ v: ReferenceView) { changed(v) }

    mutating func schedule(_ r: SchedulingRequest, _ v: ReferenceView, _ random: inout SchedulerRandom) -> Int32 {
        let m = v.members
        if mw == 0 { return -1 }
        let last = cl
        var stop: Int32 = -2
        var lastPass = false
        var restarted = false
        var i = cl < 0 ? 0 : m.firstIndex(of: cl)! + 1
        while true {
            while i < m.count {
                let d = m[i]
                if !v.over(d) && v.w(d) >= cw {
                    cl = d
                    return d
                }
                if d == stop {
                    cl = d
                    return -1
                }
                i += 1
            }
            cw -= di
            if cw <= 0 {
                cw = mw
                if lastPass || last < 0 {
                    cl = -1
                    return -1
                }
                restarted = true
            }
            lastPass = cw <= di
            if lastPass && restarted && last >= 0 { stop = last }
            i = 0
        }
    }
}

/// K:ip_vs_lc.c, wlc, sed, nq, fo, ovf as one walk each.
struct ReferenceLeast: ReferenceScheduler {
    var name: String
    mutating func schedule(_ r: SchedulingRequest, _ v: ReferenceView, _ random: inout SchedulerRandom) -> Int32 {
        let m = v.members
        switch name {
        case "lc":
            var least: Int32 = -1
            for d in m where !(v.over(d) || v.w(d) == 0) {
                if least < 0 || v.oh(d) < v.oh(least) { least = d }
            }
            return least
        case "wlc", "sed":
            let cost: (Int32) -> Int64 = name == "wlc" ? { Int64(v.oh($0)) } : { Int64(v.act($0) &+ 1) }
            guard let first = m.firstIndex(where: { !v.over($0) && v.w($0) > 0 }) else { return -1 }
            var least = m[first]
            for d in m[(first + 1)...] where !v.over(d) {
                if cost(least) * Int64(v.w(d)) > cost(d) * Int64(v.w(least)) { least = d }
            }
            return least
        case "nq":
            var least: Int32 = -1
            for d in m where !(v.over(d) || v.w(d) == 0) {
                if v.act(d) == 0 { return d }
                let ld = Int64(v.act(d) &+ 1)
                if least < 0 || Int64(v.act(least) &+ 1) * Int64(v.w(d)) > ld * Int64(v.w(least)) { least = d }
            }
            return least
        case "fo":
            var h: Int32 = -1
            for d in m where !v.over(d) && v.w(d) > 0 && (h < 0 || v.w(d) > v.w(h)) { h = d }
            return h
        case "ovf":
            var h: Int32 = -1
            for d in m {
                let w = v.w(d)
                if v.over(d) || v.act(d) > w || w == 0 { continue }
                if h < 0 || w > v.w(h) { h = d }
            }
            return h
        default:
            fatalError(name)
        }
    }
}

/// K:ip_vs_twos.c
struct ReferenceTwos: ReferenceScheduler {
    mutating func schedule(_ r: SchedulingRequest, _ v: ReferenceView, _ random: inout SchedulerRandom) -> Int32 {
        var total: Int32 = 0
        var any = false
        for d in v.members where !v.over(d) && v.w(d) > 0 {
            total += v.w(d)
            any = true
        }
        if !any { return -1 }
        total += 1
        var r1 = Int32(random.next32() % UInt32(total))
        var r2 = Int32(random.next32() % UInt32(total))
        var c1: Int32 = -1
        var c2: Int32 = -1
        for d in v.members where !v.over(d) && v.w(d) > 0 {
            r1 -= v.w(d)
            r2 -= v.w(d)
            if r1 <= 0 && c1 < 0 { c1 = d }
            if r2 <= 0 && c2 < 0 { c2 = d }
            if c1 >= 0 && c2 >= 0 { break }
        }
        return Int64(v.w(c2)) * Int64(v.oh(c1)) > Int64(v.w(c1)) * Int64(v.oh(c2)) ? c2 : c1
    }
}

/// K:ip_vs_dh.c and K:ip_vs_sh.c bucket tables, filled and probed as the kernel does.
struct ReferenceHash: ReferenceScheduler {
    var source: Bool
    var buckets = [Int32](repeating: -1, count: 256)

    mutating func fill(_ v: ReferenceView) {
        let m = v.members
        var p = 0
        var count: Int32 = 0
        for i in 0..<256 {
            if m.isEmpty {
                buckets[i] = -1
                continue
            }
            buckets[i] = m[p]
            if source {
                count += 1
                if count >= v.w(m[p]) {
                    p = (p + 1) % m.count
                    count = 0
                }
            } else {
                p = (p + 1) % m.count
            }
        }
    }
    mutating func added(_ d: Int32, _ v: ReferenceView) { fill(v) }
    mutating func removed(_ d: Int32, formerPosition: Int, _ v: ReferenceView) { fill(v) }
    mutating func updated(_ d: Int32, _ v: ReferenceView) { if source { fill(v) } }

    mutating func schedule(_ r: SchedulingRequest, _ v: ReferenceView, _ random: inout SchedulerRandom) -> Int32 {
        func h(_ x: UInt32) -> UInt32 { (x &* 0x61C8_8647) >> 24 }
        if !source {
            let d = buckets[Int(h(r.destination.folded32))]
            return d >= 0 && v.avail(d) && v.w(d) > 0 && !v.over(d) ? d : -1
        }
        let port: UInt32 = v.flags.contains(.scheduler2) ? UInt32(r.sourcePort) : 0
        let ihash = h(port &+ r.source.folded32)
        let first = buckets[Int(ihash)]
        if first < 0 { return -1 }
        if v.w(first) > 0 && !v.over(first) { return first }
        if !v.flags.contains(.scheduler1) { return -1 }
        for offset in UInt32(0)..<256 {
            let d = buckets[Int(((offset + ihash) % 256 + ihash) & 255)]
            if d < 0 { break }
            if v.w(d) > 0 && !v.over(d) { return d }
        }
        return -1
    }
}
