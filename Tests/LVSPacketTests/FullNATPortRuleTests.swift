// The FULLNAT local-port rule: every chosen port makes the reply land in the inbound connection's bucket.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

@Suite("FULLNAT local ports")
struct FullNATPortRuleTests {
    @Test(
        "for any server, local address and bucket, every candidate port's reply key is that bucket",
        arguments: [0, 4, 8, 12, 16])
    func candidatesHitTheBucket(bits: Int) {
        let rule = FullNATPortRule(steeringBits: bits)
        var rng = SeededRandom(seed: UInt64(bits) + 11)
        for _ in 0..<200 {
            let server = IPAddress.v4(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)))
            let local: IPAddress =
                Bool.random(using: &rng)
                ? .v4(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)))
                : .v6(IPv6Address(high: UInt64.random(in: 0...UInt64.max, using: &rng), low: 1))
            let sport = UInt16.random(in: 1...65535, using: &rng)
            let bucket =
                UInt32.random(in: 0...UInt32.max, using: &rng) & (bits == 0 ? 0 : UInt32.max >> UInt32(32 - bits))
            var last = -1
            var count = 0
            while let p = rule.port(forKey: bucket, attempt: count, server: server, serverPort: sport, local: local) {
                #expect(rule.key(server: server, serverPort: sport, local: local, localPort: p) == bucket)
                #expect(Int(p) > last && p >= 1024)
                last = Int(p)
                count += 1
                if count > 70_000 { break }
            }
            // One port per run of 2^bits in 1024...65535.
            let expected = (65536 - 1024) >> bits
            #expect(abs(count - expected) <= 1, "\(count) candidates, want about \(expected)")
        }
    }

    @Test("a custom range is honoured")
    func range() {
        let rule = FullNATPortRule(steeringBits: 4, portRange: 20000...20100)
        let s = IPAddress.v4(IPv4Address(10, 0, 2, 11))
        let l = IPAddress.v4(IPv4Address(10, 0, 2, 1))
        for key in UInt32(0)..<16 {
            let n = rule.candidateCount(forKey: key, server: s, serverPort: 80, local: l)
            #expect(n == 6 || n == 7)
            for a in 0..<n {
                let p = rule.port(forKey: key, attempt: a, server: s, serverPort: 80, local: l)!
                #expect((20000...20100).contains(p))
            }
        }
    }
}
