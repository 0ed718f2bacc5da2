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
    /// The threads that sleep in poll(2) while scripts run (one per script running at once).
    private static let waiters = BlockingPool(name: "vrrp-script", maxThreads: 32)

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
        var status: Int32 = 0
        switch end {
        case .exited:
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        case .timedOut, .cancelled, .noDescriptor:
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if end == .noDescriptor { return ScriptOutcome(exitStatus: nil) }
            return ScriptOutcome(exitStatus: nil, signal: SIGKILL, timedOut: end == .timedOut)
        }
        if status & 0x7F == 0 { return ScriptOutcome(exitStatus: (status >> 8) & 0xFF) }
        return ScriptOutcome(exitStatus: nil, signal: status & 0x7F)
    }

    /// How a wait for a script ended.
    private enum WaitEnd: Sendable, Equatable {
        case exited, timedOut, cancelled
        /// pidfd_open failed: the script cannot be waited for (it is killed).
        case noDescriptor
    }

    /// Blocks (on a pool thread) until the script ends, the deadline passes or `cancel` is
    /// signalled.
    private static func waitForEnd(_ pid: pid_t, deadline: PollDeadline, cancel: Int32) -> WaitEnd {
        let process: ProcessDescriptor
        do {
            process = try ProcessDescriptor(pid)
        } catch {
            return .noDescriptor
        }
        while true {
            let ready = Readiness.wait(
                [process.descriptor, cancel], timeoutMilliseconds: deadline.remainingMilliseconds)
            if ready & 1 != 0 { return .exited }
            if ready & 2 != 0 { return .cancelled }
            if deadline.expired { return .timedOut }
        }
    }
}
