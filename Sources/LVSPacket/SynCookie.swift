// SYN cookies for the SYN proxy: the director's initial sequence number carries the client's
// options (MSS, window scale, SACK, timestamps) and a keyed check, so a SYN costs no state.
//
//   cookie = H1(addrs, ports) + client ISN + (minute << 24) + ((H2(addrs, ports, minute) + data) mod 2^24)
//   data   = options | check << 8 (24 bits)
//   options = MSS index (2 bits) | window scale + 1, 0 = none (4 bits) << 2 | SACK << 6 | timestamps << 7
//   check  = 16 bits of H2 bound to the options (an ACK of cookie ± n decodes other options: refused)
//
// The construction (two keyed hashes, a 64-second counter in the top 8 bits, the options in the
// low 24) is the classic one of Linux's syncookies and DPVS's SYN proxy, which also encode MSS,
// window scale, SACK and timestamps; the hashes here are SipHash-2-4 with per-start keys.
import LVSCore

/// The options a client offered in its SYN, as far as the SYN proxy keeps them.
public struct SynProxyOptions: Hashable, Sendable {
    /// The MSS to tell the real server (one of `SynCookie.mssTable`, rounded down).
    public var mss: UInt16
    /// The client's window scale (RFC 7323), nil when it offered none.
    public var windowScale: UInt8?
    /// The client offered SACK (RFC 2018).
    public var sack: Bool
    /// The client offered timestamps (RFC 7323).
    public var timestamps: Bool

    public init(mss: UInt16, windowScale: UInt8?, sack: Bool, timestamps: Bool) {
        self.mss = mss
        self.windowScale = windowScale
        self.sack = sack
        self.timestamps = timestamps
    }
}

/// The secret keys of the cookies (random per start).
public struct SynCookieKeys: Hashable, Sendable {
    public var k0: UInt64
    public var k1: UInt64
    public var k2: UInt64
    public var k3: UInt64

    public init(k0: UInt64, k1: UInt64, k2: UInt64, k3: UInt64) {
        self.k0 = k0
        self.k1 = k1
        self.k2 = k2
        self.k3 = k3
    }
}

/// Making and checking SYN cookies. Pure: the minute counter comes from the caller.
public enum SynCookie {
    /// The MSS values a cookie can carry (a client's MSS is rounded down to one of them).
    public static let mssTable: [UInt16] = [536, 1220, 1440, 1460]
    /// Cookies older than this many 64-second periods are refused.
    public static let maxAge: UInt32 = 2

