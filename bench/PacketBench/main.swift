// PacketBench: ns per packet for every LVSPacket transform at 64 and 1500 bytes, against a C baseline, with malloc counts.
import CMallocCounter
import CPacketBaseline
import Glibc
import LVSCore
import LVSPacket
import LVSTestSupport

// Usage: packet-bench [--passes N] [--filter TEXT] [--write-corpus DIR] [--micro] [--spin WHAT]
//   --filter TEXT       only rows whose name contains TEXT
//   --write-corpus DIR  write the fixture inputs as fuzz seeds and exit
//   --micro             a few isolated costs (parse, parse + DR, parse + NAT, C parse)
//   --spin WHAT         spin one loop for `perf stat`: swift-nat, swift-parse, swift-rewrite, c-nat,
//                       c-parse, c-rewrite, refresh

let ringSize = 256
/// 2 KiB of frame plus the headroom: a stride that is not a power of two keeps frames off the same cache sets.
let slot = Int(getenv("BENCH_SLOT").map { String(cString: $0) } ?? "") ?? (2048 + 128)
let headroom = Frame.recommendedHeadroom

var passes = 300
var filter: String?
var corpusDir: String?
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--passes": passes = Int(args.popFirst() ?? "") ?? passes
    case "--filter": filter = args.popFirst()
    case "--write-corpus": corpusDir = args.popFirst()
    case "--micro": break
    case "--spin": _ = args.popFirst()
    default:
        print("usage: packet-bench [--passes N] [--filter TEXT] [--write-corpus DIR] [--micro] [--spin WHAT]")
        exit(2)
    }
}

@inline(__always) func nanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// 256 copies of one frame, each `headroom` bytes into a 2 KiB slot, restored before every pass.
final class FrameRing {
    let base: UnsafeMutableRawPointer
    let template: [UInt8]
    var infos: [PacketInfo]
    var flows: [cpb_flow]

    init(_ frame: [UInt8]) {
        base = UnsafeMutableRawPointer.allocate(byteCount: ringSize * slot, alignment: 64)
        template = frame
        infos = [PacketInfo](repeating: PacketInfo(), count: ringSize)
        flows = [cpb_flow](repeating: cpb_flow(), count: ringSize)
        refresh()
        for i in 0..<ringSize {
            _ = PacketParser.parse(
                UnsafeRawBufferPointer(start: base + i * slot + headroom, count: frame.count), into: &infos[i])
        }
    }

    deinit { base.deallocate() }

    /// Puts the original frame back into every slot (outside the timed region).
    func refresh() {
        template.withUnsafeBytes { t in
            for i in 0..<ringSize { (base + i * slot + headroom).copyMemory(from: t.baseAddress!, byteCount: t.count) }
        }
    }

    @inline(__always) func frame(_ i: Int) -> Frame {
        Frame(
            buffer: UnsafeMutableRawBufferPointer(start: base + i &* slot, count: slot), start: headroom,
            length: template.count)
    }
}

/// The median of `passes` timings of `body` over the ring, in ns per packet.
func measure(_ ring: FrameRing, passes: Int, _ body: (FrameRing) -> Int) -> Double {
    var samples: [Double] = []
    samples.reserveCapacity(passes)
    var sink = 0
    for _ in 0..<passes {
        ring.refresh()
        let t0 = nanos()
        sink &+= body(ring)
        let t1 = nanos()
        samples.append(Double(t1 - t0) / Double(ringSize))
    }
    if sink == -1 { print("") }
    samples.sort()
    return samples[samples.count / 2]
}

/// One transform with its parameters, called directly in a specialised loop (as the data plane
/// will call it once it has switched on the connection's forwarding method).
protocol BenchTransform {
    func callAsFunction(_ f: inout Frame, _ info: PacketInfo) -> ForwardVerdict
}

