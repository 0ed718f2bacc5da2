// The nftables guard's life: in step with the table, removed on exit, replaced after a crash.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: nftables guard and lvs-realserver", .lab, .serialized)
struct GuardLabTests {
    func ruleset(_ h: LabHost) throws -> String { try h.run(["/usr/sbin/nft", "list", "ruleset"]).stdout }

    @Test(
        "the guard follows the service table, is removed by SIGTERM, by its keeper after SIGKILL, and a stale one is replaced at start"
    )
    func guardLifecycle() throws {
        // AF_PACKET mode: the guard covers every attached interface (in XDP mode only lo).
        let l = try SeedNATLab("guard", lvsdArguments: ["--data-plane", "af-packet"])
        defer { l.lab.close() }
        #expect(try ruleset(l.director).contains("table netdev swiftlvs"))
        try l.director.ipvsadmScript(NATLabTests.natScript)
        var rules = try ruleset(l.director)
        #expect(rules.contains("ip daddr 192.168.1.109 tcp dport 80 drop"))
        #expect(rules.contains("ip saddr 192.168.0.112 tcp sport 80 drop"))
        #expect(rules.contains("devices = { eth0, eth1, lo }"))
        try l.director.ipvsadmScript(["-D -t 192.168.1.109:80"])
        rules = try ruleset(l.director)
        #expect(!rules.contains("192.168.1.109"))
        // Without the guard's rule the kernel answers itself: nothing listens, so curl is refused.
        #expect(try l.client.curl("http://192.168.1.109/") == nil)
        try l.director.ipvsadmScript(NATLabTests.natScript)
        #expect(l.director.stopLVSD() == 0)
        #expect(try !ruleset(l.director).contains("swiftlvs"))
        #expect(try l.director.sysctl("net.ipv4.conf.lo.accept_local") == "0")
        // A crash (SIGKILL): lvsd's guard keeper removes the table it left, so the kernel answers
        // for the VIP again (here: nothing listens, so curl is refused, not left hanging).
        try l.director.startLVSD(["--data-plane", "af-packet"])
        try l.director.ipvsadmScript(NATLabTests.natScript)
        #expect(try ruleset(l.director).contains("comment \"swiftlvs lvsd pid "))
        l.director.killLVSD()
        var gone = false
        for _ in 0..<50 where !gone {
            gone = try !ruleset(l.director).contains("swiftlvs")
            if !gone { usleep(100_000) }
        }
        #expect(gone, "the keeper removed the killed lvsd's table")
        #expect(try l.client.curl("http://192.168.1.109/") == nil)
        // A table left behind all the same (keeper killed too: written here by hand, owned by a
        // process that is gone) is replaced by the next lvsd with its own rules.
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
        try l.director.ipvsadmScript(NATLabTests.natScript)
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
