// The nftables guard's life: in step with the table, removed on exit, replaced after a crash.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: nftables guard and lvs-realserver", .lab)
struct GuardLabTests {
    func ruleset(_ h: LabHost) throws -> String { try h.run(["/usr/sbin/nft", "list", "ruleset"]).stdout }

    @Test(
        "without the nft program: the guard follows the service table, is removed by SIGTERM, by the kernel after SIGKILL (table owned by lvsd's socket), and a stale one is replaced at start"
    )
    func guardLifecycle() throws {
        // lvsd runs where /usr/sbin/nft is a trap (LabHost.startLVSD: a machine without the
        // nftables package); the test itself still uses nft to look at the table. AF_PACKET mode:
        // the guard covers every attached interface (in XDP mode only lo).
        let l = try SeedNATLab("guard", lvsdArguments: ["--data-plane", "af-packet"])
        defer { l.lab.close() }
        #expect(try ruleset(l.director).contains("table netdev swiftlvs"))
        try l.director.ipvsadmScript(NATLabTests.natScript)
        var rules = try ruleset(l.director)
        // The VIP:port and the NAT servers' replies are set elements (one look-up per packet).
        #expect(rules.contains("ip daddr . meta l4proto . th dport @services4 drop"))
        #expect(rules.contains("elements = { 192.168.1.109 . tcp . 80 }"), "\(rules)")
        #expect(rules.contains("192.168.0.112 . tcp . 80") && rules.contains("192.168.0.113 . tcp . 80"))
        #expect(rules.contains("devices = { eth0, eth1, lo }"))
        #expect(rules.contains("flags owner"))
        // Seed 000's NAT works with no nft program anywhere in lvsd's reach.
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx"])
        try l.director.ipvsadmScript(["-D -t 192.168.1.109:80"])
        rules = try ruleset(l.director)
        #expect(!rules.contains("192.168.1.109"))
        // Without the guard's rule the kernel answers itself: nothing listens, so curl is refused.
        #expect(try l.client.curl("http://192.168.1.109/") == nil)
        try l.director.ipvsadmScript(NATLabTests.natScript)
        #expect(l.director.stopLVSD() == 0)
        #expect(try !ruleset(l.director).contains("swiftlvs"))
        #expect(try l.director.sysctl("net.ipv4.conf.lo.accept_local") == "0")
        // A crash (SIGKILL): the table belongs to lvsd's nf_tables socket, and the kernel deletes
        // it when the dead process's socket closes, so the kernel answers for the VIP again (here:
        // nothing listens, so curl is refused, not left hanging).
        try l.director.startLVSD(["--data-plane", "af-packet"])
        try l.director.ipvsadmScript(NATLabTests.natScript)
        #expect(try ruleset(l.director).contains("comment \"swiftlvs lvsd pid "))
        // Nobody else can delete the running lvsd's table (nft is refused: it is lvsd's).
        #expect(try l.director.run(["/usr/sbin/nft", "delete", "table", "netdev", "swiftlvs"]).status != 0)
        l.director.killLVSD()
        var gone = false
        for _ in 0..<50 where !gone {
            gone = try !ruleset(l.director).contains("swiftlvs")
            if !gone { usleep(100_000) }
        }
        #expect(gone, "the killed lvsd's table went with its socket")
        #expect(try l.client.curl("http://192.168.1.109/") == nil)
        // A table left behind all the same (by an older lvsd, or by hand: written here with nft,
        // not owned) is replaced by the next lvsd with its own rules.
        let stale = """
            table netdev swiftlvs {
              comment "swiftlvs lvsd pid 999999"
              chain ingress {
                type filter hook ingress devices = { "eth1" } priority -500; policy accept;
                ip daddr 192.168.1.109 tcp dport 80 drop
              }
            }
            """
        #expect(try l.director.run(["/usr/sbin/nft", "-f", "-"], stdin: stale + "\n").status == 0)
        #expect(try ruleset(l.director).contains("tcp dport 80 drop"))
        try l.director.startLVSD(["--data-plane", "af-packet"])
        rules = try ruleset(l.director)
        #expect(rules.components(separatedBy: "table netdev swiftlvs").count == 2)
        #expect(!rules.contains("tcp dport 80 drop"))
        #expect(!rules.contains("pid 999999"))
        try l.director.ipvsadmScript(NATLabTests.natScript)
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx"])
        #expect(l.director.nftTrapLog.isEmpty, "lvsd never ran nft: \(l.director.nftTrapLog)")
        // The trap works: nft run the same way is caught.
        #expect(try l.director.runWithoutNFT(["/usr/sbin/nft", "list", "ruleset"]).status == 127)
        #expect(l.director.nftTrapLog == "nft list ruleset\n")
    }

