// IPv6 addresses as two 64-bit halves, parsed and printed like glibc's inet_pton/inet_ntop.

/// An IPv6 address stored as two host-order 64-bit halves (`high` holds bytes 0–7).
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Bytes 0–7 of the address, big-endian interpreted as a host integer.
    public var high: UInt64
    /// Bytes 8–15 of the address.
    public var low: UInt64

    /// Creates an address from its two halves.
    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates an address from its eight 16-bit groups, first group first.
    public init(groups g: [UInt16]) {
        precondition(g.count == 8)
        high = UInt64(g[0]) << 48 | UInt64(g[1]) << 32 | UInt64(g[2]) << 16 | UInt64(g[3])
        low = UInt64(g[4]) << 48 | UInt64(g[5]) << 32 | UInt64(g[6]) << 16 | UInt64(g[7])
    }

    /// The unspecified address `::`.
    public static let any = IPv6Address(high: 0, low: 0)

    /// The eight 16-bit groups.
    public var groups: [UInt16] {
        (0..<8).map { i in
            let half = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (i % 4)))
        }
    }

    /// The four 32-bit words in network order, each as a host integer (word 0 = bytes 0–3).
    @inlinable public var words: (UInt32, UInt32, UInt32, UInt32) {
        (UInt32(high >> 32), UInt32(truncatingIfNeeded: high), UInt32(low >> 32), UInt32(truncatingIfNeeded: low))
    }

    /// Parses text as `inet_pton(AF_INET6)` does: hex groups, one `::`, an optional trailing
    /// dotted-quad IPv4 part. Returns nil for anything else (zone ids are not accepted).
    public init?(_ text: some StringProtocol) {
        let s = Array(text.utf8)
        if s.isEmpty { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        var i = 0
        // A leading "::".
        if s.count >= 2 && s[0] == 0x3A && s[1] == 0x3A {
            sawDoubleColon = true
            i = 2
            if i == s.count {
                self.init(groups: [UInt16](repeating: 0, count: 8))
                return
            }
        } else if s[0] == 0x3A {
            return nil
        }
        while i < s.count {
            // Read one group (or a trailing IPv4 part).
            var j = i
            while j < s.count && s[j] != 0x3A { j += 1 }
            let piece = s[i..<j]
            if piece.isEmpty { return nil }
            if piece.contains(0x2E) {
                // Dotted quad: must be the last piece.
                guard j == s.count, let v4 = IPv4Address(String(decoding: piece, as: UTF8.self)) else { return nil }
                let parts = [UInt16(v4.value >> 16), UInt16(truncatingIfNeeded: v4.value)]
                if sawDoubleColon { tail += parts } else { head += parts }
                i = j
                break
            }
            if piece.count > 4 { return nil }
            var v: UInt16 = 0
            for c in piece {
                guard let d = HexDigit.value(c) else { return nil }
                v = v << 4 | UInt16(d)
            }
            if sawDoubleColon { tail.append(v) } else { head.append(v) }
            i = j
            if i < s.count {
                // At a colon.
                if i + 1 < s.count && s[i + 1] == 0x3A {
                    if sawDoubleColon { return nil }
                    sawDoubleColon = true
                    i += 2
                } else {
                    i += 1
                    if i == s.count { return nil }  // trailing single colon
                }
            }
        }
        let total = head.count + tail.count
        if sawDoubleColon {
            if total > 7 { return nil }
            self.init(groups: head + [UInt16](repeating: 0, count: 8 - total) + tail)
        } else {
            if total != 8 { return nil }
            self.init(groups: head)
        }
    }

    /// Text as glibc's `inet_ntop(AF_INET6)` prints it: lower-case hex, the longest run of two or
    /// more zero groups (the first such run on a tie) as `::`, and `::ffff:a.b.c.d` / `::a.b.c.d`
    /// for IPv4-mapped addresses and IPv4-compatible ones whose seventh group is non-zero
    /// (glibc prints the dotted form only when the zero run is exactly groups 0–5, or 0–4 before ffff).
    public var description: String {
        let g = groups
        // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96, not :: or ::1) forms.
        if g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0
            && (g[5] == 0xFFFF || (g[5] == 0 && g[6] != 0))
        {
            let v4 = IPv4Address(UInt32(g[6]) << 16 | UInt32(g[7]))
            return (g[5] == 0xFFFF ? "::ffff:" : "::") + v4.description
        }
        var bestStart = -1
        var bestLen = 0
        var runStart = -1
        for k in 0...8 {
            if k < 8 && g[k] == 0 {
                if runStart < 0 { runStart = k }
            } else if runStart >= 0 {
                let len = k - runStart
                if len > bestLen {
                    bestStart = runStart
                    bestLen = len
                }
                runStart = -1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var out = ""
        var k = 0
        while k < 8 {
            if k == bestStart {
                out += "::"
                k += bestLen
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(g[k], radix: 16)
            k += 1
        }
        return out
    }

    @inlinable public static func < (a: IPv6Address, b: IPv6Address) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// True for ff00::/8.
    @inlinable public var isMulticast: Bool { high >> 56 == 0xFF }

    /// The address with all bits past `prefixLength` (0...128) cleared.
    @inlinable public func masked(prefixLength: Int) -> IPv6Address {
        if prefixLength >= 128 { return self }
        if prefixLength <= 0 { return .any }
        if prefixLength <= 64 {
            let m: UInt64 = prefixLength == 64 ? .max : ~(UInt64.max >> UInt64(prefixLength))
            return IPv6Address(high: high & m, low: 0)
        }
        return IPv6Address(high: high, low: low & ~(UInt64.max >> UInt64(prefixLength - 64)))
    }
}
