// lvsd --http in a lab: metrics equal ipvsadm's numbers, the dashboard in headless chromium, sd_notify.
import Foundation
import LVSTestSupport
import Testing

/// Where lab tests leave files for people to look at (screenshots).
let testOutputDirectory: String = {
    let dir =
        (ProcessInfo.processInfo.environment["LVS_TEST_OUTPUT"] ?? LabNetwork.buildDirectory + "/../../test-output")
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return (dir as NSString).standardizingPath
}()

/// `name{labels}` → value from Prometheus text.
func prometheusSamples(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        out[String(line[..<space])] = String(line[line.index(after: space)...])
    }
    return out
}

@Suite("Lab: lvsd --http (metrics, API, dashboard, sd_notify)", .lab, .serialized)
struct HTTPLabTests {
    static let service = #"{local_address="192.168.1.109",local_mark="",local_port="80",proto="TCP"}"#
    static func backend(_ rs: String) -> String {
        #"{local_address="192.168.1.109",local_mark="",local_port="80",proto="TCP",remote_address=""#
            + rs + #"",remote_port="80"}"#
    }

    @Test(
        "after real NAT traffic, /metrics equals ipvsadm -Ln --stats --exact, --rate and -Ln read at the same moment"
    )
    func metricsEqualIPVSAdm() throws {
        let l = try SeedNATLab("http-metrics", lvsdArguments: ["--http", "127.0.0.1:9110"])
        defer { l.lab.close() }
        try l.director.ipvsadmScript([
            "-A -t 192.168.1.109:80 -s rr", "-a -t 192.168.1.109:80 -r 192.168.0.112:80 -m",
            "-a -t 192.168.1.109:80 -r 192.168.0.113:80 -m -w 3",
        ])
        #expect(try l.client.curlTimes(6, "http://192.168.1.109/").count == 6)
        // The workers publish their counters every 100 ms.
        usleep(300_000)
        // The listing and the scrape are equal when nothing changed between them: read
        // listing, metrics, listing, and compare when both listings agree (rates move every 2 s).
        var compared = false
        for _ in 0..<10 where !compared {
            let before =
                try l.director.ipvsadm("-Ln --stats --exact").stdout + l.director.ipvsadm("-Ln --rate").stdout
                + l.director.ipvsadm("-Ln").stdout
            let scrape = try #require(try l.director.curl("http://127.0.0.1:9110/metrics?collect[]=backend_stats"))
            let after =
                try l.director.ipvsadm("-Ln --stats --exact").stdout + l.director.ipvsadm("-Ln --rate").stdout
                + l.director.ipvsadm("-Ln").stdout
            guard before == after else { continue }
            compared = true
            let m = prometheusSamples(scrape)
            let lines = before.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            // --stats: "TCP 192.168.1.109:80 Conns InPkts OutPkts InBytes OutBytes", then per server.
            let statsService = try #require(lines.first { $0.first == "TCP" && $0.count == 7 })
            #expect(m["lvsd_ipvs_service_connections_total" + Self.service] == statsService[2])
            #expect(m["lvsd_ipvs_service_incoming_packets_total" + Self.service] == statsService[3])
            #expect(m["lvsd_ipvs_service_outgoing_packets_total" + Self.service] == statsService[4])
            #expect(m["lvsd_ipvs_service_incoming_bytes_total" + Self.service] == statsService[5])
            #expect(m["lvsd_ipvs_service_outgoing_bytes_total" + Self.service] == statsService[6])
            #expect(statsService[2] == "6", "six connections: \(before)")
            for rs in ["192.168.0.112", "192.168.0.113"] {
                let rows = lines.filter { $0.count > 1 && $0[0] == "->" && $0[1] == rs + ":80" }
                // The order is the listing's: --stats, then --rate, then -Ln.
                #expect(rows.count == 3)
                guard rows.count == 3 else { continue }
                let stats = rows[0]
                let rate = rows[1]
                let plain = rows[2]
                let b = Self.backend(rs)
                #expect(m["lvsd_ipvs_backend_connections_total" + b] == stats[2])
                #expect(m["lvsd_ipvs_backend_incoming_packets_total" + b] == stats[3])
                #expect(m["lvsd_ipvs_backend_outgoing_packets_total" + b] == stats[4])
                #expect(m["lvsd_ipvs_backend_incoming_bytes_total" + b] == stats[5])
                #expect(m["lvsd_ipvs_backend_outgoing_bytes_total" + b] == stats[6])
                #expect(rate.count == 7)
                #expect(m["node_ipvs_backend_weight" + b] == plain[3])
                #expect(m["node_ipvs_backend_connections_active" + b] == plain[4])
                #expect(m["node_ipvs_backend_connections_inactive" + b] == plain[5])
            }
            let rateService = try #require(lines.first { $0.first == "TCP" && $0.count == 7 && $0 != statsService })
            #expect(m["lvsd_ipvs_service_connections_per_second" + Self.service] == rateService[2])
            #expect(m["lvsd_ipvs_service_incoming_bytes_per_second" + Self.service] == rateService[5])
            // lvsd's default mode on veths with native XDP.
            #expect(m["lvsd_dataplane_mode{mode=\"xdp\"}"] == "1")
            // One series per worker: the requests went through one of them.
            let inbound = m.filter {
                $0.key.hasPrefix("lvsd_dataplane_packets_total{interface=\"all\",path=\"inbound\",")
            }
            #expect(inbound.count >= 1 && inbound.values.compactMap { Int($0) }.reduce(0, +) > 0, "\(inbound)")
        }
        #expect(compared, "the table kept changing between listings")
        // The JSON API reads the same table.
        let api = try #require(try l.director.curl("http://127.0.0.1:9110/api/v1/services"))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(api.utf8)) as? [String: Any])
        let services = try #require(doc["services"] as? [[String: Any]])
        #expect((services.first?["counters"] as? [String: Any])?["connections"] as? Int == 6)
        // Read-only: anything but GET/HEAD is refused, and the table is unchanged.
        let post = try l.director.run([
            "/bin/sh", "-c", "curl -s -o /dev/null -w '%{http_code}' -X DELETE http://127.0.0.1:9110/api/v1/services",
        ])
        #expect(post.stdout == "405")
    }

