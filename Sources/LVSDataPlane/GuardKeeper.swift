// Removes lvsd's guard table when lvsd dies without removing it (SIGKILL, crash): a child waiting on a pipe.
import Glibc
import LVSPlatform

/// A `KeeperChild` that deletes the guard table when lvsd dies:
///
/// ```
///  lvsd ──(write end, close-on-exec)──▶ pipe ──▶ /bin/sh: read; nft list table … owned by me? → delete
/// ```
/// The child deletes the guard table only if its comment still names this lvsd (a new lvsd's
/// table is left alone). Without it a killed lvsd left the VIP:port drop
/// rules in place: the box could not even serve as a plain real server (seed 001) until lvsd was
/// started again. A clean stop removes the table itself first.
final class GuardKeeper {
    private let child: KeeperChild

    /// The comment that marks the table as this process's.
    static var owner: String { "swiftlvs lvsd pid \(getpid())" }

    /// The child's shell command.
    static func command(nft: String, owner: String) -> String {
        let table = "netdev \(NFTablesGuard.tableName)"
        return "\(nft) list table \(table) 2>/dev/null | grep -qF 'comment \"\(owner)\"'"
            + " && \(nft) delete table \(table)"
    }

    private init(child: KeeperChild) { self.child = child }

    /// The keeper's pid.
    var pid: pid_t { child.pid }

    /// Starts the keeper; nil (with the reason) if it cannot be started.
    static func start() -> (GuardKeeper?, String?) {
        let nft = Subprocess.find("nft") ?? "/usr/sbin/nft"
        switch KeeperChild.start(script: command(nft: nft, owner: owner)) {
        case .success(let c): return (GuardKeeper(child: c), nil)
        case .failure(let e): return (nil, e.message)
        }
    }

    /// Lets the child go (after lvsd removed the table itself) and reaps it.
    func stop() { child.release() }
}