struct NATIn: BenchTransform {
    let a: IPAddress, p: UInt16, link: EgressLink
    @inline(__always) func callAsFunction(_ f: inout Frame, _ i: PacketInfo) -> ForwardVerdict {
        Forwarding.natInbound(&f, i, server: a, serverPort: p, link: link)
    }
}
struct NATOut: BenchTransform {
    let a: IPAddress, p: UInt16, link: EgressLink
    @inline(__always) func callAsFunction(_ f: inout Frame, _ i: PacketInfo) -> ForwardVerdict {
        Forwarding.natOutbound(&f, i, virtualAddress: a, virtualPort: p, link: link)
    }
}
struct DR: BenchTransform {
    let link: EgressLink
    @inline(__always) func callAsFunction(_ f: inout Frame, _ i: PacketInfo) -> ForwardVerdict {
        Forwarding.directRoute(&f, i, link: link)
    }
}
struct TUN: BenchTransform {
    let src: IPAddress, dst: IPAddress, spec: TunnelSpec, id: UInt16, link: EgressLink
    @inline(__always) func callAsFunction(_ f: inout Frame, _ i: PacketInfo) -> ForwardVerdict {
        Forwarding.tunnel(&f, i, source: src, destination: dst, spec: spec, ipID: id, link: link)
    }
}
struct FullNATIn: BenchTransform {
    let la: IPAddress, lp: UInt16, sa: IPAddress, sp: UInt16, link: EgressLink
    @inline(__always) func callAsFunction(_ f: inout Frame, _ i: PacketInfo) -> ForwardVerdict {
        Forwarding.fullNATInbound(&f, i, localAddress: la, localPort: lp, server: sa, serverPort: sp, link: link)
    }
}
struct FullNATOut: BenchTransform {
    let va: IPAddress, vp: UInt16, ca: IPAddress, cp: UInt16, link: EgressLink
    @inline(__always) func callAsFunction(_ f: inout Frame, _ i: PacketInfo) -> ForwardVerdict {
        Forwarding.fullNATOutbound(&f, i, virtualAddress: va, virtualPort: vp, client: ca, clientPort: cp, link: link)
    }
}

/// Parse + transform over the ring; returns how many were forwarded.
@inline(never) func fullLoop<T: BenchTransform>(_ t: T, _ r: FrameRing) -> Int {
    var ok = 0
    for i in 0..<ringSize {
        var f = r.frame(i)
        let info = PacketParser.parse(f.bytes)
        guard case .ip = info.verdict else { continue }
        if case .forward = t(&f, info) { ok &+= 1 }
    }
    return ok
}

/// Transform only, with the parsed description of the ring's frame (all frames are the same).
@inline(never) func onlyLoop<T: BenchTransform>(_ t: T, _ r: FrameRing) -> Int {
    var ok = 0
    let info = r.infos[0]
    for i in 0..<ringSize {
        var f = r.frame(i)
        if case .forward = t(&f, info) { ok &+= 1 }
    }
    return ok
}

/// The two timed loops of one transform.
struct Loops {
    var full: (FrameRing) -> Int
    var only: (FrameRing) -> Int
}

func loops(_ action: FixtureAction, _ link: EgressLink) -> Loops {
    func make<T: BenchTransform>(_ t: T) -> Loops { Loops(full: { fullLoop(t, $0) }, only: { onlyLoop(t, $0) }) }
    switch action {
    case .natInbound(let s): return make(NATIn(a: s.address, p: s.port, link: link))
    case .natOutbound(let v): return make(NATOut(a: v.address, p: v.port, link: link))
    case .directRoute: return make(DR(link: link))
    case .tunnel(let src, let dst, let spec, let id):
        return make(TUN(src: src, dst: dst, spec: spec, id: id, link: link))
    case .fullNATInbound(let l, let s):
        return make(FullNATIn(la: l.address, lp: l.port, sa: s.address, sp: s.port, link: link))
    case .fullNATOutbound(let v, let c):
        return make(FullNATOut(va: v.address, vp: v.port, ca: c.address, cp: c.port, link: link))
    case .noServer: return make(DR(link: link))
    }
}

@inline(never) func microNAT(_ r: FrameRing, _ a: IPAddress, _ p: UInt16, _ link: EgressLink) -> Int {
    var ok = 0
    for i in 0..<ringSize {
        var fr = r.frame(i)
        let info = PacketParser.parse(fr.bytes)
        guard case .ip = info.verdict else { continue }
        if case .forward = Forwarding.natInbound(&fr, info, server: a, serverPort: p, link: link) { ok &+= 1 }
    }
    return ok
}

/// Parse only.
func parseOnly(_ ring: FrameRing) -> Int {
    var ok = 0
    for i in 0..<ringSize {
        let info = PacketParser.parse(ring.frame(i).bytes)
        if case .ip = info.verdict { ok &+= info.l4Offset }
    }
    return ok
}

/// Mallocs per million packets of parse + transform.
func mallocsPerMillion(_ ring: FrameRing, _ l: Loops) -> UInt64 {
    let rounds = 1_000_000 / ringSize + 1
    _ = l.full(ring)
    let before = lvs_malloc_count()
    for _ in 0..<rounds {
        ring.refresh()
        _ = l.full(ring)
    }
    return (lvs_malloc_count() - before) * 1_000_000 / UInt64(rounds * ringSize)
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func fmt(_ x: Double) -> String {
    let r = (x * 10).rounded() / 10
    return String(r)
}

// MARK: Corpus

if let dir = corpusDir {
    // Fuzz seeds: [action selector, MTU selector] + frame, one per fixture.
    var n = 0
    for (k, f) in PacketFixtures.all.enumerated() {
        let bytes: [UInt8] = [UInt8(k % 251), UInt8(k % 7)] + f.input
        let path = "\(dir)/fixture-\(k)"
        guard let fp = fopen(path, "wb") else { continue }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, fp) }
        fclose(fp)
        n += 1
    }
    print("wrote \(n) seeds to \(dir)")
    exit(0)
}

