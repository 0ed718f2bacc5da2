// The SIP persistence engine's key: the Call-ID header of a UDP SIP message (K:ip_vs_pe_sip.c).

/// Extracts SIP Call-IDs the way `ip_vs_pe_sip` does (via nf_conntrack_sip's header matcher).
public enum SIPCallID {
    /// `IP_VS_PEDATA_MAXLEN`: longer Call-IDs are not used.
    public static let maximumLength = 255

    /// The Call-ID of a SIP message, or nil when there is none usable: the header `Call-ID` or its
    /// compact form `i` (case-insensitive) at the start of a line, `:` after optional blanks, a
    /// word (RFC 3261 `word` characters) optionally `@` another word, followed by CR or LF, at most
    /// 255 bytes.
    public static func extract(_ payload: UnsafeRawBufferPointer) -> [UInt8]? {
        let n = payload.count
        var lineStart = 0
        while lineStart < n {
            if let v = value(in: payload, at: lineStart) { return v }
            // Next line: after the next LF (CR alone also ends a line).
            var i = lineStart
            while i < n && payload[i] != 0x0A && payload[i] != 0x0D { i += 1 }
            if i < n && payload[i] == 0x0D { i += 1 }
            if i < n && payload[i] == 0x0A { i += 1 }
            if i == lineStart { break }
            lineStart = i
        }
        return nil
    }

    private static func value(in p: UnsafeRawBufferPointer, at start: Int) -> [UInt8]? {
        var i = start
        let n = p.count
        let long = Array("call-id".utf8)
        func lower(_ c: UInt8) -> UInt8 { (0x41...0x5A).contains(c) ? c | 0x20 : c }
        var matched = false
        if n - i >= long.count && (0..<long.count).allSatisfy({ lower(p[i + $0]) == long[$0] }) {
            i += long.count
            matched = true
        } else if i < n && lower(p[i]) == UInt8(ascii: "i") {
            i += 1
            matched = true
        }
        guard matched else { return nil }
        while i < n && (p[i] == 0x20 || p[i] == 0x09) { i += 1 }
        guard i < n && p[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        while i < n && (p[i] == 0x20 || p[i] == 0x09) { i += 1 }
        let valueStart = i
        var len = wordLength(p, i)
        if len > 0 && i + len < n && p[i + len] == UInt8(ascii: "@") {
            let domain = wordLength(p, i + len + 1)
            len = domain == 0 ? 0 : len + 1 + domain
        }
        guard len > 0, len <= maximumLength, valueStart + len < n else { return nil }
        let after = p[valueStart + len]
        guard after == 0x0D || after == 0x0A else { return nil }
        return Array(p[valueStart..<(valueStart + len)])
    }

    /// nf_conntrack_sip's `iswordc`: alphanumerics and ! " % ( ) * + - . / : < > ? [ \ ] _ ` { } ~ '.
    static func isWordCharacter(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "\""), UInt8(ascii: "%"), UInt8(ascii: ":"), UInt8(ascii: "<"),
            UInt8(ascii: ">"), UInt8(ascii: "?"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"),
            UInt8(ascii: "}"), UInt8(ascii: "~"), UInt8(ascii: "'"):
            return true
        case UInt8(ascii: "(")...UInt8(ascii: "+"), UInt8(ascii: "[")...UInt8(ascii: "]"),
            UInt8(ascii: "-")...UInt8(ascii: "/"):
            return true
        default: return false
        }
    }

    private static func wordLength(_ p: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < p.count && isWordCharacter(p[i]) { i += 1 }
        return i - start
    }

    /// A 128-bit digest of a Call-ID (two FNV-1a variants), stored in a template in place of the
    /// kernel's copy of the bytes.
    static func digest(_ id: [UInt8]) -> RawAddress {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for c in id {
            a = (a ^ UInt64(c)) &* 0x0000_0100_0000_01B3
            b = (b &+ UInt64(c)) &* 0x9E37_79B9_7F4A_7C15
            b ^= b >> 29
        }
        return RawAddress(high: a, low: b ^ UInt64(id.count))
    }
}
