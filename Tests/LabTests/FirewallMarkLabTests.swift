// Firewall-mark services on seed 000's NAT lab: the operator marks, lvsd serves (XDP and AF_PACKET modes).
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: firewall-mark services (-f)", .lab, .serialized)
struct FirewallMarkLabTests {
    /// The tutorials' way to group ports into one service: mark them in mangle PREROUTING (here
    /// with nft; `iptables -t mangle -A PREROUTING -d VIP -p tcp -m multiport --dports 80,8080
    /// -j MARK --set-mark 1` compiles to the same), then `ipvsadm -A -f 1`. `family` is nft's
    /// `ip` or `ip6`.
    static func markPorts(on director: LabHost, vip: String, family: String = "ip") throws {
        let rules = """
            table \(family) mangle {
                chain prerouting {
                    type filter hook prerouting priority mangle; policy accept;
                    \(family) daddr \(vip) tcp dport { 80, 8080 } meta mark set 1
                }
            }

            """
        let r = try director.run(["/usr/sbin/nft", "-f", "-"], stdin: rules)
        #expect(r.status == 0, "nft: \(r.stderr)")
    }
    /// NAT real servers without a port: the client's port is kept (K:ip_vs_xmit.c, a fwmark
    /// service's server port 0 means the packet's own).
    static let serviceScript = [
        "-A -f 1 -s rr", "-a -f 1 -r 192.168.0.112 -m", "-a -f 1 -r 192.168.0.113 -m",
    ]

    /// Counts the client's IPv4 packets to the VIP as it sends them and as the real servers receive
    /// them (nft counters at the first hook, before the real servers' NAT-less stack can drop
    /// anything). Interface counters would also count the lab's own ARP, neighbour discovery and
    /// router solicitations, which reach both real servers.
    static func countClientPackets(_ l: SeedNATLab) throws {
        func install(_ h: LabHost, hook: String, match: String) throws {
            let rules = """
                table ip fwmcount {
                    counter client {}
                    chain c {
                        type filter hook \(hook) priority -400; policy accept;
                        \(match) counter name "client"
                    }
                }

                """
            let r = try h.run(["/usr/sbin/nft", "-f", "-"], stdin: rules)
            #expect(r.status == 0, "nft on \(h.name): \(r.stderr)")
        }
        try install(l.client, hook: "output", match: "ip daddr \(SeedNATLab.vip)")
        for rs in [l.rs1, l.rs2] { try install(rs, hook: "prerouting", match: "ip saddr 192.168.1.200") }
    }

    /// The counters of `countClientPackets`: packets the client sent, and the real servers received.
    func packetCounts(_ l: SeedNATLab) throws -> (clientSent: Int, serversReceived: Int) {
        func read(_ h: LabHost) throws -> Int {
            let text = try h.run(["/usr/sbin/nft", "list", "counter", "ip", "fwmcount", "client"]).stdout
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
            guard let i = words.firstIndex(of: "packets"), i + 1 < words.count else { return -1 }
            return Int(words[i + 1]) ?? -1
        }
        return (try read(l.client), try read(l.rs1) + read(l.rs2))
    }

