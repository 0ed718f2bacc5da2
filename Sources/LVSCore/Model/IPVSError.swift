// Errors of IPVS operations, one code per kernel errno case that ipvsadm reports.

/// An IPVS operation's failure. `code` says which of ipvsadm's cases it is; `message` is the
/// exact text ipvsadm prints for it (`libipvs ipvs_strerror`).
public struct IPVSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of failure, named after what ipvsadm says.
    public enum Code: String, Hashable, Sendable, CaseIterable {
        /// EEXIST on a service command.
        case serviceExists
        /// EEXIST on a real-server command.
        case destinationExists
        /// ENOENT: unknown scheduler or persistence engine.
        case schedulerNotFound
        /// ESRCH on a service command.
        case noSuchService
        /// ESRCH on a real-server command.
        case serviceNotDefined
        /// ENOENT on a real-server command.
        case noSuchDestination
        /// ENOMEM.
        case noMemory
        /// EPERM.
        case permissionDenied
        /// EINVAL.
        case invalidArgument
        /// The connection table is at its configured maximum (SwiftLVS; the kernel drops silently).
        case tableFull
        /// EBUSY / EEXIST on `--start-daemon`.
        case daemonRunning
        /// ESRCH on `--stop-daemon`.
        case noDaemon
        /// ERANGE (negative weight, lower threshold above upper): ipvsadm prints strerror.
        case outOfRange
        /// ENODEV (`--start-daemon` on an unknown interface): ipvsadm prints strerror.
        case noSuchDevice
        /// ENOENT for a knob name (`lvs-sysctl`; sysctl says "cannot stat").
        case noSuchKnob
        /// Another errno from the system (a sync daemon's socket): ipvsadm prints strerror, in
        /// `detail`.
        case systemError
    }

    public var code: Code
    /// Extra detail for logs (never replaces ipvsadm's text).
    public var detail: String?

    public init(_ code: Code, detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    /// ipvsadm 1.31's message for this error.
    public var message: String {
        switch code {
        case .serviceExists: return "Service already exists"
        case .destinationExists: return "Destination already exists"
        case .schedulerNotFound: return "Scheduler or persistence engine not found"
        case .noSuchService: return "No such service"
        case .serviceNotDefined: return "Service not defined"
        case .noSuchDestination: return "No such destination"
        case .noMemory: return "Memory allocation problem"
        case .permissionDenied: return "Permission denied (you must be root)"
        case .invalidArgument: return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        case .tableFull: return "Connection table full"
        case .daemonRunning: return "Daemon has already run"
        case .noDaemon: return "No daemon is running"
        case .outOfRange: return "Numerical result out of range"
        case .noSuchDevice: return "No such device"
        case .noSuchKnob: return "No such file or directory"
        case .systemError: return detail ?? "Input/output error"
        }
    }

    public var description: String {
        guard code != .systemError else { return message }
        return detail.map { "\(message) (\($0))" } ?? message
    }
}
