// Real lvsd processes in network namespaces of their own, driven only through the real ipvsadm.
import Foundation
import Testing

/// Lab helpers: the built binaries, namespaces unique to this run, processes stopped by PID.
enum Lab {
    static var isRoot: Bool { getuid() == 0 }

    /// The build directory holding the test bundle, lvsd and ipvsadm (`swift test -c release`).
    static let buildDirectory: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        // The bundle may sit inside an .xctest directory on some layouts.
        while !dir.isEmpty && dir != "/" && !FileManager.default.isExecutableFile(atPath: dir + "/lvsd") {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }()

    static func binary(_ name: String) -> String { buildDirectory + "/" + name }

    static var binariesBuilt: Bool {
        FileManager.default.isExecutableFile(atPath: binary("lvsd"))
            && FileManager.default.isExecutableFile(atPath: binary("ipvsadm"))
    }

    static var canRun: Bool { isRoot && binariesBuilt && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts a program with posix_spawn (no Foundation.Process: its SIGCHLD-based reaping can
    /// miss a child here); stdin/stdout/stderr go to files. Returns the pid.
    static func spawn(
        _ argv: [String], stdinPath: String = "/dev/null", stdoutPath: String = "/dev/null",
        stderrPath: String = "/dev/null", environment: [String: String]? = nil
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc: Int32
        if let environment {
            let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for e in cEnv { free(e) } }
            rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        } else {
            rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        }
        guard rc == 0 else { throw LabError("posix_spawn \(argv[0]): \(rc)") }
        return pid
    }

    /// Waits for a child and returns its exit status (128+signal when killed).
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }

    /// Runs a program to completion.
    @discardableResult
    static func run(_ argv: [String], stdin: String? = nil, environment: [String: String]? = nil) throws -> Output {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (stdin ?? "").write(toFile: dir + "/in", atomically: false, encoding: .utf8)
        let pid = try spawn(
            argv, stdinPath: dir + "/in", stdoutPath: dir + "/out", stderrPath: dir + "/err", environment: environment)
        let status = wait(pid)
        let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        return Output(status: status, stdout: out, stderr: err)
    }

    /// A network namespace unique to this run, deleted by `close()`.
    final class Namespace {
        let name: String
        init(_ tag: String) throws {
            name = "lvsadm-\(getpid())-\(UInt32.random(in: 0...0xFFFFFF))-\(tag)"
            let r = try Lab.run(["/usr/sbin/ip", "netns", "add", name])
            guard r.status == 0 else { throw LabError("ip netns add \(name): \(r.stderr)") }
        }
        func close() { _ = try? Lab.run(["/usr/sbin/ip", "netns", "del", name]) }

        /// `ip netns exec NAME ipvsadm ARGS`.
        func ipvsadm(_ args: [String], stdin: String? = nil, asNobody: Bool = false) throws -> Output {
            var argv = ["/usr/sbin/ip", "netns", "exec", name]
            if asNobody { argv += ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] }
            return try Lab.run(
                argv + [Lab.binary("ipvsadm")] + args, stdin: stdin,
                environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
        }

        /// Waits until lvsd answers in this namespace.
        func waitForDirector() throws {
            for _ in 0..<100 {
                if try ipvsadm(["-Ln"]).status == 0 { return }
                usleep(50_000)
            }
            throw LabError("lvsd did not come up in \(name)")
        }
    }

    /// True while `pid` runs (a zombie waiting for init to reap it counts as stopped).
    static func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Sends SIGTERM to `pid` (a daemon, not our child) and waits (bounded) for it to go away.
    static func stop(pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if !isRunning(pid) { return true }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        return false
    }

