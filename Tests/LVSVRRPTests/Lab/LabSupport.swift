// Lab helpers for VRRP tests: namespaces, commands, a namespace thread, real keepalived as a peer.
import Foundation
import Glibc
import LVSPlatform
import LVSTestSupport
import LVSVRRPLinux

/// True when the tests run as root (lab tests need it).
let isRoot = getuid() == 0

/// Why lab tests are skipped, or nil when they can run.
let labSkipReason: String? = {
    if !isRoot { return "VRRP lab tests need root (network namespaces, raw sockets); skipped" }
    if access("/usr/sbin/keepalived", X_OK) != 0 {
        return "VRRP lab tests need keepalived (apt-get install -y keepalived); skipped"
    }
    return nil
}()

/// Runs a shell command; returns its exit status and combined output.
@discardableResult
func sh(_ command: String) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return (127, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A thread-safe list of log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ s: String) {
        let t = String(format: "%.3f", Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 100))
        lock.withLock { lines.append("[\(t)] \(s)") }
    }
    var all: [String] { lock.withLock { lines } }
    func contains(_ s: String) -> Bool { all.contains { $0.contains(s) } }
}

/// A pair of network namespaces joined by a veth pair (`va` in A, `vb` in B), created inside the
/// namespaces (nothing in the host namespace), with unique names; `destroy()` deletes them.
struct LabPair {
    let a: String
    let b: String
    let net: Int

    private static let counter = LabCounter()

    init() throws {
        let n = LabPair.counter.next()
        let pid = getpid()
        a = "lvsvrrp\(pid)-\(n)a"
        b = "lvsvrrp\(pid)-\(n)b"
        net = Int(pid % 200) + n  // 10.201.<net>.0/24, unique per test in a run
        let cmds = [
            "ip netns add \(a)", "ip netns add \(b)",
            "ip netns exec \(a) sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0",
            "ip netns exec \(b) sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0",
            "ip -n \(a) link add va type veth peer name vb netns \(b)",
            "ip -n \(a) link set lo up", "ip -n \(b) link set lo up",
            "ip -n \(a) link set va address 02:00:00:aa:00:01", "ip -n \(b) link set vb address 02:00:00:bb:00:01",
            "ip -n \(a) addr add \(addrA)/24 dev va", "ip -n \(b) addr add \(addrB)/24 dev vb",
            "ip -n \(a) link set va up", "ip -n \(b) link set vb up",
        ]
        for c in cmds {
            let r = sh(c)
            if r.status != 0 {
                destroy()
                throw VRRPError(.socket, "lab setup failed: \(c): \(r.output)")
            }
        }
        waitForCarrier()
    }

    /// Waits until both veth ends have carrier (LOWER_UP), so neither peer starts in FAULT.
    func waitForCarrier() {
        for _ in 0..<50 {
            let x = sh("ip -n \(a) link show va; ip -n \(b) link show vb").output
            if x.components(separatedBy: "LOWER_UP").count >= 3 && !x.contains("state DOWN") { return }
            usleep(100_000)
        }
    }

    var prefix: String { "10.201.\(net)" }
    var addrA: String { "\(prefix).1" }
    var addrB: String { "\(prefix).2" }
    var vip: String { "\(prefix).100" }

    func destroy() {
        sh("ip netns del \(a) 2>/dev/null; ip netns del \(b) 2>/dev/null")
    }
}

final class LabCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int {
        lock.withLock {
            n += 1
            return n
        }
    }
}

/// Runs `body` on a new thread that has entered network namespace `ns` (setns applies to one
/// thread), so sockets it opens belong to that namespace.
func inNamespace<T: Sendable>(_ ns: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let t = Thread {
        defer { done.signal() }
        box.result = Result {
            try NetworkNamespace.enterOnCurrentThread(path: "/run/netns/\(ns)")
            return try body()
        }
    }
    t.start()
    done.wait()
    return try box.result!.get()
}

final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// A real keepalived (the VRRP process only) running in a namespace, logging to a file.
final class KeepalivedPeer: @unchecked Sendable {
    let dir: String
    let process = Process()

    init(namespace: String, config: String) throws {
        dir = NSTemporaryDirectory() + "lvsvrrp-ka-\(namespace)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let conf = dir + "/keepalived.conf"
        try config.write(toFile: conf, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: dir + "/log", contents: nil)
        let log = FileHandle(forWritingAtPath: dir + "/log")!
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = [
            "netns", "exec", namespace, "/usr/sbin/keepalived", "-n", "-l", "-D", "-P", "-G", "-f", conf,
            "-p", dir + "/ka.pid", "-r", dir + "/vrrp.pid", "-c", dir + "/check.pid",
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? "" }

    /// Stops keepalived by its pid (SIGTERM, then SIGKILL to it and its VRRP child).
    func stop() {
        guard process.isRunning else { return }
        let child = (try? String(contentsOfFile: dir + "/vrrp.pid", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            if let c = child { kill(c, SIGKILL) }
            process.waitUntilExit()
        }
    }
}

/// Polls `cond` every 100 ms for up to `seconds`.
func waitUntil(seconds: Double, _ cond: () async -> Bool) async -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if await cond() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await cond()
}
