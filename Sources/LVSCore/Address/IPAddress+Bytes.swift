// Addresses as bytes in network order, and the address classes VRRP and rtnetlink ask about.

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