    /// Sends SIGTERM to our child `pid` and reaps it; returns its exit status (nil if it had to
    /// be killed after 5 s).
    static func stopChild(pid: pid_t) -> Int32? {
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F) }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        _ = wait(pid)
        return nil
    }

    static func temporaryDirectory() throws -> String {
        let d = NSTemporaryDirectory() + "lvsadm-lab-\(getpid())-\(UInt32.random(in: 0...0xFFFFFF))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

@Suite(
    "lvsd + ipvsadm in network namespaces (root)",
    .enabled(if: Lab.canRun, "needs root, /usr/sbin/ip and the built lvsd/ipvsadm (swift build first)"),
    .serialized)
struct NamespaceIntegrationTests {
    static let header =
        "IP Virtual Server version 1.2.1 (size=4096)\n" + "Prot LocalAddress:Port Scheduler Flags\n"
        + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"

    @Test(
        "lvsd -n in its namespace, driven only by ipvsadm: seed 003 listing, -S/-R, multi-call save/restore, EPERM, signals"
    )
    func singleDirector() throws {
        let ns = try Lab.Namespace("one")
        defer { ns.close() }
        let dir = try Lab.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pidFile = dir + "/lvsd.pid"

        var lvsdPID: pid_t = try Lab.spawn(
            [
                "/usr/sbin/ip", "netns", "exec", ns.name, Lab.binary("lvsd"), "-n", "-l", "-D", "--http", "off", "-p",
                pidFile,
            ],
            stderrPath: dir + "/lvsd.log")
        defer { if lvsdPID > 0 { _ = Lab.stopChild(pid: lvsdPID) } }
        try ns.waitForDirector()
        // `ip netns exec` execs lvsd: the process we started is lvsd, and it wrote its pid.
        let recorded = try String(contentsOfFile: pidFile, encoding: .utf8)
        #expect(recorded == "\(lvsdPID)\n")

        for line in [
            "-C", "--set 30 5 60", "-A -t 192.168.0.240:80 -s rr -p 20",
            "-a -t 192.168.0.240:80 -r 192.168.0.223 -g -w 1",
            "-a -t 192.168.0.240:80 -r 192.168.0.224 -g -w 1",
        ] {
            let r = try ns.ipvsadm(line.split(separator: " ").map(String.init))
            #expect(r.status == 0 && r.stderr.isEmpty, "ipvsadm \(line): \(r.stderr)")
        }
        let listing = try ns.ipvsadm(["-L", "-n"])
        #expect(
            listing.stdout == Self.header + "TCP  192.168.0.240:80 rr persistent 20\n"
                + "  -> 192.168.0.223:80             Route   1      0          0         \n"
                + "  -> 192.168.0.224:80             Route   1      0          0         \n")
        #expect(try ns.ipvsadm(["-L", "--timeout"]).stdout == "Timeout (tcp tcpfin udp): 30 5 60\n")

        // Kernel-side refusal through the socket: message and status 255.
        let dup = try ns.ipvsadm(["-A", "-t", "192.168.0.240:80"])
        #expect(dup.status == 255 && dup.stderr == "Service already exists\n")

        // ipvsadm -S -n | ipvsadm -C; ipvsadm -R restores an identical table.
        let saved = try ns.ipvsadm(["-S", "-n"])
        #expect(try ns.ipvsadm(["-C"]).status == 0)
        #expect(try ns.ipvsadm(["-Ln"]).stdout == Self.header)
        let restored = try ns.ipvsadm(["-R"], stdin: saved.stdout)
        #expect(restored.status == 0 && restored.stderr.isEmpty)
        #expect(try ns.ipvsadm(["-L", "-n"]).stdout == listing.stdout)

        // Installed as ipvsadm-save / ipvsadm-restore (symlinks), the binary behaves like those scripts.
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/ipvsadm-save", withDestinationPath: Lab.binary("ipvsadm"))
        try FileManager.default.createSymbolicLink(
            atPath: dir + "/ipvsadm-restore", withDestinationPath: Lab.binary("ipvsadm"))
        let viaSave = try Lab.run(["/usr/sbin/ip", "netns", "exec", ns.name, dir + "/ipvsadm-save", "-n"])
        #expect(viaSave.stdout == saved.stdout)
        #expect(try ns.ipvsadm(["-C"]).status == 0)
        let viaRestore = try Lab.run(
            ["/usr/sbin/ip", "netns", "exec", ns.name, dir + "/ipvsadm-restore"], stdin: "# comment\n" + saved.stdout)
        #expect(viaRestore.status == 0 && viaRestore.stderr.isEmpty)
        #expect(try ns.ipvsadm(["-L", "-n"]).stdout == listing.stdout)

        // Only root (or lvsd's user) may change state; anyone may list (SO_PEERCRED).
        let denied = try ns.ipvsadm(["-C"], asNobody: true)
        #expect(denied.status == 255)
        #expect(denied.stderr == "Permission denied (you must be root)\n")
        #expect(try ns.ipvsadm(["-Ln"], asNobody: true).stdout == listing.stdout)

        // SIGHUP is the reload hook: lvsd stays up and keeps its table.
        kill(lvsdPID, SIGHUP)
        usleep(200_000)
        var status: Int32 = 0
        #expect(waitpid(lvsdPID, &status, WNOHANG) == 0, "lvsd still running after SIGHUP")
        #expect(try ns.ipvsadm(["-L", "-n"]).stdout == listing.stdout)

        // SIGTERM stops it cleanly: exit status 0, pid file removed, then ipvsadm says lvsd is gone.
        #expect(Lab.stopChild(pid: lvsdPID) == 0)
        lvsdPID = 0
        #expect(!FileManager.default.fileExists(atPath: pidFile))
        let gone = try ns.ipvsadm(["-Ln"])
        #expect(gone.status == 1)
        #expect(gone.stderr.hasPrefix("Can't initialize ipvs: lvsd is not running in this network namespace"))
        #expect(gone.stderr.split(separator: "\n").count == 1)
    }

    @Test("two forking lvsd in two namespaces keep separate tables; each is stopped by its pid file's PID")
    func twoNamespaces() throws {
        let a = try Lab.Namespace("a")
        defer { a.close() }
        let b = try Lab.Namespace("b")
        defer { b.close() }
        let dir = try Lab.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        var pids: [Int32] = []
        defer { for p in pids { _ = Lab.stop(pid: p) } }
        for ns in [a, b] {
            // Without -n lvsd forks; the parent returns once the control socket listens.
            let pidFile = dir + "/\(ns.name).pid"
            let r = try Lab.run([
                "/usr/sbin/ip", "netns", "exec", ns.name, Lab.binary("lvsd"), "--http", "off", "-p", pidFile,
            ])
            #expect(r.status == 0, "lvsd: \(r.stderr)")
            let pid =
                Int32(
                    (try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(
                        in: .whitespacesAndNewlines)) ?? 0
            #expect(pid > 0)
            pids.append(pid)
            // The control socket is up as soon as the parent returned.
            #expect(try ns.ipvsadm(["-Ln"]).status == 0)
        }
        // A second lvsd in the same namespace is refused.
        let again = try Lab.run(["/usr/sbin/ip", "netns", "exec", a.name, Lab.binary("lvsd"), "--http", "off", "-n"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("another lvsd already serves this network namespace"))

        #expect(try a.ipvsadm(["-A", "-f", "4242", "-s", "rr"]).status == 0)
        #expect(try b.ipvsadm(["-A", "-u", "10.9.9.9:53", "-s", "lc"]).status == 0)
        #expect(try a.ipvsadm(["-Ln"]).stdout == Self.header + "FWM  4242 rr\n")
        #expect(try b.ipvsadm(["-Ln"]).stdout == Self.header + "UDP  10.9.9.9:53 lc\n")

        for (i, ns) in [a, b].enumerated() {
            #expect(Lab.stop(pid: pids[i]))
            #expect(try ns.ipvsadm(["-Ln"]).status == 1)
        }
        pids.removeAll()
    }

    @Test("contract 4: a namespace without lvsd → one clear line, exit 1")
    func noDirector() throws {
        let ns = try Lab.Namespace("none")
        defer { ns.close() }
        for args in [["-Ln"], ["-A", "-t", "10.0.0.1:80"], ["-C"]] {
            let r = try ns.ipvsadm(args)
            #expect(r.status == 1)
            #expect(r.stdout == "")
            #expect(
                r.stderr
                    == "Can't initialize ipvs: lvsd is not running in this network namespace "
                    + "(no control socket at @swiftlvs-lvsd: Connection refused)\n")
        }
        // Parse errors and help need no director.
        #expect(try ns.ipvsadm(["-A", "-t", "1.2.3.4"]).status == 2)
        #expect(try ns.ipvsadm(["-h"]).status == 0)
    }
}
