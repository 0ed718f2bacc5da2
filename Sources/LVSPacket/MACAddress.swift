// Ethernet MAC addresses as a 48-bit value.

/// An Ethernet MAC address, the 48 bits in the low bits of `value` (first octet most significant).
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address, `00:11:22:33:44:55` is `0x0011_2233_4455`.
    public var value: UInt64

    /// Creates an address from its 48-bit value (higher bits are ignored).
    @inlinable public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    /// Creates an address from its six octets, first octet first.
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        value = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or `-` separators); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let o = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(o)
        }
        value = v
    }

    /// ff:ff:ff:ff:ff:ff.
    public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)
    /// 00:00:00:00:00:00.
    public static let zero = MACAddress(0)

    /// The IPv6 multicast MAC of an IPv6 multicast address (RFC 2464 §7): 33:33 + its last 32 bits.
    @inlinable public static func ipv6Multicast(lastWord: UInt32) -> MACAddress {
        MACAddress(0x3333_0000_0000 | UInt64(lastWord))
    }

    /// True if the group bit (the first octet's lowest bit) is set: multicast or broadcast.
    @inlinable public var isGroup: Bool { (value >> 40) & 1 == 1 }

    /// `00:11:22:33:44:55`.
    public var description: String {
        (0..<6).map { i -> String in
            let o = UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * i))
            return (o < 16 ? "0" : "") + String(o, radix: 16)
        }.joined(separator: ":")
    }

    /// Reads a MAC address at offset `o`.
    @inlinable @inline(__always)
    static func load(_ p: UnsafeRawPointer, _ o: Int) -> MACAddress {
        MACAddress(UInt64(p.be16(o)) << 32 | UInt64(p.be32(o + 2)))
    }

    /// Writes this address at offset `o`.
    @inlinable @inline(__always)
    func store(_ p: UnsafeMutableRawPointer, _ o: Int) {
        p.setBE16(UInt16(truncatingIfNeeded: value >> 32), o)
        p.setBE32(UInt32(truncatingIfNeeded: value), o + 2)
    }

    /// Writes an Ethernet header at `p` from this address to `destination`: the 802.1Q tag if
    /// `vlan`, then `etherType` (14 bytes, or 18 with a tag).
    @inlinable @inline(__always)
    func storeEthernetHeader(
        _ p: UnsafeMutableRawPointer, to destination: MACAddress, vlan: UInt16?, etherType: UInt16
    ) {
        destination.store(p, 0)
        store(p, 6)
        guard let tci = vlan else {
            p.setBE16(etherType, 12)
            return
        }
        p.setBE16(EtherType.vlan, 12)
        p.setBE16(tci, 14)
        p.setBE16(etherType, 16)
    }
}
