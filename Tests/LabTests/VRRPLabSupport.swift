// VRRP lab helpers: namespaces on a bridge, lvsd and keepalived processes by PID, VIP and ARP probes.
import Foundation
import LVSTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Why the VRRP labs cannot run here, or nil: root, iproute2, the built lvsd/ipvsadm.
let vrrpLabSkipReason: String? = {
    if getuid() != 0 { return "VRRP lab tests need root (network namespaces); skipped" }
    if VRRPLab.tool("ip") == nil { return "VRRP lab tests need iproute2; skipped" }
    for b in ["lvsd", "ipvsadm"] where !FileManager.default.isExecutableFile(atPath: VRRPLab.binary(b)) {
        return "VRRP lab tests need the built \(b) next to the test bundle (run `swift build` first); skipped"
    }
    return nil
}()

/// Every VRRP lab suite, one test at a time: their timings (failover within 3 × advert_int +
/// skew) mean little on two busy cores, and each runs several daemons.
@Suite("VRRP labs", .serialized) enum VRRPLabs {}

/// A lab of network namespaces unique to this test and run (`vr<pid><random>-<host>`), none
/// linked to the host's namespace; every process it starts is stopped by PID in `close()`,
/// then the namespaces are deleted.
final class VRRPLab: @unchecked Sendable {
    let prefix: String
    let directory: String
    private var namespaces: [String] = []
    private var children: [pid_t] = []
    private var cleanups: [() -> Void] = []
    private let lock = NSLock()
    private var ports = 0
    private var closed = false

