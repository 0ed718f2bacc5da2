// The Internet checksum (RFC 1071): full sums, pseudo-headers, incremental updates (RFC 1624), partial completion.
import LVSCore

/// One's complement arithmetic for IP, ICMP, TCP and UDP checksums.
///
/// Every value here is in host order: a 16-bit field is what `be16` reads, a 32-bit address is
/// `IPv4Address.value`. Sums are kept unfolded in a `UInt64` and folded once at the end.
public enum InternetChecksum {
    /// The one's complement sum of `count` bytes at `p`, folded to 16 bits, in host order. An odd
    /// trailing byte is padded with a zero byte, as RFC 1071 says.
    @inlinable
    public static func sum(_ p: UnsafeRawPointer, _ count: Int) -> UInt64 {
        // Summing the memory image (native words) and swapping once at the end is the same as
        // summing big-endian words (RFC 1071 §2(B), byte order independence).
        var a: UInt64 = 0
        var b: UInt64 = 0
        var i = 0
        while i &+ 16 <= count {
            let x = p.raw64(i)
            let y = p.raw64(i &+ 8)
            a &+= (x & 0xFFFF_FFFF) &+ (x >> 32)
            b &+= (y & 0xFFFF_FFFF) &+ (y >> 32)
            i &+= 16
        }
        if i &+ 8 <= count {
            let x = p.raw64(i)
            a &+= (x & 0xFFFF_FFFF) &+ (x >> 32)
            i &+= 8
        }
        if i &+ 4 <= count {
            a &+= UInt64(p.raw32(i))
            i &+= 4
        }
        if i &+ 2 <= count {
            b &+= UInt64(p.raw16(i))
            i &+= 2
        }
        if i < count {
            // The last byte is the high half of a big-endian word whose low half is zero.
            b &+= UInt64(UInt16(littleEndian: UInt16(p.u8(i))))
        }
        let native = UInt16(truncatingIfNeeded: foldRaw(a &+ b))
        return UInt64(UInt16(bigEndian: native))
    }

    /// Folds a 64-bit accumulator of 16-bit words into 16 bits (end-around carry), host order kept.
    @inlinable @inline(__always)
    public static func fold(_ s: UInt64) -> UInt16 {
        UInt16(truncatingIfNeeded: foldRaw(s))
    }

    @inlinable @inline(__always)
    static func foldRaw(_ s0: UInt64) -> UInt64 {
        var s = (s0 & 0xFFFF_FFFF) &+ (s0 >> 32)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return s
    }

    /// The checksum field value for data whose one's complement sum (including any pseudo-header)
    /// is `s`: `~fold(s)`.
    @inlinable @inline(__always)
    public static func finish(_ s: UInt64) -> UInt16 { ~fold(s) }

    /// The checksum of `count` bytes at `p` with `initial` (a pseudo-header sum) added.
    @inlinable
    public static func checksum(_ p: UnsafeRawPointer, _ count: Int, adding initial: UInt64 = 0) -> UInt16 {
        finish(sum(p, count) &+ initial)
    }

    /// The checksum of `bytes` with `initial` added (messages built as arrays: VRRP adverts).
    public static func checksum(_ bytes: [UInt8], adding initial: UInt64 = 0) -> UInt16 {
        bytes.withUnsafeBytes { b in b.baseAddress.map { checksum($0, b.count, adding: initial) } ?? finish(initial) }
    }

    /// True if `count` bytes at `p` plus `initial` sum to 0xFFFF (a valid checksum is included).
    @inlinable
    public static func verify(_ p: UnsafeRawPointer, _ count: Int, adding initial: UInt64 = 0) -> Bool {
        fold(sum(p, count) &+ initial) == 0xFFFF
    }

    /// True if an IPv4 header of `length` bytes (a multiple of 4) sums to 0xFFFF. The 20-byte case
    /// is five loads; the memory-order sum needs no byte swap since 0xFFFF reads the same both ways.
    @inlinable @inline(__always)
    public static func verifyIPv4Header(_ p: UnsafeRawPointer, _ length: Int) -> Bool {
        var s =
            UInt64(p.raw32(0)) &+ UInt64(p.raw32(4)) &+ UInt64(p.raw32(8)) &+ UInt64(p.raw32(12))
            &+ UInt64(p.raw32(16))
        var i = 20
        while i < length {
            s &+= UInt64(p.raw32(i))
            i &+= 4
        }
        // fold(s) == 0xFFFF exactly when s is a non-zero multiple of 0xFFFF (2^16 ≡ 1 mod 0xFFFF).
        return s != 0 && s % 0xFFFF == 0
    }

    /// The sum of an IPv4 address's two 16-bit words.
    @inlinable @inline(__always)
    public static func sum(_ a: IPv4Address) -> UInt64 { UInt64(a.value >> 16) &+ UInt64(a.value & 0xFFFF) }

    /// The sum of an IPv6 address's eight 16-bit words (as four 32-bit halves; folding is the same).
    @inlinable @inline(__always)
    public static func sum(_ a: IPv6Address) -> UInt64 {
        (a.high >> 32) &+ (a.high & 0xFFFF_FFFF) &+ (a.low >> 32) &+ (a.low & 0xFFFF_FFFF)
    }

