// `ipvsadm -R` progress on a terminal: how many lines are restored, and how much of the file.
import Glibc

/// Receives `-R`'s progress after each batch of state changes reached lvsd.
public protocol RestoreProgress: AnyObject {
    /// `lines` input lines read and `bytes` input bytes consumed so far, all of them applied.
    func restored(lines: Int, bytes: Int)
    /// The restore ended (normally or not).
    func finished()
}

/// Progress on standard error for a person watching: one line redrawn in place at most ten
/// times a second (`ipvsadm: restoring: 41,000 lines, 39% of 3.1 MB`), erased at the end, so
/// the terminal shows what ipvsadm 1.31 shows once it is done. Only used when stderr is a
/// terminal: ipvsadm's output and messages stay byte for byte its own in files and pipes.
public final class TerminalRestoreProgress: RestoreProgress {
    let fd: Int32
    /// The input's size when it is a regular file (a redirect from a file), else nil.
    let totalBytes: Int?
    let now: () -> UInt64
    private var lastDrawn: UInt64 = 0
    private var drawn = false
    /// No line before the restore has run this long (small files finish without one).
    let delay: UInt64 = 300_000_000
    private let started: UInt64

    public init(fd: Int32 = 2, totalBytes: Int?, now: @escaping () -> UInt64 = TerminalRestoreProgress.monotonic) {
        self.fd = fd
        self.totalBytes = totalBytes
        self.now = now
        started = now()
    }

    /// The progress for `ipvsadm -R` when stderr is a terminal, sized from stdin if it is a file.
    public static func forTerminal() -> TerminalRestoreProgress? {
        guard isatty(2) == 1 else { return nil }
        var st = stat()
        let size = fstat(0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil
        return TerminalRestoreProgress(totalBytes: size)
    }

    public static func monotonic() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public func restored(lines: Int, bytes: Int) {
        let t = now()
        guard t - started >= delay, t - lastDrawn >= 100_000_000 else { return }
        lastDrawn = t
        drawn = true
        write("\r\u{1B}[K" + Self.text(lines: lines, bytes: bytes, total: totalBytes))
    }

    public func finished() {
        if drawn { write("\r\u{1B}[K") }
        drawn = false
    }

    /// `ipvsadm: restoring: 41,000 lines, 39% of 3.1 MB` (without a size: no percentage).
    public static func text(lines: Int, bytes: Int, total: Int?) -> String {
        var s = "ipvsadm: restoring: \(grouped(lines)) line\(lines == 1 ? "" : "s")"
        if let total, total > 0 {
            s += ", \(min(100, bytes * 100 / total))% of \(size(total))"
        } else {
            s += " (\(size(bytes)))"
        }
        return s
    }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(d)
        }
        return out
    }

    static func size(_ b: Int) -> String {
        if b >= 1 << 20 { return "\(b * 10 / (1 << 20) / 10).\(b * 10 / (1 << 20) % 10) MB" }
        if b >= 1 << 10 { return "\(b / (1 << 10)) KB" }
        return "\(b) B"
    }

    private func write(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
