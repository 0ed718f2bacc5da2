// The value of an ASCII hex digit, shared by the address parsers and ipvsadm's strtol.

/// ASCII hexadecimal digits.
public enum HexDigit {
    /// 0…15 for `0-9`, `A-F` and `a-f`; nil for any other byte.
    @inlinable public static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
