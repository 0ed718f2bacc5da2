// Byte-exact VRRP adverts (RFC 3768 / RFC 5798 layouts) and their checksums.
import LVSCore
import LVSVRRP
import Testing

@Suite("VRRP advert encoding and decoding")
struct AdvertCodecTests {
    @Test("RFC 3768 §5.1: v2 advert, VRID 51, prio 100, one VIP, PASS 'secret12', checksum over the message only")
    func v2Golden() {
        let a = VRRPAdvert(
            version: .v2, virtualRouterID: 51, priority: 100, addresses: [ip("192.168.0.240")], interval: 1,
            authType: 1, authData: VRRPAuthentication.pass("secret12").passwordBytes)
        let b = a.encoded()
        #expect(b == hex("2133640101014ab3c0a800f07365637265743132"))
        // An independent checksum of the message with a zero checksum field gives the same value.
        var z = b
        z[6] = 0
        z[7] = 0
        #expect(referenceChecksum(z) == 0x4AB3)
        // v2 ignores the pseudo-header even when addresses are given.
        #expect(a.encoded(source: ip("10.0.0.1"), destination: ip("224.0.0.18")) == b)
    }

    @Test("RFC 3768: two VIPs, no authentication: 8 zero auth bytes, interval 3 s")
    func v2TwoAddresses() {
        let a = VRRPAdvert(
            version: .v2, virtualRouterID: 1, priority: 150, addresses: [ip("10.0.0.1"), ip("10.0.0.2")], interval: 3)
        #expect(a.encoded() == hex("21019602000334f60a0000010a0000020000000000000000"))
    }

    @Test("keepalived: only the first 8 characters of auth_pass count, zero padded")
    func passwordBytes() {
        #expect(VRRPAuthentication.pass("longpassword").passwordBytes == Array("longpass".utf8))
        #expect(VRRPAuthentication.pass("abc").passwordBytes == Array("abc".utf8) + [0, 0, 0, 0, 0])
        #expect(VRRPAuthentication.none.passwordBytes == [UInt8](repeating: 0, count: 8))
    }

    @Test("RFC 5798 §5.2.8: v3 IPv4 checksum covers the pseudo-header (src, 224.0.0.18, 112, length)")
    func v3IPv4Golden() {
        let a = VRRPAdvert(
            version: .v3, virtualRouterID: 51, priority: 100, addresses: [ip("192.168.0.240")], interval: 100)
        let b = a.encoded(source: ip("192.168.0.1"), destination: ip("224.0.0.18"))
        #expect(b == hex("3133640100640796c0a800f0"))
        let pseudo = ip("192.168.0.1").bytes + ip("224.0.0.18").bytes + [0, 112, 0, 12]
        var z = b
        z[6] = 0
        z[7] = 0
        #expect(referenceChecksum(pseudo + z) == 0x0796)
    }

    @Test("keepalived v3_checksum_as_v2 (RFC 9568): the IPv4 v3 checksum without the pseudo-header")
    func v3AsV2() {
        let a = VRRPAdvert(
            version: .v3, virtualRouterID: 51, priority: 100, addresses: [ip("192.168.0.240")], interval: 100)
        let b = a.encoded(source: ip("192.168.0.1"), destination: ip("224.0.0.18"), checksumAsV2: true)
        #expect(b[6] == 0xA8 && b[7] == 0xCE)
    }

    @Test("keepalived ≥ 1.3.6: a unicast v3 pseudo-header uses the real destination, not 224.0.0.18")
    func v3UnicastPseudoHeader() {
        let a = VRRPAdvert(
            version: .v3, virtualRouterID: 51, priority: 100, addresses: [ip("192.168.0.240")], interval: 100)
        let b = a.encoded(source: ip("192.168.0.1"), destination: ip("192.168.0.2"))
        #expect(b[6] == 0x26 && b[7] == 0xFE)
    }

    @Test("RFC 5798: v3 IPv6 checksum uses the IPv6 pseudo-header (RFC 8200 §8.1)")
    func v3IPv6Golden() {
        let a = VRRPAdvert(version: .v3, virtualRouterID: 7, priority: 200, addresses: [ip("fe80::100")], interval: 100)
        let b = a.encoded(source: ip("fe80::1"), destination: ip("ff02::12"))
        #expect(b.count == 24)
        #expect(b[0] == 0x31 && b[6] == 0x08 && b[7] == 0xF3)
    }

    @Test("RFC 5798: the 12-bit max advert interval in centiseconds; the 4 reserved bits are sent as zero")
    func v3Interval() throws {
        let a = VRRPAdvert(version: .v3, virtualRouterID: 1, priority: 1, addresses: [ip("10.0.0.1")], interval: 4095)
        let b = a.encoded(source: ip("10.0.0.2"), destination: ip("224.0.0.18"))
        #expect(b[4] == 0x0F && b[5] == 0xFF)
        var c = b
        c[4] |= 0xF0  // reserved bits set by a sender are ignored on decode
        let d = try VRRPAdvert.decode(c, family: .inet)
        #expect(d.interval == 4095)
        #expect(d.intervalDuration == .milliseconds(40950))
    }

    @Test("decode round-trips every field, and refuses a message shorter than its address count says")
    func roundTrip() throws {
        let a = VRRPAdvert(
            version: .v2, virtualRouterID: 9, priority: 254, addresses: [ip("10.1.1.1"), ip("10.1.1.2")], interval: 5,
            authType: 1, authData: Array("pw".utf8) + [0, 0, 0, 0, 0, 0])
        let b = a.encoded()
        var d = try VRRPAdvert.decode(b, family: .inet)
        #expect(d.checksum == UInt16(b[6]) << 8 | UInt16(b[7]))
        d.checksum = 0
        #expect(d == a)
        #expect(throws: VRRPError.self) { try VRRPAdvert.decode(Array(b.prefix(15)), family: .inet) }
        #expect(throws: VRRPError.self) { try VRRPAdvert.decode([0x21, 1], family: .inet) }
    }

    @Test("keepalived vrrp_build_ip4: IPv4 header TOS 0xC0, TTL 255, protocol 112, valid header checksum")
    func ipv4Datagram() throws {
        let d = VRRPIPv4.datagram(
            payload: [UInt8](repeating: 0, count: 20), source: IPv4Address("10.0.0.1")!,
            destination: IPv4Address("224.0.0.18")!, ttl: 255)
        #expect(Array(d.prefix(12)) == [0x45, 0xC0, 0, 40, 0, 0, 0, 0, 255, 112, 0xD0, 0x92])
        #expect(referenceChecksum(Array(d.prefix(20))) == 0)
        let p = try #require(VRRPIPv4.parse(d + [0, 0, 0, 0], interface: "eth0"))  // Ethernet padding dropped
        #expect(p.payload.count == 20 && p.hopLimit == 255 && p.source == ip("10.0.0.1"))
        #expect(p.destination == ip("224.0.0.18") && p.interface == "eth0")
        #expect(VRRPIPv4.parse(Array(d.prefix(10))) == nil)
    }
}
