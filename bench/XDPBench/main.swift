// XDPBench: ns per packet of the XDP program on the fixture frames (BPF_PROG_TEST_RUN), and AF_XDP vs AF_PACKET receive on a veth.
import CLVSLinux
import CMallocCounter
import Foundation
import Glibc
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import LVSXDP
import LVSXDPTestSupport

// Usage: xdp-bench [--calls N] [--filter TEXT] [--rx SECONDS] [--runs N]
//   --calls N      BPF_PROG_TEST_RUN calls per row and repeat count (default 20000)
//   --filter TEXT  only rows whose name contains TEXT
//   --rx SECONDS   also measure AF_XDP and AF_PACKET receive rates on a veth in namespaces
//   --runs N       receive runs, alternating the two ports (default 3)
// Needs root. Prints markdown tables for bench/RESULTS.md.

var calls = 20000
var filter: String?
var rxSeconds: Double?
var runs = 3
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--calls": calls = Int(args.popFirst() ?? "") ?? calls
    case "--filter": filter = args.popFirst()
    case "--rx": rxSeconds = Double(args.popFirst() ?? "") ?? 5
    case "--runs": runs = Int(args.popFirst() ?? "") ?? runs
    default:
        print("usage: xdp-bench [--calls N] [--filter TEXT] [--rx SECONDS] [--runs N]")
        exit(2)
    }
}
guard getuid() == 0 else {
    print("xdp-bench needs root (BPF_PROG_LOAD, BPF_PROG_TEST_RUN)")
    exit(1)
}

func median(_ v: [UInt32]) -> Double {
    let s = v.sorted()
    return s.isEmpty ? 0 : Double(s[s.count / 2])
}

/// The flow that undoes a fixture's rewrite, installed on the rewritten frame's key, so that a
/// BPF_PROG_TEST_RUN with `repeat` rewrites on every run even if the kernel hands the program
/// the frame it left (the runs alternate between the two flows, each a full rewrite).
func inverseFlow(_ f: PacketFixture, _ info: PacketInfo) -> (XDPFlowKey, XDPFlow)? {
    let out = f.expected[0].withUnsafeBytes { PacketParser.parse($0) }
    guard out.verdict == .ip, out.hasPorts else { return nil }
    let key = XDPFlowKey(
        protocolNumber: out.protocolNumber, source: out.source, sourcePort: out.sourcePort,
        destination: out.destination, destinationPort: out.destinationPort)
    let src = Endpoint(info.source, info.sourcePort)
    let dst = Endpoint(info.destination, info.destinationPort)
    let changedSource = out.source != info.source || out.sourcePort != info.sourcePort
    let changedDestination = out.destination != info.destination || out.destinationPort != info.destinationPort
    switch f.action {
    case .directRoute: return nil  // same key
    case .natInbound, .natOutbound, .fullNATInbound, .fullNATOutbound:
        return XDPFlow.translate(
            key, source: changedSource ? src : nil, destination: changedDestination ? dst : nil, link: f.link,
            interface: XDPFixtureFlows.loopback, serverSlot: XDPFixtureFlows.serverSlot
        ).map { (key, $0) }
    default: return nil
    }
}

// MARK: BPF_PROG_TEST_RUN per rewrite

let xdp = try XDPProgram(limits: .init(flows: 4096, services: 256, addresses: 256, serverSlots: 64))
try XDPFixtureFlows.installSteering(xdp.maps)
let rows = (PacketFixtures.forwarding(frameSize: 64) + PacketFixtures.forwarding(frameSize: 1500)).filter { f in
    filter.map { f.name.contains($0) } ?? true
}
let repeatCount = 200
let repeatCalls = 10
print("#### XDP program per packet (BPF_PROG_TEST_RUN, ns per run as the kernel measures it)\n")
print("repeat 1: median of \(calls) calls in a row (the kernel's timer is read around each single run);")
print(
    "repeat \(repeatCount): median of \(repeatCalls) calls, TTL raised to 255 so \(repeatCount) successive rewrites of the"
)
print("frame stay on the fast path (NAT/FULLNAT alternate between the flow and its inverse); tunnels cannot")
print("repeat (the encapsulated frame is no longer the flow's). A call with repeat > 1 costs ~20 ms of wall")
print("time (the kernel switches the XDP dispatcher), not counted.\n")
print("| row | frame | path | repeat 1 | repeat \(repeatCount) |")
print("|---|---|---|---:|---:|")

/// The frame with TTL / hop limit 255 (and the IPv4 header checksum redone).
func withTTL255(_ f: [UInt8], _ info: PacketInfo) -> [UInt8] {
    var g = f
    let l3 = info.l3Offset
    if info.isIPv6 {
        g[l3 + 7] = 255
        return g
    }
    g[l3 + 8] = 255
    g[l3 + 10] = 0
    g[l3 + 11] = 0
    let c = PacketBuilder.internetChecksum(Array(g[l3..<(l3 + info.ipHeaderLength)]))
    g[l3 + 10] = UInt8(c >> 8)
    g[l3 + 11] = UInt8(c & 0xFF)
    return g
}

