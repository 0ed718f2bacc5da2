// curl through the VIP of two lvsd directors (DR to real nginx servers) across failovers, and the failover time.
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// seed 003 §3.1's LAN with real servers:
///
/// ```
///  switch ──┬── lvs01   192.168.0.210  (MASTER 150)     VIP 192.168.0.240 (VRRP)
///           ├── lvs02   192.168.0.211  (BACKUP 100)
///           ├── web01   192.168.0.223  nginx "192.168.0.223 bbs", VIP on lo (seed 003 §2.2.2)
///           ├── web02   192.168.0.224  nginx "192.168.0.224 bbs", VIP on lo
///           └── client  192.168.0.220
/// ```
final class DataPathLab {
    let lab: VRRPLab
    let d1: String
    let d2: String
    let client: String
    let vip: String
    static let vip = "192.168.0.240"

    /// `servers`: (name, address, nginx body); `directors`: the two directors' addresses.
    init(
        _ tag: String, vip: String = DataPathLab.vip, directors: (String, String) = ("192.168.0.210", "192.168.0.211"),
        client clientAddress: String = "192.168.0.220",
        servers: [(String, String, String)] = [
            ("web01", "192.168.0.223", "192.168.0.223 bbs"), ("web02", "192.168.0.224", "192.168.0.224 bbs"),
        ]
    ) async throws {
        self.vip = vip
        lab = try VRRPLab(tag)
        do {
            _ = try lab.makeSwitch()
            d1 = try lab.host("lvs01")
            d2 = try lab.host("lvs02")
            client = try lab.host("client")
            try lab.attach(d1, "eth0", address: directors.0 + "/24")
            try lab.attach(d2, "eth0", address: directors.1 + "/24")
            try lab.attach(client, "eth0", address: clientAddress + "/24")
            for (name, address, body) in servers {
                let ns = try lab.host(name)
                try lab.attach(ns, "eth0", address: address + "/24")
                // seed 003 §2.2.2 / seed 000 lvs_rs.sh: the VIP on lo, ARP suppressed.
                let r = try lab.sh(
                    ns,
                    "ip addr add \(vip)/32 dev lo label lo:0 && sysctl -qw net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"
                )
                guard r.status == 0 else { throw LabFailure("\(name): \(r.output)") }
                _ = try await lab.startNginx(ns, name: name, body: body)
            }
        } catch {
            lab.close()
            throw error
        }
    }

    /// seed 003 §3.9's configuration with `vrrp` lines replaced (state, priority, version, advert_int).
    static func config(master: Bool, version: Int = 2, advert: String = "1") -> String {
        var c = SeedConfigs.seed003Full
        if !master {
            c = c.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 150", with: "priority 100")
                .replacingOccurrences(of: "router_id LVS01", with: "router_id LVS02")
        }
        if version == 3 {
            c = c.replacingOccurrences(of: "    advert_int 1\n", with: "    version 3\n    advert_int \(advert)\n")
        }
        return c
    }
}

/// One HTTP GET to `address`:80 from inside namespace `ns`, in this process (a thread that
/// entered the namespace): true when a 200 came back within `timeout`.
final class HTTPProbe: @unchecked Sendable {
    let namespace: String
    init(namespace: String) { self.namespace = namespace }

