// TUN (IPIP and GUE, decapsulated in user space by lvs-realserver --tun) and FULLNAT labs.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: TUN and FULLNAT", .lab, .serialized)
struct TunnelLabTests {
    @Test("TUN: ipip to rs1 and GUE to rs2, real servers prepared with lvs-realserver start --tun [--gue]")
    func tunnel() throws {
        let l = try SeedLANLab("tun")
        defer { l.lab.close() }
        #expect(try l.rs1.lvsRealserver("start 192.168.0.240 --tun").status == 0)
        #expect(try l.rs2.lvsRealserver("start 192.168.0.240 --tun --gue 6080").status == 0)
        try l.director.ipvsadmScript([
            "-A -t 192.168.0.240:80 -s rr", "-a -t 192.168.0.240:80 -r 192.168.0.223:80 -i",
            "-a -t 192.168.0.240:80 -r 192.168.0.224:80 -i --tun-type gue --tun-port 6080",
        ])
        #expect(
            try l.client.curlTimes(4, "http://192.168.0.240/") == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        #expect(try l.client.curl("http://192.168.0.240/ip")?.contains("192.168.0.220") == true)
        let listing = try l.director.ipvsadm("-Ln").stdout
        #expect(listing.contains("192.168.0.223:80             Tunnel  1"))
        // stop undoes it: no VIP, no decapsulation table, no TUN device.
        #expect(try l.rs1.lvsRealserver("stop 192.168.0.240 --tun").status == 0)
        #expect(try !l.rs1.run(["/usr/sbin/ip", "addr", "show", "dev", "lo"]).stdout.contains("192.168.0.240"))
        #expect(try !l.rs1.run(["/usr/sbin/nft", "list", "ruleset"]).stdout.contains("swiftlvs-realserver"))
        #expect(try l.rs1.run(["/usr/sbin/ip", "link", "show", "lvstun0"]).status != 0)
    }

    @Test(
        "TUN --tun-type gre (with and without --tun-csum): real servers decapsulate GRE in user space (lvs-realserver --tun --gre), with no nft program"
    )
    func gre() throws {
        let l = try SeedLANLab("gre")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] {
            let r = try rs.runWithoutNFT([
                LabNetwork.binary("lvs-realserver"), "start", "192.168.0.240", "--tun", "--gre",
            ])
            rs.lab.onClose { _ = try? rs.run([LabNetwork.binary("lvs-realserver"), "stop", "--tun"]) }
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("tunnel decapsulation started on lvstun0"))
        }
        let table = try l.rs1.run(["/usr/sbin/nft", "list", "table", "inet", "swiftlvs-realserver"]).stdout
        #expect(table.contains("meta l4proto gre drop"), "\(table)")
        try l.director.ipvsadmScript([
            "-A -t 192.168.0.240:80 -s rr", "-a -t 192.168.0.240:80 -r 192.168.0.223:80 -i --tun-type gre",
            "-a -t 192.168.0.240:80 -r 192.168.0.224:80 -i --tun-type gre --tun-csum",
        ])
        #expect(
            try l.client.curlTimes(4, "http://192.168.0.240/") == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        // The real server sees the client itself (the tunnel keeps the inner packet).
        #expect(try l.client.curl("http://192.168.0.240/ip")?.contains("192.168.0.220") == true)
        let listing = try l.director.ipvsadm("-Ln --tun-info").stdout
        #expect(listing.contains("gre"), "\(listing)")
        #expect(l.rs1.nftTrapLog.isEmpty, "lvs-realserver never ran nft: \(l.rs1.nftTrapLog)")
        // stop: the daemon goes, and its table with it.
        #expect(try l.rs1.lvsRealserver("stop 192.168.0.240 --tun").status == 0)
        #expect(try !l.rs1.run(["/usr/sbin/nft", "list", "ruleset"]).stdout.contains("swiftlvs-realserver"))
        #expect(try l.rs1.run(["/usr/sbin/ip", "link", "show", "lvstun0"]).status != 0)
    }

    @Test("FULLNAT: real servers with no set-up at all see the director's local address")
    func fullNAT() throws {
        let l = try SeedLANLab("fnat")
        defer { l.lab.close() }
        try l.director.ip("addr add 192.168.0.150/24 dev eth0")
        try l.director.ipvsadmScript([
            "-A -t 192.168.0.240:80 -s rr", "-a -t 192.168.0.240:80 -r 192.168.0.223:8080 --fullnat",
            "-a -t 192.168.0.240:80 -r 192.168.0.224:8080 --fullnat", "-P -t 192.168.0.240:80 -z 192.168.0.150",
        ])
        #expect(
            try l.client.curlTimes(4, "http://192.168.0.240/") == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        #expect(
            try l.client.curl("http://192.168.0.240/ip")?.trimmingCharacters(in: .whitespacesAndNewlines)
                == "192.168.0.150")
        let conns = connectionLines(try l.director.ipvsadm("-Lnc").stdout)
        #expect(conns.contains { $0.count == 6 && $0[3].hasPrefix("192.168.0.220:") && $0[5] == "192.168.0.224:8080" })
    }
}
