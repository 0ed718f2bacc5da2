// A real dissector as judge: every frame LVSPacket produces goes through tshark with checksum validation on.
import Foundation
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

/// A classic pcap file (LINKTYPE_ETHERNET) of `frames`.
func pcap(_ frames: [[UInt8]]) -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    var out = le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(262_144) + le32(1)
    for (i, f) in frames.enumerated() {
        out += le32(UInt32(i)) + le32(0) + le32(UInt32(f.count)) + le32(UInt32(f.count)) + f
    }
    return out
}

/// True if `f` is an ICMP error whose quoted packet is cut short (RFC 792 / RFC 4443 quote only
/// a prefix). tshark then checks the quoted transport checksum over the prefix and calls it bad.
func hasTruncatedQuote(_ f: [UInt8]) -> Bool {
    let (_, info) = parse(f)
    guard let e = f.withUnsafeBytes({ info.icmpError(in: $0) }) else { return false }
    let declared =
        e.isIPv6
        ? 40 + (Int(f[e.offset + 4]) << 8 | Int(f[e.offset + 5]))
        : Int(f[e.offset + 2]) << 8 | Int(f[e.offset + 3])
    return declared > e.available
}

/// Every frame LVSPacket originates or rewrites, each with what it is and the protocol tshark must find in it.
func framesToJudge() -> [(name: String, frame: [UInt8], proto: String)] {
    var out: [(String, [UInt8], String)] = []
    func proto(of f: [UInt8]) -> String {
        let (_, info) = parse(f)
        // tshark reassembles: a first fragment shows as data, the last one as the whole datagram.
        if info.isFragment && (info.moreFragments || !info.isLaterFragment) { return "data" }
        switch info.protocolNumber {
        case 6: return "tcp"
        case 17: return "udp"
        case 132: return "sctp"
        case 1: return "icmp"
        case 58: return "icmpv6"
        case 4: return "ip"
        case 41: return "ipv6"
        case 47: return "gre"
        default: return "eth"
        }
    }
    for f in PacketFixtures.all {
        let (_, outputs) = PacketFixtures.run(f)
        for (i, o) in outputs.enumerated() { out.append(("\(f.name) [out \(i)]", o, proto(of: o))) }
    }
    // GSO segments and fragments.
    for v6 in [false, true] {
        let n = FixtureNet.of(v6: v6)
        let big = PacketBuilder.frame(.tcp, from: n.client, to: n.virtual, payload: PacketBuilder.pattern(6000))
        let (_, info) = parse(big)
        let (_, segs) = split { o, s, l in
            big.withUnsafeBytes { TCPSegmenter.segment($0, info, gsoSize: 1448, into: o, stride: s, lengths: l) }
        }
        for (i, s) in segs.enumerated() { out.append(("GSO segment \(i) IPv\(v6 ? 6 : 4)", s, "tcp")) }
    }
    let n = FixtureNet.v4
    let opts: [UInt8] = [0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00]
    let dg = PacketBuilder.ethernet(
        dst: Macs.server, src: Macs.directorInside, etherType: 0x0800,
        payload: PacketBuilder.ipv4(
            src: n.client.address.v4!, dst: n.virtual.address.v4!, proto: 17,
            payload: PacketBuilder.udp(
                src: n.client.address, dst: n.virtual.address, sport: 1, dport: 9, payload: PacketBuilder.pattern(4000)),
            dontFragment: false, options: opts))
    let (_, dgInfo) = parse(dg)
    let (_, frags) = split { o, s, l in
        dg.withUnsafeBytes { IPv4Fragmenter.fragment($0, dgInfo, mtu: 1500, into: o, stride: s, lengths: l) }
    }
    for (i, f) in frags.enumerated() { out.append(("IPv4 fragment \(i) with options", f, "ip")) }
    // Announcements.
    out.append(
        (
            "gratuitous ARP",
            build { NeighborFrames.gratuitousARP(address: IPv4Address(192, 0, 2, 10), mac: Macs.director, into: $0) },
            "arp"
        ))
    out.append(
        (
            "unsolicited NA",
            build {
                NeighborFrames.unsolicitedNeighborAdvertisement(
                    address: IPv6Address("2001:db8:1::10")!, mac: Macs.director, router: true, into: $0)
            }, "icmpv6"
        ))
    return out
}