    static func tool(_ name: String) -> String? {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            if FileManager.default.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
        }
        return nil
    }

    /// The build directory holding the test bundle and the SwiftLVS executables.
    static let buildDirectory: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while !dir.isEmpty && dir != "/" && !FileManager.default.isExecutableFile(atPath: dir + "/lvsd") {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }()

    static func binary(_ name: String) -> String { buildDirectory + "/" + name }

    init(_ name: String) throws {
        prefix = "vr\(getpid() % 100000)\(String(UInt32.random(in: 0..<0xFFFF), radix: 36))"
        directory = NSTemporaryDirectory() + "swiftlvs-vrrplab-\(name)-\(prefix)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { close() }

    // MARK: topology

    /// A new namespace with `lo` up; returns its name.
    func host(_ name: String) throws -> String {
        let ns = "\(prefix)-\(name)"
        try mustRun([Self.tool("ip")!, "netns", "add", ns])
        lock.withLock { namespaces.append(ns) }
        try ip(ns, "link set lo up")
        return ns
    }

    /// The switch: a namespace with bridge `br0`.
    private(set) var switchNamespace: String?

    func makeSwitch() throws -> String {
        let sw = try host("sw")
        try ip(sw, "link add br0 type bridge")
        try ip(sw, "link set br0 up")
        switchNamespace = sw
        return sw
    }

    /// Plugs `ns` into the switch with an interface `name` (and `address`, CIDR); returns the
    /// switch port's name.
    @discardableResult
    func attach(_ ns: String, _ name: String, address: String? = nil, mac: String? = nil) throws -> String {
        guard let sw = switchNamespace else { throw LabFailure("no switch") }
        let port = lock.withLock {
            ports += 1
            return "p\(ports)"
        }
        try ip(ns, "link add \(name) type veth peer name \(port) netns \(sw)")
        try ip(sw, "link set \(port) master br0")
        try ip(sw, "link set \(port) up")
        if let mac { try ip(ns, "link set \(name) address \(mac)") }
        if let address { try ip(ns, "addr add \(address) dev \(name)") }
        try ip(ns, "link set \(name) up")
        return port
    }

    func ip(_ ns: String, _ args: String) throws {
        try mustRun([Self.tool("ip")!, "-n", ns] + args.split(separator: " ").map(String.init))
    }

    // MARK: commands

    struct Output {
        var status: Int32
        var output: String
    }

    /// Runs `argv` to completion; output is stdout and stderr together.
    @discardableResult
    static func run(_ argv: [String]) throws -> Output {
        let file = NSTemporaryDirectory() + "vrrplab-run-\(getpid())-\(UInt64.random(in: 0..<UInt64.max))"
        defer { unlink(file) }
        let pid = try spawn(argv, output: file)
        let status = wait(pid)
        return Output(status: status, output: (try? String(contentsOfFile: file, encoding: .utf8)) ?? "")
    }

    @discardableResult
    func mustRun(_ argv: [String]) throws -> String {
        let r = try Self.run(argv)
        guard r.status == 0 else { throw LabFailure("\(argv.joined(separator: " ")): \(r.output)") }
        return r.output
    }

    /// A shell command inside `ns`.
    @discardableResult
    func sh(_ ns: String, _ command: String) throws -> Output {
        try Self.run([Self.tool("ip")!, "netns", "exec", ns, "/bin/sh", "-c", command])
    }

    /// Starts `argv` with stdout and stderr appended to `output`.
    static func spawn(_ argv: [String], output: String) throws -> pid_t {
        try LabNetwork.spawn(argv, stdoutPath: output, stderrPath: output, append: true)
    }

    static func wait(_ pid: pid_t) -> Int32 { LabNetwork.wait(pid) }

    /// Starts a long-running process in `ns` (stopped in `close()`), output appended to `log`.
    func start(_ ns: String, _ argv: [String], log: String) throws -> pid_t {
        let pid = try Self.spawn([Self.tool("ip")!, "netns", "exec", ns] + argv, output: log)
        lock.withLock { children.append(pid) }
        return pid
    }

    /// Sends `signal` to our child `pid` and reaps it (SIGKILL after 5 s).
    @discardableResult
    func stop(_ pid: pid_t, signal: Int32 = SIGTERM) async -> Int32? {
        let ours = lock.withLock { children.contains(pid) }
        guard ours else { return nil }
        kill(pid, signal)
        for _ in 0..<500 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                lock.withLock { children.removeAll { $0 == pid } }
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        kill(pid, SIGKILL)
        _ = Self.wait(pid)
        lock.withLock { children.removeAll { $0 == pid } }
        return nil
    }

    func onClose(_ body: @escaping () -> Void) { lock.withLock { cleanups.append(body) } }

    func close() {
        let (pids, work, names) = lock.withLock { () -> ([pid_t], [() -> Void], [String]) in
            if closed { return ([], [], []) }
            closed = true
            return (children, cleanups, namespaces)
        }
        for w in work.reversed() { w() }
        for pid in pids {
            kill(pid, SIGTERM)
            var reaped = false
            for _ in 0..<300 {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    reaped = true
                    break
                }
                usleep(10_000)
            }
            if !reaped {
                kill(pid, SIGKILL)
                _ = Self.wait(pid)
            }
        }
        for ns in names.reversed() { _ = try? Self.run([Self.tool("ip")!, "netns", "del", ns]) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: probes

    /// `ip -o -4 addr show dev IF` lines of `ns`.
    func addresses(_ ns: String, _ interface: String) -> String {
        (try? Self.run([Self.tool("ip")!, "-n", ns, "-o", "addr", "show", "dev", interface]).output) ?? ""
    }

    /// True when `ns` has `vip` on `interface`.
    func holds(_ ns: String, _ vip: String, on interface: String) -> Bool {
        addresses(ns, interface).contains("inet \(vip)/")
    }

    /// The MAC address of `interface` in `ns`.
    func mac(_ ns: String, _ interface: String) -> String {
        let out = (try? Self.run([Self.tool("ip")!, "-n", ns, "-o", "link", "show", "dev", interface]).output) ?? ""
        guard let r = out.range(of: "link/ether ") else { return "" }
        return String(out[r.upperBound...].prefix(17))
    }

    /// The link-layer address `ns` has for `address` (`ip neigh`), or nil.
    func neighbour(_ ns: String, _ address: String) -> String? {
        let out = (try? Self.run([Self.tool("ip")!, "-n", ns, "neigh", "show", address]).output) ?? ""
        guard let r = out.range(of: "lladdr ") else { return nil }
        return String(out[r.upperBound...].prefix(17))
    }

    /// Polls `cond` every 20 ms for up to `seconds`; returns the time it took, or nil. (Async:
    /// a lab test must not hold one of the few cooperative threads other tests' timers need.)
    static func waitUntil(seconds: Double, _ cond: () -> Bool) async -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if cond() { return Date().timeIntervalSince(start) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return cond() ? Date().timeIntervalSince(start) : nil
    }
}

extension VRRPLab {
    /// Starts nginx in `ns` serving `body` at `/` on port 80 (and `ports`); returns its pid.
    func startNginx(_ ns: String, name: String, body: String, ports: [Int] = [80]) async throws -> pid_t {
        guard let nginx = Self.tool("nginx") else { throw LabFailure("nginx is not installed") }
        let dir = directory + "/nginx-\(name)"
        try FileManager.default.createDirectory(atPath: dir + "/html", withIntermediateDirectories: true)
        try (body + "\n").write(toFile: dir + "/html/index.html", atomically: true, encoding: .utf8)
        let listens = ports.map { "listen \($0);" }.joined(separator: " ")
        let conf = """
            daemon off;
            master_process on;
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log;
            events { worker_connections 64; }
            http {
              access_log off;
              client_body_temp_path \(dir)/body;
              proxy_temp_path \(dir)/proxy;
              fastcgi_temp_path \(dir)/fastcgi;
              uwsgi_temp_path \(dir)/uwsgi;
              scgi_temp_path \(dir)/scgi;
              server { \(listens) root \(dir)/html; }
            }

            """
        try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        let pid = try start(ns, [nginx, "-c", dir + "/nginx.conf", "-e", dir + "/error.log"], log: dir + "/stderr.log")
        let ok = await Self.waitUntil(seconds: 5) {
            (try? sh(ns, "curl -s -o /dev/null -m 1 http://127.0.0.1:\(ports[0])/").status) == 0
        }
        if ok == nil { throw LabFailure("\(name): nginx did not start") }
        return pid
    }

    /// `curl -s -m TIMEOUT URL` from `ns`: the body, or nil.
    func curl(_ ns: String, _ url: String, timeout: Double = 1) -> String? {
        guard let r = try? sh(ns, "curl -s -m \(timeout) \(url)"), r.status == 0 else { return nil }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct LabFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// An lvsd started in a lab namespace with a keepalived.conf, in the foreground (`-n -l`).
final class LabDirector: @unchecked Sendable {
    let lab: VRRPLab
    let namespace: String
    let name: String
    let config: String
    let log: String
    private(set) var pid: pid_t?

    init(lab: VRRPLab, namespace: String, name: String, config: String) throws {
        self.lab = lab
        self.namespace = namespace
        self.name = name
        self.config = lab.directory + "/\(name).conf"
        self.log = lab.directory + "/lvsd-\(name).log"
        try config.write(toFile: self.config, atomically: true, encoding: .utf8)
    }

    /// Starts lvsd -n -l -f CONFIG and waits until it answers ipvsadm.
    func start() async throws {
        let earlier = logText.utf8.count
        pid = try lab.start(
            namespace, [VRRPLab.binary("lvsd"), "-n", "-l", "-D", "--http", "off", "-f", config], log: log)
        let up = await VRRPLab.waitUntil(seconds: 10) {
            (try? lab.sh(namespace, "\(VRRPLab.binary("ipvsadm")) -Ln >/dev/null 2>&1").status) == 0
        }
        if up == nil { throw LabFailure("\(name): lvsd did not come up:\n\(logText)") }
        let attached = await VRRPLab.waitUntil(seconds: 10) {
            String(decoding: Array(logText.utf8).dropFirst(earlier), as: UTF8.self).contains("data plane attached")
        }
        if attached == nil { throw LabFailure("\(name): lvsd's data plane did not attach:\n\(logText)") }
    }

    /// Rewrites the configuration (for a SIGHUP reload).
    func rewrite(_ text: String) throws { try text.write(toFile: config, atomically: true, encoding: .utf8) }

    func signal(_ s: Int32) { if let pid { kill(pid, s) } }

    /// SIGKILL: a crash, nothing cleaned up.
    func crash() async {
        guard let pid else { return }
        self.pid = nil
        await lab.stop(pid, signal: SIGKILL)
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func terminate() async -> Int32? {
        guard let pid else { return nil }
        self.pid = nil
        return await lab.stop(pid, signal: SIGTERM)
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func ipvsadm(_ args: String) throws -> VRRPLab.Output {
        try lab.sh(namespace, "\(VRRPLab.binary("ipvsadm")) \(args)")
    }
}

/// A real keepalived 2.2.7 (`-n -l -D -P`: VRRP only) in a lab namespace.
final class LabKeepalived: @unchecked Sendable {
    let lab: VRRPLab
    let namespace: String
    let log: String
    let dir: String
    private(set) var pid: pid_t?

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/keepalived") }

    init(lab: VRRPLab, namespace: String, name: String, config: String) throws {
        self.lab = lab
        self.namespace = namespace
        dir = lab.directory + "/ka-\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        log = dir + "/log"
        try config.write(toFile: dir + "/keepalived.conf", atomically: true, encoding: .utf8)
    }

    func start() async throws {
        pid = try lab.start(
            namespace,
            [
                "/usr/sbin/keepalived", "-n", "-l", "-D", "-P", "-f", dir + "/keepalived.conf", "-p", dir + "/ka.pid",
                "-r", dir + "/vrrp.pid", "-c", dir + "/check.pid",
            ], log: log)
    }

    /// SIGKILL to keepalived and its VRRP child.
    func crash() async {
        guard let pid else { return }
        self.pid = nil
        if let child = try? String(contentsOfFile: dir + "/vrrp.pid", encoding: .utf8),
            let c = Int32(child.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(c, SIGKILL)
        }
        await lab.stop(pid, signal: SIGKILL)
    }

    func terminate() async {
        guard let pid else { return }
        self.pid = nil
        await lab.stop(pid, signal: SIGTERM)
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}
