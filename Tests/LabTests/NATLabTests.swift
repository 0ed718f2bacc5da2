// Seed 000's NAT lab: lvsd rewrites, schedules and serves real clients and nginx servers.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: seed 000 NAT", .lab, .serialized)
struct NATLabTests {
    static let natScript = [
        "-C", "-A -t 192.168.1.109:80 -s rr", "-a -t 192.168.1.109:80 -r 192.168.0.112:80 -m",
        "-a -t 192.168.1.109:80 -r 192.168.0.113:80 -m",
    ]

    @Test("seed 000 lvs_nat.sh: curl from the client alternates rs2 nginx / rs1 nginx (newest server first)")
    func roundRobinFromClient() throws {
        let l = try SeedNATLab("nat-rr")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.natScript)
        #expect(
            try l.client.curlTimes(4, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        let listing = try l.director.ipvsadm("-Ln").stdout
        #expect(listing.contains("  -> 192.168.0.112:80             Masq    1      0          2"))
        #expect(listing.contains("  -> 192.168.0.113:80             Masq    1      0          2"))
    }

    @Test("seed 000 runs curl 192.168.1.109 on the director itself: local clients are served")
    func localClient() throws {
        let l = try SeedNATLab("nat-local")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.natScript)
        #expect(
            try l.director.curlTimes(4, "http://192.168.1.109/") == [
                "rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx",
            ])
    }

    @Test(
        "seed 000 wrr 1:2: rs2 rs1 rs2 rs2 rs1 rs2 rs2 from a fresh table; the seed's run rs1 rs2 rs2 rs1 rs2 rs2 is a window of it"
    )
    func weightedRoundRobin() throws {
        let l = try SeedNATLab("nat-wrr")
        defer { l.lab.close() }
        try l.director.ipvsadmScript([
            "-C", "-A -t 192.168.1.109:80 -s wrr", "-a -t 192.168.1.109:80 -r 192.168.0.112:80 -m -w 1",
            "-a -t 192.168.1.109:80 -r 192.168.0.113:80 -m -w 2",
        ])
        let got = try l.director.curlTimes(7, "http://192.168.1.109/")
        #expect(got == ["rs2", "rs1", "rs2", "rs2", "rs1", "rs2", "rs2"].map { $0 + " nginx" })
        #expect(
            got[1...6].elementsEqual(["rs1 nginx", "rs2 nginx", "rs2 nginx", "rs1 nginx", "rs2 nginx", "rs2 nginx"]))
    }

    @Test("NAT port translation: VIP:80 → RS:8080, and 3 MB downloads arrive intact (GSO, partial checksums)")
    func portTranslationAndBulk() throws {
        let l = try SeedNATLab("nat-port", bigBytes: 3_000_000)
        defer { l.lab.close() }
        try l.director.ipvsadmScript([
            "-A -t 192.168.1.109:80 -s rr", "-a -t 192.168.1.109:80 -r 192.168.0.112:8080 -m",
            "-a -t 192.168.1.109:80 -r 192.168.0.113:8080 -m",
        ])
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx"])
        // The real server sees the client's own address (NAT keeps the source).
        #expect(try l.client.curl("http://192.168.1.109/ip")?.contains("192.168.1.200") == true)
        // Each real server has its own random file; every download must match one of them whole.
        let originals = try ["rs1", "rs2"].map {
            try LabNetwork.run(["/bin/sh", "-c", "sha1sum < \(l.lab.directory)/nginx-\($0)/html/big"]).stdout
        }
        var seen = Set<String>()
        for host in [l.client, l.director, l.client, l.director] {
            let r = try host.run(["/bin/sh", "-c", "curl -s -m 20 http://192.168.1.109/big | sha1sum"])
            #expect(originals.contains(r.stdout), "download through the director from \(host.name)")
            seen.insert(r.stdout)
        }
        #expect(seen.count == 2, "both servers served a download")
        // An upload (client → server super-frames) passes too: nginx answers 405 to POST on a file.
        let post = try l.client.run([
            "/bin/sh", "-c",
            "head -c 2000000 /dev/zero | curl -s -m 20 -o /dev/null -w '%{http_code}' --data-binary @- http://192.168.1.109/index.html",
        ])
        #expect(post.stdout == "405")
        let stats = try l.director.ipvsadm("-Ln --stats").stdout
        #expect(stats.contains("TCP  192.168.1.109:80"))
    }

    @Test("UDP in NAT: the echo service answers from the VIP, alternating rs2 / rs1")
    func udpNAT() throws {
        let l = try SeedNATLab("nat-udp")
        defer { l.lab.close() }
        try l.director.ipvsadmScript([
            "-A -u 192.168.1.109:53 -s rr", "-a -u 192.168.1.109:53 -r 192.168.0.112:5353 -m",
            "-a -u 192.168.1.109:53 -r 192.168.0.113:5353 -m",
        ])
        var answers: [String] = []
        for i in 0..<4 {
            answers.append(
                try l.client.udpRequest("192.168.1.109", 53, "ping\(i)", sourcePort: UInt16(40000 + i)) ?? "(none)")
        }
        #expect(answers == ["rs2 ping0", "rs1 ping1", "rs2 ping2", "rs1 ping3"])
        let conns = try l.director.ipvsadm("-Lnc").stdout
        #expect(conns.contains("UDP") && conns.contains("192.168.1.200:40000 192.168.1.109:53   192.168.0.113:5353"))
    }

    @Test("ipvsadm -d stops new connections to a real server; weight 0 quiesces it")
    func removeAndQuiesce() throws {
        let l = try SeedNATLab("nat-del")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.natScript)
        try l.director.ipvsadmScript(["-d -t 192.168.1.109:80 -r 192.168.0.113:80"])
        #expect(try l.client.curlTimes(3, "http://192.168.1.109/") == ["rs1 nginx", "rs1 nginx", "rs1 nginx"])
        try l.director.ipvsadmScript([
            "-a -t 192.168.1.109:80 -r 192.168.0.113:80 -m", "-e -t 192.168.1.109:80 -r 192.168.0.112:80 -m -w 0",
        ])
        #expect(try l.client.curlTimes(3, "http://192.168.1.109/") == ["rs2 nginx", "rs2 nginx", "rs2 nginx"])
        // No server left: the director answers with ICMP port unreachable, curl fails at once.
        try l.director.ipvsadmScript(["-d -t 192.168.1.109:80 -r 192.168.0.113:80"])
        let started = Date()
        #expect(try l.client.curl("http://192.168.1.109/", timeout: 5) == nil)
        #expect(Date().timeIntervalSince(started) < 4)
    }

    @Test("the director's own connections to a NAT real server's port still work (the guard hands them back)")
    func directorOwnConnections() throws {
        let l = try SeedNATLab("nat-own")
        defer { l.lab.close() }
        try l.director.ipvsadmScript(Self.natScript)
        #expect(try l.director.curl("http://192.168.0.112/")?.hasPrefix("rs1 nginx") == true)
        #expect(try l.director.curl("http://192.168.0.113/")?.hasPrefix("rs2 nginx") == true)
        #expect(try l.client.curlTimes(2, "http://192.168.1.109/") == ["rs2 nginx", "rs1 nginx"])
    }

    @Test("lvsd -f keepalived.conf: lb_kind NAT with TCP_CHECK health checks serves the VIP")
    func keepalivedConfiguration() throws {
        let conf = """
            virtual_server 192.168.1.109 80 {
                delay_loop 1
                lb_algo rr
                lb_kind NAT
                protocol TCP
                real_server 192.168.0.112 80 {
                    weight 1
                    TCP_CHECK {
                        connect_timeout 1
                    }
                }
                real_server 192.168.0.113 80 {
                    weight 1
                    TCP_CHECK {
                        connect_timeout 1
                    }
                }
            }

            """
        let l = try SeedNATLab("nat-conf", keepalivedConf: conf)
        defer { l.lab.close() }
        // Checks run every second; after a few rounds both servers are still in (they answer).
        sleep(3)
        let listing = try l.director.ipvsadm("-Ln").stdout
        #expect(listing.contains("192.168.0.112:80") && listing.contains("192.168.0.113:80"), "\(listing)")
        let bodies = try l.client.curlTimes(4, "http://192.168.1.109/")
        #expect(Set(bodies) == ["rs1 nginx", "rs2 nginx"], "\(bodies)")
    }
}
