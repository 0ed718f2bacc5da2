// Network namespaces: entering one on the current thread, and telling the current one apart.
import CLVSLinux
import Glibc

/// Entering a network namespace on the current thread (setns(CLONE_NEWNET) is per thread).
public enum NetworkNamespace {
    /// Moves the calling thread into the namespace at `path` (e.g. `/run/netns/NAME`).
    public static func enterOnCurrentThread(path: String) throws(PlatformError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(.namespace, "open \(path)") }
        defer { close(fd) }
        guard clvs_setns_net(fd) == 0 else { throw .system(.namespace, "setns \(path)") }
    }

    /// The inode of the calling thread's network namespace (it identifies the namespace), or 0.
    public static var currentInode: UInt64 { clvs_netns_inode() }
}