    /// The counter a cookie carries: seconds / 64.
    @inlinable public static func minute(nanoseconds: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: nanoseconds / 64_000_000_000)
    }

    /// The director's ISN for a SYN with `clientISN` and `options`.
    public static func make(
        keys: SynCookieKeys, source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
        clientISN: UInt32, minute: UInt32, options: SynProxyOptions
    ) -> UInt32 {
        let h1 = hash(keys.k0, keys.k1, source, destination, sourcePort, destinationPort, 0)
        let h2 = hash(keys.k2, keys.k3, source, destination, sourcePort, destinationPort, UInt64(minute) | 1 << 40)
        let opts = encode(options)
        let data = opts | binding(h2, opts) << 8
        return h1 &+ clientISN &+ (minute << 24) &+ ((h2 &+ data) & 0xFF_FFFF)
    }

    /// The options of a valid cookie (the ACK's acknowledgement number − 1), or nil when the
    /// cookie is forged, altered or older than `maxAge`.
    public static func check(
        keys: SynCookieKeys, source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
        clientISN: UInt32, cookie: UInt32, minute: UInt32
    ) -> SynProxyOptions? {
        let h1 = hash(keys.k0, keys.k1, source, destination, sourcePort, destinationPort, 0)
        let rest = cookie &- h1 &- clientISN
        let made = (minute & ~0xFF) | (rest >> 24)
        // The top 8 bits hold the low 8 bits of the minute it was made in.
        let stamp = made > minute ? made &- 0x100 : made
        guard minute &- stamp <= maxAge else { return nil }
        let h2 = hash(keys.k2, keys.k3, source, destination, sourcePort, destinationPort, UInt64(stamp) | 1 << 40)
        let data = (rest &- h2) & 0xFF_FFFF
        let opts = data & 0xFF
        guard data >> 8 == binding(h2, opts) else { return nil }
        return decode(opts)
    }

    /// 16 check bits from the secret hash, different for every options byte.
    static func binding(_ h2: UInt32, _ opts: UInt32) -> UInt32 {
        ((h2 >> 16) ^ ((h2 & 0xFFFF) | 1) &* (opts | 0x100)) & 0xFFFF
    }

    /// The 8 option bits.
    static func encode(_ o: SynProxyOptions) -> UInt32 {
        var index: UInt32 = 0
        for (i, m) in mssTable.enumerated() where o.mss >= m { index = UInt32(i) }
        let ws: UInt32 = o.windowScale.map { UInt32(min($0, 14)) + 1 } ?? 0
        return index | ws << 2 | (o.sack ? 1 << 6 : 0) | (o.timestamps ? 1 << 7 : 0)
    }

    static func decode(_ data: UInt32) -> SynProxyOptions? {
        let ws = (data >> 2) & 0xF
        guard ws <= 15 else { return nil }
        return SynProxyOptions(
            mss: mssTable[Int(data & 3)], windowScale: ws == 0 ? nil : UInt8(ws - 1), sack: data & 1 << 6 != 0,
            timestamps: data & 1 << 7 != 0)
    }

    // MARK: SipHash-2-4

    static func hash(
        _ k0: UInt64, _ k1: UInt64, _ s: IPAddress, _ d: IPAddress, _ sp: UInt16, _ dp: UInt16, _ extra: UInt64
    ) -> UInt32 {
        var h = SipHash24(k0, k1)
        switch (s, d) {
        case (.v4(let a), .v4(let b)):
            h.add(UInt64(a.value) << 32 | UInt64(b.value))
        case (.v6(let a), .v6(let b)):
            h.add(a.high)
            h.add(a.low)
            h.add(b.high)
            h.add(b.low)
        default:
            h.add(0)
        }
        h.add(UInt64(sp) << 16 | UInt64(dp) | extra << 32 ^ extra >> 32)
        return UInt32(truncatingIfNeeded: h.finish())
    }
}

/// SipHash-2-4 over 64-bit words (Aumasson and Bernstein).
struct SipHash24 {
    var v0: UInt64
    var v1: UInt64
    var v2: UInt64
    var v3: UInt64
    var length: UInt64 = 0

    init(_ k0: UInt64, _ k1: UInt64) {
        v0 = k0 ^ 0x736F_6D65_7073_6575
        v1 = k1 ^ 0x646F_7261_6E64_6F6D
        v2 = k0 ^ 0x6C79_6765_6E65_7261
        v3 = k1 ^ 0x7465_6462_7974_6573
    }

    @inline(__always) mutating func round() {
        v0 = v0 &+ v1
        v1 = v1.rotatedLeft(13) ^ v0
        v0 = v0.rotatedLeft(32)
        v2 = v2 &+ v3
        v3 = v3.rotatedLeft(16) ^ v2
        v0 = v0 &+ v3
        v3 = v3.rotatedLeft(21) ^ v0
        v2 = v2 &+ v1
        v1 = v1.rotatedLeft(17) ^ v2
        v2 = v2.rotatedLeft(32)
    }

    mutating func add(_ m: UInt64) {
        v3 ^= m
        round()
        round()
        v0 ^= m
        length &+= 8
    }

    mutating func finish() -> UInt64 {
        let b = length << 56
        v3 ^= b
        round()
        round()
        v0 ^= b
        v2 ^= 0xFF
        round()
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inline(__always) func rotatedLeft(_ n: UInt64) -> UInt64 { self << n | self >> (64 - n) }
}
