// An eventfd to wake a waiting thread: what threads block on instead of polling loops and timers.
import CLVSLinux
import Glibc

/// An eventfd other threads write to wake the one waiting on it.
///
/// Plain (the default): `signal()` makes it readable until `drain()`, however many times it was
/// signalled — a "something changed" flag a poll(2) loop watches beside its sockets. As a
/// semaphore (`semaphore: true`, blocking): each `signal()` lets one `wait()` through — a count
/// of queued jobs that worker threads take one at a time.
///
/// This is the one way a thread of lvsd waits for another: no sleeps in loops, no timed closes.
public final class WakeDescriptor: @unchecked Sendable {
    /// The descriptor, for poll(2).
    public let descriptor: Int32

    /// `blocking` makes `wait()` sleep until a signal (for a thread with nothing else to watch);
    /// a descriptor watched with poll(2) stays non-blocking.
    public init(semaphore: Bool = false, blocking: Bool = false) throws(PlatformError) {
        let fd = clvs_eventfd(blocking ? 1 : 0, semaphore ? 1 : 0)
        guard fd >= 0 else { throw .system(.wakeDescriptor, "eventfd") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Wakes the waiter (adds one to the counter).
    public func signal() {
        var one: UInt64 = 1
        while write(descriptor, &one, 8) < 0 && errno == EINTR {}
    }

    /// Clears the counter without blocking (plain mode).
    public func drain() {
        var value: UInt64 = 0
        _ = read(descriptor, &value, 8)
    }

    /// Blocks (a `blocking` descriptor) until signalled and takes one signal (semaphore mode) or
    /// all of them (plain mode).
    public func wait() {
        var value: UInt64 = 0
        while read(descriptor, &value, 8) < 0 && errno == EINTR {}
    }
}

/// poll(2) over a few descriptors for reading.
public enum Readiness {
    /// Waits until one of `descriptors` (-1 entries are ignored) can be read, or `timeout` (in
    /// milliseconds; -1 = forever) passes; returns a bit mask, bit i for `descriptors[i]`, or 0.
    public static func wait(_ descriptors: [Int32], timeoutMilliseconds timeout: Int32) -> Int {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let r = poll(&fds, nfds_t(fds.count), timeout)
        guard r > 0 else { return 0 }
        var mask = 0
        for (i, p) in fds.enumerated() where p.revents != 0 { mask |= 1 << i }
        return mask
    }
}

/// A point in time by which a wait must end, as the timeouts poll(2) takes.
public struct PollDeadline: Sendable {
    public let instant: ContinuousClock.Instant

    public init(after d: Duration) { instant = ContinuousClock.now + d }

    /// Milliseconds left for poll(2): 0 once passed, else at least 1.
    public var remainingMilliseconds: Int32 {
        let left = instant - ContinuousClock.now
        if left <= .zero { return 0 }
        let c = left.components
        let ms = c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(1, ms))
    }

    /// True once the instant has passed.
    public var expired: Bool { ContinuousClock.now >= instant }
}

/// A named thread that sleeps in poll(2) until `descriptor` can be read and then calls
/// `onReadable`, until `stop()`. `stop()` wakes it through a `WakeDescriptor` and joins it, so
/// when it returns the caller may close the descriptor at once.
public final class DescriptorWatcher: @unchecked Sendable {
    private let wake: WakeDescriptor
    private var thread: PlatformThread?

    /// Starts watching `descriptor`; throws if the wake descriptor or the thread cannot be made.
    public init(descriptor: Int32, name: String, onReadable: @escaping @Sendable () -> Void) throws(PlatformError) {
        let wake = try WakeDescriptor()
        self.wake = wake
        thread = PlatformThread.start(name: name) {
            while true {
                var fds = [
                    pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0),
                ]
                let r = poll(&fds, 2, -1)
                if r < 0 && errno != EINTR { return }
                if fds[1].revents != 0 { return }
                if fds[0].revents & Int16(POLLNVAL) != 0 { return }
                // Readable, or an error to collect (recv returns it): the reader handles both.
                if fds[0].revents != 0 { onReadable() }
            }
        }
        guard thread != nil else { throw PlatformError(.thread, "cannot start thread \(name)") }
    }

    /// Stops the thread and waits for it to end (never from `onReadable` itself).
    public func stop() {
        wake.signal()
        thread?.join()
        thread = nil
    }
}
