// The SYN proxy with real nginx and curl through seed 000's NAT lab, and a spoofed SYN flood that
// creates no connection entries (issue 14).
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: SYN proxy (NAT)", .lab, .serialized)
struct SynProxyLabTests {
    static let script = [
        "-C", "-A -t 192.168.1.109:80 -s rr --synproxy", "-a -t 192.168.1.109:80 -r 192.168.0.112:80 -m",
        "-a -t 192.168.1.109:80 -r 192.168.0.113:80 -m",
    ]

    /// Sends `count` TCP SYNs to VIP:80 from spoofed sources 10.9.x.y through the client's eth0
    /// (a raw socket with IP_HDRINCL; the kernel fills in the checksum of the IP header only).
    static func spoofedSYNs(_ host: LabHost, count: Int) throws -> LabOutput {
        let py = """
            import socket, struct, random
            def csum(b):
                if len(b) % 2: b += b'\\0'
                s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
                while s >> 16: s = (s & 0xffff) + (s >> 16)
                return ~s & 0xffff
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            dst = socket.inet_aton('192.168.1.109')
            for i in range(\(count)):
                src = socket.inet_aton('10.9.%d.%d' % ((i >> 8) & 255, (i & 255) or 1))
                sport = 1024 + (i % 60000)
                tcp = struct.pack('!HHIIBBHHH', sport, 80, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
                pseudo = src + dst + struct.pack('!BBH', 0, 6, len(tcp))
                tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
                ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst)
                s.sendto(ip + tcp, ('192.168.1.109', 0))
            print('sent', \(count))
            """
        return try host.run(["/usr/bin/python3", "-c", py])
    }

    @Test("curl through a NAT service with --synproxy: every request answered, round robin as without it")
    func curlThroughProxy() throws {
        let l = try SeedNATLab("synproxy-curl")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.script)
        #expect(try l.director.ipvsadm("-Ln").stdout.contains("TCP  192.168.1.109:80 rr synproxy"))
        #expect(try l.director.ipvsadm("-Sn").stdout.contains("-A -t 192.168.1.109:80 -s rr --synproxy"))
        let answers = try l.client.curlTimes(4, "http://192.168.1.109/")
        let table = try l.director.ipvsadm("-Lnc").stdout
        #expect(
            answers == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"],
            "\(answers)\n\(table)\n\(l.director.lvsdLog)")
        // A body larger than a window: the translated sequence numbers and SACK hold up.
        let big = try l.client.run(["/bin/sh", "-c", "curl -s -m 20 http://192.168.1.109/ip"])
        #expect(big.stdout.contains("192.168.1.200"))
    }

    @Test("a spoofed SYN flood gets cookies and creates no connection entry; real clients are served meanwhile")
    func floodCreatesNoEntries() throws {
        let l = try SeedNATLab("synproxy-flood")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.script)
        // The director needs no neighbour for 10.9/16: its SYN/ACKs go to the client's router.
        try l.client.ip("addr add 192.168.1.250/24 dev eth0")
        try l.director.ip("route add 10.9.0.0/16 via 192.168.1.250")
        let flood = try Self.spoofedSYNs(l.client, count: 3000)
        #expect(flood.status == 0, "\(flood.stderr)")
        let listing = try l.director.ipvsadm("-Lnc").stdout
        #expect(connectionLines(listing).filter { $0.count > 2 && $0[2] == "SYN_RECV" }.isEmpty)
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/").count == 2)
        // The knobs say so too.
        let sysctl = try l.director.run([LabNetwork.binary("lvs-sysctl"), "-n", "net.ipv4.vs.lvsd_conn_count"])
        #expect(Int(sysctl.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 99 <= 2)
    }

    @Test("without the proxy the same flood fills the table with SYN_RECV entries (what the proxy prevents)")
    func floodWithoutProxy() throws {
        let l = try SeedNATLab("synproxy-none")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.script.map { $0.replacingOccurrences(of: " --synproxy", with: "") })
        try l.client.ip("addr add 192.168.1.250/24 dev eth0")
        try l.director.ip("route add 10.9.0.0/16 via 192.168.1.250")
        _ = try Self.spoofedSYNs(l.client, count: 500)
        usleep(300_000)
        let n = connectionLines(try l.director.ipvsadm("-Lnc").stdout).count
        #expect(n >= 400)
    }
}
