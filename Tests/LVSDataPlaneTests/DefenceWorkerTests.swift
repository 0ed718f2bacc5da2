// The worker's defences (review findings 7, 8, 9): TTL before scheduling, ICMP rate limits,
// nat_icmp_send, fragments that outlive their connection's slot, bounded neighbour holding.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

@Suite("Data plane defences (fake port)")
struct DefenceWorkerTests {
    func udpFragments(from c: Endpoint, id: UInt16) -> [[UInt8]] {
        let whole = PacketBuilder.frame(
            .udp, from: c, to: vip, dontFragment: false, payload: PacketBuilder.pattern(600), id: id)
        return PacketBuilder.ipv4Fragments(PacketBuilder.ipPacket(whole), sizes: [304, 304]).map {
            PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: $0)
        }
    }

    @Test("finding 8: a spoofed SYN with TTL 1 creates no entry; time exceeded goes back, once per second per source")
    func ttlBeforeScheduling() throws {
        let h = try Harness()
        let syn = PacketBuilder.frame(.tcp, from: client, to: vip, ttl: 1, payload: [], tcpFlags: 0x02)
        let out = h.run(syn, on: 2)
        #expect(h.owner.ipvs.connectionCount == 0)
        #expect(out.count == 1 && out.first?.interface == 2)
        // ICMP type 11 (time exceeded) from the VIP.
        #expect(out.first.map { $0.bytes[14 + 20] } == 11)
        for _ in 0..<10 { #expect(h.run(syn, on: 2).isEmpty) }  // icmp_ratelimit: 1 s per destination
        #expect(h.worker.statistics()[.icmpRateLimited] == 10)
        #expect(h.owner.ipvs.connectionCount == 0)
    }

    @Test("finding 8: ICMP errors to many sources stop at the global burst (icmp_msgs_burst)")
    func icmpGlobalBurst() throws {
        let h = try Harness(servers: false)  // no server: every SYN gets port unreachable
        var sent = 0
        for i in 0..<200 {
            let c = Endpoint(IPAddress("192.168.1.\(1 + i % 200)")!, UInt16(10_000 + i))
            h.worker.tables.neighbors[NeighborKey(interface: 2, address: c.address)] = Macs.client
            h.port.inject(PacketBuilder.frame(.tcp, from: c, to: vip, payload: [], tcpFlags: 0x02), interface: 2)
        }
        h.worker.tables.touch()
        for _ in 0..<4 { h.worker.runOnce(now: t0) }
        sent = h.port.takeSent().count
        #expect(sent == 50)
        #expect(h.worker.statistics()[.icmpRateLimited] == 150)
    }

    @Test(
        "finding 7: a later fragment whose connection's slot was reused by another client is dropped, not forwarded as the new one's"
    )
    func fragmentAfterSlotReuse() throws {
        let h = try Harness()
        h.owner.ipvs.setTimeouts(IPVSTimeouts(tcp: 0, tcpFin: 0, udp: 1))
        let a = udpFragments(from: client, id: 0x1111)
        h.port.inject(a[0], interface: 2)
        h.worker.runOnce(now: t0)
        #expect(h.port.takeSent().count == 1)
        // A's connection expires; B's first datagram takes the freed slot.
        let later = t0 + .milliseconds(1500)
        h.worker.runOnce(now: later)
        let b = Endpoint(IPAddress("192.168.1.201")!, 50000)
        h.worker.tables.neighbors[NeighborKey(interface: 2, address: b.address)] = Macs.client
        h.worker.tables.touch()
        h.port.inject(PacketBuilder.frame(.udp, from: b, to: vip, payload: [1, 2, 3]), interface: 2)
        h.port.inject(a[1], interface: 2)
        h.worker.runOnce(now: later)
        #expect(h.port.takeSent().count == 1)  // B's datagram only
        #expect(h.worker.statistics()[.untrackedFragment] == 1)
        #expect(h.worker.statistics()[.fragmentsForwarded] == 0)
    }

    @Test("nat_icmp_send: a real server's packet matching no NAT connection gets port unreachable (not a RST)")
    func natICMPSend() throws {
        let h = try Harness()
        h.worker.guardedSources = [GuardedSource(protocolNumber: 6, address: rs.address, port: rs.port)]
        h.owner.ipvs.sysctls.natICMPSend = true
        let stray = PacketBuilder.frame(
            .tcp, from: rs, to: client, srcMAC: Macs.server, dstMAC: Macs.directorInside, payload: [], tcpFlags: 0x10)
        let out = h.run(stray, on: 3)
        #expect(out.count == 1 && out.first?.interface == 3)
        #expect(out.first.map { $0.bytes[14 + 20] } == 3)  // destination unreachable
        #expect(h.worker.statistics()[.natICMPSent] == 1)
        let rst = PacketBuilder.frame(
            .tcp, from: rs, to: Endpoint(client.address, 40001), srcMAC: Macs.server, dstMAC: Macs.directorInside,
            payload: [], tcpFlags: 0x04)
        #expect(h.run(rst, on: 3).isEmpty)
        #expect(h.worker.statistics()[.natICMPSent] == 1)
    }

    @Test("finding 9: held frames: at most 8 per neighbour, client-side neighbours share half the store")
    func neighborQuotas() throws {
        let h = try Harness()
        h.worker.tables.neighbors = [:]
        h.worker.tables.touch()
        for p in 0..<20 {
            h.port.inject(
                PacketBuilder.frame(
                    .tcp, from: Endpoint(client.address, UInt16(1000 + p)), to: vip, payload: [], tcpFlags: 0x02),
                interface: 2)
        }
        h.worker.runOnce(now: t0)
        #expect(h.worker.statistics()[.heldForNeighbor] == 8)
        #expect(h.worker.statistics()[.neighborQuotaDropped] == 12)
    }
}
