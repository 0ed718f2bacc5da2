// lvsd's log output: syslog by default, syslog-style lines on stderr with -l, debug detail with -D.
import Glibc
import LVSPlatform
import Logging

/// A log handler writing one syslog-style line per message to stderr:
/// `Nov 21 20:22:01 host lvsd[1234]: message key=value`.
public struct ConsoleSyslogLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let identity: String

    public init(identity: String = "lvsd", level: Logger.Level) {
        self.identity = identity
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func timestamp() -> String { LocalTime.now("%b %e %H:%M:%S") }

    static let hostName: String = {
        var buf = [Int8](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    public func log(event: LogEvent) {
        var line = "\(Self.timestamp()) \(Self.hostName) \(identity)[\(getpid())]: "
        if event.level >= .warning { line += "\(event.level): " }
        line += "\(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        line += "\n"
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
    }
}

/// A log handler writing to syslog(3) as `lvsd[pid]`.
public struct SyslogLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    /// Opens the syslog connection (`facility` is a LOG_LOCALn number 0–7, or nil for LOG_DAEMON).
    public static func open(facility: Int?) {
        let f: Int32 = facility.map { Int32((16 + $0) << 3) } ?? LOG_DAEMON
        openlog("lvsd", LOG_PID | LOG_NDELAY, f)
    }

    public init(level: Logger.Level) { logLevel = level }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = "\(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) { text += " \(k)=\(v)" }
        let priority: Int32
        switch event.level {
        case .trace, .debug: priority = LOG_DEBUG
        case .info: priority = LOG_INFO
        case .notice: priority = LOG_NOTICE
        case .warning: priority = LOG_WARNING
        case .error: priority = LOG_ERR
        case .critical: priority = LOG_CRIT
        }
        text.withCString { p in
            withVaList([p]) { vsyslog(priority, "%s", $0) }
        }
    }
}
