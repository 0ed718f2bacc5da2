// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 App. A): full computation and an incremental port update.

/// CRC32c as SCTP uses it: reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF,
/// stored in the packet least significant byte first.
public enum CRC32c {
    /// The reflected polynomial.
    public static let polynomial: UInt32 = 0x82F6_3B78

    /// Slicing-by-8 tables (8 × 256 entries), built once.
    static let tableArray: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// Nibble tables of the "advance through 2^k zero bytes" operators, k = 0..<16: for each k,
    /// 8 nibble positions × 16 values. Applying one costs 8 lookups.
    static let zeroShiftArray: [UInt32] = {
        // Basis images of advancing one zero byte: state s → (s >> 8) ^ T[s & 0xFF].
        let t0 = Array(tableArray[0..<256])
        func advanceOneByte(_ s: UInt32) -> UInt32 { (s >> 8) ^ t0[Int(s & 0xFF)] }
        var basis = (0..<32).map { advanceOneByte(UInt32(1) << UInt32($0)) }
        func apply(_ m: [UInt32], _ s: UInt32) -> UInt32 {
            var r: UInt32 = 0
            var x = s
            var i = 0
            while x != 0 {
                if x & 1 != 0 { r ^= m[i] }
                x >>= 1
                i += 1
            }
            return r
        }
        var out = [UInt32](repeating: 0, count: 16 * 8 * 16)
        for k in 0..<16 {
            for j in 0..<8 {
                for v in 0..<16 {
                    out[(k * 8 + j) * 16 + v] = apply(basis, UInt32(v) << UInt32(4 * j))
                }
            }
            // Square the operator: advancing 2^(k+1) bytes is advancing 2^k bytes twice.
            basis = basis.map { apply(basis, $0) }
        }
        return out
    }()

    /// The tables copied once into memory that is never freed and never written again (hence
    /// safe to share), so lookups touch no reference count.
    @usableFromInline nonisolated(unsafe) static let tables: UnsafePointer<UInt32> = permanent(tableArray)
    @usableFromInline nonisolated(unsafe) static let zeroShiftTables: UnsafePointer<UInt32> = permanent(zeroShiftArray)

    static func permanent(_ a: [UInt32]) -> UnsafePointer<UInt32> {
        let p = UnsafeMutablePointer<UInt32>.allocate(capacity: a.count)
        p.initialize(from: a, count: a.count)
        return UnsafePointer(p)
    }

    /// Runs the CRC register over `count` bytes at `p`, starting from register value `state`
    /// (no initial or final inversion).
    @inlinable
    public static func update(_ state: UInt32, _ p: UnsafeRawPointer, _ count: Int) -> UInt32 {
        do {
            let t = tables
            var c = state
            var i = 0
            while i &+ 8 <= count {
                let lo = c ^ UInt32(littleEndian: p.raw32(i))
                let hi = UInt32(littleEndian: p.raw32(i &+ 4))
                c =
                    t[7 &* 256 &+ Int(lo & 0xFF)] ^ t[6 &* 256 &+ Int((lo >> 8) & 0xFF)]
                    ^ t[5 &* 256 &+ Int((lo >> 16) & 0xFF)] ^ t[4 &* 256 &+ Int(lo >> 24)]
                    ^ t[3 &* 256 &+ Int(hi & 0xFF)] ^ t[2 &* 256 &+ Int((hi >> 8) & 0xFF)]
                    ^ t[1 &* 256 &+ Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i &+= 8
            }
            while i < count {
                c = (c >> 8) ^ t[Int((c ^ UInt32(p.u8(i))) & 0xFF)]
                i &+= 1
            }
            return c
        }
    }

    /// The CRC32c of `count` bytes at `p`.
    @inlinable
    public static func checksum(_ p: UnsafeRawPointer, _ count: Int) -> UInt32 {
        ~update(0xFFFF_FFFF, p, count)
    }

    /// Advances a register through `n` zero bytes in O(log n): the CRC difference of two messages
    /// that differ only in their first bytes, carried to the end of the message.
    @inlinable
    public static func advanceThroughZeros(_ state: UInt32, _ n: Int) -> UInt32 {
        do {
            let t = zeroShiftTables
            var s = state
            var m = n
            var k = 0
            while m != 0 && k < 16 {
                if m & 1 != 0 {
                    let base = k &* 128
                    var r: UInt32 = 0
                    var j = 0
                    while j < 8 {
                        r ^= t[base &+ j &* 16 &+ Int((s >> UInt32(4 &* j)) & 0xF)]
                        j &+= 1
                    }
                    s = r
                }
                m >>= 1
                k &+= 1
            }
            return s
        }
    }

    /// The SCTP checksum after the first 4 bytes of an SCTP packet of `length` bytes (the two
    /// ports) changed from `oldPorts` to `newPorts` (both as the big-endian 32-bit field values).
    ///
    /// CRC is linear: crc(a) ⊕ crc(b) = crc₀(a ⊕ b) for equal lengths, where crc₀ has no initial
    /// or final inversion. The difference is 4 bytes followed by `length − 4` zero bytes, so it
    /// costs a few table lookups instead of a pass over the payload. A packet that arrived with a
    /// wrong CRC still has a wrong one afterwards: the real server drops it, as it should.
    @inlinable
    public static func updatedForPortChange(
        _ crc: UInt32, oldPorts: UInt32, newPorts: UInt32, length: Int
    ) -> UInt32 {
        let diff = oldPorts ^ newPorts
        if diff == 0 { return crc }
        // Register after the 4 difference bytes, in wire order, starting from 0.
        var d = withUnsafeBytes(of: diff.bigEndian) { update(0, $0.baseAddress!, 4) }
        d = advanceThroughZeros(d, length &- 4)
        return crc ^ d
    }
}
