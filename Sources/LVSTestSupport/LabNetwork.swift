// Lab networks in network namespaces: hosts, veths, switches, processes by PID, guaranteed cleanup.
import Foundation
import LVSPlatform

#if canImport(Glibc)
    import Glibc
#endif

/// A failure while building or driving a lab.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The result of a program run.
public struct LabOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// A lab: network namespaces unique to this test and run, none linked to the host namespace
/// (veths are created directly between lab namespaces), and every process it starts, stopped by
/// PID in `close()`.
///
/// ```
///  let lab = try LabNetwork("nat")            // namespaces "sl<pid><rand>-<host>"
///  defer { lab.close() }
///  let dir = try lab.host("dir"), rs1 = try lab.host("rs1")
///  try lab.link(dir, "eth0", rs1, "eth0")     // or a switch: lab.switch("lan").attach(host, "eth0")
/// ```
public final class LabNetwork: @unchecked Sendable {
    /// The tag of this lab's namespaces (unique per process, test and run).
    public let prefix: String
    /// A temporary directory for configuration, logs and pid files.
    public let directory: String
    private var namespaces: [String] = []
    private var children: [pid_t] = []
    private var cleanups: [() -> Void] = []
    private let lock = NSLock()
    private var closed = false

    /// Why lab tests cannot run here (nil when they can): root, iproute2, nft, nginx, curl and
    /// the built binaries are needed.
    public static var unavailableReason: String? {
        if getuid() != 0 { return "lab tests need root (network namespaces)" }
        for tool in ["ip", "nft", "nginx", "curl", "sysctl"] where Self.tool(tool) == nil {
            return "lab tests need \(tool) (Debian: iproute2 nftables nginx-light curl procps)"
        }
        for b in ["lvsd", "ipvsadm", "lvs-realserver"] where !FileManager.default.isExecutableFile(atPath: binary(b)) {
            return "lab tests need the built \(b) next to the test bundle (swift build first)"
        }
        return nil
    }

    /// The full path of a system tool, or nil.
    public static func tool(_ name: String) -> String? {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let p = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The build directory holding the test bundle and the SwiftLVS executables.
    public static let buildDirectory: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while !dir.isEmpty && dir != "/" && !FileManager.default.isExecutableFile(atPath: dir + "/lvsd") {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }()

    /// A SwiftLVS executable of this build.
    public static func binary(_ name: String) -> String { buildDirectory + "/" + name }

    /// Creates an empty lab. `name` is a short tag for logs.
    public init(_ name: String) throws {
        let r = UInt32.random(in: 0..<0xFFFFF)
        prefix = "sl\(getpid() % 100000)\(String(r, radix: 36))"
        directory = NSTemporaryDirectory() + "swiftlvs-lab-\(name)-\(prefix)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { close() }

    /// A new host: a namespace with `lo` up.
    public func host(_ name: String) throws -> LabHost {
        let ns = "\(prefix)-\(name)"
        let r = try Self.run([Self.tool("ip")!, "netns", "add", ns])
        guard r.status == 0 else { throw LabError("ip netns add \(ns): \(r.stderr)") }
        lock.withLock { namespaces.append(ns) }
        let h = LabHost(lab: self, name: name, namespace: ns)
        try h.ip("link set lo up")
        return h
    }

    /// A veth pair between two hosts, both ends up.
    public func link(_ a: LabHost, _ aName: String, _ b: LabHost, _ bName: String) throws {
        try a.ip("link add \(aName) type veth peer name \(bName) netns \(b.namespace)")
        try a.ip("link set \(aName) up")
        try b.ip("link set \(bName) up")
    }

    /// A switch: a host of its own with a bridge that hosts are attached to.
    public func makeSwitch(_ name: String) throws -> LabSwitch {
        let h = try host(name)
        try h.ip("link add br0 type bridge")
        try h.ip("link set br0 up")
        return LabSwitch(host: h)
    }

    /// Registers a child process to stop (SIGTERM, then SIGKILL) in `close()`.
    public func adopt(_ pid: pid_t) { lock.withLock { children.append(pid) } }

    /// Registers work for `close()` (run before namespaces are deleted, in reverse order).
    public func onClose(_ body: @escaping () -> Void) { lock.withLock { cleanups.append(body) } }

    /// Stops every process and deletes every namespace and the temporary directory. Idempotent.
    public func close() {
        let (pids, work, names) = lock.withLock { () -> ([pid_t], [() -> Void], [String]) in
            if closed { return ([], [], []) }
            closed = true
            return (children, cleanups, namespaces)
        }
        for w in work.reversed() { w() }
        for pid in pids { Self.stopChild(pid) }
        for ns in names.reversed() { _ = try? Self.run([Self.tool("ip")!, "netns", "del", ns]) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: processes

    /// Starts `argv` (an absolute path first) with posix_spawn, an empty signal mask and a minimal
    /// PATH; stdio to files (appended to with `append`, else truncated). Returns the pid.
    public static func spawn(
        _ argv: [String], stdinPath: String = "/dev/null", stdoutPath: String = "/dev/null",
        stderrPath: String = "/dev/null", append: Bool = false
    ) throws -> pid_t {
        let mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        let (pid, rc) = Subprocess.spawn(
            argv,
            [
                .open(0, stdinPath, flags: O_RDONLY), .open(1, stdoutPath, flags: mode, mode: 0o644),
                .open(2, stderrPath, flags: mode, mode: 0o644),
            ])
        guard rc == 0 else { throw LabError("posix_spawn \(argv[0]): \(rc)") }
        return pid
    }

    /// Waits for a child; returns its exit status (128 + signal when killed).
    public static func wait(_ pid: pid_t) -> Int32 { ChildProcess.exitCode(ChildProcess.reap(pid) ?? 0) }

    /// Runs a program to completion, capturing its output.
    public static func run(_ argv: [String], stdin: String = "") throws -> LabOutput {
        let dir = NSTemporaryDirectory() + "swiftlvs-run-\(getpid())-\(UInt64.random(in: 0..<UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try stdin.write(toFile: dir + "/in", atomically: false, encoding: .utf8)
        let pid = try spawn(argv, stdinPath: dir + "/in", stdoutPath: dir + "/out", stderrPath: dir + "/err")
        let status = wait(pid)
        let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        return LabOutput(status: status, stdout: out, stderr: err)
    }

    /// SIGTERM to our child, reaped; SIGKILL after 3 s. Returns the exit status.
    @discardableResult
    static func stopChild(_ pid: pid_t) -> Int32? {
        kill(pid, SIGTERM)
        for _ in 0..<300 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = wait(pid)
        return nil
    }
}

/// A bridge in a namespace of its own; `attach` plugs a host in with a veth.
public final class LabSwitch: @unchecked Sendable {
    public let host: LabHost
    private var ports = 0

    init(host: LabHost) { self.host = host }

    /// Connects `h` to the switch; the host's end is `name`.
    public func attach(_ h: LabHost, _ name: String) throws {
        ports += 1
        let port = "p\(ports)"
        try h.ip("link add \(name) type veth peer name \(port) netns \(host.namespace)")
        try host.ip("link set \(port) master br0")
        try host.ip("link set \(port) up")
        try h.ip("link set \(name) up")
    }
}
