// The worker's fast-path logic through a fake port and fake flow maps: install, fold, remove, the partial-checksum rule.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Synchronization
import Testing

/// The kernel's flow map as a dictionary: installs recorded, counts set by the test.
final class FakeFlows: FastPathFlows, @unchecked Sendable {
    var flows: [FlowKey: FastPathFlow] = [:]
    var counts: [FlowKey: FastPathFlowCounts] = [:]
    var capacity = Int.max
    var installs = 0

    func install(_ flow: FastPathFlow) -> FastPathInstallResult {
        if flows[flow.key] == nil && flows.count >= capacity { return .full }
        flows[flow.key] = flow
        counts[flow.key] = counts[flow.key] ?? FastPathFlowCounts(packets: 0, bytes: 0, lastSeenNanoseconds: 0)
        installs += 1
        return .installed
    }

    func remove(_ key: FlowKey) -> FastPathFlowCounts? {
        guard flows.removeValue(forKey: key) != nil else { return nil }
        return counts.removeValue(forKey: key)
    }

    func counts(_ key: FlowKey) -> FastPathFlowCounts? { flows[key] != nil ? counts[key] : nil }

    /// The fast path forwarded `n` packets of `bytes` each at `time`.
    func forward(_ key: FlowKey, _ n: UInt64, bytes: UInt64, at time: Timestamp) {
        guard var c = counts[key] else { return }
        c.packets += n
        c.bytes += n * bytes
        c.lastSeenNanoseconds = time.nanoseconds
        counts[key] = c
    }
}

func key(_ p: TransportProtocol, _ a: Endpoint, _ b: Endpoint) -> FlowKey {
    FlowKey(
        protocolNumber: p.rawValue, source: a.address, sourcePort: a.port, destination: b.address,
        destinationPort: b.port)
}

/// The worker with a flow registry: eth1 (2) and eth0 (3) are XDP interfaces whose peers take
/// XDP transmissions (unless `egress` says otherwise).
final class FastPathHarness {
    let h: Harness
    let flows = FakeFlows()
    let registry: FlowRegistry

    init(forwarding: ForwardingMethod = .masquerade, server: Endpoint = rs, egress: Set<Int32> = [2, 3]) throws {
        h = try Harness(forwarding: forwarding, server: server)
        registry = FlowRegistry(flows: flows)
        registry.setInterfaces(egress: egress, ingress: [2, 3])
        // Flows from the first eligible packet (the default waits for a few: `shortConnections`).
        registry.minimumTCPPackets = 1
        registry.minimumUDPPackets = 1
        h.worker.registry = registry
        registry.attach(to: h.owner.ipvs)
    }

    func run(_ frame: [UInt8], on interface: Int32, at t: Timestamp = t0, offloadFlags: UInt8 = 0)
        -> [FakePacketPort.Sent]
    {
        h.port.inject(frame, interface: interface, offloadFlags: offloadFlags)
        h.worker.runOnce(now: t)
        return h.port.takeSent()
    }

    /// A batch with no frame at `t` (timers, the sweep).
    func tick(_ t: Timestamp) { h.worker.runOnce(now: t) }

    var stats: RealServerEntry { h.owner.ipvs.services().first { $0.spec.key == .endpoint(.tcp, vip) }!.realServers[0] }
    var udpStats: RealServerEntry {
        h.owner.ipvs.services().first { $0.spec.key == .endpoint(.udp, vip) }!.realServers[0]
    }
}

