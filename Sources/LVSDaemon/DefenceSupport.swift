// What lvsd gives the IPVS model for its defences: random hash keys per start, and the system's
// available memory for amemthresh.
import Glibc
import LVSCore

/// lvsd's IPVS configuration and memory hook.
public enum DefenceSupport {
    /// A configuration whose connection-hash keys come from the kernel's random pool (a new pair on every
    /// start, as the kernel draws `ip_vs_conn_rnd`), so colliding keys cannot be precomputed.
    public static func randomizedConfiguration(_ base: IPVSConfiguration = .init()) -> IPVSConfiguration {
        var c = base
        var keys: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        let got = fd < 0 ? -1 : withUnsafeMutableBytes(of: &keys) { Glibc.read(fd, $0.baseAddress, $0.count) }
        if fd >= 0 { close(fd) }
        if got == MemoryLayout.size(ofValue: keys) {
            c.hashSeed = keys.0
            c.hashSeed2 = keys.1
            c.randomSeed = keys.2 | 1
            (c.cookieKey0, c.cookieKey1, c.cookieKey2, c.cookieKey3) = (keys.3, keys.4, keys.5, keys.6)
        }
        return c
    }

    /// `MemAvailable` of /proc/meminfo in 4 KiB pages, or nil. Read at most once a second (the
    /// defences are evaluated once a second, on the packet worker).
    public static func availablePages() -> Int? { cache.read() }

    private static let cache = MemInfoCache()

    final class MemInfoCache: @unchecked Sendable {
        // Only the packet worker calls it (under the director's lock).
        var last: (at: UInt64, pages: Int?) = (0, nil)

        func read() -> Int? {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let now = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
            if last.at != 0 && now &- last.at < 900_000_000 { return last.pages }
            last = (now, Self.parse())
            return last.pages
        }

        static func parse() -> Int? {
            let fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            guard n > 0 else { return nil }
            let text = String(decoding: buffer[0..<n], as: UTF8.self)
            for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
                let digits = line.dropFirst("MemAvailable:".count).filter { $0 >= "0" && $0 <= "9" }
                return Int(digits).map { $0 / 4 }  // kB → 4 KiB pages
            }
            return nil
        }
    }
}
