// The receive checks one by one, with keepalived's log lines, and the order in which they apply.
import LVSCore
import LVSVRRP
import Testing

@Suite("VRRP receive checks (keepalived vrrp_check_packet)")
struct ReceiveCheckTests {
    let c = config { $0.authentication = .pass("secret12") }

    func check(_ p: ReceivedVRRPPacket, _ cfg: VRRPInstanceConfig? = nil) -> VRRPReceiveResult {
        VRRPReceiveCheck.check(p, config: cfg ?? c)
    }

    @Test("a well-formed v2 PASS advert is accepted")
    func accepted() {
        guard case .accepted(let a) = check(advertPacket(for: c, priority: 120)) else {
            Issue.record("dropped")
            return
        }
        #expect(a.priority == 120 && a.virtualRouterID == 51)
    }

    @Test("1. length: 'vrrp packet too short, length 10 and expect 20'")
    func length() {
        var p = advertPacket(for: c, priority: 100)
        p.payload = Array(p.payload.prefix(10))
        #expect(check(p) == .dropped(.length(received: 10, expected: 20)))
        #expect(
            VRRPDropReason.length(received: 10, expected: 20).logLine(instance: "VI_1")
                == "(VI_1) vrrp packet too short, length 10 and expect 20")
        var padded = advertPacket(for: c, priority: 100)
        padded.payload += [0, 0, 0, 0]  // trailing padding is allowed
        #expect(check(padded) != .dropped(.length(received: 24, expected: 20)))
    }

    @Test("2. RFC 3768 §7.1: multicast TTL must be 255 ('invalid TTL/HL. Received 64 and expect 255')")
    func ttl() {
        let p = advertPacket(for: c, priority: 100, ttl: 64)
        #expect(check(p) == .dropped(.ttl(received: 64)))
        #expect(
            VRRPDropReason.ttl(received: 64).logLine(instance: "VI_1")
                == "(VI_1) invalid TTL/HL. Received 64 and expect 255")
        // Finding 10 (lvsd): unicast adverts need TTL 255 too (keepalived sends 255 unless
        // unicast_ttl lowers it), unless unicast_ttl is lowered here or the peer has a range.
        var u = c
        u.unicastPeers = [UnicastPeer(ip("192.168.0.2"))]
        let up = advertPacket(for: u, priority: 100, to: "192.168.0.1", ttl: 64)
        #expect(check(up, u) == .dropped(.ttl(received: 64)))
        guard case .accepted = check(advertPacket(for: u, priority: 100, to: "192.168.0.1", ttl: 255), u) else {
            Issue.record("unicast advert with TTL 255 dropped")
            return
        }
        var lowered = u
        lowered.unicastTTL = 64
        guard case .accepted = check(up, lowered) else {
            Issue.record("unicast advert with TTL 64 dropped although unicast_ttl is 64")
            return
        }
        var ranged = u
        ranged.unicastPeers = [UnicastPeer(ip("192.168.0.2"), minTTL: 60, maxTTL: 255)]
        guard case .accepted = check(up, ranged) else {
            Issue.record("unicast advert with TTL 64 dropped although the peer's range allows it")
            return
        }
    }

    @Test("3. version: a v3 advert to a v2 instance is 'wrong version. Received 3 and expect 2'")
    func version() {
        let p = advertPacket(for: c, priority: 100, interval: 100, version: .v3)
        #expect(check(p) == .dropped(.version(received: 3, expected: 2)))
    }

    @Test("4. auth: type mismatch 'received a 0 auth, expecting 1!', wrong password 'received an invalid passwd!'")
    func auth() {
        var none = c
        none.authentication = .none
        #expect(check(advertPacket(for: none, priority: 100)) == .dropped(.authTypeMismatch(received: 0, expected: 1)))
        #expect(check(advertPacket(for: c, priority: 100, password: "secret13")) == .dropped(.password))
        #expect(VRRPDropReason.password.logLine(instance: "VI_1") == "(VI_1) received an invalid passwd!")
        // Only 8 characters count: 'secret12XYZ' matches 'secret12'.
        guard case .accepted = check(advertPacket(for: c, priority: 100, password: "secret12XYZ")) else {
            Issue.record("9th character compared")
            return
        }
        var bad = advertPacket(for: c, priority: 100)
        bad.payload[4] = 7
        #expect(check(bad) == .dropped(.invalidAuthType(7)))
    }

    @Test(
        "4. keepalived: a v2 advert with another advert_int is dropped ('advertisement interval mismatch mine=1 sec rcv'd=2 sec')"
    )
    func v2Interval() {
        let p = advertPacket(for: c, priority: 100, interval: 2)
        #expect(check(p) == .dropped(.intervalMismatch(mine: 1, received: 2)))
        #expect(
            VRRPDropReason.intervalMismatch(mine: 1, received: 2).logLine(instance: "VI_1")
                == "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec")
    }

    @Test("5. type: a type other than 1 is 'Invalid packet type. 2 and expect 1'")
    func type() {
        var p = advertPacket(for: c, priority: 100)
        p.payload[0] = 0x22
        #expect(check(p) == .dropped(.type(2)))
    }

    @Test("6. checksum: a flipped byte is 'Invalid VRRPv2 checksum'; v3 checks the pseudo-header source")
    func checksum() {
        var p = advertPacket(for: c, priority: 100)
        p.payload[7] ^= 0x01
        #expect(check(p) == .dropped(.checksum(version: 2)))
        let v3 = config(version: .v3)
        var q = advertPacket(for: v3, priority: 100)
        q.source = ip("192.168.0.3")  // the pseudo-header no longer matches
        #expect(check(q, v3) == .dropped(.checksum(version: 3)))
        var asV2 = v3
        asV2.v3ChecksumAsV2 = true
        var r = advertPacket(for: asV2, priority: 100)
        r.source = ip("192.168.0.3")  // no pseudo-header: any source passes
        guard case .accepted = check(r, asV2) else {
            Issue.record("v3_checksum_as_v2 advert dropped")
            return
        }
    }

    @Test("7. 'Expected multicast packet but received unicast packet' and the reverse")
    func cast() {
        let p = advertPacket(for: c, priority: 100, to: "192.168.0.1")
        #expect(check(p) == .dropped(.castMismatch(expectedMulticast: true)))
        var u = c
        u.unicastPeers = [UnicastPeer(ip("192.168.0.2"))]
        #expect(check(advertPacket(for: u, priority: 100), u) == .dropped(.castMismatch(expectedMulticast: false)))
    }

    @Test(
        "8. VIPs: count mismatch, and 'ip address associated with VRID 51 not present in MASTER advert : 192.168.0.240'"
    )
    func addresses() {
        let p = advertPacket(for: c, priority: 100, addresses: [ip("192.168.0.240"), ip("192.168.0.241")])
        #expect(check(p) == .dropped(.addressCount(received: 2, expected: 1)))
        let q = advertPacket(for: c, priority: 100, addresses: [ip("192.168.0.241")])
        #expect(check(q) == .dropped(.addressMissing(ip("192.168.0.240"), vrid: 51)))
        #expect(
            VRRPDropReason.addressMissing(ip("192.168.0.240"), vrid: 51).logLine(instance: "VI_1")
                == "(VI_1) ip address associated with VRID 51 not present in MASTER advert : 192.168.0.240")
    }

    @Test("9. check_unicast_src: the source must be a unicast_peer, within min_ttl..max_ttl")
    func unicastSource() {
        var u = c
        u.unicastPeers = [UnicastPeer(ip("192.168.0.2"), minTTL: 250, maxTTL: 255)]
        u.checkUnicastSource = true
        let p = advertPacket(for: u, priority: 100, from: "192.168.0.9", to: "192.168.0.1")
        #expect(check(p, u) == .dropped(.notUnicastPeer(ip("192.168.0.9"))))
        let q = advertPacket(for: u, priority: 100, to: "192.168.0.1", ttl: 64)
        #expect(check(q, u) == .dropped(.ttlOutOfRange(received: 64, min: 250, max: 255)))
    }

    @Test("IPsec AH packets are refused with a clear message, and auth_type AH is refused at configuration")
    func ah() {
        var p = advertPacket(for: c, priority: 100)
        p.ipProtocol = 51
        #expect(check(p) == .dropped(.authenticationHeader))
        var ahc = c
        ahc.authentication = .ah("secret")
        #expect(
            throws: VRRPError(
                .authAHUnsupported,
                "(VI_1) auth_type AH (IPsec AH) is not supported by SwiftLVS; use auth_type PASS or no authentication")
        ) {
            _ = try VRRPNode(instances: [ahc], sourceAddresses: ["VI_1": ip("192.168.0.1")])
        }
    }

    @Test("reference §2 order: each packet with two defects is dropped for the earlier check")
    func order() {
        var u = c
        u.unicastPeers = [UnicastPeer(ip("192.168.0.2"))]
        u.checkUnicastSource = true
        // length before TTL
        var p1 = advertPacket(for: c, priority: 100, ttl: 1)
        p1.payload = Array(p1.payload.prefix(9))
        #expect(check(p1) == .dropped(.length(received: 9, expected: 20)))
        // TTL before version
        #expect(
            check(advertPacket(for: c, priority: 100, ttl: 1, interval: 100, version: .v3))
                == .dropped(.ttl(received: 1)))
        // version before auth
        var p3 = advertPacket(for: c, priority: 100, interval: 100, version: .v3)
        p3.payload[4] = 9
        #expect(check(p3) == .dropped(.version(received: 3, expected: 2)))
        // auth before type
        var p4 = advertPacket(for: c, priority: 100, password: "wrong")
        p4.payload[0] = 0x22
        #expect(check(p4) == .dropped(.password))
        // type before checksum
        var p5 = advertPacket(for: c, priority: 100)
        p5.payload[0] = 0x22  // also breaks the checksum
        #expect(check(p5) == .dropped(.type(2)))
        // checksum before unicast/multicast
        var p6 = advertPacket(for: c, priority: 100, to: "192.168.0.1")
        p6.payload[7] ^= 1
        #expect(check(p6) == .dropped(.checksum(version: 2)))
        // unicast/multicast before VIPs
        #expect(
            check(advertPacket(for: c, priority: 100, to: "192.168.0.1", addresses: [ip("1.2.3.4")]))
                == .dropped(.castMismatch(expectedMulticast: true)))
        // VIPs before unicast source
        #expect(
            check(advertPacket(for: u, priority: 100, from: "192.168.0.9", to: "192.168.0.1", addresses: []), u)
                == .dropped(.addressCount(received: 0, expected: 1)))
    }

    @Test("PASS comparison is a constant-time byte compare")
    func constantTime() {
        #expect(VRRPReceiveCheck.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!VRRPReceiveCheck.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!VRRPReceiveCheck.constantTimeEqual([1, 2], [1, 2, 3]))
    }
}
