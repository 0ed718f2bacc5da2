// A process descriptor (pidfd_open(2)): wait for a process to end with poll(2) and a timeout.
import CLVSLinux
import Glibc

/// A descriptor for one process that becomes readable when the process ends (it need not be our
/// child). Opened before signalling a pid, it also keeps a reused pid from being mistaken for it.
///
/// ```
///  pidfd_open(pid) ──▶ poll(POLLIN, remaining time) ──▶ ended (then waitpid reaps a child at once)
///                                                   └──▶ still running when the time is up
/// ```
///
/// Where pidfd_open is refused (a kernel before 5.3, a seccomp profile that blocks it) there is
/// no descriptor: the waits then look every 5 ms whether the process has ended (a child is not
/// reaped by looking), as waits did before process descriptors.
public struct ProcessDescriptor: ~Copyable {
    /// The process.
    public let pid: pid_t
    /// The descriptor for poll(2), or -1 without one (see above).
    public let descriptor: Int32

    /// How often a wait without a descriptor looks at the process.
    static let fallbackMilliseconds: Int32 = 5

    /// Opens a descriptor for `pid`. A process that no longer exists counts as ended.
    public init(_ pid: pid_t) {
        self.pid = pid
        descriptor = clvs_pidfd_open(pid)
    }

    /// Without a descriptor, as where pidfd_open is refused (for tests of that path).
    package init(withoutDescriptorFor pid: pid_t) {
        self.pid = pid
        descriptor = -1
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// True once the process has ended (a child stays unreaped).
    public var hasEnded: Bool {
        if descriptor >= 0 { return Readiness.wait([descriptor], timeoutMilliseconds: 0) & 1 != 0 }
        return clvs_process_ended(pid) == 1
    }

    /// How a wait ended.
    public enum WaitEnd: Sendable, Equatable {
        /// The process ended.
        case ended
        /// The time was up first.
        case timedOut
        /// The other descriptor became readable first.
        case interrupted
    }

    /// Waits until the process ends, `timeout` passes, or `other` (-1: none) becomes readable;
    /// signals restart the wait with the time left.
    public func waitForEnd(timeout: Duration, orReadable other: Int32 = -1) -> WaitEnd {
        let deadline = PollDeadline(after: timeout)
        while true {
            if descriptor < 0 && clvs_process_ended(pid) == 1 { return .ended }
            var wait = deadline.remainingMilliseconds
            if descriptor < 0 { wait = min(wait, Self.fallbackMilliseconds) }
            let ready = Readiness.wait([descriptor, other], timeoutMilliseconds: wait)
            if ready & 1 != 0 { return .ended }
            if ready & 2 != 0 { return .interrupted }
            if deadline.expired { return hasEnded ? .ended : .timedOut }
        }
    }
}
