// The packet worker driven through a fake port: classification, IPVS, transforms, offloads, egress.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

/// Seed 000's director: eth1 (2) faces the client, eth0 (3) the real servers, lo (1).
func seedTables() -> KernelTables {
    var t = KernelTables()
    t.links[1] = KernelLink(index: 1, name: "lo", mac: .zero, mtu: 65536, isUp: true, isLoopback: true)
    t.links[2] = KernelLink(index: 2, name: "eth1", mac: Macs.director, mtu: 1500, isUp: true, isLoopback: false)
    t.links[3] = KernelLink(index: 3, name: "eth0", mac: Macs.directorInside, mtu: 1500, isUp: true, isLoopback: false)
    t.addresses = [
        KernelAddress(interface: 1, address: IPAddress("127.0.0.1")!, prefixLength: 8),
        KernelAddress(interface: 2, address: IPAddress("192.168.1.109")!, prefixLength: 24),
        KernelAddress(interface: 3, address: IPAddress("192.168.0.109")!, prefixLength: 24),
    ]
    t.routes = [
        KernelRoute(destination: IPAddress("192.168.1.0")!, prefixLength: 24, interface: 2),
        KernelRoute(destination: IPAddress("192.168.0.0")!, prefixLength: 24, interface: 3),
    ]
    t.neighbors[NeighborKey(interface: 3, address: IPAddress("192.168.0.112")!)] = Macs.server
    t.neighbors[NeighborKey(interface: 2, address: IPAddress("192.168.1.200")!)] = Macs.client
    t.touch()
    return t
}

let vip = Endpoint(IPAddress("192.168.1.109")!, 80)
let client = Endpoint(IPAddress("192.168.1.200")!, 40000)
let rs = Endpoint(IPAddress("192.168.0.112")!, 8080)
let t0 = Timestamp(nanoseconds: 1_000_000_000)

final class Harness {
    let port = FakePacketPort()
    let owner = FakeOwner()
    let worker: DataPlaneWorker
    var resolved: [NeighborKey] = []

    init(forwarding: ForwardingMethod = .masquerade, server: Endpoint = rs, servers: Bool = true) throws {
        worker = DataPlaneWorker(port: port, owner: owner)
        worker.tables = seedTables()
        try owner.ipvs.addService(VirtualServiceSpec(key: .endpoint(.tcp, vip), scheduler: "rr"))
        try owner.ipvs.addService(VirtualServiceSpec(key: .endpoint(.udp, vip), scheduler: "rr"))
        if servers {
            for p in [TransportProtocol.tcp, .udp] {
                try owner.ipvs.addRealServer(
                    RealServerSpec(endpoint: server, forwarding: forwarding), to: .endpoint(p, vip))
            }
        }
        worker.resolveNeighbor = { [unowned self] in self.resolved.append($0) }
    }

    func run(_ frame: [UInt8], on interface: Int32, packetType: UInt8 = 0) -> [FakePacketPort.Sent] {
        port.inject(frame, interface: interface, packetType: packetType)
        worker.runOnce(now: t0)
        return port.takeSent()
    }
}

@Suite("Data plane worker (fake port)")
struct WorkerTests {
    @Test("NAT in: client → VIP:80 leaves eth0 to RS:8080 with the server's MAC, TTL − 1, checksums right")
    func natInbound() throws {
        let h = try Harness()
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        let out = h.run(syn, on: 2)
        let expected = PacketBuilder.frame(
            .tcp, from: client, to: rs, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63, payload: [],
            tcpFlags: 0x02)
        #expect(out == [FakePacketPort.Sent(bytes: expected, interface: 3)])
        #expect(h.worker.statistics()[.inbound] == 1)
    }

    @Test("NAT out: the real server's reply leaves eth1 from VIP:80 to the client (K:ip_vs_core.c handle_response)")
    func natOutbound() throws {
        let h = try Harness()
        _ = h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        let reply = PacketBuilder.frame(
            .tcp, from: rs, to: client, srcMAC: Macs.server, dstMAC: Macs.directorInside, payload: [], tcpFlags: 0x12)
        let out = h.run(reply, on: 3)
        let expected = PacketBuilder.frame(
            .tcp, from: vip, to: client, srcMAC: Macs.director, dstMAC: Macs.client, ttl: 63, payload: [],
            tcpFlags: 0x12)
        #expect(out == [FakePacketPort.Sent(bytes: expected, interface: 2)])
        #expect(h.worker.statistics()[.outbound] == 1)
    }