    /// The sum of an address of either family.
    @inlinable @inline(__always)
    public static func sum(_ a: IPAddress) -> UInt64 {
        switch a {
        case .v4(let x): return UInt64(x.value)
        case .v6(let x): return sum(x)
        }
    }

    /// The pseudo-header sum of TCP/UDP/ICMPv6 (RFC 793, RFC 768, RFC 8200 §8.1): addresses,
    /// protocol and upper-layer length.
    @inlinable @inline(__always)
    public static func pseudoHeader(source: IPAddress, destination: IPAddress, protocol proto: UInt8, length: Int)
        -> UInt64
    {
        sum(source) &+ sum(destination) &+ UInt64(proto) &+ UInt64(UInt32(truncatingIfNeeded: length))
    }
}

/// An incremental checksum update (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`), collected over
/// several replaced fields and applied to one or more checksum fields.
@usableFromInline
struct ChecksumDelta {
    @usableFromInline var acc: UInt64 = 0

    @inlinable @inline(__always) init() {}

    /// Records that a 16-bit field changed from `old` to `new`.
    @inlinable @inline(__always)
    mutating func replace(_ old: UInt16, _ new: UInt16) {
        acc &+= UInt64(~old) &+ UInt64(new)
    }

    /// Records that a 32-bit field (two 16-bit words) changed from `old` to `new`.
    @inlinable @inline(__always)
    mutating func replace(_ old: UInt32, _ new: UInt32) {
        acc &+= UInt64(~old) &+ UInt64(new)
    }

    /// Records that a 128-bit field changed (an IPv6 address, as two 64-bit halves).
    @inlinable @inline(__always)
    mutating func replace(_ old: IPv6Address, _ new: IPv6Address) {
        let oh = ~old.high
        let ol = ~old.low
        acc &+= (oh >> 32) &+ (oh & 0xFFFF_FFFF) &+ (ol >> 32) &+ (ol & 0xFFFF_FFFF)
        acc &+= (new.high >> 32) &+ (new.high & 0xFFFF_FFFF) &+ (new.low >> 32) &+ (new.low & 0xFFFF_FFFF)
    }

    /// Writes `new` over the 16-bit field at `p + o`, recording the change.
    @inlinable @inline(__always)
    mutating func rewrite(_ p: UnsafeMutableRawPointer, _ o: Int, _ new: UInt16) {
        replace(p.be16(o), new)
        p.setBE16(new, o)
    }

    /// Writes the IPv6 address `new` over the one at `p + o`, recording the change.
    @inlinable @inline(__always)
    mutating func rewrite(_ p: UnsafeMutableRawPointer, _ o: Int, _ new: IPv6Address) {
        replace(IPv6Address(high: p.be64(o), low: p.be64(o &+ 8)), new)
        p.setBE64(new.high, o)
        p.setBE64(new.low, o &+ 8)
    }

    /// Records an address change of either family (both must be the same family).
    @inlinable @inline(__always)
    mutating func replace(_ old: IPAddress, _ new: IPAddress) {
        switch (old, new) {
        case (.v4(let o), .v4(let n)): replace(o.value, n.value)
        case (.v6(let o), .v6(let n)): replace(o, n)
        default: break  // callers check the family first
        }
    }

    /// The updated checksum field.
    @inlinable @inline(__always)
    func apply(to check: UInt16) -> UInt16 {
        ~InternetChecksum.fold(UInt64(~check) &+ acc)
    }

    /// Adds a field change to an uncomplemented sum field (a CHECKSUM_PARTIAL pseudo-header seed).
    @inlinable @inline(__always)
    func applyToSum(_ s: UInt16) -> UInt16 {
        InternetChecksum.fold(UInt64(s) &+ acc)
    }
}

/// Completion of checksums that a sender left partial (`CHECKSUM_PARTIAL`, `TP_STATUS_CSUMNOTREADY`,
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`).
public enum PartialChecksum {
    /// Completes a partial checksum in place as the NIC would: sums the bytes from `start` to the
    /// end of the packet (`end`, frame-relative; normally the end of the IP packet), whose checksum
    /// field at `start + offset` already holds the pseudo-header sum, and stores the complement.
    /// `start`/`offset` are virtio_net_hdr's `csum_start`/`csum_offset` (frame-relative).
    /// A UDP result of 0 is sent as 0xFFFF (RFC 768), as the kernel's `CSUM_MANGLED_0` does.
    /// Returns nil on success, or why the offsets cannot be honoured.
    @inlinable
    public static func complete(
        _ frame: UnsafeMutableRawBufferPointer, start: Int, offset: Int, end: Int, isUDP: Bool
    ) -> DropReason? {
        guard let base = frame.baseAddress, start >= 0, offset >= 0, end <= frame.count,
            start <= end, start &+ offset &+ 2 <= end
        else { return .badPartialChecksum }
        var c = InternetChecksum.checksum(UnsafeRawPointer(base + start), end &- start)
        if isUDP && c == 0 { c = 0xFFFF }
        base.setBE16(c, start &+ offset)
        return nil
    }
}
