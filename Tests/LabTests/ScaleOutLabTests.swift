// Scale-out (issue 16): three lvsd + BIRD 2 directors behind an ECMP router; kill -9, failed checks, bad input.
import Foundation
import LVSTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// BIRD 2 (Debian `bird2`) is needed besides the usual lab tools.
private let birdReason: String? =
    LabNetwork.unavailableReason ?? (LabNetwork.tool("bird") == nil ? "scale-out labs need bird (Debian: bird2)" : nil)

extension Trait where Self == ConditionTrait {
    fileprivate static var birdLab: ConditionTrait {
        .enabled(if: birdReason == nil, Comment(rawValue: birdReason ?? "BIRD labs available"))
    }
}

/// ```
///  client 10.8.0.2 ── 10.8.0.1 router (BIRD: merge paths; fib_multipath_hash_policy=1)
///                     10.9.0.1 ──switch── d1 .11  d2 .12  d3 .13 (lvsd + BIRD, table 100)
///                                     └── rs1 .21  rs2 .22 (nginx, VIP on lo: DR)
/// ```
struct ScaleOutLab {
    static let vip = "192.0.2.10"
    let lab: LabNetwork
    let client: LabHost
    let router: LabHost
    let directors: [LabHost]
    let realServers: [LabHost]

    /// `directRouting` puts the VIP on the real servers' `lo` (DR); FULLNAT real servers need nothing.
    init(_ name: String, bigBytes: Int = 0, directRouting: Bool = true) throws {
        let lab = try LabNetwork(name)
        self.lab = lab
        client = try lab.host("c")
        router = try lab.host("r")
        directors = try (1...3).map { try lab.host("d\($0)") }
        realServers = try (1...2).map { try lab.host("rs\($0)") }
        try lab.link(client, "c0", router, "r0")
        try client.ip("addr add 10.8.0.2/24 dev c0")
        try client.ip("route add default via 10.8.0.1")
        try router.ip("addr add 10.8.0.1/24 dev r0")
        let sw = try lab.makeSwitch("sw")
        try sw.attach(router, "r1")
        try router.ip("addr add 10.9.0.1/24 dev r1")
        for (i, d) in directors.enumerated() {
            try sw.attach(d, "eth0")
            try d.ip("addr add 10.9.0.1\(i + 1)/24 dev eth0")
        }
        for (i, rs) in realServers.enumerated() {
            try sw.attach(rs, "eth0")
            try rs.ip("addr add 10.9.0.2\(i + 1)/24 dev eth0")
            try rs.ip("route add default via 10.9.0.1")
            if directRouting { try rs.prepareRealServer("start \(Self.vip)") }
            try rs.startNginx(body: "rs\(i + 1) nginx", bigBytes: bigBytes)
        }
        for key in ["net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1", "net.ipv4.conf.all.rp_filter=0"] {
            let kv = key.split(separator: "=").map(String.init)
            try router.sysctl(kv[0], kv[1])
        }
        var routerConf = """
            router id 10.9.0.1;
            protocol device {}
            protocol kernel { ipv4 { import none; export all; }; merge paths on limit 16; }

            """
        for i in 1...3 {
            routerConf += """
                protocol bgp d\(i) { local 10.9.0.1 as 65000; neighbor 10.9.0.1\(i) as 65101; hold time 3;
                  connect retry time 1; ipv4 { import all; export none; }; }

                """
        }
        try startBird(router, routerConf)
        for (i, d) in directors.enumerated() {
            try startBird(
                d,
                """
                router id 10.9.0.1\(i + 1);
                protocol device {}
                protocol kernel { ipv4 { import all; export none; }; kernel table 100; learn; }
                protocol bgp tor { local 10.9.0.1\(i + 1) as 65101; neighbor 10.9.0.1 as 65000; hold time 3;
                  connect retry time 1; ipv4 { import none; export where net ~ [ 192.0.2.0/24{32,32} ]; next hop self; }; }

                """)
        }
    }

    func birdSocket(_ h: LabHost) -> String { lab.directory + "/bird-\(h.name).ctl" }

    /// Starts BIRD in `h` with `conf`, its control socket and pid file in the lab directory.
    func startBird(_ h: LabHost, _ conf: String) throws {
        let base = lab.directory + "/bird-\(h.name)"
        try conf.write(toFile: base + ".conf", atomically: true, encoding: .utf8)
        let pid = try LabNetwork.spawn(
            [
                LabNetwork.tool("ip")!, "netns", "exec", h.namespace, LabNetwork.tool("bird")!, "-f", "-c",
                base + ".conf", "-s", base + ".ctl", "-P", base + ".pid",
            ], stdoutPath: base + ".out", stderrPath: base + ".out")
        lab.adopt(pid)
    }