    @Test("a local client's reply goes to the local stack on lo with zero MACs")
    func localClient() throws {
        let h = try Harness()
        let local = Endpoint(IPAddress("192.168.1.109")!, 41000)
        let syn = PacketBuilder.frame(
            .tcp, from: local, to: vip, srcMAC: .zero, dstMAC: .zero, payload: [], tcpFlags: 2)
        #expect(h.run(syn, on: 1).map(\.interface) == [3])
        let reply = PacketBuilder.frame(
            .tcp, from: rs, to: local, srcMAC: Macs.server, dstMAC: Macs.directorInside, payload: [], tcpFlags: 0x12)
        let out = h.run(reply, on: 3)
        let expected = PacketBuilder.frame(
            .tcp, from: vip, to: local, srcMAC: .zero, dstMAC: .zero, ttl: 63, payload: [], tcpFlags: 0x12)
        #expect(out == [FakePacketPort.Sent(bytes: expected, interface: 1)])
    }

    @Test(
        "unknown next hop: the packet is held and resolution asked for once; when the MAC arrives it leaves rewritten (the kernel's neighbour queue, unres_qlen)"
    )
    func missingNeighbor() throws {
        let h = try Harness()
        h.worker.tables.neighbors = [:]
        h.worker.tables.touch()
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        #expect(h.run(syn, on: 2).isEmpty)
        #expect(h.run(syn, on: 2).isEmpty)
        #expect(h.resolved == [NeighborKey(interface: 3, address: rs.address)])
        #expect(h.worker.statistics()[.noNeighbor] == 2)
        #expect(h.worker.statistics()[.heldForNeighbor] == 2)
        // Still unresolved: nothing leaves.
        h.worker.runOnce(now: t0)
        #expect(h.port.takeSent().isEmpty)
        // The neighbour answers: both held SYNs leave, once each, as the first would have.
        h.worker.tables.neighbors = seedTables().neighbors
        h.worker.tables.touch()
        h.worker.runOnce(now: t0)
        let expected = PacketBuilder.frame(
            .tcp, from: client, to: rs, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63, payload: [],
            tcpFlags: 0x02)
        #expect(h.port.takeSent() == Array(repeating: FakePacketPort.Sent(bytes: expected, interface: 3), count: 2))
        #expect(h.worker.statistics()[.neighborQueueSent] == 2)
        h.worker.runOnce(now: t0)
        #expect(h.port.takeSent().isEmpty)
        #expect(h.worker.statistics()[.inbound] == 2)
    }