    @Test(
        "the dashboard in headless chromium shows a real server added with ipvsadm a moment before; screenshot saved"
    )
    func dashboardInChromium() throws {
        let chromium = try #require(
            LabNetwork.tool("chromium") ?? LabNetwork.tool("chromium-browser"),
            "the dashboard test needs chromium (Debian: chromium; scripts/test installs it)")
        let l = try SeedNATLab("http-dash", lvsdArguments: ["--http", "127.0.0.1:9110"])
        defer { l.lab.close() }
        try l.director.ipvsadmScript([
            "-A -t 192.168.1.109:80 -s rr", "-a -t 192.168.1.109:80 -r 192.168.0.112:80 -m",
        ])
        // Traffic while the page runs, so its rates and sparklines move (bounded: 60 requests).
        let loop = try LabNetwork.spawn([
            LabNetwork.tool("ip")!, "netns", "exec", l.client.namespace, "/bin/sh", "-c",
            "for i in $(seq 60); do curl -s -m 1 -o /dev/null http://192.168.1.109/; sleep 0.1; done",
        ])
        defer {
            kill(loop, SIGTERM)
            _ = LabNetwork.wait(loop)
        }
        sleep(2)
        // The server the page must show, added just now.
        try l.director.ipvsadmScript(["-a -t 192.168.1.109:80 -r 192.168.0.113:80 -m -w 2"])
        let profile = l.lab.directory + "/chromium"
        let base = [
            LabNetwork.tool("ip")!, "netns", "exec", l.director.namespace, chromium, "--headless", "--no-sandbox",
            "--disable-gpu", "--user-data-dir=\(profile)", "--virtual-time-budget=3000",
        ]
        let dom = try LabNetwork.run(base + ["--dump-dom", "http://127.0.0.1:9110/"])
        #expect(dom.status == 0, "chromium: \(dom.stderr.suffix(500))")
        // The row the page drew for the new server: address, forwarding, weight, health.
        #expect(
            dom.stdout.contains(
                #"<td>→ 192.168.0.113:80</td><td>Masq</td><td class="n">2</td><td><span class="dot unchecked"></span>unchecked</td>"#
            ), "\(dom.stdout.suffix(3000))")
        #expect(dom.stdout.contains("TCP 192.168.1.109:80"))
        #expect(dom.stdout.contains("live · updated every second"))
        let shot = testOutputDirectory + "/lvsd-dashboard.png"
        try? FileManager.default.removeItem(atPath: shot)
        let png = try LabNetwork.run(
            base + ["--window-size=1280,720", "--screenshot=\(shot)", "http://127.0.0.1:9110/"])
        #expect(png.status == 0, "chromium: \(png.stderr.suffix(500))")
        let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot \(shot)")
        print("dashboard screenshot: \(shot)")
    }

    @Test("a port already in use: one line, exit 1, nothing half-started; non-loopback needs --http-allow-remote")
    func portInUseAndRemote() throws {
        let l = try SeedNATLab("http-busy", lvsdArguments: ["--http", "127.0.0.1:9110"])
        defer { l.lab.close() }
        let lvsd = LabNetwork.binary("lvsd")
        let second = try l.director.run([lvsd, "-n", "--control", "@http-busy-2", "--http", "127.0.0.1:9110"])
        #expect(second.status == 1)
        #expect(
            second.stderr
                == "lvsd: --http 127.0.0.1:9110: address already in use (another lvsd or exporter listens there; --http ADDR:PORT picks another port, --http off turns the listener off)\n"
        )
        // Nothing of the second one is left: its control endpoint is not there.
        let probe = try l.director.run([
            "/usr/bin/env", "LVSD_CONTROL=@http-busy-2", LabNetwork.binary("ipvsadm"), "-Ln",
        ])
        #expect(probe.status == 1)
        // The first one still serves.
        #expect(try l.director.curl("http://127.0.0.1:9110/api/v1/status")?.contains("\"version\"") == true)
        let remote = try l.director.run([lvsd, "-n", "--control", "@http-busy-3", "--http", "0.0.0.0:9111"])
        #expect(remote.status == 1)
        #expect(remote.stderr.contains("needs --http-allow-remote"))
        #expect(remote.stderr.split(separator: "\n").count == 2, "the message and lvsd's usage hint")
    }

    @Test("sd_notify: READY=1 once the control socket and data plane are up, RELOADING=1/READY=1 on SIGHUP, STOPPING=1")
    func systemdNotify() throws {
        let l = try SeedNATLab("http-notify")
        defer { l.lab.close() }
        l.director.stopLVSD()
        let path = l.lab.directory + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func receive() -> String? {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
        }
        let log = l.lab.directory + "/lvsd-notify.log"
        let pid = try LabNetwork.spawn(
            [
                LabNetwork.tool("ip")!, "netns", "exec", l.director.namespace, "/usr/bin/env", "NOTIFY_SOCKET=\(path)",
                LabNetwork.binary("lvsd"), "-n", "-l", "--http", "off",
            ], stdoutPath: log, stderrPath: log)
        var stopped = false
        defer {
            if !stopped {
                kill(pid, SIGKILL)
                _ = LabNetwork.wait(pid)
            }
        }
        let ready = try #require(receive(), "no READY=1")
        #expect(ready.hasPrefix("READY=1\n"))
        #expect(ready.contains("STATUS=directing on "))
        #expect(ready.contains("MAINPID=\(pid)"))
        // Ready means ready: ipvsadm is answered and the data plane attached.
        #expect(try l.director.ipvsadm("-Ln").status == 0)
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(logText.contains("data plane attached"))
        kill(pid, SIGHUP)
        let reloading = try #require(receive(), "no RELOADING=1")
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(receive()?.hasPrefix("READY=1") == true)
        kill(pid, SIGTERM)
        #expect(receive()?.hasPrefix("STOPPING=1") == true)
        #expect(LabNetwork.wait(pid) == 0)
        stopped = true
    }
}
