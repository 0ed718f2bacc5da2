// Reading and writing /proc/sys values (net.ipv4.conf.*, net.ipv6.conf.*).
import Glibc

/// Reading and writing /proc/sys values.
public enum Sysctl {
    /// The value (trimmed), or nil if unreadable.
    public static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { return nil }
        var s = String(decoding: buf[0..<n], as: UTF8.self)
        while let l = s.last, l == "\n" || l == " " || l == "\t" { s.removeLast() }
        return s
    }

    /// Writes `value`; false on failure.
    @discardableResult
    public static func write(_ path: String, _ value: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
