// Child processes: scripts (fork/exec as a user, own process group) and helper programs (posix_spawn).
import CLVSLinux
import Glibc

/// What checkers (MISC_CHECK, notify_up/down) and VRRP (vrrp_script, notify_*) share to start a
/// script: the child joins a process group of its own (so a timeout can kill all of it), drops to
/// the user and group, and execs with a fixed PATH; only async-signal-safe calls after fork (in C).
public enum ChildProcess {
    /// The PATH programs are looked up in and that children get.
    public static let searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Why a script could not be started.
    public enum SpawnFailure: Error, Hashable, Sendable {
        /// No such program (a bare name not found in `searchPath`).
        case notFound(String)
        /// `user` (or `group`) does not exist.
        case unknownUser(String)
        /// fork failed (errno).
        case forkFailed(Int32)
        /// `enable_script_security` is set, the script would run as root, and its path can be
        /// changed by another user.
        case insecure(ScriptSecurity.Insecurity)
    }

    /// Finds a program: a path with `/` as is, else the first executable match in `searchPath`.
    public static func resolve(_ name: String) -> String? {
        if name.contains("/") { return name }
        return Subprocess.find(name, in: searchPath.split(separator: ":").map(String.init))
    }

    /// uid and gid of a user (and optional group), via getpwnam_r / getgrnam_r.
    public static func ids(user: String, group: String?) -> (uid_t, gid_t)? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buf = [CChar](repeating: 0, count: 4096)
        guard getpwnam_r(user, &pw, &buf, buf.count, &result) == 0, result != nil else { return nil }
        var gid = pw.pw_gid
        if let group {
            var gr = Glibc.group()
            var gres: UnsafeMutablePointer<Glibc.group>? = nil
            var gbuf = [CChar](repeating: 0, count: 4096)
            guard getgrnam_r(group, &gr, &gbuf, gbuf.count, &gres) == 0, gres != nil else { return nil }
            gid = gr.gr_gid
        }
        return (pw.pw_uid, gid)
    }

    /// Starts `argv` (as `user`/`group` when given); returns the child's pid, which is also its
    /// process group.
    public static func spawn(_ argv: [String], user: String?, group: String?) -> Result<pid_t, SpawnFailure> {
        guard let first = argv.first, let program = resolve(first) else {
            return .failure(.notFound(argv.first ?? ""))
        }
        var setIDs: Int32 = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        if let user {
            guard let i = ids(user: user, group: group) else { return .failure(.unknownUser(user)) }
            (uid, gid) = i
            setIDs = 1
        }
        // keepalived's script security: a script that runs as root must not be changeable by
        // anyone else (the script and every directory up its path).
        if ScriptSecurity.isEnabled && (setIDs == 0 ? geteuid() == 0 : uid == 0) {
            if let problem = ScriptSecurity.check(program) { return .failure(.insecure(problem)) }
        }
        let cArgs = CStrings(argv)
        let cEnv = CStrings(["PATH=" + searchPath])
        let pid = cArgs.pointers.withUnsafeBufferPointer { a in
            cEnv.pointers.withUnsafeBufferPointer { e in
                clvs_spawn_script(program, a.baseAddress, e.baseAddress, setIDs, uid, gid)
            }
        }
        guard pid > 0 else { return .failure(.forkFailed(errno)) }
        return .success(pid)
    }

    /// Waits for `pid` to end (retrying on EINTR); returns its wait status, or nil if it is not
    /// our child.
    @discardableResult
    public static func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return nil }
        }
        return status
    }

    /// A wait status as a shell reports it: the exit status, or 128 + the signal that ended it.
    public static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}

/// Helper programs (nft, ip, test tools) started with posix_spawn: an empty signal mask (children
/// must not inherit lvsd's blocked signals), a minimal PATH, and the descriptors the caller sets.
public enum Subprocess {
    /// Where helper programs are looked for, in order.
    public static let systemDirectories = [
        "/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin",
    ]

    /// What the child's descriptors are before it starts.
    public enum FileAction: Sendable {
        /// `fd` opened on `path`.
        case open(Int32, String, flags: Int32, mode: mode_t = 0)
        /// `from` duplicated onto `to`.
        case duplicate(Int32, to: Int32)
        /// `fd` closed.
        case close(Int32)
    }

    /// The first executable named `name` in `directories` (default: `systemDirectories`).
    public static func find(_ name: String, in directories: [String] = systemDirectories) -> String? {
        for dir in directories {
            let p = dir + "/" + name
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    /// Starts `argv` (an absolute path first) with `actions`; returns its pid, or the error number.
    public static func spawn(_ argv: [String], _ actions: [FileAction]) -> (pid: pid_t, error: Int32) {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        for a in actions {
            switch a {
            case .open(let fd, let path, let flags, let mode):
                posix_spawn_file_actions_addopen(&fileActions, fd, path, flags, mode)
            case .duplicate(let from, let to): posix_spawn_file_actions_adddup2(&fileActions, from, to)
            case .close(let fd): posix_spawn_file_actions_addclose(&fileActions, fd)
            }
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        let cArgs = CStrings(argv)
        let env = CStrings(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &fileActions, &attr, cArgs.pointers, env.pointers)
        return (pid, rc)
    }

    /// Runs `argv` and returns its exit code (`ChildProcess.exitCode`) and combined stdout/stderr.
    public static func run(_ argv: [String]) -> (status: Int32, output: String) {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { return (-1, "pipe failed") }
        let (pid, rc) = spawn(
            argv,
            [
                .open(0, "/dev/null", flags: O_RDONLY), .duplicate(pipeFDs[1], to: 1), .duplicate(pipeFDs[1], to: 2),
                .close(pipeFDs[0]),
            ])
        close(pipeFDs[1])
        guard rc == 0 else {
            close(pipeFDs[0])
            return (-1, "cannot run \(argv[0]): \(errorText(rc))")
        }
        var output: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n > 0 {
                output += buf[0..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(pipeFDs[0])
        let status = ChildProcess.reap(pid) ?? 0
        return (ChildProcess.exitCode(status), String(decoding: output, as: UTF8.self))
    }
}

/// NUL-terminated copies of strings for execve/posix_spawn, freed with the value.
final class CStrings {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) { pointers = strings.map { strdup($0) } + [nil] }

    deinit { for p in pointers { free(p) } }
}