// MARK: Diagnostics: --spin WHAT runs one loop for `perf stat`; --micro prints a few isolated costs.

if let i = CommandLine.arguments.firstIndex(of: "--spin") {
    // Spin one loop for perf stat: --spin swift-nat | c-nat | swift-dr | c-dr | swift-parse
    let what = CommandLine.arguments[i + 1]
    let f = PacketFixtures.forwarding(frameSize: 64)[0]
    let ring = FrameRing(f.input)
    let rs = FixtureNet.v4.server
    let m: [UInt8] = PacketBuilder.mac(Macs.server) + PacketBuilder.mac(Macs.directorInside)
    var flows = [cpb_flow](repeating: cpb_flow(), count: ringSize)
    for i in 0..<ringSize { _ = cpb_parse_v4(ring.base + i &* slot + headroom, f.input.count, &flows[i]) }
    var sink = 0
    for _ in 0..<passes {
        ring.refresh()
        switch what {
        case "swift-nat": sink &+= microNAT(ring, rs.address, rs.port, f.link)
        case "swift-parse": sink &+= parseOnly(ring)
        case "c-nat":
            sink &+= Int(
                cpb_batch(
                    CPB_NAT_IN, ring.base + headroom, slot, f.input.count, ringSize, rs.address.v4!.value.bigEndian,
                    rs.port.bigEndian, m, &flows))
        case "c-parse":
            for i in 0..<ringSize {
                sink &+= Int(cpb_parse_v4(ring.base + i &* slot + headroom, f.input.count, &flows[i]))
            }
        case "c-rewrite":
            sink &+= Int(
                cpb_batch_rewrite(
                    CPB_NAT_IN, ring.base + headroom, slot, ringSize, rs.address.v4!.value.bigEndian, rs.port.bigEndian,
                    m, flows))
        case "swift-rewrite":
            sink &+= onlyLoop(NATIn(a: rs.address, p: rs.port, link: f.link), ring)
        case "refresh": sink &+= 1
        default: break
        }
    }
    print(sink)
    exit(0)
}

if CommandLine.arguments.contains("--micro") {
    let f = PacketFixtures.forwarding(frameSize: 64)[2]  // dr IPv4 tcp 64B
    let ring = FrameRing(f.input)
    let link = f.link
    func report(_ label: String, _ body: (FrameRing) -> Int) {
        print("\(label): \(fmt(measure(ring, passes: passes, body))) ns")
    }
    report("parse only") { parseOnly($0) }
    report("parse + directRoute") { r in
        var ok = 0
        for i in 0..<ringSize {
            var fr = r.frame(i)
            let info = PacketParser.parse(fr.bytes)
            guard case .ip = info.verdict else { continue }
            if case .forward = Forwarding.directRoute(&fr, info, link: link) { ok &+= 1 }
        }
        return ok
    }
    report("directRoute only (one info)") { r in
        var ok = 0
        let info = r.infos[0]
        for i in 0..<ringSize {
            var fr = r.frame(i)
            if case .forward = Forwarding.directRoute(&fr, info, link: link) { ok &+= 1 }
        }
        return ok
    }
    let nat = PacketFixtures.forwarding(frameSize: 64)[0]
    let natRing = FrameRing(nat.input)
    let rs = FixtureNet.v4.server
    let natTime = measure(natRing, passes: passes) { microNAT($0, rs.address, rs.port, link) }
    print("parse NAT frame: \(fmt(measure(natRing, passes: passes) { parseOnly($0) })) ns")
    print("parse + natInbound: \(fmt(natTime)) ns")
    report("C parse") { r in
        var ok = 0
        var flow = cpb_flow()
        for i in 0..<ringSize where cpb_parse_v4(r.base + i * slot + headroom, 64, &flow) == 0 { ok &+= 1 }
        return ok
    }
    exit(0)
}

// MARK: Swift transforms

