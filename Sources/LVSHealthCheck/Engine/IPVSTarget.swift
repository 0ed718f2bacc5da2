// Applying the engine's IPVS commands to an IPVS table, with keepalived's tolerance of errors.
import LVSCore
import Synchronization

/// Something that holds an IPVS table the engine's commands can be applied to (the daemon's
/// director, or a bare `IPVS` in tests).
public protocol HealthCheckIPVSTarget: Sendable {
    /// Applies the commands in order; returns a log line for each one that failed.
    func apply(_ commands: [IPVSCommand]) -> [String]
}

extension IPVS {
    /// Applies one command as keepalived's `ipvs_talk()` does: an add that finds the service or
    /// server already there, or a delete that finds it gone, is not an error; an edit of a
    /// missing real server adds it.
    public func apply(_ command: IPVSCommand) throws(IPVSError) {
        do {
            switch command {
            case .flush: flush()
            case .setTimeouts(let t): setTimeouts(t)
            case .addService(let s): try addService(s)
            case .editService(let s): try editService(s)
            case .deleteService(let k): try deleteService(k)
            case .addRealServer(let r, let k): try addRealServer(r, to: k)
            case .editRealServer(let r, let k):
                do { try editRealServer(r, in: k) } catch  where error.code == .noSuchDestination {
                    try addRealServer(r, to: k)
                }
            case .deleteRealServer(let e, let k): try deleteRealServer(e, from: k)
            }
        } catch {
            switch (command, error.code) {
            case (.addService, .serviceExists), (.addRealServer, .destinationExists): return
            case (.deleteService, .noSuchService), (.deleteRealServer, .noSuchDestination): return
            default: throw error
            }
        }
    }
}

/// An `IPVS` table guarded by a lock (tests and simple embeddings).
public final class LockedIPVSTarget: HealthCheckIPVSTarget, @unchecked Sendable {
    private let ipvs: IPVS
    private let lock = Mutex(())

    public init(_ ipvs: IPVS) { self.ipvs = ipvs }

    /// Runs `body` with the table locked.
    public func withTable<R>(_ body: (IPVS) throws -> R) rethrows -> R {
        try lock.withLock { _ in try body(ipvs) }
    }

    public func apply(_ commands: [IPVSCommand]) -> [String] {
        withTable { t in
            var problems: [String] = []
            for c in commands {
                do { try t.apply(c) } catch { problems.append("IPVS (\(c)): \(error)") }
            }
            return problems
        }
    }
}