@Suite("Data plane worker: XDP fast path (fake port, fake flow map)")
struct FastPathWorkerTests {
    @Test(
        "TCP NAT: no flow before ESTABLISHED; the client's ACK installs client → VIP, the server's data RS → client; FIN removes both (K:ip_vs_proto_tcp.c: only ESTABLISHED keeps its state on ACK/data)"
    )
    func tcpNATLifecycle() throws {
        let f = try FastPathHarness()
        _ = f.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        #expect(f.flows.flows.isEmpty)
        _ = f.run(
            PacketBuilder.frame(
                .tcp, from: rs, to: client, srcMAC: Macs.server, dstMAC: Macs.directorInside, payload: [],
                tcpFlags: 0x12), on: 3)
        #expect(f.flows.flows.isEmpty)
        _ = f.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x10), on: 2)
        let inKey = key(.tcp, client, vip)
        let inbound = try #require(f.flows.flows[inKey])
        #expect(inbound.rewrite == .translate(source: nil, destination: rs, reply: false))
        #expect(inbound.interface == 3 && inbound.link.destinationMAC == Macs.server)
        #expect(inbound.link.sourceMAC == Macs.directorInside)
        _ = f.run(
            PacketBuilder.frame(
                .tcp, from: rs, to: client, srcMAC: Macs.server, dstMAC: Macs.directorInside,
                payload: PacketBuilder.pattern(10), tcpFlags: 0x18), on: 3)
        let outKey = key(.tcp, rs, client)
        let reply = try #require(f.flows.flows[outKey])
        #expect(reply.rewrite == .translate(source: vip, destination: nil, reply: true))
        #expect(reply.interface == 2 && reply.link.destinationMAC == Macs.client)
        #expect(f.registry.counts.active == 2)

        // Packets forwarded by the kernel are folded in when the connection leaves ESTABLISHED.
        f.flows.forward(inKey, 5, bytes: 52, at: t0 + .seconds(1))
        f.flows.forward(outKey, 7, bytes: 1000, at: t0 + .seconds(1))
        let before = f.stats.counters
        _ = f.run(
            PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x11), on: 2, at: t0 + .seconds(2))
        #expect(f.flows.flows.isEmpty)
        #expect(f.registry.counts.active == 0 && f.registry.counts.removed == 2)
        let after = f.stats.counters
        #expect(after.inPackets - before.inPackets == 5 + 1)
        #expect(after.outPackets - before.outPackets == 7)
        #expect(after.outBytes - before.outBytes == 7000)
        let state = f.h.owner.ipvs.connections(now: t0 + .seconds(2)).first { $0.client == client }?.state
        // K:ip_vs_proto_tcp.c tcp_states, input FIN in ESTABLISHED → CLOSE_WAIT.
        #expect(state == "CLOSE_WAIT")
    }

    @Test(
        "a SYN-proxied connection never gets a flow: its sequence numbers are translated on every packet, which XDP does not do"
    )
    func synProxiedConnectionsStayOnTheWorker() throws {
        let f = try FastPathHarness()
        _ = f.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        let ipvs = f.h.owner.ipvs
        let id = try #require(
            ipvs.connectionID(
                protocolNumber: 6, client: client.address, clientPort: client.port, virtual: vip.address,
                virtualPort: vip.port))
        ipvs.setSynProxyState(ofConnection: id, packed: 1, sequenceDelta: 1000, timestampDelta: 0)
        _ = f.run(
            PacketBuilder.frame(
                .tcp, from: rs, to: client, srcMAC: Macs.server, dstMAC: Macs.directorInside, payload: [],
                tcpFlags: 0x12), on: 3)
        for _ in 0..<3 {
            _ = f.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [1], tcpFlags: 0x18), on: 2)
        }
        let state = ipvs.connections(now: t0).first { $0.client == client }?.state
        #expect(state == "ESTABLISHED")
        #expect(f.flows.flows.isEmpty)
    }

    @Test(
        "short connections get no flow: by default UDP needs 2 inbound packets and TCP 4 (a Connection: close request costs no map update)"
    )
    func shortConnections() throws {
        let f = try FastPathHarness()
        f.registry.minimumTCPPackets = 4
        f.registry.minimumUDPPackets = 2
        let udp = PacketBuilder.frame(.udp, from: client, to: vip, payload: [1])
        _ = f.run(udp, on: 2)
        #expect(f.flows.flows.isEmpty)
        _ = f.run(udp, on: 2)
        #expect(f.flows.flows.count == 1)
        let other = Endpoint(IPAddress("192.168.1.200")!, 40001)
        for flags: UInt8 in [0x02, 0x10, 0x18] {
            _ = f.run(PacketBuilder.frame(.tcp, from: other, to: vip, payload: [], tcpFlags: flags), on: 2)
            if flags == 0x02 {
                _ = f.run(
                    PacketBuilder.frame(
                        .tcp, from: rs, to: other, srcMAC: Macs.server, dstMAC: Macs.directorInside, payload: [],
                        tcpFlags: 0x12), on: 3)
            }
        }
        #expect(f.flows.flows[key(.tcp, other, vip)] == nil)
        _ = f.run(PacketBuilder.frame(.tcp, from: other, to: vip, payload: [7], tcpFlags: 0x18), on: 2)
        #expect(f.flows.flows[key(.tcp, other, vip)] != nil)
    }

    @Test("DR and TUN install the inbound flow only, with the rewrite the worker applied")
    func directRouteAndTunnel() throws {
        let server = Endpoint(IPAddress("192.168.0.112")!, 80)
        let dr = try FastPathHarness(forwarding: .route, server: server)
        _ = dr.run(PacketBuilder.frame(.udp, from: client, to: vip, payload: [1, 2, 3]), on: 2)
        #expect(dr.flows.flows.values.map(\.rewrite) == [.directRoute])

        let spec = TunnelSpec(type: .gue, port: 6080, flags: [])
        let tun = try FastPathHarness(forwarding: .tunnel(spec), server: server)
        let frame = PacketBuilder.frame(.udp, from: client, to: vip, payload: [1, 2, 3])
        _ = tun.run(frame, on: 2)
        let info = frame.withUnsafeBytes { PacketParser.parse($0) }
        let flow = try #require(tun.flows.flows.values.first)
        guard case .tunnel(let source, let destination, let s, let sport, _) = flow.rewrite else {
            Issue.record("not a tunnel flow: \(flow.rewrite)")
            return
        }
        #expect(source == IPAddress("192.168.0.109")! && destination == server.address && s == spec)
        #expect(sport == Forwarding.tunnelSourcePort(info))
    }

    @Test("no flow when the egress's peer takes no XDP transmissions (veth without NAPI): every packet stays with lvsd")
    func egressWithoutNAPI() throws {
        let f = try FastPathHarness(egress: [2])
        _ = f.run(PacketBuilder.frame(.udp, from: client, to: vip, payload: [1]), on: 2)
        #expect(f.flows.flows.isEmpty)
        #expect(f.h.worker.statistics()[.inbound] == 1)
    }

    @Test("a full flow map: the connection stays on the slow path, counted, and is tried again only after a second")
    func fullMap() throws {
        let f = try FastPathHarness()
        f.flows.capacity = 0
        let frame = PacketBuilder.frame(.udp, from: client, to: vip, payload: [1])
        #expect(f.run(frame, on: 2).count == 1)
        #expect(f.registry.counts.rejectedFull == 1)
        _ = f.run(frame, on: 2, at: t0 + .milliseconds(500))
        #expect(f.registry.counts.rejectedFull == 1)
        f.flows.capacity = 10
        _ = f.run(frame, on: 2, at: t0 + .milliseconds(1500))
        #expect(f.flows.flows.count == 1)
    }

    @Test(
        "the sweep folds fast-path packets into --stats and restarts the timer from the last one; the connection expires a timeout after it (IPVS timeouts from last-seen)"
    )
    func sweepAndExpiry() throws {
        let f = try FastPathHarness()
        let frame = PacketBuilder.frame(.udp, from: client, to: vip, payload: [1, 2, 3, 4])
        _ = f.run(frame, on: 2)
        let k = key(.udp, client, vip)
        #expect(f.flows.flows[k] != nil)
        // 200 s later (UDP timeout 300 s) the fast path forwarded 10 packets.
        f.flows.forward(k, 10, bytes: 32, at: t0 + .seconds(200))
        f.tick(t0 + .seconds(201))
        #expect(f.udpStats.counters.inPackets == 11)
        #expect(f.udpStats.counters.inBytes == 32 * 11)
        let entry = try #require(f.h.owner.ipvs.connections(now: t0 + .seconds(201)).first { $0.client == client })
        #expect(entry.expiresInSeconds >= 298)
        // At 400 s (past the first timeout) the connection is still there; at 501 s it is gone
        // and so are its flows.
        f.tick(t0 + .seconds(400))
        #expect(f.h.owner.ipvs.connectionCount == 1)
        f.tick(t0 + .seconds(501))
        #expect(f.h.owner.ipvs.connectionCount == 0)
        #expect(f.flows.flows.isEmpty && f.registry.connectionCount == 0)
    }

    @Test(
        "a packet the fast path forwarded after the last sweep still holds the connection (the timer asks for last-seen)"
    )
    func expiryAsksLastSeen() throws {
        let f = try FastPathHarness()
        _ = f.run(PacketBuilder.frame(.udp, from: client, to: vip, payload: [1]), on: 2)
        let k = key(.udp, client, vip)
        f.registry.sweepIntervalNanoseconds = .max / 2
        f.flows.forward(k, 1, bytes: 29, at: t0 + .seconds(299))
        f.tick(t0 + .seconds(301))
        #expect(f.h.owner.ipvs.connectionCount == 1)
        #expect(f.flows.flows[k] != nil)
    }

    @Test(
        "deleting the real server (expire_nodest_conn 0) removes the flows at the next sweep: packets come back to IPVS, which drops them"
    )
    func serverDeleted() throws {
        let f = try FastPathHarness()
        _ = f.run(PacketBuilder.frame(.udp, from: client, to: vip, payload: [1]), on: 2)
        #expect(f.flows.flows.count == 1)
        try f.h.owner.ipvs.deleteRealServer(rs, from: .endpoint(.udp, vip))
        f.registry.requestRevalidation()
        f.tick(t0 + .milliseconds(10))
        #expect(f.flows.flows.isEmpty)
    }

    @Test("a route change moves the egress: the flow is removed and the next packet installs it with the new MAC")
    func egressChanged() throws {
        let f = try FastPathHarness()
        let frame = PacketBuilder.frame(.udp, from: client, to: vip, payload: [1])
        _ = f.run(frame, on: 2)
        let k = key(.udp, client, vip)
        #expect(f.flows.flows[k]?.link.destinationMAC == Macs.server)
        let newMAC = MACAddress(0x02_00_00_00_99_99)
        f.h.worker.tables.neighbors[NeighborKey(interface: 3, address: rs.address)] = newMAC
        f.h.worker.tables.touch()
        f.h.worker.pendingRevalidation = true
        f.tick(t0 + .milliseconds(10))
        #expect(f.flows.flows[k] == nil)
        _ = f.run(frame, on: 2, at: t0 + .milliseconds(20))
        #expect(f.flows.flows[k]?.link.destinationMAC == newMAC)
    }

    @Test("a VIP that turns passive loses its flows")
    func passiveVIP() throws {
        let f = try FastPathHarness()
        _ = f.run(PacketBuilder.frame(.udp, from: client, to: vip, payload: [1]), on: 2)
        #expect(f.flows.flows.count == 1)
        f.h.worker.passiveAddresses = [vip.address]
        f.h.worker.pendingRevalidation = true
        f.tick(t0 + .milliseconds(10))
        #expect(f.flows.flows.isEmpty)
    }
}

