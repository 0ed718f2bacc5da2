// Files lvsd writes where others may have write access: FIFOs opened only if they are FIFOs
// (never through a symbolic link), replaced files written through an unpredictable mkstemp name.
import Glibc

/// Opening and replacing files without following an attacker's links.
public enum SafeFiles {
    /// Opens the FIFO at `path` read-write and non-blocking (so writes never block for want of a
    /// reader), creating it (mode 0600) if nothing is there. Refuses a symbolic link or anything
    /// that is not a FIFO, checked on the path (`lstat`, `O_NOFOLLOW`) and on the open descriptor.
    public static func openFIFO(_ path: String) -> Result<Int32, PlatformError> {
        var st = stat()
        if lstat(path, &st) != 0 {
            guard errno == ENOENT else { return .failure(PlatformError.system(.file, "lstat \(path)")) }
            guard mkfifo(path, 0o600) == 0 || errno == EEXIST else {
                return .failure(PlatformError.system(.file, "mkfifo \(path)"))
            }
        } else if st.st_mode & S_IFMT != S_IFIFO {
            let what = st.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : "not a FIFO"
            return .failure(PlatformError(.file, "\(path) is \(what): refused"))
        }
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return .failure(PlatformError.system(.file, "open \(path)")) }
        var fst = stat()
        guard fstat(fd, &fst) == 0, fst.st_mode & S_IFMT == S_IFIFO else {
            close(fd)
            return .failure(PlatformError(.file, "\(path) is not a FIFO: refused"))
        }
        return .success(fd)
    }

    /// Replaces `path` with `bytes` atomically: written to a fresh `mkstemp` file beside it (an
    /// unpredictable name nobody can have linked in advance), given `mode`, then renamed over it.
    @discardableResult
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) -> Bool {
        var template = Array((path + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return false }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let tmp = String(cString: template)
        var ok = fchmod(fd, mode) == 0
        var offset = 0
        while ok && offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { ok = false } else { offset += n }
        }
        close(fd)
        if ok && rename(tmp, path) == 0 { return true }
        unlink(tmp)
        return false
    }
}
