// Runs vrrp_script checks and notify scripts as child processes, with a timeout and a user.
import CLVSLinux
import Foundation
import Glibc

/// Forks and executes scripts (fork, setgid/setuid to `user`, execve in C: only async-signal-safe
/// calls in the child), polls for their exit, and kills the whole process group on timeout.
public struct ProcessScriptRunner: ScriptRunner {
    public init() {}

    /// Finds an executable: a path with `/` as is, else the first match in PATH.
    static func resolve(_ name: String) -> String? {
        if name.contains("/") { return name }
        let path =
            ProcessInfo.processInfo.environment["PATH"]
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    /// uid and gid of a user (and optional group), via getpwnam_r / getgrnam_r.
    static func ids(user: String, group: String?) -> (uid_t, gid_t)? {
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

    public func run(_ argv: [String], timeout: Duration, user: String?, group: String?) async -> ScriptOutcome {
        guard let first = argv.first, let path = Self.resolve(first) else { return ScriptOutcome(exitStatus: 127) }
        var setIDs: Int32 = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        if let user {
            guard let ids = Self.ids(user: user, group: group) else { return ScriptOutcome(exitStatus: 126) }
            (uid, gid) = ids
            setIDs = 1
        }
        let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        let pid = cArgs.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in
                clvs_vrrp_spawn(path, a.baseAddress, e.baseAddress, setIDs, uid, gid)
            }
        }
        guard pid > 0 else { return ScriptOutcome(exitStatus: 126) }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 { return ScriptOutcome(exitStatus: nil) }
            // A cancelled caller (a script loop stopped by a reload or shutdown) stops its script.
            if ContinuousClock.now >= deadline || Task.isCancelled {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return ScriptOutcome(exitStatus: nil, signal: SIGKILL, timedOut: !Task.isCancelled)
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        if status & 0x7F == 0 { return ScriptOutcome(exitStatus: (status >> 8) & 0xFF) }
        return ScriptOutcome(exitStatus: nil, signal: status & 0x7F)
    }
}
