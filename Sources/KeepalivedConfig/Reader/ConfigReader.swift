// The line reader: files, includes, comments, continuation, conditionals, braces, one line out.

/// One logical configuration line as the parser sees it: a lone `{`, a lone `}`, or words.
public struct ConfigLine: Hashable, Sendable {
    /// The line's text after comment removal, substitution and brace splitting.
    public var text: String
    /// The words of the line (quotes removed).
    public var words: [String]
    /// Where the line came from (the first physical line of a continued line; the using line of
    /// a parameter expansion; the `~SEQ` / `~LST` line of a repetition).
    public var location: SourceLocation

    /// True for a line that is just `{`.
    public var isOpenBrace: Bool { text == "{" }
    /// True for a line that is just `}`.
    public var isCloseBrace: Bool { text == "}" }
}

/// What the reader needs from the command line and the environment.
public struct ConfigReaderOptions: Sendable {
    /// The config-id (`-i`): `@id` lines are kept only when `id` equals it, `@^id` lines only when
    /// it differs. keepalived's default is the short host name (`LocalConfigFileSystem.shortHostName()`);
    /// nil means no id, so every `@id` line is dropped and every `@^id` line kept.
    public var configID: String?
    /// Values for `${_ENV NAME}`.
    public var environment: [String: String]
    /// Seed for `${_RANDOM}` (keepalived's `random_seed`), so a configuration reads the same twice.
    public var randomSeed: UInt64

    public init(configID: String? = nil, environment: [String: String] = [:], randomSeed: UInt64 = 0) {
        self.configID = configID
        self.environment = environment
        self.randomSeed = randomSeed
    }
}

/// Extra checks an include makes (`includer` / `includem` / `includew` / `includeb` / `includea`
/// and global `include_check`); a failed check is fatal, a plain `include` only notes it.
public struct IncludeChecks: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Every match must be a readable regular, non-executable file (`readable`, `includer`).
    public static let readable = IncludeChecks(rawValue: 1)
    /// A pattern without wildcards must match (`match`, `includem`).
    public static let match = IncludeChecks(rawValue: 2)
    /// A pattern with wildcards must match too (`wildcard_match`, `includew`).
    public static let wildcardMatch = IncludeChecks(rawValue: 4)
    /// Every `{a,b}` alternative must match (`brace_match`, `includeb`).
    public static let braceMatch = IncludeChecks(rawValue: 8)
    /// All checks (`includea`).
    public static let all: IncludeChecks = [.readable, .match, .wildcardMatch, .braceMatch]
}

/// Reads a configuration and its includes and hands out logical lines, one at a time.
///
/// ```
///  file bytes ─▶ physical lines ─▶ decomment / `\` join ─▶ @id ─▶ $NAME= ─▶ ~SEQ/~LST
///      ─▶ $NAME substitution ─▶ include? ─▶ split at first `{`/`}` ─▶ ConfigLine
/// ```
final class ConfigReader {
    let fileSystem: any ConfigFileSystem
    let options: ConfigReaderOptions
    /// Problems found while reading.
    var diagnostics: [Diagnostic] = []
    /// The checks every include makes in addition to its own (global `include_check`).
    var includeChecks: IncludeChecks = []
    /// Every file opened, in order.
    private(set) var filesRead: [String] = []
    /// The location of the last line handed out (for end-of-file diagnostics).
    private(set) var lastLocation: SourceLocation

    var sources: [Source] = []
    var definitions: [String: Definition] = [:]
    var random: SplitMix64
    private var residue: (text: String, location: SourceLocation)?
    private var lookahead: ConfigLine?
    private var collecting: (name: String, location: SourceLocation)?
    private var spacesNoted: Set<String> = []

    init(fileSystem: any ConfigFileSystem, options: ConfigReaderOptions) {
        self.fileSystem = fileSystem
        self.options = options
        self.random = SplitMix64(seed: options.randomSeed)
        self.lastLocation = SourceLocation(file: "", line: 0)
    }

    /// A parameter definition: one line of text, or several for a multi-line (`\`) definition.
    struct Definition {
        var lines: [String]
        var multiline: Bool
    }

    /// Where lines come from; the top of `sources` is read first.
    enum Source {
        case file(FileFrame)
        case expansion(lines: [String], index: Int, location: SourceLocation)
        case sequence(SequenceFrame)
    }

    /// An open file, and the other files its glob matched that come after it.
    struct FileFrame {
        var path: String
        var lines: [String]
        var index: Int
        var queue: [String]
        var checks: IncludeChecks
        var savedIncludeChecks: IncludeChecks
    }

