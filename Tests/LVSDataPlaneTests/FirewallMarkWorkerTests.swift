// Logged (firewall-marked) packets through the worker: the mark's service, the tap's copies, merged segments.
import Foundation
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSPlatform
import LVSTestSupport
import Testing

@Suite("Data plane: firewall-mark services (fake port)")
struct FirewallMarkWorkerTests {
    /// Seed 000's director with `-A -f 1 -s rr` and `-a -f 1 -r 192.168.0.112 -m` (no port: the
    /// client's port is kept) beside the harness's TCP/UDP VIP:80 services.
    func harness() throws -> Harness {
        let h = try Harness()
        try h.owner.ipvs.addService(VirtualServiceSpec(key: .firewallMark(1, .inet), scheduler: "rr"))
        try h.owner.ipvs.addRealServer(
            RealServerSpec(endpoint: Endpoint(rs.address, 0), forwarding: .masquerade), to: .firewallMark(1, .inet))
        return h
    }

    let web = Endpoint(vip.address, 8080)

    func send(_ h: Harness, _ frame: [UInt8], mark: UInt32 = 0, tap: Bool = false) -> [FakePacketPort.Sent] {
        h.port.inject(frame, interface: 2, firewallMark: mark, kernelHasCopy: tap)
        h.worker.runOnce(now: t0)
        return h.port.takeSent()
    }

    @Test(
        "a logged SYN with mark 1 to VIP:8080 goes to FWM 1's server on port 8080 (K: fwmark looked up first, server port 0 keeps the packet's)"
    )
    func markedSYNScheduled() throws {
        let h = try harness()
        let syn = PacketBuilder.frame(.tcp, from: client, to: web, payload: [], tcpFlags: 0x02)
        let out = send(h, syn, mark: 1)
        let expected = PacketBuilder.frame(
            .tcp, from: client, to: Endpoint(rs.address, 8080), srcMAC: Macs.directorInside, dstMAC: Macs.server,
            ttl: 63, payload: [], tcpFlags: 0x02)
        #expect(out == [FakePacketPort.Sent(bytes: expected, interface: 3)])
        #expect(h.owner.ipvs.connectionCount == 1)
        #expect(h.worker.statistics()[.firewallMarkLogged] == 1)
    }

    @Test(
        "the tap's copy of a marked connection's packet is ignored (the kernel logs its own); the logged one is forwarded once"
    )
    func tapCopyIgnored() throws {
        let h = try harness()
        // Before the connection exists the tap's copy is the kernel's too.
        let syn = PacketBuilder.frame(.tcp, from: client, to: web, payload: [], tcpFlags: 0x02)
        #expect(send(h, syn, tap: true).isEmpty)
        #expect(send(h, syn, mark: 1).count == 1)
        let data = PacketBuilder.frame(.tcp, from: client, to: web, payload: [1, 2, 3], tcpFlags: 0x18)
        #expect(send(h, data, tap: true).isEmpty)
        #expect(send(h, data, mark: 1).count == 1)
        // An address service's connection is still carried from the tap (the guard drops the
        // kernel's copy there).
        let other = PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02)
        #expect(send(h, other, tap: true).count == 1)
        #expect(h.worker.statistics()[.ignored] == 2)
    }

    @Test("a mark without a service is not scheduled, and an IPv4 service's mark does not take IPv6")
    func unknownMark() throws {
        let h = try harness()
        #expect(send(h, PacketBuilder.frame(.tcp, from: client, to: web, payload: [], tcpFlags: 0x02), mark: 2).isEmpty)
        let c6 = Endpoint(IPAddress("2001:db8::2")!, 40000)
        let v6 = Endpoint(IPAddress("2001:db8::1")!, 8080)
        #expect(send(h, PacketBuilder.frame(.tcp, from: c6, to: v6, payload: [], tcpFlags: 0x02), mark: 1).isEmpty)
        #expect(h.owner.ipvs.connectionCount == 0)
    }

    @Test("a logged TCP packet longer than the ingress MTU (GRO merged) leaves as segments that fit it")
    func mergedSegmentsSplit() throws {
        let h = try harness()
        #expect(
            send(h, PacketBuilder.frame(.tcp, from: client, to: web, payload: [], tcpFlags: 0x02), mark: 1).count == 1)
        let big = PacketBuilder.frame(.tcp, from: client, to: web, payload: PacketBuilder.pattern(4000), tcpFlags: 0x18)
        let out = send(h, big, mark: 1)
        // 1500 − 20 − 20 = 1460 bytes a segment: 1460 + 1460 + 1080.
        #expect(out.map(\.bytes.count) == [1514, 1514, 1134])
        for s in out {
            let info = PacketParser.parse(s.bytes.withUnsafeBytes { $0 })
            #expect(info.destinationPort == 8080)
        }
        #expect(h.worker.statistics()[.gsoSegments] == 3)
    }
}

