// Starting scripts as child processes: program lookup, a user's ids, fork/exec in a process group of its own.
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
    }

    /// Finds a program: a path with `/` as is, else the first executable match in `searchPath`.
    public static func resolve(_ name: String) -> String? {
        if name.contains("/") { return name }
        for dir in searchPath.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
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
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=" + searchPath), nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        let pid = cArgs.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in clvs_vrrp_spawn(program, a.baseAddress, e.baseAddress, setIDs, uid, gid)
            }
        }
        guard pid > 0 else { return .failure(.forkFailed(errno)) }
        return .success(pid)
    }
}
