// Review finding 10: VRRP under hostile adverts — interval floor, rate-limited answers and logs,
// unicast source checked by default.
import KeepalivedConfig
import LVSCore
import LVSVRRP
import Testing

@Suite("VRRP defences (finding 10)")
struct VRRPDefenceTests {
    @Test("a flood of priority-0 adverts is answered at most every 100 ms, not once per advert")
    func priorityZeroFlood() {
        let c = config()
        var i = masterInstance(c)
        var adverts = 0
        var logs = 0
        for k in 0..<1000 {
            let a = i.handle(.packet(advertPacket(for: c, priority: 0)), now: at(5 + Double(k) * 0.0001))
            adverts += a.adverts.count
            logs += a.logs.count
        }
        #expect(adverts == 1 && logs == 1)  // 1000 adverts within 0.1 s
        let later = i.handle(.packet(advertPacket(for: c, priority: 0)), now: at(5.2))
        #expect(later.adverts == [100])
    }

    @Test("a v3 master advertising 10 ms does not drive a backup's timers below 100 ms")
    func intervalFloor() {
        let c = config(version: .v3)
        var i = VRRPInstance(config: c, sourceAddress: ip("192.168.0.1"))
        _ = i.handle(.start, now: at(0))
        #expect(i.state == .backup)
        let a = i.handle(.packet(advertPacket(for: c, priority: 200, interval: 1)), now: at(0.5))
        #expect(i.masterAdvertInterval == .milliseconds(100))
        #expect(a.timer! >= at(0.5) + .milliseconds(300))
    }

    @Test("dropped adverts log at most one line a second, then say how many were suppressed")
    func dropLogs() {
        let c = config()
        var i = masterInstance(c)
        var lines: [String] = []
        for k in 0..<500 {
            lines += i.handle(.packet(advertPacket(for: c, priority: 100, ttl: 1)), now: at(5 + Double(k) * 0.001)).logs
        }
        #expect(lines == ["(VI_1) invalid TTL/HL. Received 1 and expect 255"])
        let next = i.handle(.packet(advertPacket(for: c, priority: 100, ttl: 1)), now: at(6.5)).logs
        #expect(
            next == [
                "(VI_1) 499 more received adverts dropped (messages suppressed)",
                "(VI_1) invalid TTL/HL. Received 1 and expect 255",
            ])
    }

    @Test("unicast: an advert from an address that is not a listed peer is dropped without check_unicast_src")
    func unicastSourceByDefault() throws {
        let text = """
            vrrp_instance VI_1 {
                state BACKUP
                interface eth0
                virtual_router_id 51
                priority 100
                unicast_src_ip 192.168.0.1
                unicast_peer {
                    192.168.0.2
                }
                virtual_ipaddress {
                    192.168.0.240
                }
            }
            """
        let r = KeepalivedConfigLoader.check(text: text, options: ConfigReaderOptions(configID: "t"))
        let setup = VRRPSetup(configuration: r.configuration, hostName: "t")
        let c = try #require(setup.instances.first)
        #expect(c.checkUnicastSource)
        let stranger = advertPacket(for: c, priority: 200, from: "192.168.0.66", to: "192.168.0.1")
        #expect(VRRPReceiveCheck.check(stranger, config: c) == .dropped(.notUnicastPeer(ip("192.168.0.66"))))
    }
}

@Suite("VRRP random datagrams")
struct VRRPRandomDatagramTests {
    @Test(
        "10 000 random adverts (v2 and v3, valid headers with random fields, and pure noise): dropped or handled, never a trap; the master stays master against lower priorities"
    )
    func randomAdverts() {
        var rng = SystemRandomNumberGenerator()
        for version in [VRRPVersion.v2, .v3] {
            let c = config(version: version)
            var m = masterInstance(c)
            for k in 0..<5000 {
                var bytes: [UInt8]
                if k % 2 == 0 {
                    bytes = advertPacket(for: c, priority: UInt8.random(in: 1...99, using: &rng)).payload
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                } else {
                    bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng)
                    }
                }
                let p = ReceivedVRRPPacket(
                    source: ip("192.168.0.\(Int.random(in: 2...254, using: &rng))"), destination: ip("224.0.0.18"),
                    hopLimit: Int.random(in: 0...255, using: &rng), payload: bytes)
                _ = m.handle(.packet(p), now: at(5 + Double(k) * 0.01))
            }
            #expect(m.state == .master)
        }
    }
}