@Suite("Data plane worker: partial checksums of AF_XDP frames")
struct PartialChecksumGuessTests {
    /// A UDP frame client → VIP whose checksum field holds only the pseudo-header sum.
    static func partialFrame() -> [UInt8] {
        var frame = PacketBuilder.frame(.udp, from: client, to: vip, payload: PacketBuilder.pattern(40))
        var folded = PacketBuilder.pseudoSum(client.address, vip.address, 17, frame.count - 34)
        while folded > 0xFFFF { folded = (folded & 0xFFFF) + (folded >> 16) }
        frame[40] = UInt8(folded >> 8)
        frame[41] = UInt8(folded & 0xFF)
        return frame
    }

    @Test(
        "checksum field = pseudo-header sum and the whole sum does not verify: completed as the NIC would, then NAT (veth tx offload, docs/xdp.md)"
    )
    func completed() throws {
        let h = try Harness()
        h.port.inject(Self.partialFrame(), interface: 2, offloadFlags: ReceivedFrame.checksumStateUnknownFlag)
        h.worker.runOnce(now: t0)
        let expected = PacketBuilder.frame(
            .udp, from: client, to: rs, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63,
            payload: PacketBuilder.pattern(40))
        #expect(h.port.takeSent() == [FakePacketPort.Sent(bytes: expected, interface: 3)])
        #expect(h.worker.statistics()[.checksumsCompleted] == 1)
    }

