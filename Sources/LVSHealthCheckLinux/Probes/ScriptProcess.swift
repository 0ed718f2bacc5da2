// Child processes for MISC_CHECK and notify scripts: fork/exec as a user, wait with a timeout, kill.
import Glibc
import LVSHealthCheck
import LVSPlatform

/// How a child process ended.
public struct ScriptExit: Hashable, Sendable {
    /// The exit status, when it exited.
    public var status: Int?
    /// The signal that ended it, when killed.
    public var signal: Int32?
    /// We killed it because it ran out of time.
    public var timedOut: Bool
}

/// Starts scripts with fork/exec (the child only makes async-signal-safe calls: it joins a
/// process group of its own, drops to the user, and execs), and reaps them.
public enum ScriptProcess {
    /// Starts `argv`; returns the pid, or an error message.
    static func spawn(_ argv: [String], user: String?, group: String?) -> Result<pid_t, ScriptSpawnError> {
        switch ChildProcess.spawn(argv, user: user, group: group) {
        case .success(let pid): return .success(pid)
        case .failure(.notFound(let name)): return .failure(ScriptSpawnError(message: "\(name) not found"))
        case .failure(.unknownUser(let user)): return .failure(ScriptSpawnError(message: "unknown user \(user)"))
        case .failure(.forkFailed(let e)):
            return .failure(ScriptSpawnError(message: "fork: \(String(cString: strerror(e)))"))
        case .failure(.insecure(let problem)):
            return .failure(
                ScriptSpawnError(message: "unsafe permissions found for script (\(problem)) - not run as root"))
        }
    }

    /// Runs `argv` to its end, blocking the calling thread. After `timeout` the script's
    /// process group gets SIGTERM, and SIGKILL 2 s later (keepalived's MISC_CHECK timeout).
    public static func run(_ argv: [String], user: String?, group: String?, timeout: Duration) -> Result<
        ScriptExit, ScriptSpawnError
    > {
        let pid: pid_t
        switch spawn(argv, user: user, group: group) {
        case .success(let p): pid = p
        case .failure(let e): return .failure(e)
        }
        // Readable when the script ends: the wait sleeps in poll(2) until then or the timeout.
        let end = ProcessDescriptor(pid)
        var termSent = false
        if end.waitForEnd(timeout: timeout) != .ended {
            kill(-pid, SIGTERM)
            kill(pid, SIGTERM)
            termSent = true
            if end.waitForEnd(timeout: .seconds(2)) != .ended {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                ChildProcess.reap(pid)
                return .success(ScriptExit(status: nil, signal: SIGKILL, timedOut: true))
            }
        }
        guard let status = ChildProcess.reap(pid) else {
            return .failure(ScriptSpawnError(message: "waitpid: \(String(cString: strerror(errno)))"))
        }
        if termSent { kill(-pid, SIGKILL) }
        if status & 0x7F == 0 {
            return .success(ScriptExit(status: Int((status >> 8) & 0xFF), signal: nil, timedOut: false))
        }
        return .success(ScriptExit(status: nil, signal: status & 0x7F, timedOut: termSent))
    }
}

/// A script that could not be started.
public struct ScriptSpawnError: Error, Hashable, Sendable {
    public var message: String
}

/// MISC_CHECK: runs `misc_path` (as `user` / `script_user`) with `misc_timeout`; the engine
/// reads the exit status (0 up, 1 down, 2-255 weight with `misc_dynamic`).
enum MiscCheck {
    static func run(_ r: ProbeRequest) -> ProbeOutcome {
        guard case .misc(let m) = r.checker.kind, let script = m.script else { return .failed("no misc_path") }
        switch ScriptProcess.run(script.arguments, user: r.scriptUser, group: r.scriptGroup, timeout: r.timeout) {
        case .failure(let e): return ProbeOutcome(success: false, detail: e.message, exitStatus: 127)
        case .success(let x):
            if let s = x.status { return .exited(s) }
            return ProbeOutcome(
                success: false, detail: x.timedOut ? "timed out" : "killed by signal \(x.signal ?? 0)",
                signal: x.signal,
                timedOut: x.timedOut)
        }
    }
}
