// Removes lvsd's guard table when lvsd dies without removing it (SIGKILL, crash): a child waiting on a pipe.
import CLVSLinux
import Glibc
import LVSPlatform

/// A small child process that outlives lvsd by a moment.
///
/// ```
///  lvsd ──(write end, close-on-exec)──▶ pipe ──▶ /bin/sh: read; nft list table … owned by me? → delete
/// ```
/// lvsd holds the pipe's write end and never writes. When lvsd exits for any reason the kernel
/// closes it, `read` returns, and the child deletes the guard table if its comment still names
/// this lvsd (a new lvsd's table is left alone). Without it a killed lvsd left the VIP:port drop
/// rules in place: the box could not even serve as a plain real server (seed 001) until lvsd was
/// started again. A clean stop removes the table itself first.
final class GuardKeeper {
    let pid: pid_t
    private var writeFD: Int32

    /// The comment that marks the table as this process's.
    static var owner: String { "swiftlvs lvsd pid \(getpid())" }

    /// The child's shell command.
    static func command(nft: String, owner: String) -> String {
        let table = "netdev \(NFTablesGuard.tableName)"
        return "read _; \(nft) list table \(table) 2>/dev/null | grep -qF 'comment \"\(owner)\"'"
            + " && \(nft) delete table \(table)"
    }

    private init(pid: pid_t, writeFD: Int32) {
        self.pid = pid
        self.writeFD = writeFD
    }

    /// Starts the keeper; nil (with the reason) if it cannot be started.
    static func start() -> (GuardKeeper?, String?) {
        var fds: [Int32] = [-1, -1]
        guard clvs_dp_pipe_cloexec(&fds) == 0 else { return (nil, "pipe: \(errorText(errno))") }
        let nft = Subprocess.find("nft") ?? "/usr/sbin/nft"
        let (pid, rc) = Subprocess.spawn(
            ["/bin/sh", "-c", command(nft: nft, owner: owner)],
            [.duplicate(fds[0], to: 0), .open(1, "/dev/null", flags: O_WRONLY), .open(2, "/dev/null", flags: O_WRONLY)])
        close(fds[0])
        guard rc == 0 else {
            close(fds[1])
            return (nil, "cannot start /bin/sh: \(errorText(rc))")
        }
        return (GuardKeeper(pid: pid, writeFD: fds[1]), nil)
    }

    /// Lets the child go (after lvsd removed the table itself) and reaps it.
    func stop() {
        guard writeFD >= 0 else { return }
        close(writeFD)
        writeFD = -1
        ChildProcess.reap(pid)
    }
}
