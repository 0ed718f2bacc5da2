// The SYN proxy's transforms against the fixture table, and the cookie's properties.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

@Suite("SYN proxy transforms")
struct SynProxyTests {
    @Test("fixture table", arguments: PacketFixtures.synProxy.indices)
    func fixture(_ i: Int) {
        let f = PacketFixtures.synProxy[i]
        let out = PacketFixtures.run(f)
        #expect(out == f.expected, "\(f.name)")
    }

    let keys = SynCookieKeys(k0: 0xDEAD, k1: 0xBEEF, k2: 0xF00D, k3: 0xCAFE)
    let c = IPAddress("203.0.113.7")!
    let v = IPAddress("192.168.1.109")!

    @Test("a cookie round-trips every option combination and is refused after 2 minutes (64-s counter)")
    func roundTrip() {
        for mss in SynCookie.mssTable {
            for ws: UInt8? in [nil, 0, 7, 14] {
                for sack in [false, true] {
                    for ts in [false, true] {
                        let o = SynProxyOptions(mss: mss, windowScale: ws, sack: sack, timestamps: ts)
                        let cookie = SynCookie.make(
                            keys: keys, source: c, destination: v, sourcePort: 1, destinationPort: 80,
                            clientISN: 0xFFFF_FFF0, minute: 255, options: o)
                        for m: UInt32 in [255, 256, 257] {
                            #expect(
                                SynCookie.check(
                                    keys: keys, source: c, destination: v, sourcePort: 1, destinationPort: 80,
                                    clientISN: 0xFFFF_FFF0, cookie: cookie, minute: m) == o)
                        }
                        #expect(
                            SynCookie.check(
                                keys: keys, source: c, destination: v, sourcePort: 1, destinationPort: 80,
                                clientISN: 0xFFFF_FFF0, cookie: cookie, minute: 258) == nil)
                    }
                }
            }
        }
    }

    @Test("forging: random acknowledgements pass about 3 in 2^24 (16 MAC bits × the 3-minute window)")
    func forgery() {
        var rng = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<200_000 {
            if SynCookie.check(
                keys: keys, source: c, destination: v, sourcePort: 1, destinationPort: 80, clientISN: 1,
                cookie: UInt32.random(in: 0...UInt32.max, using: &rng), minute: 1000) != nil
            {
                accepted += 1
            }
        }
        #expect(accepted <= 2)
    }

    @Test("another key refuses the cookie")
    func otherKey() {
        let o = SynProxyOptions(mss: 1460, windowScale: 7, sack: true, timestamps: true)
        let cookie = SynCookie.make(
            keys: keys, source: c, destination: v, sourcePort: 1, destinationPort: 80, clientISN: 5, minute: 9,
            options: o)
        var other = keys
        other.k0 ^= 1
        #expect(
            SynCookie.check(
                keys: other, source: c, destination: v, sourcePort: 1, destinationPort: 80, clientISN: 5,
                cookie: cookie,
                minute: 9) == nil)
    }
}