var arp = PacketBuilder.ethernet(
    dst: .broadcast, src: Macs.client, etherType: 0x0806, payload: [UInt8](repeating: 0, count: 28))
arp[21] = 1
let steerFrame = PacketBuilder.frame(.tcp, from: FixtureNet.v4.client, to: FixtureNet.v4.virtual, tcpFlags: 0x02)
for (name, frame) in [("ARP (parse, XDP_PASS)", arp), ("SYN to VIP:80 (steered; no socket: dropped)", steerFrame)] {
    var one: [UInt32] = []
    var many: [UInt32] = []
    for _ in 0..<calls { one.append(try xdp.testRun(frame).nanoseconds) }
    for _ in 0..<repeatCalls { many.append(try xdp.testRun(frame, repeat: UInt32(repeatCount)).nanoseconds) }
    print(
        "| \(name) | \(frame.count) B | \(name.hasPrefix("ARP") ? "pass" : "steer") | \(median(one)) | \(median(many)) |"
    )
}
for f in rows {
    let info = XDPFixtureFlows.parse(f)
    guard XDPFixtureFlows.expectation(for: f, info) == .fastPath, let (k, v) = XDPFixtureFlows.flow(for: f, info)
    else { continue }
    try xdp.maps.putFlow(k, v)
    let inverse = inverseFlow(f, info)
    if let (ik, iv) = inverse { try xdp.maps.putFlow(ik, iv) }
    let name = String(f.name.prefix { $0 != ":" })
    let before = xdp.maps.counters()
    var one: [UInt32] = []
    for _ in 0..<calls { one.append(try xdp.testRun(f.input).nanoseconds) }
    let onePath = xdp.maps.counters().since(before)[.fastTX] == UInt64(calls)
    var many: [UInt32] = []
    var manyPath = true
    if inverse != nil || f.action == .directRoute {
        let frame = withTTL255(f.input, info)
        let b = xdp.maps.counters()
        for _ in 0..<repeatCalls { many.append(try xdp.testRun(frame, repeat: UInt32(repeatCount)).nanoseconds) }
        manyPath = xdp.maps.counters().since(b)[.fastTX] == UInt64(repeatCalls * repeatCount)
    }
    let path = onePath && manyPath ? "fast (XDP_TX)" : "NOT all fast"
    print("| \(name) | \(f.input.count) B | \(path) | \(median(one)) | \(many.isEmpty ? "–" : String(median(many))) |")
    xdp.maps.deleteFlow(k)
    if let (ik, _) = inverse { xdp.maps.deleteFlow(ik) }
}
xdp.close()

// MARK: AF_XDP vs AF_PACKET receive on a veth

guard let seconds = rxSeconds else { exit(0) }

/// sched_setaffinity (glibc declares it only with _GNU_SOURCE), looked up at run time.
nonisolated(unsafe) let sched_setaffinity_: @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32 = unsafeBitCast(
    dlsym(dlopen(nil, RTLD_NOW), "sched_setaffinity")!,
    to: (@convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32).self)

/// Pins the calling thread to `cpu`.
@Sendable func pin(_ cpu: Int) {
    var set = [UInt64](repeating: 0, count: 16)
    set[cpu / 64] |= 1 << UInt64(cpu % 64)
    _ = set.withUnsafeBytes { sched_setaffinity_(0, $0.count, $0.baseAddress!) }
}

final class Flag: @unchecked Sendable {
    var stop = false
    var sent = 0
}

/// Prebuilt UDP frames to VIP:5000 (d0's MAC) sent on the packet socket `fd` (bound in the client's
/// namespace, PACKET_QDISC_BYPASS) 256 per sendmmsg until stopped, on CPU 0: no UDP stack per packet.
func generate(_ fd: Int32, _ frame: [UInt8], _ ifindex: Int32, _ flag: Flag) -> Thread {
    let t = Thread {
        pin(0)
        frame.withUnsafeBytes { f in
            var tx = [TransmitFrame](
                repeating: TransmitFrame(data: f.baseAddress, len: UInt32(f.count), ifindex: ifindex), count: 256)
            while !flag.stop {
                let n = tx.withUnsafeMutableBufferPointer { clvs_dp_send_batch(fd, $0.baseAddress, 256) }
                if n > 0 { flag.sent += Int(n) }
            }
        }
    }
    t.start()
    return t
}

