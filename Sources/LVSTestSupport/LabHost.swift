// One lab host (a network namespace): commands, nginx, lvsd, ipvsadm, lvs-realserver, curl, UDP.
import Foundation
import LVSPlatform
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A host of a `LabNetwork`.
public final class LabHost: @unchecked Sendable {
    public unowned let lab: LabNetwork
    /// The short name ("dir", "rs1").
    public let name: String
    /// The namespace's name.
    public let namespace: String
    /// lvsd's pid once started.
    public private(set) var lvsdPID: pid_t?

    init(lab: LabNetwork, name: String, namespace: String) {
        self.lab = lab
        self.name = name
        self.namespace = namespace
    }

    /// Runs `argv` in this namespace.
    @discardableResult
    public func run(_ argv: [String], stdin: String = "") throws -> LabOutput {
        try LabNetwork.run([LabNetwork.tool("ip")!, "netns", "exec", namespace] + argv, stdin: stdin)
    }

    /// `ip ARGS` in this namespace; throws with ip's message on failure.
    public func ip(_ args: String) throws {
        let r = try LabNetwork.run(
            [LabNetwork.tool("ip")!, "-n", namespace] + args.split(separator: " ").map(String.init))
        guard r.status == 0 else { throw LabError("\(name): ip \(args): \(r.stderr)") }
    }

    /// Writes a sysctl (`net.ipv4.ip_forward`) in this namespace.
    public func sysctl(_ key: String, _ value: String) throws {
        let r = try run([LabNetwork.tool("sysctl")!, "-qw", "\(key)=\(value)"])
        guard r.status == 0 else { throw LabError("\(name): sysctl \(key)=\(value): \(r.stderr)") }
    }

