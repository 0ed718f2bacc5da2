// A real server on the director's own address (LOCALNODE) and passive VIPs, through the fake port.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

/// A director address (eth0's) as a real server, seed 001's "LVS and real server on the same box".
let localServer = Endpoint(IPAddress("192.168.0.109")!, 80)

@Suite("Data plane: local real server and passive VIPs (fake port)")
struct LocalNodeTests {
    /// The frame as the local stack must get it on lo: unchanged IP (TTL too), dst MAC zero,
    /// src MAC the marker.
    func onLoopback(_ frame: [UInt8]) -> [UInt8] {
        var f = frame
        for i in 0..<6 { f[i] = 0 }
        let m = LocalNodeDelivery.markerMAC.value
        for i in 0..<6 { f[6 + i] = UInt8(truncatingIfNeeded: m >> (40 - 8 * UInt64(i))) }
        return f
    }

    @Test(
        "K:ip_vs_xmit.c ip_vs_dr_xmit (local route → NF_ACCEPT): DR to a director address: the connection is scheduled and counted, the frame goes unchanged to the local stack on lo"
    )
    func directRoutingToLocalServer() throws {
        let h = try Harness(forwarding: .route, server: localServer)
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        let out = h.run(syn, on: 2)
        #expect(out == [FakePacketPort.Sent(bytes: onLoopback(syn), interface: 1)])
        let conns = h.owner.ipvs.connections(now: t0).filter { !$0.isTemplate }
        #expect(conns.count == 1 && conns.first?.destination == localServer)
        #expect(h.owner.ipvs.services().first { $0.spec.key == .endpoint(.tcp, vip) }?.counters.inPackets == 1)
        #expect(h.worker.statistics()[.inbound] == 1)
        #expect(h.worker.statistics()[.deliveredLocally] == 1)
        #expect(h.worker.statistics()[.localServerUnsupported] == 0)
    }

    @Test("the frame looped back by lo (marker source MAC) is not scheduled again; a local client's frame is")
    func loopedBackFrameIgnored() throws {
        let h = try Harness(forwarding: .route, server: localServer)
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        let sent = h.run(syn, on: 2)
        #expect(sent.count == 1)
        #expect(h.run(sent[0].bytes, on: 1).isEmpty)
        #expect(h.owner.ipvs.connections(now: t0).filter { !$0.isTemplate }.count == 1)
        #expect(h.worker.statistics()[.inbound] == 1)
        // A client on the director (zero MACs on lo) is still a client.
        let local = Endpoint(IPAddress("192.168.1.109")!, 41000)
        let own = PacketBuilder.frame(
            .tcp, from: local, to: vip, srcMAC: .zero, dstMAC: .zero, payload: [], tcpFlags: 2)
        #expect(h.run(own, on: 1).map(\.interface) == [1])
        #expect(h.owner.ipvs.connections(now: t0).filter { !$0.isTemplate }.count == 2)
    }

    @Test(
        "later packets of the connection follow it to the local stack; TUN to a local server is delivered unchanged too"
    )
    func laterPacketsAndTunnel() throws {
        let h = try Harness(forwarding: .tunnel(TunnelSpec()), server: localServer)
        _ = h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        let data = PacketBuilder.frame(.tcp, from: client, to: vip, payload: PacketBuilder.pattern(100), tcpFlags: 0x18)
        #expect(h.run(data, on: 2) == [FakePacketPort.Sent(bytes: onLoopback(data), interface: 1)])
        #expect(h.worker.statistics()[.deliveredLocally] == 2)
    }

    @Test("a GSO super-frame for a local server reaches lo as MSS segments, each with the marker and a full checksum")
    func gsoToLocalServer() throws {
        let h = try Harness(forwarding: .route, server: localServer)
        _ = h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        let big = PacketBuilder.frame(
            .tcp, from: client, to: vip, dontFragment: true, payload: PacketBuilder.pattern(2500), tcpFlags: 0x18)
        h.port.inject(
            big, interface: 2, offloadFlags: 1, gsoType: 1, gsoSize: 1000, checksumStart: 34, checksumOffset: 16)
        h.worker.runOnce(now: t0)
        let out = h.port.takeSent()
        #expect(out.count == 3 && out.allSatisfy { $0.interface == 1 })
        for (i, s) in out.enumerated() {
            #expect(Array(s.bytes[0..<12]) == Array(onLoopback(big)[0..<12]))
            let info = s.bytes.withUnsafeBytes { PacketParser.parse($0) }
            #expect(info.verdict == .ip && info.destination == vip.address && info.destinationPort == vip.port)
            #expect(info.l4Length - 20 == (i < 2 ? 1000 : 500))
            let tcp = Array(s.bytes[34...])
            let sum = PacketBuilder.internetChecksum(
                tcp, adding: PacketBuilder.pseudoSum(client.address, vip.address, 6, tcp.count))
            #expect(sum == 0, "segment \(i) checksum verifies")
        }
    }

