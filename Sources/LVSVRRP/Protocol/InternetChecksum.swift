// The Internet checksum (RFC 1071) over byte arrays, with IPv4 and IPv6 pseudo-headers.
import LVSCore

/// One's-complement sums as VRRP, IPv4, ICMPv6 and ARP-free frames need them.
public enum InternetChecksum {
    /// Adds `bytes` as big-endian 16-bit words (an odd last byte is padded with zero) to `initial`.
    public static func sum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        var s = UInt64(initial)
        var i = 0
        let n = bytes.count
        while i + 1 < n {
            s += UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < n { s += UInt64(bytes[i]) << 8 }
        while s > 0xFFFF_FFFF { s = (s & 0xFFFF_FFFF) + (s >> 32) }
        return UInt32(s)
    }

    /// Folds a 32-bit sum to 16 bits and complements it: the value to put in a checksum field.
    public static func finish(_ sum: UInt32) -> UInt16 {
        var s = sum
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }

    /// The checksum of `bytes` alone.
    public static func checksum(_ bytes: [UInt8]) -> UInt16 { finish(sum(bytes)) }

    /// The sum of the pseudo-header {source, destination, protocol, upper-layer length} of
    /// RFC 768 (IPv4) or RFC 8200 §8.1 (IPv6).
    public static func pseudoHeaderSum(
        source: IPAddress, destination: IPAddress, protocol proto: UInt8, length: Int
    ) -> UInt32 {
        var b: [UInt8] = []
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            b +=
                s.bytes + d.bytes + [
                    0, proto, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
                ]
        default:
            b += source.bytes + destination.bytes
            b += [
                UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length), 0, 0, 0, proto,
            ]
        }
        return sum(b)
    }
}

extension IPv4Address {
    /// The four bytes in network order.
    public var bytes: [UInt8] {
        [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ]
    }

    /// Reads an address from 4 bytes in network order at `offset`.
    public init(bytes b: [UInt8], at offset: Int) {
        self.init(b[offset], b[offset + 1], b[offset + 2], b[offset + 3])
    }
}

extension IPv6Address {
    /// The sixteen bytes in network order.
    public var bytes: [UInt8] {
        (0..<16).map { i in
            let half = i < 8 ? high : low
            return UInt8(truncatingIfNeeded: half >> UInt64(56 - 8 * (i % 8)))
        }
    }

    /// Reads an address from 16 bytes in network order at `offset`.
    public init(bytes b: [UInt8], at offset: Int) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<8 { h = h << 8 | UInt64(b[offset + i]) }
        for i in 8..<16 { l = l << 8 | UInt64(b[offset + i]) }
        self.init(high: h, low: l)
    }

    /// True for fe80::/10.
    public var isLinkLocal: Bool { high >> 54 == 0x3FA }
}

extension IPAddress {
    /// The address bytes in network order (4 or 16).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): return a.bytes
        case .v6(let a): return a.bytes
        }
    }

    /// True for an IPv4 or IPv6 multicast address.
    public var isMulticast: Bool {
        switch self {
        case .v4(let a): return a.isMulticast
        case .v6(let a): return a.isMulticast
        }
    }
}
