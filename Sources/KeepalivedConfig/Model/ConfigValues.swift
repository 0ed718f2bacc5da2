// Value types of keepalived.conf: TIMER, scripts, and settings kept as written.

/// A keepalived TIMER: decimal seconds with microsecond resolution (`2.71828`, `3`).
public struct TimerValue: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The time in microseconds.
    public var microseconds: UInt64

    public init(microseconds: UInt64) { self.microseconds = microseconds }

    /// A whole number of seconds.
    public static func seconds(_ s: UInt64) -> TimerValue { TimerValue(microseconds: s * 1_000_000) }

    /// The time as a `Duration`.
    public var duration: Duration { .microseconds(Int64(clamping: microseconds)) }

    /// Whole seconds, rounded down.
    public var wholeSeconds: UInt64 { microseconds / 1_000_000 }

    /// `6s`, `1.5s`, `0.000001s`.
    public var description: String {
        let s = microseconds / 1_000_000
        var fraction = microseconds % 1_000_000
        guard fraction != 0 else { return "\(s)s" }
        var digits = 6
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let f = String(fraction)
        return "\(s)." + String(repeating: "0", count: digits - f.count) + f + "s"
    }

    public static func < (a: TimerValue, b: TimerValue) -> Bool { a.microseconds < b.microseconds }

    /// Parses a TIMER as keepalived's `read_timer()` does: non-negative decimal seconds; more
    /// than six decimal places is an error, and the value is rounded to the microsecond.
    public static func parse(_ text: String) -> (value: TimerValue?, problem: String?) {
        if text.hasPrefix("-") { return (nil, "negative number '\(text)'") }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty), whole.allSatisfy(\.isASCIIDigit),
            fraction.allSatisfy(\.isASCIIDigit), let w = UInt64(whole.isEmpty ? "0" : whole), w < 4_000_000_000
        else { return (nil, "invalid number '\(text)'") }
        var problem: String?
        var digits = String(fraction.prefix(6))
        var roundUp = false
        if fraction.count > 6 {
            problem = "number '\(text)' has too many decimal places"
            roundUp = fraction.dropFirst(6).first! >= "5"
        }
        digits += String(repeating: "0", count: 6 - digits.count)
        guard let fractionValue = UInt64(digits) else { return (nil, "invalid number '\(text)'") }
        let micro = w * 1_000_000 + fractionValue + (roundUp ? 1 : 0)
        return (TimerValue(microseconds: micro), problem)
    }
}

extension Character {
    /// One ASCII digit: a single scalar 0–9 (a digit followed by a combining mark is one
    /// `Character` that compares between "0" and "9", and is not a digit).
    var isASCIIDigit: Bool {
        unicodeScalars.count == 1 && unicodeScalars.first!.value >= 0x30 && unicodeScalars.first!.value <= 0x39
    }
}

/// A script keyword's value: `keyword "/path/script arg ..." [username [:][groupname]]`
/// (notify*, script, misc_path, quorum_up/down, notify_up/down, ...).
public struct ScriptCommand: Hashable, Sendable {
    /// The command line as written (the first word after the keyword, quotes removed).
    public var commandLine: String
    /// The program and its arguments, split shell-fashion as keepalived does (quotes group
    /// words; `\n`, `\xHH`, `\nnn`, ... escapes decoded).
    public var arguments: [String]
    /// The user to run it as, when given on the line.
    public var user: String?
    /// The group to run it as, when given on the line.
    public var group: String?
    /// Where it was configured.
    public var location: SourceLocation

    /// The program to run.
    public var program: String { arguments.first ?? "" }
}

/// A keyword that SwiftLVS recognises and checks but keeps as written, because no module acts
/// on it (process names, SNMP, nftables tuning, ...).
public struct RecognisedSetting: Hashable, Sendable {
    public var keyword: String
    public var arguments: [String]
    public var location: SourceLocation
}

/// A block SwiftLVS recognises but does not model field by field (static addresses and routes,
/// BFD instances, SSL, track processes, ...): its name, settings and value lines, as written.
public struct RecognisedBlock: Hashable, Sendable {
    /// The block keyword (`static_routes`, `bfd_instance`, ...).
    public var keyword: String
    /// The words after the keyword (usually a name).
    public var arguments: [String]
    /// Keyword settings inside the block (sub-blocks flattened with `parent.child` names).
    public var settings: [RecognisedSetting]
    /// The words of each line of a value block.
    public var lines: [[String]]
    public var location: SourceLocation
}