    static let setns: @convention(c) (Int32, Int32) -> Int32 = {
        let sym = dlsym(dlopen(nil, RTLD_NOW), "setns")
        return unsafeBitCast(sym!, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()

    final class Box: @unchecked Sendable { var value: Double?? }

    /// Runs `body` on a new thread that entered the namespace (setns is per thread) and waits.
    func inside(_ body: @escaping @Sendable () -> Double?) -> Double? {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let ns = namespace
        let thread = Thread {
            let fd = open("/run/netns/\(ns)", O_RDONLY | O_CLOEXEC)
            if fd >= 0 && HTTPProbe.setns(fd, 0x4000_0000) == 0 { box.value = .some(body()) }
            if fd >= 0 { close(fd) }
            done.signal()
        }
        thread.start()
        done.wait()
        return box.value ?? nil
    }

    /// Polls a GET every `interval` until one succeeds or `limit` passes; returns the monotonic
    /// time (seconds) of the first success, or nil.
    func firstSuccess(after start: Double, limit: Double, interval: Double = 0.01, timeout: Int32 = 50) -> Double? {
        inside { () -> Double? in
            while Self.now() - start < limit {
                if Self.get(DataPathLab.vip, timeoutMS: timeout) != nil { return Self.now() }
                usleep(UInt32(interval * 1_000_000))
            }
            return nil
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// A GET / over a fresh TCP connection; the body, or nil.
    static func get(_ address: String, timeoutMS: Int32) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = UInt16(80).bigEndian
        inet_pton(AF_INET, address, &sa.sin_addr)
        _ = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, timeoutMS) == 1 else { return nil }
        var err: Int32 = 0
        var len = socklen_t(4)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else { return nil }
        let req = Array("GET / HTTP/1.0\r\nHost: \(address)\r\n\r\n".utf8)
        guard req.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == req.count else { return nil }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 2048)
        while true {
            var q = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&q, 1, timeoutMS) == 1 else { return nil }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        let text = String(decoding: out, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 200") || text.hasPrefix("HTTP/1.0 200"),
            let r = text.range(of: "\r\n\r\n")
        else { return nil }
        return String(text[r.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension VRRPLabs {
    @Suite(
        "VRRP labs: curl through the VIP of two lvsd directors (DR, nginx real servers)",
        .enabled(if: vrrpLabSkipReason == nil, Comment(rawValue: vrrpLabSkipReason ?? "")))
    struct VRRPDataPathLabTests {
        @Test(
            "seed 000 §3 (MASTER 100 / BACKUP 90, DR wlc, persistence_timeout 60): curl through 192.168.0.110 before and after kill -9 of the master"
        )
        func seed000Curl() async throws {
            let l = try await DataPathLab(
                "curl000", vip: "192.168.0.110", directors: ("192.168.0.101", "192.168.0.102"), client: "192.168.0.200",
                servers: [("rs1", "192.168.0.112", "rs1 nginx"), ("rs2", "192.168.0.113", "rs2 nginx")])
            defer { l.lab.close() }
            let backupConfig = SeedConfigs.seed000Master.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                .replacingOccurrences(of: "priority 100", with: "priority 90")
            let master = try LabDirector(lab: l.lab, namespace: l.d1, name: "dir1", config: SeedConfigs.seed000Master)
            let backup = try LabDirector(lab: l.lab, namespace: l.d2, name: "dir2", config: backupConfig)
            try await master.start()
            try await backup.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { l.lab.holds(l.d1, l.vip, on: "eth0") } != nil)
            try await Task.sleep(for: .seconds(4))
            let url = "http://192.168.0.110/"
            let bodies = (0..<4).map { _ in l.lab.curl(l.client, url) ?? "(failed)" }
            // persistence_timeout 60: one client stays on one real server.
            #expect(Set(bodies).count == 1 && ["rs1 nginx", "rs2 nginx"].contains(bodies[0]), "\(bodies)")
            await master.crash()
            let back = await VRRPLab.waitUntil(seconds: 10) { l.lab.curl(l.client, url, timeout: 0.5) != nil }
            #expect(back != nil, "\(backup.logText)")
            #expect(l.lab.holds(l.d2, l.vip, on: "eth0"))
            #expect(inPackets(try backup.ipvsadm("-Ln --stats").output) > 0)
        }

        @Test(
            "seed 003 §3.8: curl through the VIP alternates the real servers; kill -9 of the master → curl works again through the backup; the master returns (preempt) → through it; SIGTERM → through the backup"
        )
        func curlAcrossFailovers() async throws {
            let l = try await DataPathLab("curl")
            defer { l.lab.close() }
            let master = try LabDirector(
                lab: l.lab, namespace: l.d1, name: "lvs01", config: DataPathLab.config(master: true))
            let backup = try LabDirector(
                lab: l.lab, namespace: l.d2, name: "lvs02", config: DataPathLab.config(master: false))
            try await master.start()
            try await backup.start()
            #expect(await VRRPLab.waitUntil(seconds: 5) { l.lab.holds(l.d1, DataPathLab.vip, on: "eth0") } != nil)
            try await Task.sleep(for: .seconds(4))
            let url = "http://192.168.0.240/"
            let bodies = (0..<4).map { _ in l.lab.curl(l.client, url) ?? "(failed)" }
            #expect(Set(bodies) == ["192.168.0.223 bbs", "192.168.0.224 bbs"], "\(bodies)\n\(master.logText)")
            #expect(try master.ipvsadm("-Ln --stats").output.contains("TCP  192.168.0.240:80"))

            await master.crash()
            let back = await VRRPLab.waitUntil(seconds: 10) { l.lab.curl(l.client, url, timeout: 0.5) != nil }
            #expect(back != nil, "\(backup.logText)")
            print("[vrrp-lab] curl: kill -9 of the master -> curl through the backup after \(back ?? -1) s")
            #expect(l.lab.holds(l.d2, DataPathLab.vip, on: "eth0"))
            let through = (0..<4).map { _ in l.lab.curl(l.client, url) ?? "(failed)" }
            #expect(Set(through) == ["192.168.0.223 bbs", "192.168.0.224 bbs"], "\(through)")
            #expect(inPackets(try backup.ipvsadm("-Ln --stats").output) > 0)

            try await master.start()
            #expect(
                await VRRPLab.waitUntil(seconds: 8) {
                    l.lab.holds(l.d1, DataPathLab.vip, on: "eth0") && !l.lab.holds(l.d2, DataPathLab.vip, on: "eth0")
                } != nil)
            try await Task.sleep(for: .milliseconds(500))
            let before = inPackets(try master.ipvsadm("-Ln --stats").output)
            let again = (0..<4).map { _ in l.lab.curl(l.client, url) ?? "(failed)" }
            #expect(Set(again) == ["192.168.0.223 bbs", "192.168.0.224 bbs"], "\(again)")
            #expect(inPackets(try master.ipvsadm("-Ln --stats").output) > before, "the returned master forwards")

            #expect(await master.terminate() == 0)
            let afterStop = await VRRPLab.waitUntil(seconds: 5) { l.lab.curl(l.client, url, timeout: 0.5) != nil }
            #expect(afterStop != nil)
            print("[vrrp-lab] curl: SIGTERM of the master -> curl through the backup after \(afterStop ?? -1) s")
        }
    }
}

/// The service's InPkts in an `ipvsadm -Ln --stats` listing.
func inPackets(_ listing: String) -> Int {
    guard let line = listing.split(separator: "\n").first(where: { $0.hasPrefix("TCP") }) else { return 0 }
    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
    return fields.count > 3 ? Int(fields[3]) ?? 0 : 0
}

/// Set `SWIFTLVS_BENCH_VRRP=1` to run the failover-time measurement (bench/RESULTS.md).
private let benchEnabled = ProcessInfo.processInfo.environment["SWIFTLVS_BENCH_VRRP"] == "1"

extension VRRPLabs {
    /// Not a test of timing (nothing is asserted about it): the measurement of issue 7, from
    /// `kill -9` of the master lvsd to the first HTTP 200 through the VIP, now served by the backup.
    @Suite(
        "VRRP failover time (measurement, SWIFTLVS_BENCH_VRRP=1)",
        .enabled(if: benchEnabled && vrrpLabSkipReason == nil, "set SWIFTLVS_BENCH_VRRP=1 (root) to measure"))
    struct VRRPFailoverBench {
        func measure(version: Int, advert: String, runs: Int) async throws {
            let l = try await DataPathLab("bench-v\(version)")
            defer { l.lab.close() }
            let master = try LabDirector(
                lab: l.lab, namespace: l.d1, name: "lvs01",
                config: DataPathLab.config(master: true, version: version, advert: advert))
            let backup = try LabDirector(
                lab: l.lab, namespace: l.d2, name: "lvs02",
                config: DataPathLab.config(master: false, version: version, advert: advert))
            try await backup.start()
            let probe = HTTPProbe(namespace: l.client)
            var vipTimes: [Double] = []
            var curlTimes: [Double] = []
            for _ in 0..<runs {
                try await master.start()
                let settled = await VRRPLab.waitUntil(seconds: 10) {
                    l.lab.holds(l.d1, DataPathLab.vip, on: "eth0") && !l.lab.holds(l.d2, DataPathLab.vip, on: "eth0")
                }
                try #require(settled != nil, "\(master.logText)")
                try await Task.sleep(for: .seconds(2))
                try #require(probe.inside { HTTPProbe.get(DataPathLab.vip, timeoutMS: 500) != nil ? 1 : nil } != nil)
                // The backup's VIP is watched from another thread while the probe runs.
                final class Seen: @unchecked Sendable { var at: Double? }
                let seen = Seen()
                let d2 = l.d2
                let lab = l.lab
                let watcher = Thread {
                    let end = HTTPProbe.now() + 10
                    while HTTPProbe.now() < end {
                        if lab.holds(d2, DataPathLab.vip, on: "eth0") {
                            seen.at = HTTPProbe.now()
                            return
                        }
                        usleep(5_000)
                    }
                }
                let t0 = HTTPProbe.now()
                await master.crash()
                watcher.start()
                let first = probe.firstSuccess(after: t0, limit: 10)
                try #require(first != nil, "\(backup.logText)")
                for _ in 0..<200 where seen.at == nil { usleep(10_000) }
                curlTimes.append(first! - t0)
                if let at = seen.at { vipTimes.append(at - t0) }
            }
            func summary(_ v: [Double]) -> String {
                let s = v.sorted()
                guard !s.isEmpty else { return "-" }
                return String(
                    format: "min %.3f s, median %.3f s, max %.3f s (%d runs)", s.first!, s[s.count / 2], s.last!,
                    s.count)
            }
            print("[vrrp-bench] v\(version) advert_int \(advert): kill -9 -> VIP on the backup: \(summary(vipTimes))")
            print(
                "[vrrp-bench] v\(version) advert_int \(advert): kill -9 -> first HTTP 200 via the backup: \(summary(curlTimes))"
            )
            print(
                "[vrrp-bench] v\(version) samples: \(curlTimes.map { String(format: "%.3f", $0) }.joined(separator: " "))"
            )
        }

        @Test("VRRPv2 advert_int 1 (seed 003): kill -9 of the master → first HTTP 200 through the backup")
        func v2() async throws { try await measure(version: 2, advert: "1", runs: 5) }

        @Test("VRRPv3 advert_int 0.1: kill -9 of the master → first HTTP 200 through the backup")
        func v3() async throws { try await measure(version: 3, advert: "0.1", runs: 10) }
    }
}