    func servesBothPorts(_ l: SeedNATLab) throws {
        try Self.markPorts(on: l.director, vip: SeedNATLab.vip)
        try l.director.ipvsadmScript(Self.serviceScript)
        // One service for both ports, scheduled round robin across them (newest server first).
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx"])
        #expect(try l.client.curlTimes(2, "http://192.168.1.109:8080/") == ["rs2 nginx", "rs1 nginx"])
        let listing = try l.director.ipvsadm("-Ln").stdout
        #expect(listing.contains("FWM  1 rr"), "\(listing)")
        for rs in ["192.168.0.112:0", "192.168.0.113:0"] {
            let row = listing.split(separator: "\n").first { $0.hasPrefix("  -> \(rs) ") }?.split(separator: " ")
            #expect(row.map(Array.init) == ["->", Substring(rs), "Masq", "1", "0", "2"], "\(listing)")
        }
        let conns = try l.director.ipvsadm("-Lnc").stdout
        #expect(conns.contains("192.168.1.109:8080 192.168.0.113:8080"), "\(conns)")
        // The real server sees the client's own address (NAT keeps the source).
        #expect(try l.client.curl("http://192.168.1.109:8080/ip")?.contains("192.168.1.200") == true)
        // Whole downloads, each client packet delivered once (the AF_PACKET tap's copy of a
        // marked connection's packet is not forwarded beside the kernel's logged one).
        try Self.countClientPackets(l)
        let before = try packetCounts(l)
        #expect(try l.downloadsIntact(2))
        let after = try packetCounts(l)
        let sent = after.clientSent - before.clientSent
        let delivered = after.serversReceived - before.serversReceived
        #expect(sent > 50 && delivered > 50 && delivered <= sent + 4, "client sent \(sent), servers received \(delivered)")
        // An upload: the client's segments reach lvsd merged (GRO, or the client's own GSO frames)
        // and leave split again; nginx answers 405 to a POST on a file once it has it all.
        let post = try l.client.run([
            "/bin/sh", "-c",
            "head -c 2000000 /dev/zero | curl -s -m 20 -o /dev/null -w '%{http_code}' --data-binary @- http://192.168.1.109:8080/index.html",
        ])
        #expect(post.stdout == "405")
        // Unmarked traffic to the VIP is still the kernel's: a closed port is refused at once.
        let started = Date()
        #expect(try l.client.curl("http://192.168.1.109:9999/", timeout: 3) == nil)
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test("-f 1 NAT, XDP mode: ports 80 and 8080 marked in mangle are one service, round robin, downloads whole")
    func natXDPMode() throws {
        let l = try SeedNATLab("fwm-xdp", bigBytes: 1_000_000)
        defer { l.lab.close() }
        try servesBothPorts(l)
        #expect(!l.director.lvsdLog.contains("cannot be served"), "\(l.director.lvsdLog)")
    }

    @Test("-f 1 NAT, --data-plane af-packet: the same, each client packet forwarded once")
    func natAFPacketMode() throws {
        let l = try SeedNATLab("fwm-afp", bigBytes: 1_000_000, lvsdArguments: ["--data-plane", "af-packet"])
        defer { l.lab.close() }
        try servesBothPorts(l)
    }

    @Test("a mark without a service stays the kernel's; deleting the service hands its mark back")
    func unservedMarksStayWithTheKernel() throws {
        let l = try SeedNATLab("fwm-none")
        defer { l.lab.close() }
        try Self.markPorts(on: l.director, vip: SeedNATLab.vip)
        // No service: nothing listens on the director, the kernel refuses at once.
        #expect(try l.client.curl("http://192.168.1.109/", timeout: 2) == nil)
        try l.director.ipvsadmScript(Self.serviceScript)
        #expect(try l.client.curlTimes(1, "http://192.168.1.109/") == ["rs2 nginx"])
        // The table lvsd keeps for it, as nft shows it.
        let table = try l.director.run(["/usr/sbin/nft", "list", "table", "inet", "swiftlvs-fwmark"]).stdout
        #expect(table.contains("hook input priority 99"), "\(table)")
        #expect(table.contains("meta mark 0x00000001 log group 19542 drop"), "\(table)")
        try l.director.ipvsadmScript(["-D -f 1"])
        let after = try l.director.run(["/usr/sbin/nft", "list", "table", "inet", "swiftlvs-fwmark"]).stdout
        #expect(!after.contains("meta mark"), "\(after)")
        // The kernel has the marked packets again: refused at once.
        #expect(try l.client.curl("http://192.168.1.109/", timeout: 2) == nil)
    }

    @Test(
        "keepalived.conf virtual_server fwmark 1 with DR and persistence_timeout (the tutorials' http + https pairing): a client stays on one server across both ports; -Lnc shows the IP template with the mark"
    )
    func keepalivedFirewallMarkDR() throws {
        let l = try SeedLANLab("fwm-dr")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] { try rs.prepareRealServer("start 192.168.0.240") }
        try Self.markPorts(on: l.director, vip: SeedLANLab.vip)
        let conf = """
            virtual_server fwmark 1 {
                delay_loop 6
                lb_algo rr
                lb_kind DR
                persistence_timeout 50
                real_server 192.168.0.223 80 {
                    weight 1
                }
                real_server 192.168.0.224 80 {
                    weight 1
                }
            }
            """
        let confPath = l.lab.directory + "/keepalived.conf"
        try conf.write(toFile: confPath, atomically: true, encoding: .utf8)
        l.director.stopLVSD()
        try l.director.startLVSD(["-f", confPath])
        var listing = ""
        for _ in 0..<50 where !listing.contains("192.168.0.224:0") {
            listing = try l.director.ipvsadm("-Ln").stdout
            usleep(100_000)
        }
        #expect(listing.contains("FWM  1 rr persistent 50"), "\(listing)")
        // K:ip_vs_core.c ip_vs_sched_persist: a fwmark service's template covers every port the
        // mark takes, so one client stays on one server for both.
        let answers = try (0..<2).flatMap { _ in
            try l.client.curlTimes(1, "http://192.168.0.240/") + l.client.curlTimes(1, "http://192.168.0.240:8080/")
        }
        #expect(answers.count == 4 && Set(answers).count == 1, "\(answers)")
        let conns = try l.director.ipvsadm("-Lnc").stdout
        #expect(conns.contains("IP ") && conns.contains("0.0.0.1:0"), "\(conns)")
    }

    @Test(
        "-f 1 -6 NAT: IPv6 packets marked in ip6 mangle go to the IPv6 fwmark service; an IPv4 service of the same mark does not take them"
    )
    func natIPv6() throws {
        let l = try IPv6NATLab("fwm-v6", ports: [80, 8080])
        let (client, dir) = (l.client, l.director)
        defer { l.lab.close() }
        try Self.markPorts(on: dir, vip: "fd00:1::1", family: "ip6")
        try dir.startLVSD()
        // Only an IPv4 service for mark 1: IPv6 stays the kernel's (refused at once).
        try dir.ipvsadmScript(["-A -f 1 -s rr", "-a -f 1 -r 192.0.2.9 -m"])
        #expect(try client.curl("http://[fd00:1::1]/", timeout: 2) == nil)
        try dir.ipvsadmScript(["-A -f 1 -6 -s rr", "-a -f 1 -6 -r fd00:2::11 -m"])
        #expect(try client.curlTimes(1, "http://[fd00:1::1]/") == ["rs1 nginx"])
        #expect(try client.curlTimes(1, "http://[fd00:1::1]:8080/") == ["rs1 nginx"])
        let listing = try dir.ipvsadm("-Ln").stdout
        #expect(listing.contains("FWM  1 IPv6 rr"), "\(listing)")
        let conns = try dir.ipvsadm("-Lnc").stdout
        let row = conns.split(separator: "\n").first { $0.contains("[fd00:1::1]:8080") }?.split(separator: " ")
        #expect(row?.last == "[fd00:2::11]:8080", "\(conns)")
    }
}
