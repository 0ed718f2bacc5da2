// The SYN proxy through the worker (fake port): cookies without entries, the handshake with the
// server after a valid ACK, held data, translation both ways.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

@Suite("SYN proxy in the worker (fake port)")
struct SynProxyWorkerTests {
    func proxiedHarness() throws -> Harness {
        let h = try Harness()
        try h.owner.ipvs.editService(VirtualServiceSpec(key: .endpoint(.tcp, vip), scheduler: "rr", flags: [.synProxy]))
        return h
    }

    func tcp(
        _ from: Endpoint, _ to: Endpoint, seq: UInt32, ack: UInt32, flags: UInt8, options: [UInt8] = [],
        payload: [UInt8] = [], srcMAC: MACAddress = Macs.client, dstMAC: MACAddress = Macs.director,
        window: UInt16 = 502
    ) -> [UInt8] {
        let seg = PacketBuilder.tcp(
            src: from.address, dst: to.address, sport: from.port, dport: to.port, seq: seq, ack: ack, flags: flags,
            window: window, options: options, payload: payload)
        guard case .v4(let s) = from.address, case .v4(let d) = to.address else { return [] }
        return PacketBuilder.ethernet(
            dst: dstMAC, src: srcMAC, etherType: 0x0800,
            payload: PacketBuilder.ipv4(src: s, dst: d, proto: 6, payload: seg, id: 0))
    }

    struct Seg {
        var seq: UInt32
        var ack: UInt32
        var flags: UInt8
        var src: IPAddress
        var dst: IPAddress
        var sport: UInt16
        var dport: UInt16
        var payload: Int
    }
    func seg(_ b: [UInt8]) -> Seg {
        let info = b.withUnsafeBytes { PacketParser.parse($0) }
        return b.withUnsafeBytes { r in
            let t = info.l4Offset
            func be32(_ o: Int) -> UInt32 {
                UInt32(r[o]) << 24 | UInt32(r[o + 1]) << 16 | UInt32(r[o + 2]) << 8 | UInt32(r[o + 3])
            }
            let doff = Int(r[t + 12] >> 4) * 4
            return Seg(
                seq: be32(t + 4), ack: be32(t + 8), flags: r[t + 13], src: info.source, dst: info.destination,
                sport: info.sourcePort, dport: info.destinationPort, payload: info.ipEnd - t - doff)
        }
    }

    @Test("a SYN flood gets cookie SYN/ACKs and creates no entry; a forged ACK is dropped")
    func floodMakesNoEntries() throws {
        let h = try proxiedHarness()
        for i in 0..<500 {
            let c = Endpoint(IPAddress("192.168.1.200")!, UInt16(10_000 + i))
            h.port.inject(tcp(c, vip, seq: UInt32(i), ack: 0, flags: 0x02), interface: 2)
            if i % 60 == 59 { h.worker.runOnce(now: t0) }
        }
        h.worker.runOnce(now: t0)
        let out = h.port.takeSent()
        #expect(out.count == 500 && out.allSatisfy { $0.interface == 2 && seg($0.bytes).flags == 0x12 })
        #expect(h.owner.ipvs.connectionCount == 0)
        #expect(h.worker.statistics()[.synProxyCookies] == 500)
        let forged = tcp(client, vip, seq: 1, ack: 12345, flags: 0x10)
        #expect(h.run(forged, on: 2).isEmpty)
        #expect(h.worker.statistics()[.synProxyBadCookie] == 1)
        #expect(h.owner.ipvs.connectionCount == 0)
    }