    @Test("NAT to a director address keeps its rewrite (destination = the real server) on lo, without the marker")
    func natToLocalServerRewrites() throws {
        let h = try Harness(forwarding: .masquerade, server: Endpoint(IPAddress("192.168.0.109")!, 8080))
        let out = h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        #expect(out.count == 1 && out.first?.interface == 1)
        let info = out[0].bytes.withUnsafeBytes { PacketParser.parse($0) }
        #expect(info.destination == IPAddress("192.168.0.109")! && info.destinationPort == 8080)
        #expect(Array(out[0].bytes[6..<12]) == [0, 0, 0, 0, 0, 0])
    }

    @Test(
        "SwiftLVS deviation (VRRP backup as a real server): a passive VIP's packets are left to the kernel: no connection, nothing sent; other VIPs unaffected"
    )
    func passiveVIP() throws {
        let h = try Harness(forwarding: .route, server: localServer)
        try h.owner.ipvs.addService(
            VirtualServiceSpec(key: .endpoint(.tcp, Endpoint(IPAddress("192.168.1.110")!, 80)), scheduler: "rr"))
        try h.owner.ipvs.addRealServer(
            RealServerSpec(endpoint: Endpoint(IPAddress("192.168.0.112")!, 80), forwarding: .route),
            to: .endpoint(.tcp, Endpoint(IPAddress("192.168.1.110")!, 80)))
        h.worker.passiveAddresses = [vip.address]
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        #expect(h.run(syn, on: 2).isEmpty)
        #expect(h.owner.ipvs.connections(now: t0).filter { !$0.isTemplate }.isEmpty)
        #expect(h.worker.statistics()[.passed] == 1)
        let other = PacketBuilder.frame(
            .tcp, from: client, to: Endpoint(IPAddress("192.168.1.110")!, 80), payload: [], tcpFlags: 0x02)
        #expect(h.run(other, on: 2).map(\.interface) == [3])
        // Intercepted again once the VIP is owned.
        h.worker.passiveAddresses = []
        #expect(h.run(syn, on: 2).map(\.interface) == [1])
        #expect(h.owner.ipvs.connections(now: t0).filter { !$0.isTemplate }.count == 2)
    }

    @Test(
        "guard: marked frames on lo are accepted first; a passive VIP has no drop rules (its real servers' reply rules stay)"
    )
    func guardTable() {
        let services = [
            GuardTests().entry(.endpoint(.tcp, Endpoint("192.168.0.239:8898")), [("192.168.0.236:8898", .route)]),
            GuardTests().entry(.endpoint(.tcp, Endpoint("192.168.0.240:80")), [("10.0.0.2:8080", .masquerade)]),
        ]
        let passive: Set<IPAddress> = [IPAddress("192.168.0.239")!, IPAddress("192.168.0.240")!]
        let rules = NFTablesGuard.rules(for: services, passive: passive)
        let table = NFTablesGuard.table(interfaces: ["lo", "eth0"], rules: rules)
        // No VIP is guarded; the NAT server's replies are; the marker rule comes first.
        #expect(table.sets.filter { !$0.elements.isEmpty }.map(\.name) == ["replies4"])
        #expect(table.chains[0].rules[0].text == "iifname \"lo\" @ll,48,48 0x2534c560001 accept")
        #expect(NFTablesGuard.listing(table, rules: rules).contains("elements = { 10.0.0.2 . tcp . 8080 }"))
        let active = NFTablesGuard.rules(for: services, passive: [IPAddress("192.168.0.240")!]).map(\.nft)
        #expect(active.contains("ip daddr 192.168.0.239 tcp dport 8898 drop"))
        #expect(!active.contains { $0.contains("192.168.0.240") && $0.contains("daddr") })
    }
}
