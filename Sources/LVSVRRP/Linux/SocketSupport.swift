// Small socket helpers shared by the Linux adapters: options, errors, a reader thread.
import CLVSLinux
import Foundation
import Glibc

enum Sock {
    static func error(_ what: String) -> VRRPError {
        VRRPError(.socket, "\(what): \(String(cString: strerror(errno)))")
    }

    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ what: String) throws(VRRPError) {
        var v = value
        if setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 { throw error(what) }
    }

    static func bindToDevice(_ fd: Int32, _ name: String) throws(VRRPError) {
        let r = name.withCString { p in setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p, socklen_t(strlen(p) + 1)) }
        if r != 0 { throw error("SO_BINDTODEVICE \(name)") }
    }
}

/// A thread that waits on a file descriptor with poll() (so it can notice `stop()` within
/// 200 ms) and calls `onReadable` whenever it can be read.
final class ReaderThread: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private let fd: Int32

    init(fd: Int32, name: String, onReadable: @escaping @Sendable () -> Void) {
        self.fd = fd
        let t = Thread { [self] in
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while !self.isStopped {
                p.revents = 0
                let r = poll(&p, 1, 200)
                if r > 0 && !self.isStopped { onReadable() }
                if r < 0 && errno != EINTR { break }
            }
        }
        t.name = name
        t.start()
    }

    var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }
}
