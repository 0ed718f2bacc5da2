// Socket options by name and level, with errors that say which option failed.
import Glibc

/// setsockopt(2) helpers that throw a `PlatformError` naming the option.
public enum SocketOption {
    /// Sets an integer option; `what` names it in the error.
    public static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ what: String)
        throws(PlatformError)
    {
        var v = value
        if setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw .system(.socket, what)
        }
    }

    /// SO_BINDTODEVICE: the socket only sends and receives through interface `name`.
    public static func bindToDevice(_ fd: Int32, _ name: String) throws(PlatformError) {
        let r = name.withCString { p in setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p, socklen_t(strlen(p) + 1)) }
        if r != 0 { throw .system(.socket, "SO_BINDTODEVICE \(name)") }
    }
}
