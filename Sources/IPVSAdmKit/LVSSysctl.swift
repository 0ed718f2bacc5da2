// lvs-sysctl: procps sysctl's command line for the running lvsd's net.ipv4.vs.* knobs.
import LVSControl
import LVSCore

/// The files lvs-sysctl reads besides lvsd: `-p` files, and `/proc/sys` for keys that are not
/// lvsd's (so a whole sysctl.conf applies). A fake in tests.
public protocol SysctlFiles: AnyObject {
    /// The text of a file (`-p FILE`; "-" is standard input), or the errno.
    func readText(_ path: String) -> Result<String, SysctlErrno>
    /// A `/proc/sys` value, or the errno.
    func readProc(_ path: String) -> Result<String, SysctlErrno>
    /// Writes a `/proc/sys` value; the errno on failure.
    func writeProc(_ path: String, _ value: String) -> SysctlErrno?
}

/// An errno and its strerror text.
public struct SysctlErrno: Error, Hashable, Sendable {
    public var code: Int32
    public var text: String
    public init(_ code: Int32, _ text: String) {
        self.code = code
        self.text = text
    }
    public static let noEntry = SysctlErrno(2, "No such file or directory")
    public static let invalid = SysctlErrno(22, "Invalid argument")
    public static let permission = SysctlErrno(1, "Operation not permitted")
}

/// One run of `lvs-sysctl`, with procps-ng sysctl's options, messages and exit codes.
///
/// ```
///  lvs-sysctl net.ipv4.vs.sloppy_tcp          read      ─┐ net.ipv4.vs.* → lvsd (get/set knob)
///  lvs-sysctl -w net.ipv4.vs.drop_entry=1     write     ─┤ anything else → /proc/sys, as sysctl
///  lvs-sysctl -a | -p [FILE…] | -n -e -q -N             ─┘
/// ```
public final class LVSSysctl {
    let program: String
    let backend: any IPVSAdmBackend
    let files: any SysctlFiles
    let output: any IPVSAdmOutput
    var knobCache: [String: String]?

    var valuesOnly = false
    var namesOnly = false
    var ignoreUnknown = false
    var quiet = false
    var writeMode = false

    public init(
        program: String = "lvs-sysctl", backend: any IPVSAdmBackend, files: any SysctlFiles,
        output: any IPVSAdmOutput
    ) {
        self.program = program
        self.backend = backend
        self.files = files
        self.output = output
    }

    static let prefix = IPVS.knobPrefix

    /// Runs with `arguments` (without the program name); returns the exit status.
    public func run(_ arguments: [String]) -> Int32 {
        var all = false
        var load = false
        var loadFiles: [String] = []
        var names: [String] = []
        var i = 0
        var optionsDone = false
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if optionsDone || !a.hasPrefix("-") || a == "-" {
                names.append(a)
                continue
            }
            if a == "--" {
                optionsDone = true
                continue
            }
            if a.hasPrefix("--") {
                switch a {
                case "--all": all = true
                case "--values": valuesOnly = true
                case "--names": namesOnly = true
                case "--ignore": ignoreUnknown = true
                case "--quiet": quiet = true
                case "--write": writeMode = true
                case "--load": load = true
                case "--help":
                    usage(toError: false)
                    return 0
                case "--version":
                    output.writeOut(Array("\(program) from SwiftLVS (procps-ng sysctl's syntax)\n".utf8))
                    return 0
                default:
                    if a.hasPrefix("--load=") {
                        load = true
                        loadFiles.append(String(a.dropFirst("--load=".count)))
                    } else {
                        return badOption(a)
                    }
                }
                continue
            }
            var flags = Substring(a.dropFirst())
            while let f = flags.first {
                flags = flags.dropFirst()
                switch f {
                case "a", "A", "X": all = true
                case "n": valuesOnly = true
                case "N": namesOnly = true
                case "e": ignoreUnknown = true
                case "q": quiet = true
                case "w": writeMode = true
                case "o", "x": break
                case "p", "f":
                    load = true
                    if !flags.isEmpty {
                        loadFiles.append(String(flags))
                        flags = ""
                    }
                case "h", "d":
                    usage(toError: false)
                    return 0
                case "V":
                    output.writeOut(Array("\(program) from SwiftLVS (procps-ng sysctl's syntax)\n".utf8))
                    return 0
                default: return badOption("-\(f)")
                }
            }
        }