    @Test("the same frame from AF_PACKET without NEEDS_CSUM is left as it is (only AF_XDP frames are guessed)")
    func notGuessedOnAFPacket() throws {
        let h = try Harness()
        h.port.inject(Self.partialFrame(), interface: 2)
        h.worker.runOnce(now: t0)
        #expect(h.worker.statistics()[.checksumsCompleted] == 0)
    }

    @Test(
        "a complete checksum is never touched; a wrong one that is not the pseudo-header sum stays wrong (the receiver drops it)"
    )
    func completeAndCorrupt() throws {
        let h = try Harness()
        let good = PacketBuilder.frame(.udp, from: client, to: vip, payload: PacketBuilder.pattern(40))
        h.port.inject(good, interface: 2, offloadFlags: ReceivedFrame.checksumStateUnknownFlag)
        h.worker.runOnce(now: t0)
        let expected = PacketBuilder.frame(
            .udp, from: client, to: rs, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63,
            payload: PacketBuilder.pattern(40))
        #expect(h.port.takeSent().map(\.bytes) == [expected])
        var bad = good
        bad[41] ^= 0x5A
        h.port.inject(bad, interface: 2, offloadFlags: ReceivedFrame.checksumStateUnknownFlag)
        h.worker.runOnce(now: t0)
        let out = try #require(h.port.takeSent().first)
        let info = out.bytes.withUnsafeBytes { PacketParser.parse($0) }
        let valid = out.bytes.withUnsafeBytes { b in
            InternetChecksum.verify(
                b.baseAddress! + 34, b.count - 34,
                adding: InternetChecksum.pseudoHeader(
                    source: info.source, destination: info.destination, protocol: 17, length: b.count - 34))
        }
        #expect(!valid)
        #expect(h.worker.statistics()[.checksumsCompleted] == 0)
    }
}
