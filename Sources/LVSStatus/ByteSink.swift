// A growable byte buffer written through a raw pointer: the writers' storage (10^6 lines per scrape).

/// Bytes appended through a pointer, with one capacity check per call rather than per byte.
/// A reference type: copies of a writer share it (writers are used by one owner at a time).
final class ByteSink: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `n` more bytes.
    @inline(__always) func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = c
    }

    @inline(__always) func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always) func bytes(_ p: UnsafePointer<UInt8>, _ n: Int) {
        reserve(n)
        (base + count).update(from: p, count: n)
        count += n
    }

    @inline(__always) func bytes(_ s: StaticString) {
        bytes(s.utf8Start, s.utf8CodeUnitCount)
    }

    func bytes(_ s: String) {
        var s = s
        s.withUTF8 { u in if let p = u.baseAddress { bytes(p, u.count) } }
    }

    /// The UTF-8 bytes of `s`: copied at once when none is `special`, else one by one with
    /// `escape` writing each special byte in its place.
    @inline(__always) func bytes(_ s: String, escaping special: (UInt8) -> Bool, with escape: (UInt8) -> Void) {
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: special) {
                if let p = u.baseAddress { bytes(p, u.count) }
                return
            }
            for b in u {
                if special(b) { escape(b) } else { byte(b) }
            }
        }
    }

    func bytes(_ a: [UInt8]) {
        a.withUnsafeBufferPointer { u in if let p = u.baseAddress { bytes(p, u.count) } }
    }

    /// Decimal digits of `v`.
    @inline(__always) func decimal(_ v: UInt64) {
        if v < 10 {
            byte(0x30 &+ UInt8(v))
            return
        }
        reserve(20)
        var n = v
        var digits = 0
        var t = v
        while t > 0 {
            digits += 1
            t /= 10
        }
        var i = count + digits
        while n > 0 {
            i -= 1
            base[i] = 0x30 &+ UInt8(n % 10)
            n /= 10
        }
        count += digits
    }

    /// The last byte written, if any.
    var last: UInt8? { count > 0 ? base[count - 1] : nil }

    /// Drops everything after the first `n` bytes.
    func truncate(to n: Int) { count = min(count, n) }

    /// A copy of the bytes.
    var array: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let p = buffer.baseAddress { p.update(from: base, count: count) }
            initialized = count
        }
    }
}