    func report(
        _ severity: DiagnosticSeverity, _ message: String, at location: SourceLocation,
        code: Diagnostic.Code = .general
    ) {
        diagnostics.append(Diagnostic(severity, message, at: location, code: code))
    }

    // MARK: - Public reading interface

    /// Opens the main configuration file (keepalived opens it as `includea` would: it must exist
    /// and be readable). Returns false, with a fatal diagnostic, when it cannot.
    @discardableResult
    func open(mainFile path: String) -> Bool {
        lastLocation = SourceLocation(file: path, line: 0)
        return openGlob(
            path, checks: [.readable, .match, .wildcardMatch], from: SourceLocation(file: path, line: 0), isMain: true)
    }

    /// The next logical line, or nil at the end of the configuration.
    func next() -> ConfigLine? {
        if let l = lookahead {
            lookahead = nil
            return l
        }
        let l = produce()
        if let l { lastLocation = l.location }
        return l
    }

    /// The next logical line without consuming it.
    func peek() -> ConfigLine? {
        if lookahead == nil { lookahead = produce() }
        if let l = lookahead { lastLocation = l.location }
        return lookahead
    }

    /// The directory of the file currently being read (keepalived's `${_PWD}`).
    var currentDirectory: String {
        for source in sources.reversed() {
            if case .file(let f) = source { return Self.directory(of: f.path) }
        }
        return "."
    }

    // MARK: - Producing lines

    private func produce() -> ConfigLine? {
        while true {
            let text: String
            let location: SourceLocation
            var continues = false
            if let r = residue {
                residue = nil
                (text, location) = (r.text, r.location)
            } else if let s = nextSourceLine() {
                (text, location, continues) = s
            } else {
                return nil
            }
            guard let processed = process(text, at: location, continues: continues) else { continue }
            let t = ConfigText.trimmed(processed)
            if t.isEmpty { continue }
            return split(t, at: location)
        }
    }

    /// Splits at the first unquoted brace: a line starting with a brace yields the brace alone;
    /// otherwise the text before the brace; the rest is read next.
    private func split(_ t: String, at location: SourceLocation) -> ConfigLine {
        if t.hasPrefix("{") || t.hasPrefix("}") {
            let rest = ConfigText.trimmed(t.dropFirst())
            if !rest.isEmpty { residue = (rest, location) }
            return makeLine(String(t.prefix(1)), at: location)
        }
        if let brace = ConfigText.firstUnquotedBrace(t) {
            residue = (String(t[brace...]), location)
            return makeLine(ConfigText.trimmed(t[..<brace]), at: location)
        }
        return makeLine(t, at: location)
    }

    private func makeLine(_ text: String, at location: SourceLocation) -> ConfigLine {
        let (words, unmatched) = ConfigText.words(text)
        if unmatched { report(.error, "unmatched quote in '\(text)'", at: location) }
        return ConfigLine(text: text, words: words, location: location)
    }

    /// Conditional lines, definitions, repetitions, substitution and includes. Returns the text
    /// to split into a line, or nil when the line was consumed.
    private func process(_ text: String, at location: SourceLocation, continues: Bool) -> String? {
        var line = text
        var rounds = 0
        while true {
            rounds += 1
            if rounds > 100 {
                report(.error, "parameter substitution does not terminate: '\(text)'", at: location)
                return nil
            }
            if line.hasPrefix("@") {
                guard let kept = conditional(line) else { return nil }
                line = kept
            }
            if line.hasPrefix("$"), define(line, at: location, continues: continues) { return nil }
            if line.hasPrefix("~SEQ") || line.hasPrefix("~LST") {
                addRepetition(line, at: location)
                return nil
            }
            if line.hasPrefix("~") { break }
            if line.contains("$") {
                guard let substituted = substitute(line, at: location), substituted != line else { break }
                line = substituted
                if line.hasPrefix("@") || line.hasPrefix("~") || line.hasPrefix("$") { continue }
            }
            break
        }
        if include(line, at: location) { return nil }
        return line
    }

    /// `@id rest` keeps `rest` only when `id` is the config-id; `@^id rest` only when it is not.
    private func conditional(_ line: String) -> String? {
        let negated = line.hasPrefix("@^")
        let body = line.dropFirst(negated ? 2 : 1)
        guard let space = body.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let id = String(body[..<space])
        let matches = options.configID.map { $0 == id } ?? false
        guard matches != negated else { return nil }
        return ConfigText.trimmed(body[space...])
    }

    // MARK: - Files