        if load {
            let targets = loadFiles + names
            var rc: Int32 = 0
            for f in targets.isEmpty ? ["/etc/sysctl.conf"] : targets where preload(f) != 0 { rc = 1 }
            return rc
        }
        if all { return displayAll() }
        if names.isEmpty {
            output.writeErr(
                Array("\(program): no variables specified\nTry `\(program) --help' for more information.\n".utf8))
            return 1
        }
        var rc: Int32 = 0
        for n in names {
            if writeMode || n.contains("=") {
                guard let eq = n.firstIndex(of: "=") else {
                    warn("command line(0): invalid syntax, continuing...")
                    rc += 1
                    continue
                }
                rc += write(String(n[..<eq]), String(n[n.index(after: eq)...]), ignoreErrors: false)
            } else {
                rc += read(n)
            }
        }
        return rc
    }

    // MARK: reading and writing one key

    /// `net/ipv4/vs/x` → `net.ipv4.vs.x`, surrounding blanks removed.
    static func normalize(_ key: String) -> String {
        String(key.trimmingBlanks.map { $0 == "/" ? "." : $0 })
    }

    func isLVSKey(_ key: String) -> Bool { key.hasPrefix(Self.prefix) && key.count > Self.prefix.count }

    func procPath(_ key: String) -> String { "/proc/sys/" + key.replacingDots }

    func read(_ raw: String) -> Int32 {
        let key = Self.normalize(raw)
        let value: String
        if isLVSKey(key) {
            guard let knobs = lvsdKnobs() else { return 1 }
            guard let v = knobs[String(key.dropFirst(Self.prefix.count))] else {
                if ignoreUnknown { return 0 }
                warn("cannot stat \(procPath(key)): No such file or directory")
                return 1
            }
            value = v
        } else {
            switch files.readProc(procPath(key)) {
            case .success(let v): value = v.hasSuffix("\n") ? String(v.dropLast()) : v
            case .failure(let e):
                if e == .noEntry && ignoreUnknown { return 0 }
                warn(e == .noEntry ? "cannot stat \(procPath(key)): \(e.text)" : "reading key \"\(key)\": \(e.text)")
                return 1
            }
        }
        show(key, value)
        return 0
    }

    func show(_ key: String, _ value: String) {
        let line: String
        if namesOnly {
            line = key
        } else if valuesOnly {
            line = value
        } else {
            line = "\(key) = \(value)"
        }
        output.writeOut(Array((line + "\n").utf8))
    }

    /// Writes one key; `ignoreErrors` (a `-` line of a `-p` file) reports nothing and fails nothing.
    func write(_ rawKey: String, _ rawValue: String, ignoreErrors: Bool) -> Int32 {
        let key = Self.normalize(rawKey)
        let value = String(rawValue.trimmingBlanks)
        guard !key.isEmpty else {
            if ignoreErrors { return 0 }
            warn("Path is not under /proc/sys/: /proc/sys/")
            return 1
        }
        if isLVSKey(key) {
            let name = String(key.dropFirst(Self.prefix.count))
            let result: ControlResult
            do {
                result = try backend.perform([.setKnob(name: name, value: value)])[0]
            } catch {
                if ignoreErrors { return 0 }
                warn(error.message)
                return 1
            }
            if case .failure(let e) = result {
                if ignoreErrors { return 0 }
                switch e.code {
                case .noSuchKnob:
                    if ignoreUnknown { return 0 }
                    warn("cannot stat \(procPath(key)): No such file or directory")
                case .permissionDenied: warn("permission denied on key \"\(key)\"")
                default: warn("setting key \"\(key)\": Invalid argument")
                }
                return 1
            }
            knobCache = nil
        } else {
            if let e = files.writeProc(procPath(key), value) {
                if ignoreErrors { return 0 }
                if e == .noEntry {
                    if ignoreUnknown { return 0 }
                    warn("cannot stat \(procPath(key)): \(e.text)")
                } else if e.code == 1 || e.code == 13 {
                    warn("permission denied on key \"\(key)\"")
                } else {
                    warn("setting key \"\(key)\": \(e.text)")
                }
                return 1
            }
        }
        if !quiet { show(key, value) }
        return 0
    }

    // MARK: -a and -p

    func displayAll() -> Int32 {
        guard let knobs = lvsdKnobs() else { return 1 }
        for name in knobs.keys.sorted() { show(Self.prefix + name, knobs[name]!) }
        return 0
    }

    /// `-p FILE`: `name = value` lines; `#` and `;` start comments, blank lines are skipped, a
    /// leading `-` ignores the line's failure (sysctl.conf(5)).
    func preload(_ path: String) -> Int32 {
        let text: String
        switch files.readText(path) {
        case .success(let t): text = t
        case .failure(let e):
            warn("cannot open \"\(path)\": \(e.text)")
            return 1
        }
        var rc: Int32 = 0
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingBlanks
            if line.isEmpty || line.first == "#" || line.first == ";" { continue }
            var ignore = false
            if line.first == "-" {
                ignore = true
                line = line.dropFirst().trimmingBlanks
            }
            guard let eq = line.firstIndex(of: "=") else {
                warn("\(path)(\(n + 1)): invalid syntax, continuing...")
                rc = 1
                continue
            }
            let key = line[..<eq].trimmingBlanks
            if key.isEmpty {
                warn("\(path)(\(n + 1)): invalid syntax, continuing...")
                rc = 1
                continue
            }
            if write(String(key), String(line[line.index(after: eq)...]), ignoreErrors: ignore) != 0 { rc = 1 }
        }
        return rc
    }

    // MARK: lvsd

    /// Every knob lvsd has (asked once per run), or nil after warning why lvsd could not say.
    func lvsdKnobs() -> [String: String]? {
        if let k = knobCache { return k }
        let result: ControlResult
        do {
            result = try backend.perform([.getKnobs])[0]
        } catch {
            warn(error.message)
            return nil
        }
        guard case .knobs(let list) = result else {
            warn("lvsd sent no knobs")
            return nil
        }
        var out: [String: String] = [:]
        for k in list { out[k.name] = k.value }
        knobCache = out
        return out
    }

    // MARK: messages

    func warn(_ text: String) { output.writeErr(Array("\(program): \(text)\n".utf8)) }

    func badOption(_ option: String) -> Int32 {
        warn("invalid option -- '\(option.drop { $0 == "-" })'")
        usage(toError: true)
        return 1
    }

    func usage(toError: Bool) {
        let text = """

            Usage:
             \(program) [options] [variable[=value] ...]

            Reads and writes the IPVS knobs (net.ipv4.vs.*) of the lvsd running in this network
            namespace; other keys go to /proc/sys as with sysctl.

            Options:
              -a, --all            display all of lvsd's variables
              -A, -X               alias of -a
              -e, --ignore         ignore unknown variables errors
              -N, --names          print variable names without values
              -n, --values         print only values of the given variable(s)
              -p, --load[=<file>]  read values from file (default /etc/sysctl.conf)
              -f                   alias of -p
              -q, --quiet          do not echo variable set
              -w, --write          enable writing a value to variable
              -o, -x               do nothing
              -h, --help           display this help and exit
              -V, --version        output version information and exit


            """
        if toError { output.writeErr(Array(text.utf8)) } else { output.writeOut(Array(text.utf8)) }
    }
}

extension StringProtocol {
    fileprivate var trimmingBlanks: SubSequence {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }

    fileprivate var replacingDots: String { String(map { $0 == "." ? "/" : $0 }) }
}