    @Test(
        "handshake: cookie ACK with data → SYN to the server; its SYN/ACK → ACK + the held data, translated; replies translated back"
    )
    func handshake() throws {
        let h = try proxiedHarness()
        let synAck = h.run(tcp(client, vip, seq: 1000, ack: 0, flags: 0x02, options: [2, 4, 5, 0xB4]), on: 2)
        try #require(synAck.count == 1)
        let cookie = seg(synAck[0].bytes).seq
        #expect(seg(synAck[0].bytes).ack == 1001)
        // The client's ACK carries its request.
        let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        let toServer = h.run(tcp(client, vip, seq: 1001, ack: cookie &+ 1, flags: 0x18, payload: request), on: 2)
        try #require(toServer.count == 1)
        let syn = seg(toServer[0].bytes)
        #expect(
            toServer[0].interface == 3 && syn.flags == 0x02 && syn.seq == 1000 && syn.dst == rs.address
                && syn.dport == rs.port)
        #expect(h.owner.ipvs.connectionCount == 1)
        #expect(h.worker.statistics()[.synProxyHeld] == 1)
        // The server answers: an ACK goes back to it, then the held request with ack translated.
        let serverISN: UInt32 = 777_000
        let fromServer = h.run(
            tcp(
                rs, client, seq: serverISN, ack: 1001, flags: 0x12, options: [2, 4, 5, 0xB4], srcMAC: Macs.server,
                dstMAC: Macs.directorInside), on: 3)
        try #require(fromServer.count == 2)
        let ack = seg(fromServer[0].bytes)
        #expect(fromServer[0].interface == 3 && ack.flags == 0x10 && ack.seq == 1001 && ack.ack == serverISN + 1)
        let data = seg(fromServer[1].bytes)
        #expect(data.payload == request.count && data.ack == serverISN + 1 && data.dst == rs.address)
        #expect(h.owner.ipvs.connections(now: t0).first?.state == "ESTABLISHED")
        // The server's reply reaches the client in the cookie's sequence space.
        let reply = h.run(
            tcp(
                rs, client, seq: serverISN + 1, ack: 1001 + UInt32(request.count), flags: 0x18,
                payload: Array("HTTP/1.0 200 OK\r\n\r\n".utf8),
                srcMAC: Macs.server, dstMAC: Macs.directorInside), on: 3)
        try #require(reply.count == 1)
        let r = seg(reply[0].bytes)
        #expect(reply[0].interface == 2 && r.seq == cookie &+ 1 && r.src == vip.address && r.sport == vip.port)
        // Every frame that left has valid checksums.
        for f in synAck + toServer + fromServer + reply {
            let info = f.bytes.withUnsafeBytes { PacketParser.parse($0) }
            let tcpBytes = Array(f.bytes[info.l4Offset..<info.ipEnd])
            let sum = PacketBuilder.internetChecksum(
                tcpBytes, adding: PacketBuilder.pseudoSum(info.source, info.destination, 6, tcpBytes.count))
            #expect(sum == 0)
        }
    }

    @Test(
        "FULLNAT: the server sees the local address; its SYN/ACK to the local address completes the proxy; replies reach the client translated"
    )
    func fullNAT() throws {
        let h = try Harness(forwarding: .fullNAT)
        let key = ServiceKey.endpoint(.tcp, vip)
        try h.owner.ipvs.editService(VirtualServiceSpec(key: key, scheduler: "rr", flags: [.synProxy]))
        let lip = IPAddress("192.168.0.109")!
        try h.owner.ipvs.addLocalAddress(lip, to: key)
        let synAck = h.run(tcp(client, vip, seq: 50, ack: 0, flags: 0x02), on: 2)
        try #require(synAck.count == 1)
        let cookie = seg(synAck[0].bytes).seq
        let toServer = h.run(tcp(client, vip, seq: 51, ack: cookie &+ 1, flags: 0x10), on: 2)
        try #require(toServer.count == 1)
        let syn = seg(toServer[0].bytes)
        #expect(syn.flags == 0x02 && syn.src == lip && syn.dst == rs.address && syn.seq == 50)
        let fromServer = h.run(
            tcp(
                Endpoint(rs.address, rs.port), Endpoint(lip, syn.sport), seq: 9000, ack: 51, flags: 0x12,
                srcMAC: Macs.server, dstMAC: Macs.directorInside), on: 3)
        try #require(fromServer.count == 1)
        let ack = seg(fromServer[0].bytes)
        #expect(ack.flags == 0x10 && ack.src == lip && ack.dst == rs.address && ack.ack == 9001)
        let reply = h.run(
            tcp(
                Endpoint(rs.address, rs.port), Endpoint(lip, syn.sport), seq: 9001, ack: 51, flags: 0x18,
                payload: [1, 2, 3], srcMAC: Macs.server, dstMAC: Macs.directorInside), on: 3)
        try #require(reply.count == 1)
        let r = seg(reply[0].bytes)
        #expect(r.src == vip.address && r.dst == client.address && r.dport == client.port && r.seq == cookie &+ 1)
        #expect(h.worker.statistics()[.synProxyEstablished] == 1)
    }
}
