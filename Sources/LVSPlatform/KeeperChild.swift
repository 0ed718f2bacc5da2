// A child that acts when its parent dies (SIGKILL included): a shell waiting on a pipe only the parent holds.
import Glibc

/// A small child process that outlives its parent by a moment.
///
/// ```
///  parent ──(write end, close-on-exec)──▶ pipe ──▶ /bin/sh: read; <script>
/// ```
/// The parent holds the pipe's write end and never writes. When it exits for any reason the
/// kernel closes it, `read` returns, and the child runs `script` (which must check that what it
/// removes is still the dead parent's). A clean stop undoes things itself first and then lets the
/// child go (`release`), so the script finds nothing to do. The child ignores SIGHUP, SIGINT and
/// SIGTERM: a terminal's ^C or a service manager's stop reaches the whole process group, and the
/// parent cleans up itself then. Used by lvsd's nftables guard keeper and its route keeper.
public final class KeeperChild: @unchecked Sendable {
    public let pid: pid_t
    private var writeFD: Int32

    private init(pid: pid_t, writeFD: Int32) {
        self.pid = pid
        self.writeFD = writeFD
    }

    /// The shell command the child runs.
    public static func command(_ script: String) -> String { "trap '' HUP INT TERM; read _; " + script }

    /// Starts the child; the reason on failure.
    public static func start(script: String) -> Result<KeeperChild, PlatformError> {
        start(command: command(script))
    }

    /// Starts a child running the shell command `command` as it is: it ignores the signals it
    /// must itself and reads its standard input, the pipe, until it closes (what `send` writes
    /// arrives there, a line at a time). The descriptors in `keeping` are inherited as 3, 4, …:
    /// what they hold open (a netlink socket owning a table) lives as long as the child.
    public static func start(command: String, keeping: [Int32] = []) -> Result<KeeperChild, PlatformError> {
        let fds: (read: Int32, write: Int32)
        switch Pipe.closeOnExec() {
        case .success(let p): fds = p
        case .failure(let e): return .failure(e)
        }
        let (pid, rc) = Subprocess.spawn(
            ["/bin/sh", "-c", command],
            [
                .duplicate(fds.read, to: 0), .open(1, "/dev/null", flags: O_WRONLY),
                .open(2, "/dev/null", flags: O_WRONLY),
            ] + keeping.enumerated().map { .duplicate($0.element, to: Int32(3 + $0.offset)) })
        close(fds.read)
        guard rc == 0 else {
            close(fds.write)
            return .failure(PlatformError(.process, "cannot start /bin/sh: \(errorText(rc))", errno: rc))
        }
        return .success(KeeperChild(pid: pid, writeFD: fds.write))
    }

    /// Writes `line` and a newline to the child's standard input (a child started with
    /// `start(command:)` that reads it); false when the child is gone or released. Lines up to
    /// PIPE_BUF bytes arrive whole.
    @discardableResult
    public func send(_ line: String) -> Bool {
        guard writeFD >= 0 else { return false }
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(writeFD, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Lets the child go (its script runs now and should find nothing left) and reaps it.
    public func release() {
        guard writeFD >= 0 else { return }
        close(writeFD)
        writeFD = -1
        ChildProcess.reap(pid)
    }
}
