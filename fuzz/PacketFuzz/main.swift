// libFuzzer target: every frame through the parser, every transform, the builders and splitters, with invariants.
import LVSCore
import LVSPacket

// Invariants checked on every input (a violation traps, and libFuzzer saves the input):
// - the parser and every function here read and write only inside the frame (AddressSanitizer:
//   the frame sits at the very end of its allocation, exact size, headroom in front);
// - a frame a transform forwards parses again as a valid IP packet, and its TCP/UDP checksum is
//   still right if it was right before;
// - every fragment, segment and ICMP error produced parses as a valid IP packet.

let headroom = Frame.recommendedHeadroom
let mtus = [1500, 1400, 1280, 576, 68, 9000, 100, 1300]
let v4a = IPAddress.v4(IPv4Address(10, 0, 2, 11))
let v4b = IPAddress.v4(IPv4Address(10, 0, 2, 1))
let v4c = IPAddress.v4(IPv4Address(192, 0, 2, 10))
let v6a = IPAddress.v6(IPv6Address(high: 0xFD00_0002_0000_0000, low: 0x11))
let v6b = IPAddress.v6(IPv6Address(high: 0xFD00_0002_0000_0000, low: 0x1))
let v6c = IPAddress.v6(IPv6Address(high: 0x2001_0DB8_0001_0000, low: 0x10))
nonisolated(unsafe) var tracker = FragmentTracker(capacity: 64, timeout: .seconds(2))
nonisolated(unsafe) var clock: UInt64 = 0

/// Traps with a message (libFuzzer reports it as a crash and keeps the input).
func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fatalError("invariant: \(what())") }
}

/// True if the L4 checksum of an unfragmented TCP or UDP (non-zero checksum) packet verifies.
func transportChecksumOK(_ frame: UnsafeRawBufferPointer, _ info: PacketInfo) -> Bool? {
    guard case .ip = info.verdict, !info.isFragment, !info.isICMPError, let p = frame.baseAddress else { return nil }
    let proto = info.protocolNumber
    guard proto == 6 || proto == 17 else { return nil }
    let l4 = p + info.l4Offset
    var len = info.l4Length
    if proto == 17 {
        if l4.load(fromByteOffset: 6, as: UInt16.self) == 0 { return nil }
        len = Int(
            UInt16(l4.load(fromByteOffset: 4, as: UInt8.self)) << 8 | UInt16(l4.load(fromByteOffset: 5, as: UInt8.self))
        )
    }
    let pseudo = InternetChecksum.pseudoHeader(
        source: info.source, destination: info.destination, protocol: proto, length: len)
    return InternetChecksum.verify(l4, len, adding: pseudo)
}

/// Every frame a split or builder produced must parse as IP.
func checkFrames(
    _ out: UnsafeMutableRawBufferPointer, _ stride: Int, _ lengths: UnsafeMutableBufferPointer<Int>, _ n: Int,
    _ what: String
) {
    for i in 0..<n {
        let f = UnsafeRawBufferPointer(start: out.baseAddress! + i * stride, count: lengths[i])
        let info = PacketParser.parse(f)
        check(info.verdict == .ip, "\(what) \(i) does not parse: \(info.verdict)")
    }
}

