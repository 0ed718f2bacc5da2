// Runs vrrp_script checks and notify scripts as child processes, with a timeout and a user.
import Glibc
import LVSPlatform
import LVSVRRP

/// Forks and executes scripts (fork, setgid/setuid to `user`, execve in C: only async-signal-safe
/// calls in the child), waits for their exit on a process descriptor, and kills the whole process
/// group on timeout or when the caller is cancelled.
///
/// ```
///  spawn ──▶ pool thread: poll(pidfd, cancel eventfd, time left) ──▶ exited   → reap, status
///                                                               ├──▶ timeout  → SIGKILL group, reap
///                                                               └──▶ cancelled → SIGKILL group, reap
/// ```
public struct ProcessScriptRunner: ScriptRunner {
    /// The threads that sleep in poll(2) while scripts run: one per script running at once (a
    /// bound far above what keepalived configurations run together; past it, waits queue).
    private static let waiters = BlockingPool(name: "vrrp-script", maxThreads: 256, stackSize: 128 * 1024)

    public init() {}

    public func run(_ argv: [String], timeout: Duration, user: String?, group: String?) async -> ScriptOutcome {
        let pid: pid_t
        switch ChildProcess.spawn(argv, user: user, group: group) {
        case .success(let p): pid = p
        case .failure(.notFound): return ScriptOutcome(exitStatus: 127)
        case .failure: return ScriptOutcome(exitStatus: 126)
        }
        let deadline = PollDeadline(after: timeout)
        // Signalled when the caller is cancelled (a script loop stopped by a reload or shutdown).
        let cancel = try? WakeDescriptor()
        let cancelFD = cancel?.descriptor ?? -1
        let end = await withTaskCancellationHandler {
            await Self.waiters.run { Self.waitForEnd(pid, deadline: deadline, cancel: cancelFD) }
        } onCancel: {
            cancel?.signal()
        }
        withExtendedLifetime(cancel) {}  // the eventfd outlives the wait that polls it
        if end != .ended {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            ChildProcess.reap(pid)
            return ScriptOutcome(exitStatus: nil, signal: SIGKILL, timedOut: end == .timedOut)
        }
        // A script that cannot be reaped has no exit status (not a success).
        guard let status = ChildProcess.reap(pid) else { return ScriptOutcome(exitStatus: nil) }
        if status & 0x7F == 0 { return ScriptOutcome(exitStatus: (status >> 8) & 0xFF) }
        return ScriptOutcome(exitStatus: nil, signal: status & 0x7F)
    }

    /// Blocks (on a pool thread) until the script ends, the deadline passes or `cancel` is
    /// signalled (`.interrupted`).
    private static func waitForEnd(_ pid: pid_t, deadline: PollDeadline, cancel: Int32) -> ProcessDescriptor.WaitEnd {
        ProcessDescriptor(pid).waitForEnd(timeout: deadline.instant - ContinuousClock.now, orReadable: cancel)
    }
}
