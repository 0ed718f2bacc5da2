// Runs vrrp_script checks and notify scripts as child processes, with a timeout and a user.
import Glibc
import LVSPlatform
import LVSVRRP

/// Forks and executes scripts (fork, setgid/setuid to `user`, execve in C: only async-signal-safe
/// calls in the child), polls for their exit, and kills the whole process group on timeout.
public struct ProcessScriptRunner: ScriptRunner {
    public init() {}

    public func run(_ argv: [String], timeout: Duration, user: String?, group: String?) async -> ScriptOutcome {
        let pid: pid_t
        switch ChildProcess.spawn(argv, user: user, group: group) {
        case .success(let p): pid = p
        case .failure(.notFound): return ScriptOutcome(exitStatus: 127)
        case .failure: return ScriptOutcome(exitStatus: 126)
        }
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