    /// The next line from the top source: a decommented (and `\`-joined) file line, a line of a
    /// multi-line parameter, or the next repetition of a `~SEQ` / `~LST`.
    private func nextSourceLine() -> (String, SourceLocation, Bool)? {
        while let top = sources.last {
            switch top {
            case .expansion(let lines, let index, let location):
                if index >= lines.count {
                    sources.removeLast()
                    continue
                }
                sources[sources.count - 1] = .expansion(lines: lines, index: index + 1, location: location)
                return (lines[index], location, false)
            case .sequence(var frame):
                guard let text = nextRepetition(&frame) else {
                    sources.removeLast()
                    continue
                }
                sources[sources.count - 1] = .sequence(frame)
                return (text, frame.location, false)
            case .file(var frame):
                if let line = nextFileLine(&frame) {
                    sources[sources.count - 1] = .file(frame)
                    return line
                }
                sources.removeLast()
                endCollecting()
                includeChecks = frame.savedIncludeChecks
                if let nextPath = frame.queue.first {
                    var rest = frame
                    rest.queue.removeFirst()
                    openFile(nextPath, queue: rest.queue, checks: frame.checks, saved: frame.savedIncludeChecks)
                }
            }
        }
        endCollecting()
        return nil
    }

    private func nextFileLine(_ frame: inout FileFrame) -> (String, SourceLocation, Bool)? {
        while frame.index < frame.lines.count {
            let lineNumber = frame.index + 1
            let location = SourceLocation(file: frame.path, line: lineNumber)
            let raw = physicalLine(&frame)
            if ConfigText.trimmed(raw).isEmpty {
                endCollecting()
                continue
            }
            let d = ConfigText.decommentLine(raw)
            if d.unterminatedQuote { report(.error, "unterminated quote in '\(d.text)'", at: location) }
            if collecting != nil {
                appendToDefinition(d.text)
                if !d.continues { endCollecting() }
                continue
            }
            if d.text.isEmpty && !d.continues { continue }
            if d.continues && Self.looksLikeDefinition(d.text) { return (d.text, location, true) }
            var text = d.text
            var continues = d.continues
            while continues && frame.index < frame.lines.count {
                let next = ConfigText.decommentLine(physicalLine(&frame))
                if !next.text.isEmpty { text += text.isEmpty ? next.text : " " + next.text }
                continues = next.continues
            }
            if text.isEmpty { continue }
            return (text, location, false)
        }
        return nil
    }

    /// Takes the next physical line of a file, with foreign spaces made ASCII (noted once a file).
    private func physicalLine(_ frame: inout FileFrame) -> String {
        let (line, changed) = ConfigText.normaliseSpaces(frame.lines[frame.index])
        frame.index += 1
        if changed && !spacesNoted.contains(frame.path) {
            spacesNoted.insert(frame.path)
            report(
                .note, "non-ASCII space characters (such as U+00A0 or U+3000) read as spaces",
                at: SourceLocation(file: frame.path, line: frame.index))
        }
        return line
    }

    private static func looksLikeDefinition(_ text: String) -> Bool {
        var t = Substring(text)
        while t.hasPrefix("@"), let space = t.firstIndex(where: { $0 == " " || $0 == "\t" }) {
            t = t[space...].drop(while: { $0 == " " || $0 == "\t" })
        }
        return t.hasPrefix("$") && t.contains("=")
    }

    /// `include`, `includer`, `includem`, `includew`, `includeb`, `includea` followed by a glob.
    private func include(_ line: String, at location: SourceLocation) -> Bool {
        guard line.hasPrefix("include") else { return false }
        let afterKeyword = line.dropFirst(7)
        var checks: IncludeChecks = []
        var rest = afterKeyword
        guard let first = afterKeyword.first else {
            report(.error, "include is missing a file name", at: location)
            return true
        }
        if first == " " || first == "\t" {
            checks = []
        } else {
            guard afterKeyword.count > 1,
                afterKeyword.dropFirst().first == " " || afterKeyword.dropFirst().first == "\t"
            else { return false }
            switch first {
            case "r": checks = .readable
            case "m": checks = [.readable, .match]
            case "w": checks = [.readable, .match, .wildcardMatch]
            case "b": checks = [.readable, .braceMatch]
            case "a": checks = .all
            default: return false
            }
            rest = afterKeyword.dropFirst()
        }
        var pattern = ConfigText.trimmed(rest)
        if pattern.count >= 2 && pattern.hasPrefix("\"") && pattern.hasSuffix("\"") {
            pattern = String(pattern.dropFirst().dropLast())
        }
        if pattern.isEmpty {
            report(.error, "include is missing a file name", at: location)
            return true
        }
        let base = Self.directory(of: location.file)
        let full = pattern.hasPrefix("/") || base == "." ? pattern : base + "/" + pattern
        openGlob(full, checks: checks.union(includeChecks), from: location, isMain: false)
        return true
    }

