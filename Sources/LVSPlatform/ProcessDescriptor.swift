// A process descriptor (pidfd_open(2)): wait for a process to end with poll(2) and a timeout, no polling loop.
import Glibc

/// A descriptor for one process that becomes readable when the process ends (it need not be our
/// child). Opened before signalling a pid, it also keeps a reused pid from being mistaken for it.
///
/// ```
///  pidfd_open(pid) ──▶ poll(POLLIN, remaining time) ──▶ ended (then waitpid reaps a child at once)
///                                                   └──▶ still running when the time is up
/// ```
public struct ProcessDescriptor: ~Copyable {
    /// The descriptor, for poll(2).
    public let descriptor: Int32

    /// Opens a descriptor for `pid`; fails with ESRCH when no such process exists (any more).
    public init(_ pid: pid_t) throws(PlatformError) {
        let fd = pidfdOpen(pid, 0)
        guard fd >= 0 else { throw .system(.process, "pidfd_open") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Waits until the process ends or `timeout` passes (restarting after signals with the time
    /// left); true when it ended.
    public func waitForEnd(timeout: Duration) -> Bool {
        let deadline = PollDeadline(after: timeout)
        while true {
            var fd = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let r = poll(&fd, 1, deadline.remainingMilliseconds)
            if r > 0 { return true }
            if r == 0 && deadline.expired { return false }
            if r < 0 && errno != EINTR { return false }
        }
    }
}

/// pidfd_open(2), looked up at run time (the Glibc module does not import <sys/pidfd.h>).
private let pidfdOpen: @convention(c) (pid_t, UInt32) -> Int32 = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pidfd_open") else {
        return { _, _ in
            errno = ENOSYS
            return -1
        }
    }
    return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> Int32).self)
}()
