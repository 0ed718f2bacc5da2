// ICMP error rate limiting as the kernel's: a global token bucket (icmp_msgs_per_sec,
// icmp_msgs_burst) and a per-destination minimum interval (icmp_ratelimit), in bounded memory.
//
//   error to D ─▶ global bucket has a token? ─▶ D's slot last sent ≥ ratelimit ago? ─▶ send
//                 (refilled msgs_per_sec/s, ≤ burst)   (keyed hash of D → 1 of 4096 slots)
//
// K:net/ipv4/icmp.c icmp_global_allow / icmpv4_xrlim_allow (inet_peer_xrlim_allow). The kernel
// keeps a token bucket per peer; a slot per hashed destination is the bounded equivalent (two
// destinations sharing a slot share its allowance).
import LVSCore

/// Decides whether an ICMP error may be sent now. Pure: time comes in as nanoseconds.
public struct ICMPRateLimiter: ~Copyable {
    public static let slots = 4096
    let lastSent: UnsafeMutablePointer<UInt64>
    let key: UInt64
    var tokens: Int = 0
    var refilledAt: UInt64 = 0
    var started = false
    /// Errors refused so far.
    public private(set) var limited: UInt64 = 0

    public init(key: UInt64) {
        self.key = key
        lastSent = .allocate(capacity: Self.slots)
        lastSent.initialize(repeating: 0, count: Self.slots)
    }

    deinit { lastSent.deallocate() }

    /// True (and the error counted as sent) when an error to `destination` may go out at `now`:
    /// `perSecond` and `burst` bound all errors, `intervalMilliseconds` the errors to one
    /// destination (0 disables that part; `perSecond` 0 disables the global part).
    public mutating func allow(
        destination: IPAddress, now: UInt64, intervalMilliseconds: Int, perSecond: Int, burst: Int
    ) -> Bool {
        if perSecond > 0 {
            if !started {
                started = true
                refilledAt = now
                tokens = max(1, burst)
            }
            let elapsed = now &- refilledAt
            let earned = Int(min(elapsed, 10_000_000_000) * UInt64(perSecond) / 1_000_000_000)
            if earned > 0 {
                tokens = min(max(1, burst), tokens + earned)
                refilledAt = now
            }
            guard tokens > 0 else {
                limited &+= 1
                return false
            }
        }
        if intervalMilliseconds > 0 {
            let s = slot(destination)
            let last = lastSent[s]
            if last != 0 && now &- last < UInt64(intervalMilliseconds) * 1_000_000 {
                limited &+= 1
                return false
            }
            lastSent[s] = now == 0 ? 1 : now
        }
        if perSecond > 0 { tokens -= 1 }
        return true
    }

    @inline(__always) func slot(_ a: IPAddress) -> Int {
        var h: UInt64
        switch a {
        case .v4(let v): h = UInt64(v.value) ^ key
        case .v6(let v): h = (v.high &* 0x9E37_79B9_7F4A_7C15) ^ v.low ^ key
        }
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        h = (h ^ (h >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return Int(truncatingIfNeeded: h >> 52) & (Self.slots - 1)
    }
}
