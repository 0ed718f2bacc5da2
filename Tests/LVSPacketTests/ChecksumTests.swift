// Internet checksum, incremental updates (RFC 1624), CRC32c and partial checksum completion against slow references.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

@Suite("Checksums")
struct ChecksumTests {
    @Test("RFC 1071 sum matches the word-by-word reference for every length 0…300 and odd offsets")
    func fullSum() {
        var rng = SeededRandom(seed: 1)
        let data = rng.bytes(400)
        data.withUnsafeBytes { p in
            for start in 0..<4 {
                for n in 0...300 {
                    let ours = InternetChecksum.checksum(p.baseAddress! + start, n)
                    let ref = PacketBuilder.internetChecksum(Array(data[start..<(start + n)]))
                    #expect(ours == ref, "start \(start) length \(n)")
                }
            }
        }
    }

    @Test("RFC 1071 §3 example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2")
    func rfcExample() {
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        let s = bytes.withUnsafeBytes { InternetChecksum.sum($0.baseAddress!, 8) }
        #expect(InternetChecksum.fold(s) == 0xDDF2)
    }

    @Test("RFC 1624 incremental NAT rewrite equals a full recompute on 10 000 random TCP segments")
    func incrementalEqualsFull() {
        var rng = SeededRandom(seed: 2)
        for _ in 0..<10_000 {
            let src = IPAddress.v4(IPv4Address(UInt32.random(in: 1...0xDFFF_FFFF, using: &rng)))
            let dst = IPAddress.v4(IPv4Address(UInt32.random(in: 1...0xDFFF_FFFF, using: &rng)))
            let server = Endpoint(
                .v4(IPv4Address(UInt32.random(in: 1...0xDFFF_FFFF, using: &rng))),
                UInt16.random(in: 1...65535, using: &rng))
            let sp = UInt16.random(in: 1...65535, using: &rng)
            let dp = UInt16.random(in: 1...65535, using: &rng)
            let payload = rng.bytes(Int.random(in: 0...60, using: &rng))
            guard src.v4!.value >> 24 != 127, server.address.v4!.value >> 24 != 127 else { continue }
            let input = PacketBuilder.frame(.tcp, from: Endpoint(src, sp), to: Endpoint(dst, dp), payload: payload)
            let want = PacketBuilder.frame(
                .tcp, from: Endpoint(src, sp), to: server, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63,
                payload: payload)
            let (v, out) = withFrame(input) { f, info, _ in
                Forwarding.natInbound(
                    &f, info, server: server.address, serverPort: server.port, link: FixtureLinks.inside)
            }
            #expect(v == .forward)
            #expect(out == want)
        }
    }

    @Test("CRC32c matches the bitwise reference; RFC 3720 B.4 vector: 32 zero bytes give 0x8A9136AA")
    func crc32c() {
        let zeros = [UInt8](repeating: 0, count: 32)
        #expect(zeros.withUnsafeBytes { CRC32c.checksum($0.baseAddress!, 32) } == 0x8A91_36AA)
        var rng = SeededRandom(seed: 3)
        for n in 0..<200 {
            let d = rng.bytes(n)
            let ours = d.withUnsafeBytes { CRC32c.checksum($0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, n) }
            #expect(ours == PacketBuilder.crc32c(d), "length \(n)")
        }
    }

    @Test("CRC32c port-change update equals a full recompute for lengths 4…3000")
    func crcIncremental() {
        var rng = SeededRandom(seed: 4)
        for n in stride(from: 12, through: 3000, by: 7) {
            var pkt = rng.bytes(n)
            pkt[8] = 0
            pkt[9] = 0
            pkt[10] = 0
            pkt[11] = 0
            let before = PacketBuilder.crc32c(pkt)
            let oldPorts = UInt32(pkt[0]) << 24 | UInt32(pkt[1]) << 16 | UInt32(pkt[2]) << 8 | UInt32(pkt[3])
            let newPorts = UInt32.random(in: 0...UInt32.max, using: &rng)
            pkt[0] = UInt8(newPorts >> 24)
            pkt[1] = UInt8((newPorts >> 16) & 0xFF)
            pkt[2] = UInt8((newPorts >> 8) & 0xFF)
            pkt[3] = UInt8(newPorts & 0xFF)
            let after = PacketBuilder.crc32c(pkt)
            #expect(CRC32c.updatedForPortChange(before, oldPorts: oldPorts, newPorts: newPorts, length: n) == after)
        }
    }

    @Test("a partial checksum (CHECKSUM_PARTIAL, csum_start/csum_offset) is completed as the NIC would")
    func partial() {
        let n = FixtureNet.v4
        for l4 in [PacketBuilder.L4.tcp, .udp] {
            let good = PacketBuilder.frame(l4, from: n.client, to: n.virtual, payload: PacketBuilder.pattern(100))
            var partial = good
            let field = l4 == .tcp ? 14 + 20 + 16 : 14 + 20 + 6
            let len = good.count - 34
            // The kernel leaves the folded pseudo-header sum (not complemented) in the field.
            let pseudo = ~PacketBuilder.internetChecksum(
                [], adding: PacketBuilder.pseudoSum(n.client.address, n.virtual.address, l4.number, len))
            partial[field] = UInt8(pseudo >> 8)
            partial[field + 1] = UInt8(pseudo & 0xFF)
            #expect(partial != good)
            let r = partial.withUnsafeMutableBytes {
                PartialChecksum.complete($0, start: 34, offset: l4 == .tcp ? 16 : 6, end: $0.count, isUDP: l4 == .udp)
            }
            #expect(r == nil)
            #expect(partial == good)
        }
        var f = [UInt8](repeating: 0, count: 40)
        let bad = f.withUnsafeMutableBytes {
            PartialChecksum.complete($0, start: 34, offset: 16, end: 40, isUDP: false)
        }
        #expect(bad == .badPartialChecksum)
    }
}
