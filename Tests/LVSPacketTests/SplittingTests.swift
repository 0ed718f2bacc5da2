// GSO segmentation and IPv4 fragmentation: every output frame compared with one built field by field.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

/// Runs a split into a 64-slot buffer and returns the frames.
func split(_ body: (UnsafeMutableRawBufferPointer, Int, UnsafeMutableBufferPointer<Int>) -> SplitResult) -> (
    SplitResult, [[UInt8]]
) {
    let stride = 2048
    var out = [UInt8](repeating: 0, count: 64 * stride)
    var lengths = [Int](repeating: 0, count: 64)
    let r = out.withUnsafeMutableBytes { o in lengths.withUnsafeMutableBufferPointer { body(o, stride, $0) } }
    guard case .split(let n) = r else { return (r, []) }
    return (r, (0..<n).map { Array(out[($0 * stride)..<($0 * stride + lengths[$0])]) })
}

@Suite("Splitting")
struct SplittingTests {
    @Test(
        "a 5000-byte TCP GSO frame becomes 4 MSS segments like tcp_gso_segment: seq, IP ID, FIN/PSH last, CWR first",
        arguments: [false, true])
    func gso(v6: Bool) {
        let n = FixtureNet.of(v6: v6)
        let payload = PacketBuilder.pattern(5000)
        let flags: UInt8 = 0x80 | 0x10 | 0x08 | 0x01  // CWR ACK PSH FIN
        func segment(seq: UInt32, flags: UInt8, id: UInt16, data: [UInt8]) -> [UInt8] {
            let tcp = PacketBuilder.tcp(
                src: n.client.address, dst: n.virtual.address, sport: n.client.port, dport: n.virtual.port, seq: seq,
                ack: 77, flags: flags, options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], payload: data)
            let ip: [UInt8]
            switch (n.client.address, n.virtual.address) {
            case (.v4(let s), .v4(let d)): ip = PacketBuilder.ipv4(src: s, dst: d, proto: 6, payload: tcp, id: id)
            case (.v6(let s), .v6(let d)): ip = PacketBuilder.ipv6(src: s, dst: d, nextHeader: 6, payload: tcp)
            default: ip = []
            }
            return PacketBuilder.ethernet(
                dst: Macs.director, src: Macs.client, etherType: v6 ? 0x86DD : 0x0800, payload: ip)
        }
        let big = segment(seq: 1000, flags: flags, id: 0x100, data: payload)
        let (_, info) = parse(big)
        let (r, frames) = split { o, s, l in
            big.withUnsafeBytes { TCPSegmenter.segment($0, info, gsoSize: 1448, into: o, stride: s, lengths: l) }
        }
        #expect(r == .split(count: 4))
        for (i, f) in frames.enumerated() {
            let last = i == 3
            var fl = flags
            if !last { fl &= ~0x09 }
            if i != 0 { fl &= ~0x80 }
            let chunk = Array(payload[(i * 1448)..<min(5000, (i + 1) * 1448)])
            let want = segment(seq: 1000 + UInt32(i * 1448), flags: fl, id: 0x100 + UInt16(i), data: chunk)
            #expect(f == want, "segment \(i): \(firstDifference(f, want))")
        }
        // gso_size 0 and a small output buffer are refused.
        #expect(
            split { o, s, l in
                big.withUnsafeBytes { TCPSegmenter.segment($0, info, gsoSize: 0, into: o, stride: s, lengths: l) }
            }.0 == .drop(.badGSO))
        #expect(
            split { o, _, l in
                big.withUnsafeBytes { TCPSegmenter.segment($0, info, gsoSize: 1448, into: o, stride: 100, lengths: l) }
            }.0 == .drop(.outputTooSmall))
    }

    @Test("IPv4 fragmentation (RFC 791): later fragments keep only copied options, offsets and MF right")
    func fragmentWithOptions() {
        let n = FixtureNet.v4
        // Router alert (copied) and record route (not copied).
        let opts: [UInt8] = [0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00]
        let payload = PacketBuilder.udp(
            src: n.client.address, dst: n.virtual.address, sport: 1, dport: 2, payload: PacketBuilder.pattern(3000))
        let ip = PacketBuilder.ipv4(
            src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 17, payload: payload, id: 0x77,
            dontFragment: false, options: opts)
        let frame = PacketBuilder.ethernet(dst: Macs.server, src: Macs.directorInside, etherType: 0x0800, payload: ip)
        let (_, info) = parse(frame)
        let (r, frames) = split { o, s, l in
            frame.withUnsafeBytes { IPv4Fragmenter.fragment($0, info, mtu: 1500, into: o, stride: s, lengths: l) }
        }
        #expect(r == .split(count: 3))
        let first = (1500 - 32) & ~7
        let later = (1500 - 24) & ~7
        let chunks = [
            Array(payload[0..<first]), Array(payload[first..<(first + later)]), Array(payload[(first + later)...]),
        ]
        var offset = 0
        for (i, f) in frames.enumerated() {
            let want = PacketBuilder.ethernet(
                dst: Macs.server, src: Macs.directorInside, etherType: 0x0800,
                payload: PacketBuilder.ipv4(
                    src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 17, payload: chunks[i], id: 0x77,
                    dontFragment: false, moreFragments: i < 2, fragmentOffset: offset,
                    options: i == 0 ? opts : [0x94, 0x04, 0x00, 0x00]))
            #expect(f == want, "fragment \(i): \(firstDifference(f, want))")
            #expect(f.count - 14 <= 1500)
            offset += chunks[i].count
        }
    }
}
