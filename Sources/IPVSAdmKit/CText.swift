// The C library's text conversions that ipvsadm relies on (strtol, inet_aton, isdigit), over bytes.
import LVSCore

/// Byte-exact reimplementations of the libc conversions ipvsadm 1.31 uses to read its arguments,
/// so that `ipvsadm` accepts (and refuses) exactly what the C program does.
public enum CText {
    /// `isspace` in the C locale: space, \t, \n, \v, \f, \r.
    @inlinable public static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

    @inlinable public static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// `strtol(s, &end, 10)` requiring `*end == '\0' && end != s`: optional leading white space,
    /// an optional sign, decimal digits, nothing after. Returns nil when that fails or when the
    /// value overflows a 64-bit `long` (ERANGE).
    public static func strtolWhole(_ s: some Collection<UInt8>) -> Int64? {
        var i = s.startIndex
        let negative = skipSpaceAndSign(s, &i)
        var value: UInt64 = 0
        var digits = 0
        var overflow = false
        while i != s.endIndex && isDigit(s[i]) {
            let d = UInt64(s[i] - 0x30)
            if !overflow {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(d)
                if o1 || o2 { overflow = true } else { value = a }
            }
            digits += 1
            i = s.index(after: i)
        }
        guard digits > 0, i == s.endIndex else { return nil }
        if overflow { return nil }
        if negative {
            guard value <= UInt64(Int64.max) + 1 else { return nil }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        guard value <= UInt64(Int64.max) else { return nil }
        return Int64(value)
    }

    /// ipvsadm's `string_to_number(s, min, max)`: the whole text is a decimal number in range.
    public static func number(_ s: some Collection<UInt8>, min: Int64, max: Int64) -> Int64? {
        guard let v = strtolWhole(s), v >= min, v <= max else { return nil }
        return v
    }

    /// ipvsadm's `str_is_digit`: every byte is a digit (true for the empty text).
    public static func isAllDigits(_ s: some Collection<UInt8>) -> Bool { s.allSatisfy(isDigit) }

    /// glibc `inet_aton`: one to four numbers (decimal, 0-octal or 0x-hex) separated by dots, the
    /// last filling the remaining bytes; the text may end in white space followed by anything.
    /// Returns the address in host byte order.
    public static func inetAton(_ s: some Collection<UInt8>) -> UInt32? {
        let b = Array(s)
        var parts: [UInt32] = []
        var i = 0
        var c: UInt8 = b.isEmpty ? 0 : b[0]
        while true {
            // Each part must start with a digit.
            guard i < b.count, isDigit(c) else { return nil }
            var val: UInt64 = 0
            var base: UInt64 = 10
            if c == 0x30 {
                i += 1
                c = i < b.count ? b[i] : 0
                if c == 0x78 || c == 0x58, i + 1 < b.count, HexDigit.value(b[i + 1]) != nil {  // 0x + hex digit
                    base = 16
                    i += 1
                    c = b[i]
                } else {
                    base = 8
                }
            }
            while true {
                if isDigit(c) {
                    if base == 8 && c >= 0x38 { return nil }
                    val = val * base + UInt64(c - 0x30)
                } else if base == 16, let h = HexDigit.value(c) {
                    val = val * 16 + UInt64(h)
                } else {
                    break
                }
                if val > 0xFFFF_FFFF { return nil }
                i += 1
                c = i < b.count ? b[i] : 0
            }
            if c == 0x2E {  // "."
                if parts.count >= 3 || val > 0xFF { return nil }
                parts.append(UInt32(val))
                i += 1
                c = i < b.count ? b[i] : 0
                continue
            }
            // End of the address: end of text, or white space (anything may follow it).
            if i < b.count && !(c < 0x80 && isSpace(c)) { return nil }
            switch parts.count {
            case 0: return UInt32(val)
            case 1:
                guard val <= 0xFF_FFFF else { return nil }
                return parts[0] << 24 | UInt32(val)
            case 2:
                guard val <= 0xFFFF else { return nil }
                return parts[0] << 24 | parts[1] << 16 | UInt32(val)
            default:
                guard val <= 0xFF else { return nil }
                return parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | UInt32(val)
            }
        }
    }

    /// strtol's and atoi's prologue: moves `i` past white space and an optional sign; true for `-`.
    static func skipSpaceAndSign<C: Collection<UInt8>>(_ s: C, _ i: inout C.Index) -> Bool {
        while i != s.endIndex && isSpace(s[i]) { i = s.index(after: i) }
        guard i != s.endIndex && (s[i] == 0x2B || s[i] == 0x2D) else { return false }
        defer { i = s.index(after: i) }
        return s[i] == 0x2D
    }

    /// `atoi`: leading white space, optional sign, digits; stops at the first non-digit; 0 if none.
    public static func atoi(_ s: some Collection<UInt8>) -> Int64 {
        var i = s.startIndex
        let negative = skipSpaceAndSign(s, &i)
        var v: Int64 = 0
        while i != s.endIndex && isDigit(s[i]) {
            v = v &* 10 &+ Int64(s[i] - 0x30)
            i = s.index(after: i)
        }
        return negative ? -v : v
    }

    /// `inet_pton(AF_INET6, …)` over bytes.
    public static func inetPton6(_ s: some Collection<UInt8>) -> IPv6Address? {
        guard let text = String(validating: s, as: UTF8.self) else { return nil }
        return IPv6Address(text)
    }

    /// `inet_pton(AF_INET, …)` over bytes (strict dotted quad).
    public static func inetPton4(_ s: some Collection<UInt8>) -> IPv4Address? {
        guard let text = String(validating: s, as: UTF8.self) else { return nil }
        return IPv4Address(text)
    }

    /// The text of some bytes, for messages (invalid UTF-8 is repaired, as a terminal would show it).
    public static func text(_ s: some Collection<UInt8>) -> String { String(decoding: s, as: UTF8.self) }
}