print("## LVSPacket transforms (median of \(passes) passes over a ring of \(ringSize) frames, ns/packet)\n")
print("| transform | frame | parse + transform | transform only | mallocs / 1M packets |")
print("|---|---|---:|---:|---:|")
var worstMallocs: UInt64 = 0
for size in [64, 1500] {
    for f in PacketFixtures.forwarding(frameSize: size) where f.verdict == .forward {
        if let flt = filter, !f.name.contains(flt) { continue }
        let ring = FrameRing(f.input)
        let l = loops(f.action, f.link)
        let full = measure(ring, passes: passes, l.full)
        let only = measure(ring, passes: passes, l.only)
        let m = mallocsPerMillion(ring, l)
        worstMallocs = max(worstMallocs, m)
        let label = String(f.name.prefix { $0 != ":" })
        print("| \(label) | \(f.input.count) B | \(fmt(full)) | \(fmt(only)) | \(m) |")
    }
}
do {
    let ring = FrameRing(PacketFixtures.forwarding(frameSize: 64)[0].input)
    print("\nTiming overhead (empty loop body): \(fmt(measure(ring, passes: passes) { _ in 0 })) ns/packet")
}
print("\nParse alone:")
for size in [64, 1500] {
    let f = PacketFixtures.forwarding(frameSize: size)[0]
    let ring = FrameRing(f.input)
    print("- parse IPv4 TCP \(f.input.count) B: \(fmt(measure(ring, passes: passes) { parseOnly($0) })) ns")
}

// MARK: C baseline

print("\n## C baseline (-O2), same frames, same ring, same run\n")
print("| rewrite | frame | C parse+rewrite | Swift parse+transform | Swift/C | C rewrite | Swift transform | Swift/C |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
let macs: [UInt8] = PacketBuilder.mac(Macs.server) + PacketBuilder.mac(Macs.directorInside)
let n4 = FixtureNet.v4
let rsAddr = n4.server.address.v4!.value.bigEndian
let rsPort = n4.server.port.bigEndian
let vipAddr = n4.virtual.address.v4!.value.bigEndian
let vipPort = n4.virtual.port.bigEndian
var ratios: [(String, Double, Double)] = []
for size in [64, 1500] {
    for f in PacketFixtures.forwarding(frameSize: size) where f.verdict == .forward {
        guard f.name.contains("IPv4"), !f.name.contains("sctp") else { continue }
        let op: cpb_op
        var addr: UInt32 = 0
        var port: UInt16 = 0
        if f.name.hasPrefix("dr ") {
            op = CPB_DR
        } else if f.name.hasPrefix("nat-in ") {
            op = CPB_NAT_IN
            (addr, port) = (rsAddr, rsPort)
        } else if f.name.hasPrefix("nat-out ") {
            op = CPB_NAT_OUT
            (addr, port) = (vipAddr, vipPort)
        } else {
            continue
        }
        if let flt = filter, !f.name.contains(flt) { continue }
        let ring = FrameRing(f.input)
        let l = loops(f.action, f.link)
        let len = f.input.count
        // Interleave C and Swift passes so machine noise hits both alike.
        var cFull: [Double] = []
        var sFull: [Double] = []
        var cOnly: [Double] = []
        var sOnly: [Double] = []
        for i in 0..<ringSize { _ = cpb_parse_v4(ring.base + i * slot + headroom, len, &ring.flows[i]) }
        for _ in 0..<passes {
            cFull.append(
                measure(ring, passes: 1) { r in
                    macs.withUnsafeBufferPointer { m in
                        r.flows.withUnsafeMutableBufferPointer { fl in
                            Int(
                                cpb_batch(
                                    op, r.base + headroom, slot, len, ringSize, addr, port, m.baseAddress,
                                    fl.baseAddress))
                        }
                    }
                })
            sFull.append(measure(ring, passes: 1, l.full))
            cOnly.append(
                measure(ring, passes: 1) { r in
                    macs.withUnsafeBufferPointer { m in
                        r.flows.withUnsafeBufferPointer { fl in
                            Int(
                                cpb_batch_rewrite(
                                    op, r.base + headroom, slot, ringSize, addr, port, m.baseAddress, fl.baseAddress))
                        }
                    }
                })
            sOnly.append(measure(ring, passes: 1, l.only))
        }
        func median(_ a: [Double]) -> Double { a.sorted()[a.count / 2] }
        let (cf, sf, co, so) = (median(cFull), median(sFull), median(cOnly), median(sOnly))
        let label = String(f.name.prefix { $0 != ":" })
        ratios.append((label, sf / cf, so / co))
        print(
            "| \(label) | \(len) B | \(fmt(cf)) | \(fmt(sf)) | \(ratio(sf / cf)) | \(fmt(co)) | \(fmt(so)) | \(ratio(so / co)) |"
        )
    }
}
print("\nWorst mallocs per 1M packets over all transforms: \(worstMallocs)")

func ratio(_ x: Double) -> String { String((x * 100).rounded() / 100) + "×" }
