// BPF_PROG_TEST_RUN over the packet fixture table: the XDP fast path's frames equal LVSPacket's, byte for byte.
import Glibc
import LVSCore
import LVSPacket
import LVSTestSupport
import LVSXDP
import LVSXDPTestSupport
import Testing

/// Why XDP tests cannot run here, or nil.
enum XDPTestEnvironment {
    static var unavailableReason: String? {
        if getuid() != 0 { return "XDP tests need root (bpf(2): BPF_PROG_LOAD, BPF_PROG_TEST_RUN)" }
        return nil
    }
}

/// Where two byte arrays first differ.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
    for i in 0..<min(a.count, b.count) where a[i] != b[i] {
        return "first difference at byte \(i): got 0x\(String(a[i], radix: 16)), want 0x\(String(b[i], radix: 16))"
    }
    return a.count == b.count ? "equal" : "lengths \(a.count) vs \(b.count)"
}

@Suite("XDP program on the packet fixtures (BPF_PROG_TEST_RUN)")
struct XDPFixtureTests {
    @Test("every fixture: fast-path frames equal LVSPacket's output byte for byte, the rest go to lvsd untouched")
    func fixtures() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let xdp = try XDPProgram()
        defer { xdp.close() }
        try XDPFixtureFlows.installSteering(xdp.maps)
        var fast = 0
        var steered = 0
        var other = 0
        for f in XDPFixtureFlows.fixtures {
            // A driver never hands XDP a frame shorter than an Ethernet header (test_run refuses it).
            if f.input.count < 14 { continue }
            let info = XDPFixtureFlows.parse(f)
            let expectation = XDPFixtureFlows.expectation(for: f, info)
            let installed = XDPFixtureFlows.flow(for: f, info)
            if let (k, v) = installed { try xdp.maps.putFlow(k, v) }
            defer { if let (k, _) = installed { xdp.maps.deleteFlow(k) } }
            let before = xdp.maps.counters()
            let run = try xdp.testRun(f.input)
            let moved = xdp.maps.counters().since(before)
            switch expectation {
            case .fastPath:
                fast += 1
                #expect(run.action == .tx, "\(f.name): \(run.action), counters \(moved.nonZero)")
                #expect(moved[.fastTX] == 1, "\(f.name): \(moved.nonZero)")
                if run.output != f.expected[0] {
                    Issue.record("\(f.name): \(firstDifference(run.output, f.expected[0]))")
                }
            case .steer:
                steered += 1
                let reasons = moved.nonZero.filter { $0.0.steersToLVSD }
                #expect(reasons.count == 1, "\(f.name): not steered, \(run.action) \(moved.nonZero)")
                #expect(run.action == .drop && moved[.steerNoSocket] == 1, "\(f.name): \(run.action) \(moved.nonZero)")
                #expect(run.output == f.input, "\(f.name): a steered frame was modified")
            case .notForwarded:
                other += 1
                #expect(moved[.fastTX] == 0 && moved[.fastRedirect] == 0, "\(f.name): forwarded \(moved.nonZero)")
                #expect(run.action == .pass || run.action == .drop, "\(f.name): \(run.action)")
                #expect(run.output == f.input, "\(f.name): modified")
            }
        }
        print("XDP fixtures: \(fast) fast path, \(steered) steered to lvsd, \(other) malformed not forwarded")
        // 99 today: every TCP/UDP row of the forwarding matrix, and the variants.
        #expect(fast >= 95, "the fast path covers the forwarding matrix's TCP/UDP rows")
    }

    @Test(
        "fast path state: the flow's packets, bytes and CLOCK_MONOTONIC last-seen; the server slot's per-CPU counters")
    func flowState() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let xdp = try XDPProgram()
        defer { xdp.close() }
        let f = PacketFixtures.forwarding(frameSize: 64).first { $0.name.hasPrefix("nat-in IPv4 tcp") }!
        let reply = PacketFixtures.forwarding(frameSize: 64).first { $0.name.hasPrefix("nat-out IPv4 tcp") }!
        for g in [f, reply] {
            let info = XDPFixtureFlows.parse(g)
            let (k, v) = try #require(XDPFixtureFlows.flow(for: g, info))
            try xdp.maps.putFlow(k, v)
        }
        try xdp.maps.resetServerStatistics(slot: XDPFixtureFlows.serverSlot)
        var t0 = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &t0)
        for _ in 0..<3 { #expect(try xdp.testRun(f.input).action == .tx) }
        #expect(try xdp.testRun(reply.input).action == .tx)
        var t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &t1)
        let info = XDPFixtureFlows.parse(f)
        let key = XDPFlowKey(
            protocolNumber: 6, source: info.source, sourcePort: info.sourcePort, destination: info.destination,
            destinationPort: info.destinationPort)
        let s = try #require(xdp.maps.flowState(key))
        #expect(s.packets == 3)
        #expect(s.bytes == 3 * UInt64(info.ipTotalLength))
        let ns = { (t: timespec) in UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec) }
        #expect(
            s.lastSeenNanoseconds >= ns(t0) && s.lastSeenNanoseconds <= ns(t1), "last seen is CLOCK_MONOTONIC_COARSE")
        let st = xdp.maps.serverStatistics(slot: XDPFixtureFlows.serverSlot)
        #expect(st.inPackets == 3 && st.outPackets == 1)
        #expect(st.inBytes == 3 * UInt64(info.ipTotalLength) && st.outBytes == UInt64(info.ipTotalLength))
        // Deleting the flow ends the fast path: with no service installed here, the kernel gets it.
        #expect(xdp.maps.deleteFlow(key)?.packets == 3)
        let before = xdp.maps.counters()
        #expect(try xdp.testRun(f.input).action == .pass)
        #expect(xdp.maps.counters().since(before)[.passNotOurs] == 1)
    }

    @Test("tunnel flows count the outer IPv4 ID up from the installed one")
    func tunnelIPID() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let xdp = try XDPProgram()
        defer { xdp.close() }
        let f = PacketFixtures.forwarding(frameSize: 64).first {
            $0.name.hasPrefix("tun-ipip IPv4 tcp") && $0.name.hasSuffix("over IPv4: K:ip_vs_xmit.c ip_vs_tunnel_xmit")
        }!
        let info = XDPFixtureFlows.parse(f)
        let (k, v) = try #require(XDPFixtureFlows.flow(for: f, info))
        try xdp.maps.putFlow(k, v)
        let a = try xdp.testRun(f.input)
        let b = try xdp.testRun(f.input)
        #expect(a.output == f.expected[0])
        let id = { (o: [UInt8]) in UInt16(o[18]) << 8 | UInt16(o[19]) }
        #expect(id(a.output) == 0x4242 && id(b.output) == 0x4243)
        #expect(xdp.maps.flowState(k)?.nextIPID == 0x4244)
    }
}
