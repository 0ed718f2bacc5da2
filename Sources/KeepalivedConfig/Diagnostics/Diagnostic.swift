// Where a config line came from, what is wrong with it, and how bad that is.

/// A place in a configuration file: the file's path and a 1-based line number (0 when the problem
/// concerns the file as a whole, e.g. it cannot be opened).
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The file's path as it was opened (included files: resolved against the including file).
    public var file: String
    /// The 1-based line number; for a continued line, its first physical line.
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    /// `file:line`, or just `file` when there is no line.
    public var description: String { line > 0 ? "\(file):\(line)" : file }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        a.file != b.file ? a.file < b.file : a.line < b.line
    }
}

/// How serious a configuration problem is, and so which `-t` exit code it leads to.
///
/// | severity | meaning | `-t` exit code |
/// |---|---|---|
/// | `fatal` | the configuration cannot run (`lvsd -f` refuses to start) | 3 |
/// | `error` | something was wrong and was ignored or corrected; the rest runs | 4 |
/// | `warning` | keepalived reports it as a config error, a default was applied | 4 |
/// | `security` | scripts would run as root without `enable_script_security` | 5 |
/// | `note` | information only (legacy keyword accepted, extra words ignored) | unchanged |
public enum DiagnosticSeverity: Int, Hashable, Sendable, Comparable, CustomStringConvertible {
    case note = 0
    case security = 1
    case warning = 2
    case error = 3
    case fatal = 4

    public static func < (a: DiagnosticSeverity, b: DiagnosticSeverity) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .note: return "note"
        case .security: return "security"
        case .warning: return "warning"
        case .error: return "error"
        case .fatal: return "fatal"
        }
    }
}

/// One problem found in a configuration, reported as `file:line: what is wrong`.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem it is, for callers that act on some kinds (never match `message`).
    public enum Code: String, Hashable, Sendable {
        /// Any problem not singled out below.
        case general
        /// The braces do not balance (`missing '{'`, `unexpected '{'`, `extra '}'`, a block not
        /// closed): the file does not parse as a whole, e.g. a half-saved edit. A reload refuses it.
        case blockStructure
        /// A plain `include` (no wildcard) names no file: at start keepalived goes on without it,
        /// but a reload that lost a file of services would delete them. A reload refuses it.
        case missingInclude
    }

    /// Where the problem is.
    public var location: SourceLocation
    /// How serious it is.
    public var severity: DiagnosticSeverity
    /// What kind of problem it is.
    public var code: Code
    /// What is wrong, in one line.
    public var message: String

    public init(
        _ severity: DiagnosticSeverity, _ message: String, at location: SourceLocation, code: Code = .general
    ) {
        self.severity = severity
        self.message = message
        self.location = location
        self.code = code
    }

    /// The file the problem is in.
    public var file: String { location.file }
    /// The line the problem is on (0 for the file as a whole).
    public var line: Int { location.line }

    /// `file:line: message`, the form every problem is reported in.
    public var description: String { "\(location): \(message)" }
}

/// The exit codes of `keepalived -t` (`KEEPALIVED_EXIT_*` in keepalived's `main.h`), which
/// `lvsd -t` reuses.
public enum ConfigTestExitCode: Int32, Hashable, Sendable, CustomStringConvertible {
    /// The configuration is clean.
    case ok = 0
    /// The configuration cannot run (`KEEPALIVED_EXIT_CONFIG`).
    case cannotRun = 3
    /// There are errors, but the configuration will run (`KEEPALIVED_EXIT_CONFIG_TEST`).
    case errors = 4
    /// Scripts are configured without script security (`KEEPALIVED_EXIT_CONFIG_TEST_SECURITY`).
    case scriptSecurity = 5

    /// The exit code for a set of diagnostics: the most serious one decides (fatal → 3, error or
    /// warning → 4, security → 5; notes do not count).
    ///
    /// keepalived itself keeps whichever `config_err_t` value is numerically highest, which lets
    /// a later security or warning report mask an earlier fatal one; SwiftLVS lets the most
    /// serious problem win so that `-t` never says "will run" about a configuration `-f` refuses.
    public init(diagnostics: [Diagnostic]) {
        let worst = diagnostics.map(\.severity).max() ?? .note
        switch worst {
        case .fatal: self = .cannotRun
        case .error, .warning: self = .errors
        case .security: self = .scriptSecurity
        case .note: self = .ok
        }
    }

    public var description: String { String(rawValue) }
}
