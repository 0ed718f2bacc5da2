// IPv4 addresses as a 32-bit value in host byte order, parsed and printed like inet_pton/inet_ntop.

/// An IPv4 address. `value` holds the address in host byte order (`10.0.0.1` is `0x0A00_0001`).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address in host byte order.
    public var value: UInt32

    /// Creates an address from its host-byte-order value.
    @inlinable public init(_ value: UInt32) { self.value = value }

    /// Creates an address from its four octets, most significant first.
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text exactly as `inet_pton(AF_INET)` does: four decimal octets, no
    /// leading zeros beyond a single `0`, nothing else. Returns nil for anything else.
    public init?(_ text: some StringProtocol) {
        var octets: UInt32 = 0
        var parts = 0
        var current: UInt32 = 0
        var digits = 0
        for byte in text.utf8 {
            if byte >= 0x30 && byte <= 0x39 {
                if digits > 0 && current == 0 { return nil }  // leading zero
                current = current * 10 + UInt32(byte - 0x30)
                digits += 1
                if current > 255 { return nil }
            } else if byte == 0x2E {  // "."
                if digits == 0 || parts == 3 { return nil }
                octets = octets << 8 | current
                parts += 1
                current = 0
                digits = 0
            } else {
                return nil
            }
        }
        if digits == 0 || parts != 3 { return nil }
        value = octets << 8 | current
    }

    /// The address 0.0.0.0.
    public static let any = IPv4Address(0)

    /// The four octets, most significant first.
    @inlinable public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value)
        )
    }

    /// Dotted-quad text, as `inet_ntop(AF_INET)` prints it.
    public var description: String {
        let o = octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }

    /// True for 224.0.0.0/4.
    @inlinable public var isMulticast: Bool { value >> 28 == 0xE }

    @inlinable public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    /// The netmask with `prefixLength` leading one bits (0...32).
    @inlinable public static func mask(prefixLength: Int) -> IPv4Address {
        prefixLength <= 0 ? IPv4Address(0) : IPv4Address(UInt32.max << UInt32(32 - min(prefixLength, 32)))
    }

    /// The prefix length of a contiguous netmask, or nil if the mask has holes.
    public var prefixLengthIfContiguous: Int? {
        let ones = value.leadingZeroBitCount == 0 ? (~value).leadingZeroBitCount : 0
        return IPv4Address.mask(prefixLength: ones) == self ? ones : nil
    }
}
