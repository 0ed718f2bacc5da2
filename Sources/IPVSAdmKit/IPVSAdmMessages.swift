// ipvsadm's error texts for refused operations (libipvs ipvs_strerror), keyed by command and errno.
import LVSCore

/// Maps an `IPVSError` from the director to the line ipvsadm 1.31 prints for it.
///
/// libipvs picks the text by the failing call *and* the errno (`ipvs_strerror`): ESRCH is
/// "No such service" for service calls but "Service not defined" for real-server calls, ENOENT
/// is "Scheduler or persistence engine not found" for -A/-E but "No such destination" for -e/-d.
/// Anything else falls back to `strerror(errno)`.
public enum IPVSAdmMessages {
    enum Errno: Int32 {
        case eperm = 1
        case enoent = 2
        case esrch = 3
        case enomem = 12
        case eexist = 17
        case einval = 22
        case erange = 34
    }

    static func errno(of code: IPVSError.Code) -> Errno? {
        switch code {
        case .serviceExists, .destinationExists, .daemonRunning: return .eexist
        case .schedulerNotFound, .noSuchDestination: return .enoent
        case .noSuchService, .serviceNotDefined, .noDaemon: return .esrch
        case .noMemory: return .enomem
        case .permissionDenied: return .eperm
        case .invalidArgument: return .einval
        case .outOfRange: return .erange
        default: return nil  // SwiftLVS-only codes print their own message
        }
    }

    /// The message ipvsadm prints when `command` fails with `error`.
    public static func message(for error: IPVSError, command: IPVSAdmCommandKind) -> String {
        guard let e = errno(of: error.code) else { return error.message }
        switch (command, e) {
        case (.add, .eexist): return "Service already exists"
        case (.add, .enoent), (.edit, .enoent): return "Scheduler or persistence engine not found"
        case (.edit, .esrch), (.delete, .esrch), (.zero, .esrch), (.list, .esrch): return "No such service"
        case (.addDest, .esrch), (.editDest, .esrch), (.deleteDest, .esrch): return "Service not defined"
        case (.addDest, .eexist): return "Destination already exists"
        case (.editDest, .enoent), (.deleteDest, .enoent): return "No such destination"
        case (.addLocalAddress, .eexist): return "Local address already exists"
        case (.deleteLocalAddress, .enoent): return "No such local address"
        case (.addLocalAddress, .esrch), (.deleteLocalAddress, .esrch), (.getLocalAddress, .esrch):
            return "No such service"
        case (.startDaemon, .eexist): return "Daemon has already run"
        case (.stopDaemon, .esrch): return "No daemon is running"
        case (_, .eperm): return "Permission denied (you must be root)"
        case (_, .einval): return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        case (_, .enomem): return "Memory allocation problem"
        case (_, .eexist): return "File exists"
        case (_, .enoent): return "No such file or directory"
        case (_, .esrch): return "No such process"
        case (_, .erange): return "Numerical result out of range"
        }
    }
}