    /// Reads a sysctl.
    public func sysctl(_ key: String) throws -> String {
        try run([LabNetwork.tool("sysctl")!, "-n", key]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: SwiftLVS

    /// `ipvsadm ARGS` (split on spaces).
    @discardableResult
    public func ipvsadm(_ args: String) throws -> LabOutput {
        try run([LabNetwork.binary("ipvsadm")] + args.split(separator: " ").map(String.init))
    }

    /// Runs ipvsadm lines as a seed script does, each must succeed.
    public func ipvsadmScript(_ lines: [String]) throws {
        for l in lines {
            let r = try ipvsadm(l)
            guard r.status == 0 else { throw LabError("\(name): ipvsadm \(l): \(r.stderr)") }
        }
    }

    /// Starts lvsd in the foreground (`-n -l`), log in the lab directory, and waits until it
    /// answers ipvsadm and its data plane runs. It runs where `/usr/sbin/nft` is a trap
    /// (`runWithoutNFT`): lvsd needs no nft program, and `nftTrapLog` shows any try.
    /// `environment` adds variables.
    public func startLVSD(
        _ extra: [String] = [], statisticsFile: String? = nil, environment: [String: String] = [:],
        withoutNFT: Bool = true
    ) throws {
        let log = lab.directory + "/lvsd-\(name).log"
        var argv = [LabNetwork.tool("ip")!, "netns", "exec", namespace]
        if withoutNFT { argv += try nftTrapPrefix() }
        var env = environment
        if let statisticsFile { env["LVSD_STATS_FILE"] = statisticsFile }
        if !env.isEmpty { argv += ["/usr/bin/env"] + env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }
        // The HTTP listener only where a test asks for it (`--http ADDR:PORT` in `extra`).
        let http = extra.contains(where: { $0.hasPrefix("--http") }) ? [] : ["--http", "off"]
        argv += [LabNetwork.binary("lvsd"), "-n", "-l"] + http + extra
        let pid = try LabNetwork.spawn(argv, stdoutPath: log, stderrPath: log)
        lab.adopt(pid)
        lvsdPID = pid
        for _ in 0..<200 {
            if try ipvsadm("-Ln").status == 0, lvsdLog.contains("data plane attached") { return }
            usleep(20_000)
        }
        throw LabError("\(name): lvsd did not come up:\n\(lvsdLog)")
    }

    /// Runs `argv` in this namespace and in a private mount namespace where `/usr/sbin/nft` is a
    /// trap: the program cannot run nft, and every try is recorded in `nftTrapLog` (a machine
    /// without the nftables package, plus proof that nothing tried).
    @discardableResult
    public func runWithoutNFT(_ argv: [String], stdin: String = "") throws -> LabOutput {
        try LabNetwork.run([LabNetwork.tool("ip")!, "netns", "exec", namespace] + nftTrapPrefix() + argv, stdin: stdin)
    }

    /// What the nft trap recorded (empty: nft was never run).
    public var nftTrapLog: String {
        (try? String(contentsOfFile: lab.directory + "/nft-trap.log", encoding: .utf8)) ?? ""
    }

    /// `unshare -m … sh -c 'mount --bind TRAP /usr/sbin/nft; exec "$@"' sh`: the command that
    /// follows runs (exec, same pid) with nft replaced; the mount stays private to it.
    func nftTrapPrefix() throws -> [String] {
        let trap = lab.directory + "/nft-trap"
        if !FileManager.default.fileExists(atPath: trap) {
            let script = "#!/bin/sh\necho \"nft $*\" >> \(lab.directory)/nft-trap.log\nexit 127\n"
            try script.write(toFile: trap, atomically: true, encoding: .utf8)
            chmod(trap, 0o755)
        }
        let hide = "[ ! -e /usr/sbin/nft ] || mount --bind \(trap) /usr/sbin/nft || exit 125; exec \"$@\""
        return ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", hide, "sh"]
    }

    /// lvsd's log so far.
    public var lvsdLog: String {
        (try? String(contentsOfFile: lab.directory + "/lvsd-\(name).log", encoding: .utf8)) ?? ""
    }

    /// Stops lvsd (SIGTERM) and returns its exit status.
    @discardableResult
    public func stopLVSD() -> Int32? {
        guard let pid = lvsdPID else { return nil }
        lvsdPID = nil
        return LabNetwork.stopChild(pid)
    }

    /// Kills lvsd with SIGKILL (a crash: nothing is cleaned up).
    public func killLVSD() {
        guard let pid = lvsdPID else { return }
        lvsdPID = nil
        kill(pid, SIGKILL)
        _ = LabNetwork.wait(pid)
    }

    /// `lvs-realserver ARGS` (where nft is a trap, as for lvsd); a start is undone in `close()`
    /// (a `--tun` daemon is not our child).
    @discardableResult
    public func lvsRealserver(_ args: String) throws -> LabOutput {
        let words = args.split(separator: " ").map(String.init)
        let r = try runWithoutNFT([LabNetwork.binary("lvs-realserver")] + words)
        if words.first == "start" {
            lab.onClose { [self] in _ = try? run([LabNetwork.binary("lvs-realserver"), "stop", "--tun"]) }
        }
        return r
    }

    /// `lvs-realserver ARGS` that must succeed (a real server prepared for DR or TUN); throws with
    /// its error output otherwise.
    public func prepareRealServer(_ args: String) throws {
        let r = try lvsRealserver(args)
        guard r.status == 0 else { throw LabError("\(name): lvs-realserver \(args): \(r.stderr)") }
    }

    // MARK: services

    /// Starts nginx (Debian nginx-light) serving `body` (plus a newline) at `/` on `ports`, the
    /// client address it sees at `/ip`, and a file `/big` of `bigBytes` random bytes.
    public func startNginx(body: String, ports: [Int] = [80], bigBytes: Int = 0, ipv6: Bool = false) throws {
        let dir = lab.directory + "/nginx-\(name)"
        try FileManager.default.createDirectory(atPath: dir + "/html", withIntermediateDirectories: true)
        try (body + "\n").write(toFile: dir + "/html/index.html", atomically: true, encoding: .utf8)
        if bigBytes > 0 {
            var bytes = [UInt8](repeating: 0, count: bigBytes)
            var g = SystemRandomNumberGenerator()
            for i in 0..<bigBytes { bytes[i] = UInt8.random(in: 0...255, using: &g) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/html/big"))
        }
        let listens = ports.map { ipv6 ? "listen \($0); listen [::]:\($0);" : "listen \($0);" }.joined(separator: " ")
        let conf = """
            daemon off;
            master_process on;
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log;
            events { worker_connections 512; }
            http {
              access_log off;
              client_max_body_size 64m;
              client_body_temp_path \(dir)/body;
              proxy_temp_path \(dir)/proxy;
              fastcgi_temp_path \(dir)/fastcgi;
              uwsgi_temp_path \(dir)/uwsgi;
              scgi_temp_path \(dir)/scgi;
              server { \(listens) root \(dir)/html; location = /ip { default_type text/plain; return 200 "$remote_addr\\n"; } }
            }

            """
        try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        let pid = try LabNetwork.spawn(
            [
                LabNetwork.tool("ip")!, "netns", "exec", namespace, LabNetwork.tool("nginx")!, "-c",
                dir + "/nginx.conf",
                "-e", dir + "/error.log",
            ], stderrPath: dir + "/stderr.log")
        lab.adopt(pid)
        for _ in 0..<200 {
            if FileManager.default.fileExists(atPath: dir + "/nginx.pid") { return }
            usleep(10_000)
        }
        throw LabError(
            "\(name): nginx did not start: \((try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "")")
    }

    /// `curl -s URL` from this host: the body, or nil when curl failed (timeout, refused).
    public func curl(_ url: String, timeout: Double = 3, extra: [String] = []) throws -> String? {
        let r = try run([LabNetwork.tool("curl")!, "-s", "-m", "\(timeout)"] + extra + [url])
        return r.status == 0 ? r.stdout : nil
    }

    /// The bodies of `count` curls, trimmed ("rs1 nginx").
    public func curlTimes(_ count: Int, _ url: String) throws -> [String] {
        try (0..<count).map { _ in try curl(url)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "(failed)" }
    }

    // MARK: UDP (in this process, sockets opened inside the namespace)

    /// A socket created inside this namespace (a helper thread enters it with setns).
    public func socket(_ domain: Int32, _ type: Int32) throws -> Int32 {
        let path = "/run/netns/\(namespace)"
        final class Outcome: Sendable { let value = Mutex<Result<Int32, LabError>>(.failure(LabError("no thread"))) }
        let result = Outcome()
        guard
            let thread = PlatformThread.start(
                name: "lab-socket",
                {
                    let r: Result<Int32, LabError>
                    do {
                        try NetworkNamespace.enterOnCurrentThread(path: path)
                        let fd = Glibc.socket(domain, type, 0)
                        r = fd >= 0 ? .success(fd) : .failure(LabError("socket in \(path): errno \(errno)"))
                    } catch {
                        r = .failure(LabError("\(error)"))
                    }
                    result.value.withLock { $0 = r }
                })
        else { throw LabError("cannot start a thread") }
        thread.join()
        return try result.value.withLock { $0 }.get()
    }

    /// A TCP sink on `port` (IPv4 and IPv6): reads all a connection sends, then answers with the
    /// byte count. Unlike an upload to nginx (which answers a POST to a file with 405 without
    /// reading the body), every byte must cross the network. Stopped when the lab closes.
    public func startByteSink(port: UInt16) throws {
        let sink = """
            import socket
            s = socket.socket(socket.AF_INET6)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", \(port)))
            s.listen(8)
            while True:
                c, _ = s.accept()
                n = 0
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    n += len(b)
                c.sendall(str(n).encode())
                c.close()
            """
        let pid = try LabNetwork.spawn([
            LabNetwork.tool("ip")!, "netns", "exec", namespace, "/usr/bin/python3", "-c", sink,
        ])
        lab.onClose {
            kill(pid, SIGKILL)
            _ = LabNetwork.wait(pid)
        }
    }

    /// Sends `count` zero bytes to a `startByteSink` at `address` (connecting again for up to 5 s
    /// while it starts) and returns what it answered: the count it read, or "" on failure.
    public func sendBytes(_ count: Int, to address: String, port: UInt16) throws -> String {
        let send = """
            import socket, time
            for attempt in range(20):
                try:
                    c = socket.create_connection(("\(address)", \(port)), timeout=10)
                    break
                except OSError:
                    time.sleep(0.25)
            c.sendall(bytes(\(count)))
            c.shutdown(socket.SHUT_WR)
            print(c.recv(100).decode())
            """
        return try run(["/usr/bin/python3", "-c", send]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A UDP echo service on `port`: every datagram is answered with `"\(reply) <payload>"`.
    /// Stopped when the lab closes.
    public func startUDPEcho(port: UInt16, reply: String) throws {
        let fd = try socket(AF_INET, Int32(SOCK_DGRAM.rawValue))
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        let ok = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard ok == 0 else {
            Glibc.close(fd)
            throw LabError("\(name): bind UDP \(port): errno \(errno)")
        }
        final class Flag: @unchecked Sendable { var stop = false }
        let flag = Flag()
        let prefix = Array((reply + " ").utf8)
        let thread = Thread {
            var buf = [UInt8](repeating: 0, count: 2048)
            while !flag.stop {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 100) <= 0 { continue }
                var from = sockaddr_storage()
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) { fp in
                    fp.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                        buf.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, sp, &len) }
                    }
                }
                guard n > 0 else { continue }
                let answer = prefix + buf[0..<n]
                _ = withUnsafePointer(to: &from) { fp in
                    fp.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                        answer.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sp, len) }
                    }
                }
            }
            Glibc.close(fd)
        }
        thread.start()
        lab.onClose { flag.stop = true }
    }

    /// Sends `payload` from this host to `address:port` over UDP (from `sourcePort`, 0 = any) and
    /// returns the answer, or nil after `timeout` seconds.
    public func udpRequest(
        _ address: String, _ port: UInt16, _ payload: String, sourcePort: UInt16 = 0, timeout: Int32 = 2000
    )
        throws -> String?
    {
        let fd = try socket(AF_INET, Int32(SOCK_DGRAM.rawValue))
        defer { Glibc.close(fd) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_port = sourcePort.bigEndian
        _ = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &to.sin_addr) == 1 else { throw LabError("bad address \(address)") }
        let bytes = Array(payload.utf8)
        let sent = withUnsafePointer(to: &to) { tp in
            tp.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bytes.withUnsafeBytes {
                    sendto(fd, $0.baseAddress, $0.count, 0, sp, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == bytes.count else { return nil }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeout) > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }
}