@Suite("tshark judge")
struct TsharkJudgeTests {
    @Test(
        "tshark (checksum validation on for IP, TCP, UDP, SCTP; ICMP always) finds no malformed frame and no bad checksum"
    )
    func judge() throws {
        // A planted control frame with a bad TCP checksum proves the judge is awake.
        var control = PacketBuilder.frame(.tcp, from: FixtureNet.v4.client, to: FixtureNet.v4.virtual)
        control[14 + 20 + 16] ^= 0x5A
        let judged = framesToJudge()
        let frames = judged + [("control: bad TCP checksum", control, "tcp")]
        #expect(judged.count > 180)
        var controlFlagged = false
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lvspacket-tshark-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("fixtures.pcap")
        try Data(pcap(frames.map(\.frame))).write(to: file)
        if let keep = ProcessInfo.processInfo.environment["LVSPACKET_PCAP"] {
            try Data(pcap(frames.map(\.frame))).write(to: URL(fileURLWithPath: keep))
        }

        let tsharkPath = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let tshark = tsharkPath else {
            Issue.record("tshark is not installed: `apt-get install -y tshark` (CI installs it from .ci/packages.txt)")
            return
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tshark)
        // Only the layers LVSPacket writes are dissected: payload bytes are patterns, not protocols.
        let layers =
            "eth,ethertype,vlan,arp,ip,ipv6,ipv6.hopopts,ipv6.dstopts,ipv6.routing,ipv6.fraghdr,"
            + "tcp,udp,sctp,icmp,icmpv6,gre,data,frame"
        p.arguments = [
            "-n", "-r", file.path, "--disable-protocol", "ALL", "--enable-protocol", layers,
            "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-o", "sctp.checksum:CRC 32c", "-o", "tcp.analyze_sequence_numbers:FALSE",
            "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "frame.protocols",
            "-e", "_ws.expert.severity", "-e", "_ws.expert.message", "-e", "_ws.malformed",
            "-e", "ip.checksum.status", "-e", "icmp.checksum.status", "-e", "icmpv6.checksum.status",
        ]
        let outPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = Pipe()
        try p.run()
        let data = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == frames.count, "tshark read \(lines.count) of \(frames.count) frames")
        for line in lines {
            let cols = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard cols.count >= 8, let num = Int(cols[0]), num >= 1, num <= frames.count else {
                Issue.record("unexpected tshark line: \(line)")
                continue
            }
            let (name, frame, proto) = frames[num - 1]
            if num == frames.count {
                controlFlagged = cols[3].contains("Bad checksum")
                continue
            }
            let seen = cols[1].split(separator: ":").map(String.init)
            #expect(seen.contains(proto), "\(name): tshark saw \(cols[1]), expected \(proto)")
            if !cols[4].isEmpty { Issue.record("\(name): tshark calls it malformed: \(cols[3])") }
            // Severity "error" is 0x00800000: bad checksums, bad lengths.
            let errors = cols[2].split(separator: ",").compactMap { Int($0) }.filter { $0 >= 0x0080_0000 }
            if hasTruncatedQuote(frame) {
                // Judge the error itself: its IP header(s) and ICMP checksums must be good (status 1).
                let statuses = (cols[5] + "," + cols[6] + "," + cols[7]).split(separator: ",")
                #expect(
                    !statuses.isEmpty && statuses.allSatisfy { $0 == "1" }, "\(name): checksum statuses \(statuses)")
                let others = cols[3].split(separator: ",").filter { !$0.hasPrefix("Bad checksum") }
                #expect(
                    errors.count == cols[3].split(separator: ",").count - others.count || others.isEmpty,
                    "\(name): tshark reports \(cols[3])")
            } else if !errors.isEmpty {
                Issue.record("\(name): tshark reports \(cols[3])")
            }
        }
        #expect(controlFlagged, "tshark did not flag the planted bad checksum")
    }
}