    @Test(
        "no silent half-working: an lvsd that cannot install its guard (another lvsd owns the table) exits 1 with one line, and the running one keeps its table"
    )
    func guardRefused() throws {
        let l = try SeedNATLab("guard-no")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(NATLabTests.natScript)
        // A second lvsd in the namespace on another control endpoint: forked (the default), its
        // parent waits for the daemon's start and reports the failure.
        let r = try l.director.run([LabNetwork.binary("lvsd"), "--control", "@guard-second", "-l"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("lvsd: ") }
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(
            lines.first?.hasPrefix(
                "lvsd: data plane not started: cannot install the nftables guard: table netdev swiftlvs: Operation not permitted (another lvsd running in this namespace owns the table?)"
            ) == true, "\(r.stderr)")
        // In the foreground (-n) the same line ends the log and the exit status is 1.
        let fg = try l.director.run([LabNetwork.binary("lvsd"), "-n", "-l", "--control", "@guard-third"])
        #expect(fg.status == 1)
        #expect(fg.stderr.contains("data plane not started: cannot install the nftables guard"), "\(fg.stderr)")
        #expect(try ruleset(l.director).contains("elements = { 192.168.1.109 . tcp . 80 }"))
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx"])
    }

    @Test("lvs-realserver: seeds' steps, idempotent start, stop restores the ARP settings, clear errors")
    func realServerScript() throws {
        let lab = try LabNetwork("rs")
        defer { lab.close() }
        let rs = try lab.host("rs")
        try rs.sysctl("net.ipv4.conf.all.arp_announce", "1")
        for _ in 0..<2 {
            let r = try rs.lvsRealserver("start 192.168.0.240 192.168.0.241")
            #expect(r.status == 0, "\(r.stderr)")
        }
        let addrs = try rs.run(["/usr/sbin/ip", "-4", "addr", "show", "dev", "lo"]).stdout
        #expect(addrs.components(separatedBy: "inet 192.168.0.240/32").count == 2, "added once: \(addrs)")
        #expect(addrs.contains("inet 192.168.0.241/32") && addrs.contains("lo:0"))
        #expect(try rs.sysctl("net.ipv4.conf.lo.arp_ignore") == "1")
        #expect(try rs.sysctl("net.ipv4.conf.lo.arp_announce") == "2")
        #expect(try rs.sysctl("net.ipv4.conf.all.arp_ignore") == "1")
        #expect(try rs.sysctl("net.ipv4.conf.all.arp_announce") == "2")
        #expect(try rs.lvsRealserver("stop 192.168.0.240").status == 0)
        #expect(try rs.sysctl("net.ipv4.conf.all.arp_ignore") == "1", "one VIP left: settings stay")
        #expect(try rs.lvsRealserver("stop 192.168.0.241").status == 0)
        #expect(try rs.lvsRealserver("stop 192.168.0.241").status == 0, "stop is idempotent")
        #expect(try !rs.run(["/usr/sbin/ip", "addr", "show", "dev", "lo"]).stdout.contains("192.168.0.24"))
        #expect(try rs.sysctl("net.ipv4.conf.all.arp_announce") == "1", "restored to what it was")
        #expect(try rs.sysctl("net.ipv4.conf.lo.arp_ignore") == "0")
        let noIf = try rs.lvsRealserver("start 192.168.0.240 --interface nosuch0")
        #expect(noIf.status == 1 && noIf.stderr == "lvs-realserver: no such interface: nosuch0\n")
        let bad = try rs.lvsRealserver("start 300.1.2.3")
        #expect(bad.status == 2 && bad.stderr.hasPrefix("lvs-realserver: invalid VIP '300.1.2.3'"))
        let notRoot = try rs.run([
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", LabNetwork.binary("lvs-realserver"),
            "start", "192.168.0.240",
        ])
        #expect(notRoot.status == 1 && notRoot.stderr.contains("must be run as root"))
    }
}
