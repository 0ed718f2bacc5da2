// Namespace lab: the XDP program on veths, an AF_XDP socket receiving exactly the steered frames, a DR flow forwarded by XDP.
import CLVSXDP
import Foundation
import Glibc
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import LVSXDP
import LVSXDPTestSupport
import Testing

/// The lab:
/// ```
///  c (client)                d (director: XDP on d0, AF_XDP socket on d0 queue 0)          r (real server)
///  c0 10.7.1.2 ──veth── d0 10.7.1.1 + VIP 10.7.9.10      d1 10.7.2.1 ──veth── r1 10.7.2.11, VIP on lo
///  tx checksum off                                                             GRO on (NAPI for XDP_REDIRECT)
/// ```
@Suite("XDP namespace lab", .serialized)
struct XDPLabTests {
    static var unavailableReason: String? {
        if let why = XDPTestEnvironment.unavailableReason { return why }
        for t in ["ip", "ethtool"] where LabNetwork.tool(t) == nil { return "the XDP lab needs \(t)" }
        return nil
    }

    static let vip = "10.7.9.10"

    struct Lab {
        let lab: LabNetwork
        let client: LabHost
        let director: LabHost
        let server: LabHost
    }

    static func build() throws -> Lab {
        let lab = try LabNetwork("xdp")
        do {
            let c = try lab.host("c")
            let d = try lab.host("d")
            let r = try lab.host("r")
            try lab.link(c, "c0", d, "d0")
            try lab.link(d, "d1", r, "r1")
            try c.ip("addr add 10.7.1.2/24 dev c0")
            try c.ip("route add default via 10.7.1.1")
            try d.ip("addr add 10.7.1.1/24 dev d0")
            try d.ip("addr add \(vip)/32 dev d0")
            try d.ip("addr add 10.7.2.1/24 dev d1")
            try r.ip("addr add 10.7.2.11/24 dev r1")
            try r.ip("addr add \(vip)/32 dev lo")
            try r.ip("route add default via 10.7.2.1")
            // Frames from c's own stack would carry partial checksums (veth tx offload), which XDP
            // cannot see or complete (docs/xdp.md).
            try ethtool(c, "-K c0 tx off")
            // XDP_REDIRECT into d1 reaches r1 only if r1 has NAPI: GRO on (kernel ≥ 5.13) or an XDP program.
            try ethtool(r, "-K r1 gro on")
            return Lab(lab: lab, client: c, director: d, server: r)
        } catch {
            lab.close()
            throw error
        }
    }

    static func ethtool(_ h: LabHost, _ args: String) throws {
        let o = try h.run([LabNetwork.tool("ethtool")!] + args.split(separator: " ").map(String.init))
        guard o.status == 0 else { throw LabError("\(h.name): ethtool \(args): \(o.stderr)") }
    }

    static func mac(_ h: LabHost, _ ifname: String) throws -> MACAddress {
        let o = try h.run([LabNetwork.tool("ip")!, "-o", "link", "show", "dev", ifname]).stdout
        guard let r = o.range(of: "link/ether "),
            let m = MACAddress(o[r.upperBound...].prefix(17))
        else { throw LabError("no MAC for \(ifname): \(o)") }
        return m
    }

    /// The director's side: the program attached to d0, an AF_XDP socket on d0's queue 0 (1024
    /// frames, RX 256, fill 512), and `egress` interfaces added to the devmap — all from a thread in
    /// the director's namespace (ifindexes are resolved there).
    struct Director {
        let d0: Int32
        let mode: XDPProgram.AttachMode
        let port: XDPSocketPort
        let egress: [Int32]
    }

    static func openDirector(_ lab: Lab, _ xdp: XDPProgram, egress: [String] = []) throws -> Director {
        try inNamespace(lab.director.namespace) { () throws -> Director in
            let d0 = Int32(if_nametoindex("d0"))
            let mode = try xdp.attach(interface: d0)
            let out = egress.map { Int32(if_nametoindex($0)) }
            for i in out { try xdp.maps.addTransmitPort(i) }
            var cfg = XDPSocketPort.Configuration()
            cfg.frameCount = 1024
            cfg.ringSize = 256
            cfg.fillRingSize = 512
            let port = try XDPSocketPort(interfaces: [(d0, "d0")], program: xdp, configuration: cfg)
            return Director(d0: d0, mode: mode, port: port, egress: out)
        }
    }

