// Errors of the platform layer: which system facility failed, and the line to log.
import Glibc

/// A failed system call of the platform layer. `code` says which facility; `message` is the
/// line to log (the call and `strerror`); `errno` is the system's error number (0 if none).
public struct PlatformError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The facilities that can fail.
    public enum Code: String, Hashable, Sendable {
        /// socket(2), setsockopt(2), bind(2), send/recv on a socket.
        case socket
        /// An rtnetlink exchange (the socket, or the kernel refusing a request).
        case netlink
        /// An nf_tables transaction (the socket, or the kernel refusing a message of it).
        case nftables
        /// An interface named by the caller does not exist.
        case noSuchInterface
        /// eventfd(2), pipe(2) or poll(2).
        case wakeDescriptor
        /// A thread could not be created.
        case thread
        /// setns(2) or opening a namespace file.
        case namespace
        /// fork/exec or posix_spawn.
        case process
        /// A file is not what it must be (a FIFO that is a link or a regular file), or cannot be made.
        case file
    }

    public var code: Code
    public var message: String
    public var errno: Int32

    public init(_ code: Code, _ message: String, errno: Int32 = 0) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// `what: strerror(errno)` with the current errno.
    public static func system(_ code: Code, _ what: String) -> PlatformError {
        let e = Glibc.errno
        return PlatformError(code, "\(what): \(errorText(e))", errno: e)
    }

    public var description: String { message }
}

/// `strerror(code)` as a String.
public func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