    @Test(
        "a held packet whose next hop never answers is dropped after 3 s and counted (kernel: failed resolution frees the queue)"
    )
    func neighborTimeout() throws {
        let h = try Harness()
        h.worker.tables.neighbors = [:]
        h.worker.tables.touch()
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        #expect(h.run(syn, on: 2).isEmpty)
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 2_900_000_000))
        #expect(h.worker.statistics()[.neighborQueueDropped] == 0)
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 3_100_000_000))
        #expect(h.worker.statistics()[.neighborQueueDropped] == 1)
        h.worker.tables.neighbors = seedTables().neighbors
        h.worker.tables.touch()
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 3_200_000_000))
        #expect(h.port.takeSent().isEmpty)
    }

    @Test("no real server: ICMP port unreachable from the VIP back out of the ingress (K:ip_vs_core.c ip_vs_leave)")
    func unreachable() throws {
        let h = try Harness(servers: false)
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        let out = h.run(syn, on: 2)
        try #require(out.count == 1)
        #expect(out[0].interface == 2)
        let info = out[0].bytes.withUnsafeBytes { PacketParser.parse($0) }
        #expect(info.verdict == .ip && info.protocolNumber == 1 && info.icmpType == 3 && info.icmpCode == 3)
        #expect(info.source == vip.address && info.destination == client.address)
        #expect(Array(out[0].bytes[0..<12]) == PacketBuilder.mac(Macs.client) + PacketBuilder.mac(Macs.director))
    }

    @Test("frames on unattached interfaces, or not addressed to this host, are left alone")
    func ignored() throws {
        let h = try Harness()
        h.worker.interfaceNames = ["eth0"]
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        #expect(h.run(syn, on: 2).isEmpty)
        h.worker.interfaceNames = nil
        h.worker.tables.touch()
        #expect(h.run(syn, on: 2, packetType: 3).isEmpty)
        #expect(h.run(syn, on: 9).isEmpty)
        #expect(h.worker.statistics()[.ignored] == 3)
        #expect(h.worker.statistics()[.inbound] == 0)
    }

    @Test("a GSO super-frame (gso_size 1000) leaves as MSS segments with full checksums")
    func gso() throws {
        let h = try Harness()
        _ = h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2)
        let payload = PacketBuilder.pattern(2500)
        let big = PacketBuilder.frame(.tcp, from: client, to: vip, dontFragment: true, payload: payload, tcpFlags: 0x18)
        h.port.inject(
            big, interface: 2, offloadFlags: 1, gsoType: 1, gsoSize: 1000, checksumStart: 34, checksumOffset: 16)
        h.worker.runOnce(now: t0)
        let out = h.port.takeSent()
        #expect(out.count == 3)
        for (i, s) in out.enumerated() {
            let info = s.bytes.withUnsafeBytes { PacketParser.parse($0) }
            #expect(info.verdict == .ip && info.destination == rs.address && info.destinationPort == rs.port)
            #expect(info.l4Length - 20 == (i < 2 ? 1000 : 500))
            let tcp = Array(s.bytes[34...])
            let sum = PacketBuilder.internetChecksum(
                tcp, adding: PacketBuilder.pseudoSum(client.address, rs.address, 6, tcp.count))
            #expect(sum == 0, "segment \(i) checksum verifies")
        }
        #expect(h.worker.statistics()[.gsoSegments] == 3)
    }

    @Test("a partial UDP checksum (TP_STATUS_CSUMNOTREADY) is completed before NAT")
    func partialChecksum() throws {
        let h = try Harness()
        var frame = PacketBuilder.frame(.udp, from: client, to: vip, payload: PacketBuilder.pattern(40))
        // What the sender's stack leaves: the pseudo-header sum, not complemented.
        let udpLen = frame.count - 34
        let seed = PacketBuilder.pseudoSum(client.address, vip.address, 17, udpLen)
        var folded = seed
        while folded > 0xFFFF { folded = (folded & 0xFFFF) + (folded >> 16) }
        frame[40] = UInt8(folded >> 8)
        frame[41] = UInt8(folded & 0xFF)
        h.port.inject(frame, interface: 2, offloadFlags: 1, checksumStart: 34, checksumOffset: 6)
        h.worker.runOnce(now: t0)
        let out = h.port.takeSent()
        let expected = PacketBuilder.frame(
            .udp, from: client, to: rs, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63,
            payload: PacketBuilder.pattern(40))
        #expect(out == [FakePacketPort.Sent(bytes: expected, interface: 3)])
        #expect(h.worker.statistics()[.checksumsCompleted] == 1)
    }

    @Test("DR: only the MACs and the TTL change; TUN: wrapped from the egress address to the server")
    func directRoutingAndTunnel() throws {
        let server = Endpoint(IPAddress("192.168.0.112")!, 80)
        let dr = try Harness(forwarding: .route, server: server)
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        let expected = PacketBuilder.frame(
            .tcp, from: client, to: vip, srcMAC: Macs.directorInside, dstMAC: Macs.server, ttl: 63, payload: [],
            tcpFlags: 0x02)
        #expect(dr.run(syn, on: 2) == [FakePacketPort.Sent(bytes: expected, interface: 3)])

        let tun = try Harness(forwarding: .tunnel(TunnelSpec()), server: server)
        let out = tun.run(syn, on: 2)
        try #require(out.count == 1)
        let outer = out[0].bytes.withUnsafeBytes { PacketParser.parse($0) }
        #expect(
            outer.protocolNumber == 4 && outer.source == IPAddress("192.168.0.109")!
                && outer.destination == server.address)
        #expect(Array(out[0].bytes[34...]) == PacketBuilder.ipPacket(expected))
    }
}
