// The wall clock in local time as text (strftime(3)): syslog-style log stamps and mail dates.
import Glibc

/// The current local time, formatted.
public enum LocalTime {
    /// Now in local time, formatted by `strftime(3)` with `format` (a result of up to 79 bytes).
    public static func now(_ format: String) -> String {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 80)
        let n = strftime(&buf, buf.count, format, &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