    /// Expands a glob (braces first, then wildcards) and opens the first match; the others are
    /// queued behind it. Problems are fatal when the matching check is on, else notes.
    @discardableResult
    private func openGlob(_ pattern: String, checks: IncludeChecks, from location: SourceLocation, isMain: Bool)
        -> Bool
    {
        func problem(_ check: IncludeChecks, _ message: String, code: Diagnostic.Code = .general) {
            report(checks.contains(check) ? .fatal : .note, message, at: location, code: code)
        }
        func subject(_ path: String) -> String { isMain && path == pattern ? "" : "include '\(path)': " }
        if sources.count > 64 {
            report(.fatal, "includes nested too deeply at '\(pattern)'", at: location)
            return false
        }
        var matches: [String] = []
        let alternatives = GlobPattern.expandBraces(pattern)
        for alternative in alternatives {
            let found = fileSystem.expandWildcards(alternative)
            if found.isEmpty && alternatives.count > 1 {
                problem(.braceMatch, "\(subject(pattern))no file matches '\(alternative)'")
            }
            matches.append(contentsOf: found)
        }
        if matches.isEmpty {
            if GlobPattern.hasWildcards(pattern) {
                problem(.wildcardMatch, "\(subject(pattern))no files match")
            } else if alternatives.count == 1 {
                problem(.match, "\(subject(pattern))No such file or directory", code: .missingInclude)
            }
            return false
        }
        var usable: [String] = []
        for path in matches {
            switch fileSystem.kind(of: path) {
            case .regularFile(executable: false): usable.append(path)
            case .directory: problem(.readable, "\(subject(path))is a directory - skipping")
            case .regularFile(executable: true), .other:
                problem(.readable, "\(subject(path))not a regular non-executable file - skipping")
            case nil: problem(.readable, "\(subject(path))No such file or directory")
            }
        }
        guard let first = usable.first else { return false }
        let openPaths: [String] = sources.compactMap {
            if case .file(let f) = $0 { return f.path }
            return nil
        }
        if let loop = usable.first(where: openPaths.contains) {
            report(.error, "include loop: '\(loop)' is already being read - skipping", at: location)
            return false
        }
        let saved = includeChecks
        return openFile(first, queue: Array(usable.dropFirst()), checks: checks, saved: saved, from: location)
    }

    @discardableResult
    private func openFile(
        _ path: String, queue: [String], checks: IncludeChecks, saved: IncludeChecks,
        from location: SourceLocation? = nil
    ) -> Bool {
        do {
            let bytes = try fileSystem.contents(of: path)
            filesRead.append(path)
            let frame = FileFrame(
                path: path, lines: Self.physicalLines(bytes), index: 0, queue: queue, checks: checks,
                savedIncludeChecks: saved)
            sources.append(.file(frame))
            return true
        } catch {
            let at = location ?? SourceLocation(file: path, line: 0)
            let what = location == nil || at.file == path ? "" : "include '\(path)': "
            report(checks.contains(.readable) ? .fatal : .note, "\(what)\(error.message)", at: at)
            if let next = queue.first {
                return openFile(next, queue: Array(queue.dropFirst()), checks: checks, saved: saved, from: location)
            }
            return false
        }
    }

    /// Splits file bytes into lines (LF; a CR before it is dropped), decoding UTF-8 leniently.
    static func physicalLines(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            var end = i
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(String(decoding: bytes[start..<end], as: UTF8.self))
            start = i + 1
        }
        if start < bytes.count {
            var end = bytes.count
            if bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(String(decoding: bytes[start..<end], as: UTF8.self))
        }
        return lines
    }

    /// The directory part of a path (`.` when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    // MARK: - Multi-line definitions

    func startCollecting(_ name: String, at location: SourceLocation) {
        collecting = (name, location)
    }

    private func appendToDefinition(_ text: String) {
        guard let c = collecting, !text.isEmpty else { return }
        definitions[c.name, default: Definition(lines: [], multiline: true)].lines.append(text)
    }

    private func endCollecting() {
        guard let c = collecting else { return }
        collecting = nil
        if definitions[c.name]?.lines.isEmpty ?? true {
            definitions[c.name] = Definition(lines: [""], multiline: false)
        }
    }
}

/// A small, seedable random number generator for `${_RANDOM}` (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
