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

    /// `MemAvailable:` of a /proc/meminfo text in 4 KiB pages (the value is in kB), or nil;
    /// reads the bytes in place (nothing allocated).
    public static func memAvailablePages(in text: UnsafeBufferPointer<UInt8>) -> Int? {
        let key: StaticString = "MemAvailable:"
        let keyLength = key.utf8CodeUnitCount
        var i = 0
        while i < text.count {
            // `i` is the start of a line.
            var matches = text.count - i >= keyLength
            var k = 0
            while matches && k < keyLength {
                if text[i + k] != key.utf8Start[k] { matches = false }
                k += 1
            }
            if matches {
                var j = i + keyLength
                var value = 0
                var digits = 0
                while j < text.count && text[j] != UInt8(ascii: "\n") {
                    let c = text[j]
                    if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                        value = value &* 10 &+ Int(c &- UInt8(ascii: "0"))
                        digits += 1
                    }
                    j += 1
                }
                return digits > 0 ? value / 4 : nil  // kB → 4 KiB pages
            }
            while i < text.count && text[i] != UInt8(ascii: "\n") { i += 1 }
            i += 1
        }
        return nil
    }

    final class MemInfoCache: @unchecked Sendable {
        // Only the packet worker calls it (under the director's lock).
        var last: (at: UInt64, pages: Int?) = (0, nil)

        func read() -> Int? {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let now = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
            if last.at != 0 && now &- last.at < 900_000_000 { return last.pages }
            last = (now, parse())
            return last.pages
        }

        /// Where /proc/meminfo is read into: allocated once (the worker reads it every second).
        static let bufferSize = 4096
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: MemInfoCache.bufferSize)

        func parse() -> Int? {
            let fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            let n = Glibc.read(fd, buffer, Self.bufferSize)
            guard n > 0 else { return nil }
            return DefenceSupport.memAvailablePages(in: UnsafeBufferPointer(start: buffer, count: n))
        }
    }
}
