// A close-on-exec pipe (pipe2 with O_CLOEXEC), for keeper children that wait for their parent's end.
import CLVSLinux
import Glibc

/// pipe2(2) with O_CLOEXEC: no child started later inherits either end unless handed it.
public enum Pipe {
    /// The read and write ends, or the errno.
    public static func closeOnExec() -> Result<(read: Int32, write: Int32), PlatformError> {
        var fds: [Int32] = [-1, -1]
        guard clvs_dp_pipe_cloexec(&fds) == 0 else { return .failure(.system(.wakeDescriptor, "pipe")) }
        return .success((fds[0], fds[1]))
    }
}