    /// Runs `body` with a fresh lab and the program steering VIP:5000 (both closed after it);
    /// prints why and returns where the machine cannot run XDP labs.
    static func withSteeringLab(_ body: (Lab, XDPProgram) throws -> Void) throws {
        if let why = Self.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let lab = try Self.build()
        defer { lab.lab.close() }
        let xdp = try Self.programSteeringVIP5000()
        defer { xdp.close() }
        try body(lab, xdp)
    }

    /// The program, small maps, steering UDP VIP:5000 to the AF_XDP socket.
    static func programSteeringVIP5000() throws -> XDPProgram {
        let xdp = try XDPProgram(limits: .init(flows: 1024, services: 256, addresses: 256, serverSlots: 64))
        let vip = IPAddress(Self.vip)!
        do {
            try xdp.maps.putService(XDPServiceKey(protocolNumber: IPProtocolNumber.udp, address: vip, port: 5000))
            try xdp.maps.setAddress(vip, flags: .virtual)
        } catch {
            xdp.close()
            throw error
        }
        return xdp
    }

    /// A UDP socket in `h` bound to addr:port.
    static func udpSocket(_ h: LabHost, _ addr: String, _ port: UInt16) throws -> Int32 {
        let fd = try h.socket(AF_INET, Int32(SOCK_DGRAM.rawValue))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        inet_pton(AF_INET, addr, &sa.sin_addr)
        let r = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard r == 0 else { throw LabError("bind \(addr):\(port): errno \(errno)") }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ text: String, to addr: String, _ port: UInt16) {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        inet_pton(AF_INET, addr, &sa.sin_addr)
        let bytes = Array(text.utf8)
        _ = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Datagrams `fd` receives within about `seconds`.
    static func receiveAll(_ fd: Int32, seconds: Double) -> [String] {
        var out: [String] = []
        let end = Date().addingTimeInterval(seconds)
        var buf = [UInt8](repeating: 0, count: 2048)
        while Date() < end {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { out.append(String(decoding: buf[0..<n], as: UTF8.self)) }
        }
        return out
    }

    /// Frames the port receives within `seconds` (copied out, released).
    static func drain(_ port: XDPSocketPort, seconds: Double) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let frames = UnsafeMutablePointer<ReceivedFrame>.allocate(capacity: 64)
        defer { frames.deallocate() }
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let n = port.receive(into: frames, capacity: 64)
            for i in 0..<n {
                let f = frames[i]
                out.append(Array(UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length)))
            }
            port.release()
            if n == 0 { usleep(2000) }
        }
        return out
    }

    @Test("a socket that cannot be opened: the port throws and frees its UMEM once (no crash: lvsd falls back instead)")
    func failedOpenFreesOnce() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        var cfg = XDPSocketPort.Configuration()
        cfg.frameCount = 256
        cfg.ringSize = 64
        cfg.fillRingSize = 128
        #expect(throws: XDPError.self) {
            _ = try XDPSocketPort(interfaces: [(Int32(99_999), "nosuchif0")], program: nil, configuration: cfg)
        }
    }

    @Test(
        "an idle interface's fill ring holds at most its share of the UMEM: the busy interface still has frames to receive into"
    )
    func fillShare() throws {
        try Self.withSteeringLab { lab, xdp in
            let port = try inNamespace(lab.director.namespace) { () throws -> XDPSocketPort in
                let d0 = Int32(if_nametoindex("d0"))
                let d1 = Int32(if_nametoindex("d1"))
                _ = try xdp.attach(interface: d0)
                _ = try xdp.attach(interface: d1)
                var cfg = XDPSocketPort.Configuration()
                cfg.frameCount = 1024
                cfg.ringSize = 256
                cfg.fillRingSize = 512
                return try XDPSocketPort(interfaces: [(d0, "d0"), (d1, "d1")], program: xdp, configuration: cfg)
            }
            // Refilled many times with nothing received: each fill ring stops at 1024 / 3 = 341
            // frames (before, both rings filled to 512 and nothing was left).
            _ = Self.drain(port, seconds: 0.2)
            #expect(port.freeFrames == 1024 - 2 * 341, "\(port.freeFrames) frames free")
            let client = try Self.udpSocket(lab.client, "10.7.1.2", 40001)
            defer { close(client) }
            for i in 0..<200 { Self.send(client, "burst-\(i)", to: Self.vip, 5000) }
            let frames = Self.drain(port, seconds: 1.0)
            #expect(frames.count == 200, "d0 keeps receiving: \(frames.count) of 200, \(port.statistics)")
        }
    }

    @Test(
        "steering: the AF_XDP socket gets exactly VIP:5000's datagrams, ping to the director reaches the kernel, AF_XDP transmits in place and by copy"
    )
    func steering() throws {
        try Self.withSteeringLab { lab, xdp in
            let vip = IPAddress(Self.vip)!
            let director = try Self.openDirector(lab, xdp)
            let (d0, mode, port) = (director.d0, director.mode, director.port)
            #expect(mode == .native, "veth has native XDP (kernel ≥ 4.19)")
            #expect(!port.isZeroCopy, "AF_XDP on veth is copy mode")

            let client = try Self.udpSocket(lab.client, "10.7.1.2", 40000)
            defer { close(client) }
            let before = xdp.maps.counters()
            for i in 0..<5 { Self.send(client, "to-service-\(i)", to: Self.vip, 5000) }
            #expect(
                try Self.ping(lab.client, "10.7.1.1", count: 2) == 2,
                "the kernel answers pings to the director's address")
            let frames = Self.drain(port, seconds: 1.0)
            let moved = xdp.maps.counters().since(before)
            #expect(frames.count == 5, "exactly the 5 service datagrams reach the socket: \(moved.nonZero)")
            for (i, f) in frames.enumerated() {
                let info = f.withUnsafeBytes { PacketParser.parse($0) }
                #expect(info.verdict == .ip && info.destination == vip && info.destinationPort == 5000)
                #expect(String(decoding: f[info.l4Offset + 8..<info.ipEnd], as: UTF8.self) == "to-service-\(i)")
            }
            #expect(moved[.steerService] == 5)
            #expect(moved[.passNotOurs] >= 2, "the two echo requests went to the kernel: \(moved.nonZero)")

            // AF_XDP transmit: an echo rewritten in place (addresses, ports and MACs swapped: the
            // checksums stay valid), and one built outside the UMEM (copied into a free frame).
            for i in 0..<2 { Self.send(client, "echo-\(i)", to: Self.vip, 5000) }
            let rx = UnsafeMutablePointer<ReceivedFrame>.allocate(capacity: 8)
            defer { rx.deallocate() }
            var got = 0
            let end = Date().addingTimeInterval(2)
            while got < 2 && Date() < end {
                got += port.receive(into: rx + got, capacity: 8 - got)
                if got < 2 { usleep(1000) }
            }
            #expect(got == 2)
            var copies: [[UInt8]] = []
            for i in 0..<got {
                let p = rx[i].buffer + rx[i].start
                Self.swapEcho(p)
                if i == 1 { copies.append(Array(UnsafeRawBufferPointer(start: p, count: rx[i].length))) }
            }
            var tx = [TransmitFrame](repeating: TransmitFrame(), count: 2)
            tx[0] = TransmitFrame(data: rx[0].buffer + rx[0].start, len: UInt32(rx[0].length), ifindex: d0)
            let sent = copies[0].withUnsafeBytes { c -> Int in
                tx[1] = TransmitFrame(data: c.baseAddress, len: UInt32(c.count), ifindex: d0)
                return tx.withUnsafeBufferPointer { port.transmit($0.baseAddress!, count: 2) }
            }
            port.release()
            #expect(sent == 2)
            let echoes = Self.receiveAll(client, seconds: 0.6)
            #expect(echoes.sorted() == ["echo-0", "echo-1"], "the client got both echoes from VIP:5000")
            let st = port.statistics
            #expect(st.txInPlace == 1 && st.txCopied == 1, "\(st)")
            #expect(st.txRingFull == 0 && st.txInvalidDescriptors == 0 && st.rxInvalidDescriptors == 0)
            usleep(100_000)
            _ = Self.drain(port, seconds: 0.1)
            #expect(port.freeFrames == 1024 - 512, "every frame is back: free, or in the 512-slot fill ring")
            // Attached through a BPF link: close() detaches from this (host-namespace) thread too.
            let attached = try inNamespace(lab.director.namespace) { clvs_xdp_attached_id(d0, CLVS_XDP_MODE_NATIVE) }
            #expect(attached == Int32(xdp.programID))
            xdp.close()
            #expect(try inNamespace(lab.director.namespace) { clvs_xdp_attached_id(d0, CLVS_XDP_MODE_NATIVE) } == 0)
        }
    }

    /// Sends `count` ICMP echo requests from `h` to `addr` (a raw socket opened in the namespace)
    /// and returns how many replies came back within a second each.
    static func ping(_ h: LabHost, _ addr: String, count: Int) throws -> Int {
        let fd = try inNamespace(h.namespace) { socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP)) }
        guard fd >= 0 else { throw LabError("raw ICMP socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, addr, &sa.sin_addr)
        var replies = 0
        for seq in 0..<count {
            var m: [UInt8] = [8, 0, 0, 0, 0x4c, 0x56, 0, UInt8(seq)] + Array("swiftlvs".utf8)
            let c = PacketBuilder.internetChecksum(m)
            m[2] = UInt8(c >> 8)
            m[3] = UInt8(c & 0xFF)
            _ = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, m, m.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            var buf = [UInt8](repeating: 0, count: 1500)
            while true {
                let n = recv(fd, &buf, buf.count, 0)
                if n <= 0 { break }
                let ihl = Int(buf[0] & 0xF) * 4
                // An echo reply (type 0) with our identifier and sequence.
                if n >= ihl + 8 && buf[ihl] == 0 && buf[ihl + 4] == 0x4c && buf[ihl + 7] == UInt8(seq) {
                    replies += 1
                    break
                }
            }
        }
        return replies
    }

    /// Turns a UDP/IPv4 frame into its reply in place: MACs, addresses and ports swapped.
    static func swapEcho(_ p: UnsafeMutableRawPointer) {
        for i in 0..<6 {
            let t = p.load(fromByteOffset: i, as: UInt8.self)
            p.storeBytes(of: p.load(fromByteOffset: 6 + i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
            p.storeBytes(of: t, toByteOffset: 6 + i, as: UInt8.self)
        }
        let ip = p + 14
        let s = ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self), toByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: s, toByteOffset: 16, as: UInt32.self)
        let ihl = Int(ip.load(as: UInt8.self) & 0xF) * 4
        let u = ip + ihl
        let sp = u.loadUnaligned(as: UInt16.self)
        u.storeBytes(of: u.loadUnaligned(fromByteOffset: 2, as: UInt16.self), as: UInt16.self)
        u.storeBytes(of: sp, toByteOffset: 2, as: UInt16.self)
    }

    @Test(
        "fast path: a DR flow is forwarded by XDP (DEVMAP redirect d0 → d1) to the real server, none of it reaches lvsd; without NAPI on the peer the frames vanish"
    )
    func directRouteFastPath() throws {
        try Self.withSteeringLab { lab, xdp in
            let vip = IPAddress(Self.vip)!
            let d1MAC = try Self.mac(lab.director, "d1")
            let r1MAC = try Self.mac(lab.server, "r1")
            // The kernel resolves a DEVMAP ifindex in the caller's namespace: openDirector adds d1 from the lab's.
            let director = try Self.openDirector(lab, xdp, egress: ["d1"])
            let (d1, port) = (director.egress[0], director.port)
            let key = XDPFlowKey(
                protocolNumber: IPProtocolNumber.udp, source: IPAddress("10.7.1.2")!, sourcePort: 40001,
                destination: vip,
                destinationPort: 5000)
            try xdp.maps.putFlow(
                key,
                .directRoute(
                    link: EgressLink(sourceMAC: d1MAC, destinationMAC: r1MAC, mtu: 1500), interface: d1, serverSlot: 3))
            let server = try Self.udpSocket(lab.server, Self.vip, 5000)
            defer { close(server) }
            let client = try Self.udpSocket(lab.client, "10.7.1.2", 40001)
            defer { close(client) }

            let before = xdp.maps.counters()
            for i in 0..<20 { Self.send(client, "dr-\(i)", to: Self.vip, 5000) }
            let got = Self.receiveAll(server, seconds: 1.0)
            if got.count != 20 {
                let d1 = try lab.director.run([LabNetwork.tool("ethtool")!, "-S", "d1"]).stdout
                let r1 = try lab.server.run([LabNetwork.tool("ip")!, "-s", "link", "show", "dev", "r1"]).stdout
                let feat = try lab.server.run([LabNetwork.tool("ethtool")!, "-k", "r1"]).stdout.split(separator: "\n")
                    .filter { $0.contains("generic-receive") }
                let ns = try lab.server.run(["/bin/cat", "/proc/net/snmp"]).stdout
                print("d1: \(d1)\nr1: \(r1)\n\(feat)\n\(ns)")
            }
            #expect(got.count == 20, "the real server got every datagram: \(got.count)")
            #expect(Set(got) == Set((0..<20).map { "dr-\($0)" }))
            #expect(Self.drain(port, seconds: 0.2).isEmpty, "no frame of the flow reached lvsd")
            let moved = xdp.maps.counters().since(before)
            #expect(moved[.fastRedirect] == 20, "\(moved.nonZero)")
            #expect(xdp.maps.flowState(key)?.packets == 20)
            #expect(xdp.maps.serverStatistics(slot: 3).inPackets == 20)

            // K:veth.c veth_xdp_xmit: without NAPI on the peer (no XDP program, GRO off) a redirected
            // frame is dropped, silently for the sender.
            try Self.ethtool(lab.server, "-K r1 gro off")
            for i in 0..<5 { Self.send(client, "lost-\(i)", to: Self.vip, 5000) }
            #expect(Self.receiveAll(server, seconds: 0.5).isEmpty, "redirected frames vanish without NAPI on the peer")
            #expect(xdp.maps.counters().since(before)[.fastRedirect] == 25)
        }
    }

    @Test(
        "K:veth: with tx checksum offload on the sender, XDP and AF_XDP see the UDP checksum partial (pseudo-header only): labs turn tx off"
    )
    func partialChecksums() throws {
        if let why = Self.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let lab = try Self.build()
        defer { lab.lab.close() }
        try Self.ethtool(lab.client, "-K c0 tx on")
        let xdp = try XDPProgram(limits: .init(flows: 64, services: 64, addresses: 64, serverSlots: 4))
        defer { xdp.close() }
        let vip = IPAddress(Self.vip)!
        try xdp.maps.putService(XDPServiceKey(protocolNumber: IPProtocolNumber.udp, address: vip, port: 5000))
        let port = try Self.openDirector(lab, xdp).port
        let client = try Self.udpSocket(lab.client, "10.7.1.2", 40002)
        defer { close(client) }
        Self.send(client, "partial", to: Self.vip, 5000)
        let frames = Self.drain(port, seconds: 0.5)
        try #require(frames.count == 1)
        let f = frames[0]
        let info = f.withUnsafeBytes { PacketParser.parse($0) }
        let udp = Array(f[info.l4Offset..<info.ipEnd])
        let sum = PacketBuilder.internetChecksum(
            udp, adding: PacketBuilder.pseudoSum(info.source, info.destination, 17, udp.count))
        // A complete checksum makes the sum 0 (internetChecksum returns the complement).
        #expect(sum != 0, "the checksum arrived complete: veth completed it, update docs/xdp.md")
        // The field holds the pseudo-header sum, as CHECKSUM_PARTIAL leaves it.
        let field = UInt16(udp[6]) << 8 | UInt16(udp[7])
        let pseudo = PacketBuilder.pseudoSum(info.source, info.destination, 17, udp.count)
        var folded = pseudo
        while folded > 0xFFFF { folded = (folded & 0xFFFF) + (folded >> 16) }
        #expect(
            field == UInt16(folded),
            "field 0x\(String(field, radix: 16)), pseudo-header sum 0x\(String(folded, radix: 16))")
    }
}