/// Runs one transform on a fresh copy of the frame and checks what comes out.
func run(_ data: UnsafeRawBufferPointer, _ sel: UInt8, _ mtu: Int, _ which: Int) {
    let n = data.count
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: headroom + n, alignment: 8)
    defer { buf.deallocate() }
    buf.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0xA5, count: headroom)
    (buf.baseAddress! + headroom).copyMemory(from: data.baseAddress!, byteCount: n)
    var frame = Frame(buffer: buf, start: headroom, length: n)
    let info = PacketParser.parse(frame.bytes)
    guard case .ip = info.verdict else { return }
    let before = transportChecksumOK(frame.bytes, info)
    let v6 = info.isIPv6
    let (a, b, c) = v6 ? (v6a, v6b, v6c) : (v4a, v4b, v4c)
    let vlan: UInt16? = sel & 0x80 != 0 ? UInt16(sel) << 4 : nil
    let link = EgressLink(
        sourceMAC: MACAddress(0x0200_0000_000E), destinationMAC: MACAddress(0x0200_0000_0051), mtu: mtu, vlan: vlan)
    let port = UInt16(sel) &* 257 &+ 1
    let verdict: ForwardVerdict
    var rewritesL4 = true
    switch which {
    case 0: verdict = Forwarding.natInbound(&frame, info, server: a, serverPort: port, link: link)
    case 1: verdict = Forwarding.natOutbound(&frame, info, virtualAddress: c, virtualPort: 80, link: link)
    case 2:
        verdict = Forwarding.directRoute(&frame, info, link: link)
    case 3:
        verdict = Forwarding.fullNATInbound(
            &frame, info, localAddress: b, localPort: port, server: a, serverPort: 8080, link: link)
    case 4:
        verdict = Forwarding.fullNATOutbound(
            &frame, info, virtualAddress: c, virtualPort: 80, client: b, clientPort: port, link: link)
    default:
        let outer6 = sel & 1 != 0
        let types: [TunnelType] = [.ipip, .gue, .gre]
        let spec = TunnelSpec(type: types[Int(sel >> 1) % 3], port: 6080, flags: sel & 8 != 0 ? .checksum : [])
        verdict = Forwarding.tunnel(
            &frame, info, source: outer6 ? v6b : v4b, destination: outer6 ? v6a : v4a, spec: spec, ipID: UInt16(sel),
            link: link)
        rewritesL4 = false
    }
    check(frame.start >= 0 && frame.start + frame.length <= frame.capacity, "frame outside its buffer")
    switch verdict {
    case .forward:
        let out = PacketParser.parse(frame.bytes)
        check(out.verdict == .ip, "forwarded frame does not parse (\(which)): \(out.verdict)")
        if rewritesL4, before == true, let after = transportChecksumOK(frame.bytes, out) {
            check(after, "transport checksum broken by transform \(which)")
        }
    case .fragment(let m):
        let out = PacketParser.parse(frame.bytes)
        check(out.verdict == .ip, "frame to fragment does not parse")
        let stride = 2048
        let o = UnsafeMutableRawBufferPointer.allocate(byteCount: 48 * stride, alignment: 8)
        defer { o.deallocate() }
        let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: 48)
        defer { lengths.deallocate() }
        if case .split(let k) = IPv4Fragmenter.fragment(
            frame.bytes, out, mtu: m, into: o, stride: stride, lengths: lengths)
        {
            checkFrames(o, stride, lengths, k, "fragment")
        }
    case .timeExceeded, .fragmentationNeeded:
        let kind: ICMPBuilder.Kind
        if case .fragmentationNeeded(let m) = verdict {
            kind = .fragmentationNeeded(mtu: m)
        } else {
            kind = .timeExceeded
        }
        let o = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
        defer { o.deallocate() }
        let k = ICMPBuilder.build(kind, about: frame.bytes, info, source: c, into: o)
        if k > 0 {
            let e = PacketParser.parse(UnsafeRawBufferPointer(rebasing: o[0..<k]))
            check(e.verdict == .ip && e.isICMPError, "ICMP error does not parse: \(e.verdict)")
        }
    case .drop:
        break
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let sel = bytes[0]
    let mtu = mtus[Int(bytes[1]) % mtus.count]
    let n = size - 2
    // The frame alone, exactly sized: any read past its end is an ASan report.
    let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: max(n, 1), alignment: 1)
    defer { exact.deallocate() }
    if n > 0 { exact.baseAddress!.copyMemory(from: bytes + 2, byteCount: n) }
    let frame = UnsafeRawBufferPointer(start: exact.baseAddress!, count: n)
    var info = PacketParser.parse(frame)
    clock &+= 1_000_000

    switch info.verdict {
    case .ip:
        _ = info.flow(in: frame)
        _ = info.icmpError(in: frame)
        if let q = ICMPBuilder.tunnelQuote(frame, info) {
            let o = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
            defer { o.deallocate() }
            let link = EgressLink(sourceMAC: MACAddress(1), destinationMAC: MACAddress(2))
            let k = ICMPBuilder.relayFragmentationNeeded(frame, q, source: q.flow.destination, link: link, into: o)
            if k > 0 {
                check(
                    PacketParser.parse(UnsafeRawBufferPointer(rebasing: o[0..<k])).verdict == .ip,
                    "relay does not parse")
            }
        }
        // Fragments: record first ones, resolve later ones.
        if info.isFirstFragment {
            tracker.recordFirst(info, value: UInt64(sel), now: Timestamp(nanoseconds: clock))
        } else if info.isLaterFragment {
            _ = tracker.resolve(&info, now: Timestamp(nanoseconds: clock))
        }
        // Every transform, each on its own copy.
        for which in 0..<6 { run(frame, sel, mtu, which) }
        // No server: port unreachable.
        let o = UnsafeMutableRawBufferPointer.allocate(byteCount: 1400, alignment: 8)
        defer { o.deallocate() }
        let k = ICMPBuilder.build(.portUnreachable, about: frame, info, source: info.destination, into: o)
        if k > 0 {
            check(
                PacketParser.parse(UnsafeRawBufferPointer(rebasing: o[0..<k])).verdict == .ip,
                "port unreachable does not parse")
        }
        // GSO segmentation.
        if info.protocolNumber == 6 {
            let stride = 2048
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * stride, alignment: 8)
            defer { out.deallocate() }
            let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: 16)
            defer { lengths.deallocate() }
            let gso = Int(sel) * 8 + 1
            if case .split(let c) = TCPSegmenter.segment(
                frame, info, gsoSize: gso, into: out, stride: stride, lengths: lengths)
            {
                checkFrames(out, stride, lengths, c, "segment")
            }
        }
        // Partial checksum completion at arbitrary offsets (on a copy).
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(n, 1), alignment: 1)
        defer { copy.deallocate() }
        copy.copyMemory(from: frame)
        let mutable = UnsafeMutableRawBufferPointer(rebasing: copy[0..<n])
        _ = PartialChecksum.complete(mutable, start: Int(sel), offset: Int(bytes[1]) & 31, end: n, isUDP: sel & 1 == 0)
    case .arp:
        if case .success(let a) = ARPInfo.parse(frame, l3Offset: info.l3Offset) {
            let o = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
            defer { o.deallocate() }
            _ = NeighborFrames.arpReply(to: a, mac: MACAddress(0x0200_0000_000D), into: o)
        }
    default:
        break
    }
    return 0
}
