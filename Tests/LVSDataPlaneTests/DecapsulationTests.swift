// lvs-realserver --tun: every encapsulation the director writes (LVSPacket) is undone to the inner packet.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

@Suite("lvs-realserver decapsulation")
struct DecapsulationTests {
    /// The director's output for `spec` (outer family of `outer`, inner packet of `inner`).
    static func tunnelled(_ spec: TunnelSpec, outer: FixtureNet, inner: FixtureNet) -> (frame: [UInt8], ip: [UInt8]) {
        let f = PacketBuilder.frame(.tcp, from: inner.client, to: inner.virtual, payload: PacketBuilder.pattern(333))
        let headroom = Frame.recommendedHeadroom
        var storage = [UInt8](repeating: 0, count: headroom + f.count + 64)
        return storage.withUnsafeMutableBytes { buf in
            buf.baseAddress!.advanced(by: headroom).copyMemory(from: f, byteCount: f.count)
            var frame = Frame(buffer: buf, start: headroom, length: f.count)
            var info = PacketInfo()
            _ = PacketParser.parse(frame.bytes, into: &info)
            let v = Forwarding.tunnel(
                &frame, info, source: outer.director, destination: outer.server.address, spec: spec, ipID: 7,
                link: FixtureLinks.inside)
            precondition(v == .forward)
            return (Array(frame.bytes), PacketBuilder.ipPacket(f))
        }
    }

    static func decapsulate(_ bytes: [UInt8], guePort: UInt16? = 6080, gre: Bool = true) -> [UInt8]? {
        bytes.withUnsafeBytes { p in
            TunnelDecapsulator.innerPacket(p.baseAddress!, p.count, guePort: guePort, gre: gre).map { Array(bytes[$0]) }
        }
    }

    /// The inner packet with the TTL / hop limit the tunnel decremented restored (and the IPv4
    /// header checksum recomputed), to compare with what the client sent.
    static func undoTTL(_ ip: [UInt8]) -> [UInt8] {
        var p = ip
        if p[0] >> 4 == 4 {
            p[8] &+= 1
            p[10] = 0
            p[11] = 0
            let c = PacketBuilder.internetChecksum(Array(p[0..<20]))
            p[10] = UInt8(c >> 8)
            p[11] = UInt8(c & 0xFF)
        } else {
            p[7] &+= 1
        }
        return p
    }

    static let specs: [(String, TunnelSpec)] = [
        ("ipip", TunnelSpec()),
        ("gue", TunnelSpec(type: .gue, port: 6080)),
        ("gue csum", TunnelSpec(type: .gue, port: 6080, flags: .checksum)),
        ("gre", TunnelSpec(type: .gre)),
        ("gre csum", TunnelSpec(type: .gre, flags: .checksum)),
    ]

    @Test(
        "ipip / 6in4 / ipip6 / ip6ip6, GUE and GRE (with and without checksum): the inner packet comes out whole",
        arguments: specs.map(\.0))
    func roundTrip(_ name: String) throws {
        let spec = Self.specs.first { $0.0 == name }!.1
        for outer in [FixtureNet.v4, .v6] {
            for inner in [FixtureNet.v4, .v6] {
                let (frame, ip) = Self.tunnelled(spec, outer: outer, inner: inner)
                let got = try #require(Self.decapsulate(frame), "\(name) outer \(outer.director) inner \(inner.client)")
                #expect(Self.undoTTL(got) == ip)
            }
        }
    }

    @Test(
        "refused: GRE without --gre, a wrong GRE checksum, GRE version 1 or routing bit, an unknown GRE protocol, GUE on another port, truncated frames"
    )
    func refused() {
        let (gre, _) = Self.tunnelled(TunnelSpec(type: .gre, flags: .checksum), outer: .v4, inner: .v4)
        #expect(Self.decapsulate(gre, gre: false) == nil)
        var badSum = gre
        badSum[14 + 20 + 8 + 30] ^= 0x01  // a byte of the inner packet
        #expect(Self.decapsulate(badSum) == nil)
        var version1 = gre
        version1[14 + 20 + 1] |= 1
        #expect(Self.decapsulate(version1) == nil)
        let (plain, _) = Self.tunnelled(TunnelSpec(type: .gre), outer: .v4, inner: .v4)
        var routing = plain
        routing[14 + 20] |= 0x40
        #expect(Self.decapsulate(routing) == nil)
        var ppp = plain
        ppp[14 + 20 + 2] = 0x88
        ppp[14 + 20 + 3] = 0x0B
        #expect(Self.decapsulate(ppp) == nil)
        let (gue, _) = Self.tunnelled(TunnelSpec(type: .gue, port: 6080), outer: .v4, inner: .v4)
        #expect(Self.decapsulate(gue, guePort: 6081) == nil)
        for cut in [0, 13, 14 + 19, 14 + 20 + 3, 14 + 20 + 4 + 19] {
            #expect(Self.decapsulate(Array(plain[0..<cut])) == nil)
        }
    }

    @Test("GRE with RFC 2890's key and sequence number: the header is 4 + 4 + 4 bytes")
    func keyAndSequence() throws {
        let (plain, ip) = Self.tunnelled(TunnelSpec(type: .gre), outer: .v4, inner: .v4)
        // Insert key and sequence after the 4-byte GRE header; fix the outer lengths and checksum.
        var f = Array(plain[0..<(14 + 20 + 4)]) + [0, 0, 0, 42, 0, 0, 0, 7] + Array(plain[(14 + 20 + 4)...])
        f[14 + 20] = 0x30
        let total = (Int(f[16]) << 8 | Int(f[17])) + 8
        f[16] = UInt8(total >> 8)
        f[17] = UInt8(total & 0xFF)
        f[24] = 0
        f[25] = 0
        let c = PacketBuilder.internetChecksum(Array(f[14..<34]))
        f[24] = UInt8(c >> 8)
        f[25] = UInt8(c & 0xFF)
        let got = try #require(Self.decapsulate(f))
        #expect(Self.undoTTL(got) == ip)
    }
}