func rate(_ port: PacketPort, seconds: Double, generatorFD: Int32, frame: [UInt8], ifindex: Int32) -> (
    rx: Double, sent: Double, drops: UInt64, mallocsPerMillion: Double
) {
    let frames = UnsafeMutablePointer<ReceivedFrame>.allocate(capacity: 256)
    defer { frames.deallocate() }
    let flag = Flag()
    let dropsBefore = port.ringDrops
    let g = generate(generatorFD, frame, ifindex, flag)
    pin(1)
    // Warm up 0.5 s, then count.
    var t0 = Date()
    while Date().timeIntervalSince(t0) < 0.5 {
        _ = port.receive(into: frames, capacity: 256)
        port.release()
    }
    let sent0 = flag.sent
    var got = 0
    // Process-wide: the generator thread allocates nothing in its loop either.
    let m0 = lvs_malloc_count()
    t0 = Date()
    while Date().timeIntervalSince(t0) < seconds {
        got += port.receive(into: frames, capacity: 256)
        port.release()
    }
    let mallocs = lvs_malloc_count() &- m0
    let sent = flag.sent - sent0
    flag.stop = true
    while !g.isFinished { usleep(1000) }
    return (
        Double(got) / seconds, Double(sent) / seconds, port.ringDrops &- dropsBefore,
        got == 0 ? 0 : Double(mallocs) * 1e6 / Double(got)
    )
}

let lab = try LabNetwork("xdpbench")
defer { lab.close() }
let c = try lab.host("c")
let d = try lab.host("d")
try lab.link(c, "c0", d, "d0")
try c.ip("addr add 10.7.1.2/24 dev c0")
try c.ip("route add default via 10.7.1.1")
try d.ip("addr add 10.7.1.1/24 dev d0")
try d.ip("addr add 10.7.9.10/32 dev d0")
// The receive work of a veth runs on the sending CPU unless RPS moves it (machine-limits.md): send
// on CPU 0, move d0's receive to CPU 1 where the reader spins.
_ = try d.run(["/bin/sh", "-c", "echo 2 > /sys/class/net/d0/queues/rx-0/rps_cpus"])
let (gen, c0) = try inNamespace(c.namespace) { () -> (Int32, Int32) in
    let fd = clvs_dp_packet_socket(0)
    _ = clvs_dp_set_qdisc_bypass(fd)
    return (fd, Int32(if_nametoindex("c0")))
}
let d0MAC: MACAddress = try {
    let o = try d.run([LabNetwork.tool("ip")!, "-o", "link", "show", "dev", "d0"]).stdout
    guard let r = o.range(of: "link/ether "), let m = MACAddress(o[r.upperBound...].prefix(17)) else {
        throw LabError("no MAC for d0")
    }
    return m
}()
let genFrame = PacketBuilder.frame(
    .udp, from: Endpoint(IPAddress("10.7.1.2")!, 40000), to: Endpoint(IPAddress("10.7.9.10")!, 5000), dstMAC: d0MAC,
    payload: PacketBuilder.pattern(18))
var load = [Double](repeating: 0, count: 3)
getloadavg(&load, 3)
print(
    "\n#### Receive on a veth, \(seconds) s per run (load average \(String(format: "%.2f %.2f %.2f", load[0], load[1], load[2])))\n"
)
print("| port | mode | received pps | offered pps | kernel drops | mallocs / 1M frames |")
print("|---|---|---:|---:|---:|---:|")
for _ in 0..<runs {
    do {
        let prog = try XDPProgram(limits: .init(flows: 64, services: 64, addresses: 64, serverSlots: 4))
        try prog.maps.putService(XDPServiceKey(protocolNumber: 17, address: IPAddress("10.7.9.10")!, port: 5000))
        let (port, mode) = try inNamespace(d.namespace) { () throws -> (XDPSocketPort, XDPProgram.AttachMode) in
            let i = Int32(if_nametoindex("d0"))
            let m = try prog.attach(interface: i)
            return (try XDPSocketPort(interfaces: [(i, "d0")], program: prog), m)
        }
        let r = rate(port, seconds: seconds, generatorFD: gen, frame: genFrame, ifindex: c0)
        print(
            "| AF_XDP (XDPSocketPort), XDP steering | \(mode), copy | \(Int(r.rx)) | \(Int(r.sent)) | \(r.drops) | \(r.mallocsPerMillion) |"
        )
        let st = port.statistics
        print(
            "|  | RX ring full \(st.rxRingFull), dropped \(st.rxDropped), fill ring empty \(st.rxFillRingEmpty) times (whole run) | | | | |"
        )
        prog.close()
    }
    do {
        let port = try inNamespace(d.namespace) { () throws -> AFPacketPort in
            var cfg = AFPacketPort.Configuration()
            cfg.interface = Int32(if_nametoindex("d0"))
            return try AFPacketPort(configuration: cfg)
        }
        let r = rate(port, seconds: seconds, generatorFD: gen, frame: genFrame, ifindex: c0)
        print(
            "| AF_PACKET (AFPacketPort), TPACKET_V2 | – | \(Int(r.rx)) | \(Int(r.sent)) | \(r.drops) | \(r.mallocsPerMillion) |"
        )
    }
}
close(gen)