@Suite("nfnetlink_log packets (NFLog.packet)")
struct NFLogPacketTests {
    /// An attribute as the kernel writes it: length, type, data, padded to 4 bytes.
    func attribute(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
        var a = withUnsafeBytes(of: UInt16(4 + data.count)) { Array($0) } + withUnsafeBytes(of: type) { Array($0) }
        a += data
        while a.count % 4 != 0 { a.append(0) }
        return a
    }

    @Test(
        "PACKET_HDR, MARK, IFINDEX_INDEV (big-endian), HWADDR, HWHEADER and PAYLOAD are read in place; other attributes skipped"
    )
    func reads() {
        let ip = PacketBuilder.ipPacket(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 2))
        let header: [UInt8] = Array(repeating: 0xAA, count: 6) + Array(repeating: 0xBB, count: 6) + [0x08, 0x00]
        let message: [UInt8] =
            [2, 0, 0x4C, 0x56]  // nfgenmsg: AF_INET, version 0, group 19542
            + attribute(1, [0x08, 0x00, 1, 0])  // hw_protocol 0x0800, hook LOCAL_IN
            + attribute(2, [0, 0, 0, 1])  // mark 1
            + attribute(4, [0, 0, 0, 2])  // in: ifindex 2
            + attribute(10, Array("prefix".utf8) + [0])  // PREFIX: skipped
            + attribute(8, [0, 6, 0, 0] + Array(repeating: 0xBB, count: 6) + [0, 0])  // HWADDR
            + attribute(16, header) + attribute(9, ip)
        let p = message.withUnsafeBytes { b -> (UInt16, UInt32, Int32, [UInt8], [UInt8], [UInt8])? in
            guard let p = NFLog.packet(b) else { return nil }
            return (
                p.hardwareProtocol, p.mark, p.inputInterface, Array(p.hardwareHeader ?? .init(start: nil, count: 0)),
                Array(p.hardwareAddress ?? .init(start: nil, count: 0)), Array(p.payload!)
            )
        }
        #expect(p?.0 == 0x0800)
        #expect(p?.1 == 1)
        #expect(p?.2 == 2)
        #expect(p?.3 == header)
        #expect(p?.4 == Array(repeating: 0xBB, count: 6))
        #expect(p?.5 == ip)
    }

    @Test("no payload, or an attribute longer than the message: nil, or read up to the lie")
    func malformed() {
        let noPayload: [UInt8] = [2, 0, 0, 1] + attribute(2, [0, 0, 0, 1])
        #expect(noPayload.withUnsafeBytes { NFLog.packet($0) } == nil)
        var lying: [UInt8] = [2, 0, 0, 1] + attribute(9, [0x45, 0, 0, 20])
        lying[4] = 200  // the payload attribute claims 200 bytes
        #expect(lying.withUnsafeBytes { NFLog.packet($0) } == nil)
        #expect([UInt8]([2, 0]).withUnsafeBytes { NFLog.packet($0) } == nil)
    }
}

@Suite(
    "firewall-mark intake against the kernel (root)",
    .enabled(if: LabNetwork.unavailableReason == nil, Comment(rawValue: LabNetwork.unavailableReason ?? "")))
struct FirewallMarkIntakeKernelTests {
    @Test("log group 19542 held by another socket (EPERM): the intake binds 19543, and its table logs to it")
    func groupTaken() throws {
        let lab = try LabNetwork("fwmgrp")
        defer { lab.close() }
        let h = try lab.host("dir")
        let (holder, intake) = try inNamespace(h) { () throws -> (NFLogSocket, FirewallMarkIntake) in
            let holder = try NFLogSocket(group: FirewallMarkIntake.firstGroup)
            let intake = try FirewallMarkIntake()
            return (holder, intake)
        }
        #expect(holder.group == 19542)
        #expect(intake.socket.group == 19543)
        try intake.update(services: [], interfaces: ["lo"])
        let listing = try h.run(["/usr/sbin/nft", "list", "table", "inet", "swiftlvs-fwmark"]).stdout
        #expect(listing.contains("hook input priority 99"), "\(listing)")
        #expect(listing.contains("elements = { \"lo\" }"), "\(listing)")
        intake.stop()
    }
}
