// keepalived's enable_script_security: a script run as root must sit on a path no other user can
// change (K:keepalived notify.c check_security / check_script_secure).
import Glibc
import Synchronization

/// Whether scripts are checked before they run as root, and the check itself.
///
/// ```
///  /usr/local/bin/check.sh  →  realpath  →  "/", "/usr", "/usr/local", "/usr/local/bin", "check.sh"
///  each: owned by root, and not writable by group or others (a directory with the sticky bit,
///  like /tmp, may be) — else the script is insecure and is not run as root.
/// ```
public enum ScriptSecurity {
    private static let enabled = Atomic<Bool>(false)

    /// `enable_script_security` of the configuration in force (set at load and on each reload).
    public static var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Why a script is refused.
    public struct Insecurity: Error, Hashable, Sendable, CustomStringConvertible {
        /// The path component at fault.
        public var path: String
        public var reason: String
        public var description: String { "\(path) \(reason)" }
    }

    /// Checks the program at `path` (absolute) and every directory above it, after resolving
    /// symbolic links, as keepalived does for scripts run as root. Nil when secure.
    public static func check(_ path: String) -> Insecurity? {
        guard let realPointer = realpath(path, nil) else {
            return Insecurity(path: path, reason: "cannot be resolved (\(String(cString: strerror(errno))))")
        }
        let real = String(cString: realPointer)
        free(realPointer)
        var prefixes = ["/"]
        var current = ""
        for part in real.split(separator: "/") {
            current += "/" + part
            prefixes.append(current)
        }
        for (i, p) in prefixes.enumerated() {
            var st = stat()
            guard stat(p, &st) == 0 else {
                return Insecurity(path: p, reason: "cannot be checked (\(String(cString: strerror(errno))))")
            }
            let isLast = i == prefixes.count - 1
            let isDirectory = st.st_mode & S_IFMT == S_IFDIR
            if !isLast && !isDirectory { return Insecurity(path: p, reason: "is not a directory") }
            if st.st_uid != 0 { return Insecurity(path: p, reason: "is owned by uid \(st.st_uid), not root") }
            let writableByOthers = st.st_mode & (S_IWGRP | S_IWOTH) != 0
            let sticky = st.st_mode & S_ISVTX != 0
            if writableByOthers && !(isDirectory && sticky) {
                return Insecurity(path: p, reason: "is writable by group or others")
            }
        }
        return nil
    }
}