    /// The directors' keepalived.conf: mh with mh-port, DR, TCP checks, lvs_announce_table 100.
    func keepalivedConf(_ d: LabHost) throws -> String {
        let path = lab.directory + "/keepalived-\(d.name).conf"
        let servers = (1...2).map {
            """
                real_server 10.9.0.2\($0) 80 {
                    weight 1
                    inhibit_on_failure
                    TCP_CHECK {
                        connect_timeout 1
                    }
                }
            """
        }.joined(separator: "\n")
        try """
        global_defs {
            router_id \(d.name)
            lvs_announce_table 100 bird_socket \(birdSocket(d))
        }
        virtual_server \(Self.vip) 80 {
            delay_loop 1
            lb_algo mh
            mh-port
            lb_kind DR
            protocol TCP
        \(servers)
        }

        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func startDirectors() throws {
        for d in directors {
            try d.startLVSD(["-f", try keepalivedConf(d)])
            // What an operator's sysctl.conf line does for the kernel's IPVS.
            let r = try d.run([LabNetwork.binary("lvs-sysctl"), "-w", "net.ipv4.vs.sloppy_tcp=1"])
            guard r.status == 0, r.stdout == "net.ipv4.vs.sloppy_tcp = 1\n" else {
                throw LabError("\(d.name): lvs-sysctl: \(r.stdout)\(r.stderr)")
            }
        }
    }

    /// The router's next hops for the VIP (0 without a route).
    func nexthops() throws -> Int {
        let out = try router.run([LabNetwork.tool("ip")!, "route", "show", Self.vip]).stdout
        if out.isEmpty { return 0 }
        let hops = out.components(separatedBy: "nexthop via").count - 1
        return hops == 0 ? 1 : hops
    }

    /// Waits up to `seconds` for `count` next hops; the seconds it took, or nil.
    func waitNexthops(_ count: Int, seconds: Double) throws -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if try nexthops() == count { return Date().timeIntervalSince(start) }
            usleep(20_000)
        }
        return nil
    }

    /// lvsd's routes in table 100 of `d`.
    func announced(_ d: LabHost) throws -> String {
        try d.run([LabNetwork.tool("ip")!, "route", "show", "table", "100", "proto", "240"]).stdout
    }

    /// Starts `count` downloads of `/big` from the client, each from its own port, so ECMP
    /// spreads them, paced at `rate` by curl's `--limit-rate` (nil: as fast as the servers send);
    /// download i writes the body to `dl-i.bin` and `HTTP-code size` to `dl-i`.
    func startDownloads(_ count: Int, rate: String? = "200k", maxSeconds: Int = 60) throws -> [pid_t] {
        try (0..<count).map { i in
            try LabNetwork.spawn(
                [
                    LabNetwork.tool("ip")!, "netns", "exec", client.namespace, LabNetwork.tool("curl")!, "-s",
                    "-o", lab.directory + "/dl-\(i).bin", "--max-time", "\(maxSeconds)",
                ] + (rate.map { ["--limit-rate", $0] } ?? []) + [
                    "-w", "%{http_code} %{size_download}", "http://\(Self.vip)/big",
                ], stdoutPath: lab.directory + "/dl-\(i)")
        }
    }

    /// Waits for the downloads: `exit-status HTTP-code size` each ("0 200 1500000").
    func downloadResults(_ pids: [pid_t]) -> [String] {
        pids.enumerated().map { i, pid in
            let status = LabNetwork.wait(pid)
            let out = (try? String(contentsOfFile: lab.directory + "/dl-\(i)", encoding: .utf8)) ?? ""
            return "\(status) \(out)"
        }
    }

    /// Established connections in `d`'s table.
    func established(_ d: LabHost) throws -> Int {
        try d.ipvsadm("-Lnc").stdout.components(separatedBy: "ESTABLISHED").count - 1
    }
}

@Suite("Lab: scale-out behind ECMP with BIRD 2 (issue 16)", .birdLab, .serialized)
struct ScaleOutLabTests {
    @Test(
        "the router learns three next hops; a director's lvsd killed with -9 is withdrawn within seconds and every running download completes through the other two"
    )
    func killOneDirector() throws {
        let bytes = 1_500_000
        let l = try ScaleOutLab("so-kill", bigBytes: bytes)
        defer { l.lab.close() }
        try l.startDirectors()
        let learned = try l.waitNexthops(3, seconds: 20)
        let routes = try l.router.run(["/usr/sbin/ip", "route"]).stdout
        #expect(learned != nil, "router: \(routes)")
        for d in l.directors {
            #expect(try l.announced(d).hasPrefix("blackhole 192.0.2.10 metric "), "\(d.name)")
        }
        // 18 paced downloads (about 7 s each) from different client ports: ECMP spreads them.
        let count = 18
        let pids = try l.startDownloads(count)
        // Until the downloads are under way (2 s on an idle machine; longer while other labs run).
        var carried = [0, 0, 0]
        for _ in 0..<40 where carried.max()! == 0 || carried.reduce(0, +) < count / 2 {
            usleep(250_000)
            carried = try l.directors.map { try l.established($0) }
        }
        let victim = carried.indices.max { carried[$0] < carried[$1] }!
        let tables = l.directors.map { (try? $0.ipvsadm("-Lnc").stdout) ?? "" }
        #expect(carried[victim] > 0, "the killed director carries downloads: \(carried); -Lnc: \(tables)")
        l.directors[victim].killLVSD()
        // The keeper deletes the route, BIRD withdraws it: well within the 3 s hold time.
        let took = try l.waitNexthops(2, seconds: 10)
        #expect(took != nil && took! < 3, "withdrawn after \(String(describing: took)) s")
        #expect(try l.announced(l.directors[victim]).isEmpty)
        let results = l.downloadResults(pids)
        #expect(results.allSatisfy { $0 == "0 200 \(bytes)" }, "every download completes: \(results)")
        // The survivors took the killed director's flows mid-way (sloppy_tcp) to the same servers.
        let survivors = l.directors.indices.filter { $0 != victim }
        let log = survivors.map { l.directors[$0] }.map(\.lvsdLog).joined()
        #expect(!log.contains("withdrawn"), "the survivors keep announcing")
    }

    @Test(
        "a director whose real servers all fail its checks withdraws the VIP and announces it again when they pass; SIGTERM withdraws"
    )
    func failedChecksWithdraw() throws {
        let l = try ScaleOutLab("so-check")
        defer { l.lab.close() }
        try l.startDirectors()
        #expect(try l.waitNexthops(3, seconds: 20) != nil)
        let d3 = l.directors[2]
        // d3 alone cannot reach the real servers' port 80 (its checks fail; the others' pass).
        let block = """
            table inet sotest {
              chain out { type filter hook output priority 0; policy accept; ip daddr { 10.9.0.21, 10.9.0.22 } tcp dport 80 drop; }
            }

            """
        #expect(try d3.run(["/usr/sbin/nft", "-f", "-"], stdin: block).status == 0)
        #expect(try l.waitNexthops(2, seconds: 20) != nil, "d3 withdrawn")
        #expect(try l.announced(d3).isEmpty)
        #expect(d3.lvsdLog.contains("announce: 192.0.2.10 withdrawn from table 100 (no virtual service of it up)"))
        #expect(try l.client.curlTimes(4, "http://\(ScaleOutLab.vip)/").allSatisfy { $0.hasSuffix("nginx") })
        #expect(try d3.run(["/usr/sbin/nft", "delete", "table", "inet", "sotest"]).status == 0)
        #expect(try l.waitNexthops(3, seconds: 20) != nil, "d3 announces again")
        #expect(d3.stopLVSD() == 0)
        #expect(try l.waitNexthops(2, seconds: 10) != nil, "SIGTERM withdraws")
        #expect(try l.announced(d3).isEmpty)
        #expect(d3.lvsdLog.contains("withdrawn from table 100 (lvsd stopping)"))
        // BIRD answered all along: no warning about it.
        #expect(!l.directors[0].lvsdLog.contains("no BIRD answers"))
        #expect(l.directors[0].lvsdLog.contains("announce: BIRD at "))
    }

    @Test(
        "bad input: a table other routes use stops lvsd in one line; with BIRD absent lvsd announces, forwards and says so once"
    )
    func badInput() throws {
        let lab = try LabNetwork("so-bad")
        defer { lab.close() }
        let d = try lab.host("d")
        let conf = lab.directory + "/keepalived.conf"
        try """
        global_defs {
            lvs_announce_table 100 bird_socket \(lab.directory)/no-bird.ctl
        }
        virtual_server 192.0.2.10 80 {
            lb_algo mh
            lb_kind DR
            protocol TCP
            real_server 10.9.0.21 80 {
                weight 1
            }
        }

        """.write(toFile: conf, atomically: true, encoding: .utf8)
        try d.ip("route add blackhole 10.0.0.0/8 table 100 proto static")
        let refused = try d.run([LabNetwork.binary("lvsd"), "-n", "-f", conf])
        #expect(refused.status == 1)
        let lines = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("lvsd: ") }
        #expect(
            lines == [
                "lvsd: \(conf):2: lvs_announce_table 100: routing table 100 already holds 1 route(s) lvsd did not install (e.g. 'blackhole 10.0.0.0/8 proto 4'): lvs_announce_table needs a table of its own"
            ], "\(refused.stderr)")
        try d.ip("route del blackhole 10.0.0.0/8 table 100 proto static")
        try d.startLVSD(["-f", conf])
        sleep(7)  // two BIRD checks (every 5 s)
        #expect(
            try d.run(["/usr/sbin/ip", "route", "show", "table", "100"]).stdout.hasPrefix(
                "blackhole 192.0.2.10 proto 240 metric "))
        #expect(d.lvsdLog.components(separatedBy: "no BIRD answers at").count == 2, "logged once: \(d.lvsdLog)")
        #expect(try d.ipvsadm("-Ln").status == 0)
    }
}
