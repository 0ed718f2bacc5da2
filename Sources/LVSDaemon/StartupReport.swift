// How a forked lvsd tells the process the operator started whether it came up: one line over a pipe.
import Glibc
import Synchronization

/// The start-up result of a forked lvsd, written by the daemon once and read by its parent, so
/// `lvsd` exits 1 with the daemon's reason when the daemon cannot do its job (the data plane
/// refused to start), instead of returning 0 for a daemon that is already gone.
///
/// ```
///  parent: fork ─▶ wait(pipe) ─▶ "ok" → exit 0 │ "<line>" → "lvsd: <line>", exit 1 │ EOF → exit 1
///  daemon: … data plane started → succeeded() │ failed("data plane not started: …") → exits
/// ```
/// Without a fork (`-n`) nothing is installed and the calls do nothing.
public enum StartupReport {
    private static let descriptor = Atomic<Int32>(-1)

    /// The write end of the pipe (the daemon's side).
    static func install(_ fd: Int32) { descriptor.store(fd, ordering: .releasing) }

    /// The daemon is up.
    public static func succeeded() { send("ok\n") }

    /// The daemon cannot run: `line` says why.
    public static func failed(_ line: String) { send("error " + line + "\n") }

    private static func send(_ text: String) {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// The parent's side: nil once the daemon reported success (or still runs silently after
    /// 30 s), else the reason it did not come up.
    static func wait(_ fd: Int32, pid: pid_t) -> String? {
        var text: [UInt8] = []
        var closed = false
        var buffer = [UInt8](repeating: 0, count: 512)
        let deadline = time(nil) + 30
        while time(nil) < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 1000)
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                closed = true
                break
            }
            text += buffer[0..<n]
            if text.last == UInt8(ascii: "\n") { break }
        }
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        if line == "ok" { return nil }
        if line.hasPrefix("error ") { return String(line.dropFirst(6)) }
        if !closed { return nil }  // still running after 30 s without a word: let it be
        return "the daemon (pid \(pid)) exited during start-up (see its log)"
    }
}
