// lvsd's command line: keepalived's flags (getopt_long rules) plus --control, --interface, --http,
// --data-plane and --workers.
import LVSDataPlane
import LVSStatus

/// The options lvsd was started with.
public struct DaemonOptions: Hashable, Sendable {
    /// `-f/--use-file FILE`: the keepalived configuration.
    public var configurationFile: String?
    /// `-n/--dont-fork`.
    public var dontFork = false
    /// `-l/--log-console`: log to stderr instead of syslog.
    public var logConsole = false
    /// `-D/--log-detail`: detailed (debug) log messages.
    public var logDetail = false
    /// `-S/--log-facility 0-7`: syslog facility LOG_LOCAL0…7 (default LOG_DAEMON).
    public var logFacility: Int?
    /// `-t/--config-test[=FILE]`: check the configuration and exit; FILE receives the report.
    public var configTest = false
    public var configTestLogFile: String?
    /// `-p/--pid FILE`.
    public var pidFile: String?
    /// `-i/--config-id ID`: keep `@ID` configuration lines, drop other `@` lines.
    public var configID: String?
    /// `--control PATH|@NAME`: the control endpoint (else `LVSD_CONTROL`, else `@swiftlvs-lvsd`).
    public var control: String?
    /// `--interface IF` (repeatable): attach to these interfaces only (data plane, later).
    public var interfaces: [String] = []
    /// `--http ADDR:PORT|off`: the HTTP listener (metrics, API, dashboard); nil when off.
    public var http: HTTPBindAddress? = .default
    /// `--http-allow-remote`: `--http` may bind a non-loopback address.
    public var httpAllowRemote = false
    /// `--http` as given (checked once every flag is read).
    var httpValue: String?
    /// `--data-plane auto|xdp|af-packet` (default auto).
    public var dataPlane = DataPlaneMode.auto
    /// `--workers N`: packet workers (nil: one per CPU lvsd may run on).
    public var workers: Int?
    public var showHelp = false
    public var showVersion = false

    public init() {}
}

/// A command-line error, printed as `lvsd: <message>`.
public struct DaemonOptionsError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension DaemonOptions {
    enum Arg: Sendable { case none, required, optional }

    struct Spec: Sendable {
        var long: String
        var short: Character?
        var arg: Arg
        var apply: @Sendable (inout DaemonOptions, String?) throws(DaemonOptionsError) -> Void
    }

    static let specs: [Spec] = [
        Spec(long: "use-file", short: "f", arg: .required) { o, v throws(DaemonOptionsError) in o.configurationFile = v
        },
        Spec(long: "dont-fork", short: "n", arg: .none) { o, _ throws(DaemonOptionsError) in o.dontFork = true },
        Spec(long: "log-console", short: "l", arg: .none) { o, _ throws(DaemonOptionsError) in o.logConsole = true },
        Spec(long: "log-detail", short: "D", arg: .none) { o, _ throws(DaemonOptionsError) in o.logDetail = true },
        Spec(long: "log-facility", short: "S", arg: .required) { o, v throws(DaemonOptionsError) in
            guard let v, let n = Int(v), (0...7).contains(n) else {
                throw DaemonOptionsError(message: "invalid log facility '\(v ?? "")' (expected 0-7)")
            }
            o.logFacility = n
        },
        Spec(long: "config-test", short: "t", arg: .optional) { o, v throws(DaemonOptionsError) in
            o.configTest = true
            o.configTestLogFile = v
        },
        Spec(long: "pid", short: "p", arg: .required) { o, v throws(DaemonOptionsError) in o.pidFile = v },
        Spec(long: "config-id", short: "i", arg: .required) { o, v throws(DaemonOptionsError) in o.configID = v },
        Spec(long: "control", short: nil, arg: .required) { o, v throws(DaemonOptionsError) in o.control = v },
        Spec(long: "interface", short: nil, arg: .required) { o, v throws(DaemonOptionsError) in
            o.interfaces.append(v ?? "")
        },
        Spec(long: "http", short: nil, arg: .required) { o, v throws(DaemonOptionsError) in o.httpValue = v },
        Spec(long: "http-allow-remote", short: nil, arg: .none) { o, _ throws(DaemonOptionsError) in
            o.httpAllowRemote = true
        },
        Spec(long: "data-plane", short: nil, arg: .required) { o, v throws(DaemonOptionsError) in
            guard let v, let m = DataPlaneMode(rawValue: v) else {
                throw DaemonOptionsError(message: "invalid data plane '\(v ?? "")' (expected auto, xdp or af-packet)")
            }
            o.dataPlane = m
        },
        Spec(long: "workers", short: nil, arg: .required) { o, v throws(DaemonOptionsError) in
            guard let v, let n = Int(v), (1...256).contains(n) else {
                throw DaemonOptionsError(message: "invalid number of workers '\(v ?? "")' (expected 1-256)")
            }
            o.workers = n
        },
        Spec(long: "help", short: "h", arg: .none) { o, _ throws(DaemonOptionsError) in o.showHelp = true },
        Spec(long: "version", short: "v", arg: .none) { o, _ throws(DaemonOptionsError) in o.showVersion = true },
    ]

    /// Parses arguments (without argv[0]) with getopt_long's rules: `-nlD` clusters, `-fFILE`
    /// or `-f FILE`, `--use-file=FILE` or `--use-file FILE`, unambiguous long-name prefixes,
    /// optional arguments only attached (`-tFILE`, `--config-test=FILE`), `--` ends options.
    public static func parse(_ arguments: [String]) throws(DaemonOptionsError) -> DaemonOptions {
        var o = DaemonOptions()
        var i = 0
        var operands: [String] = []
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if a == "--" {
                operands.append(contentsOf: arguments[i...])
                break
            }
            if a.hasPrefix("--") {
                let body = a.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                let value: String? =
                    body.contains("=") ? String(body[body.index(after: body.firstIndex(of: "=")!)...]) : nil
                let matches = specs.filter { $0.long.hasPrefix(name) }
                let spec: Spec
                if let exact = matches.first(where: { $0.long == name }) {
                    spec = exact
                } else if matches.count == 1 {
                    spec = matches[0]
                } else if matches.isEmpty {
                    throw DaemonOptionsError(message: "unrecognized option '\(a)'")
                } else {
                    throw DaemonOptionsError(message: "option '\(a)' is ambiguous")
                }
                switch spec.arg {
                case .none:
                    if value != nil {
                        throw DaemonOptionsError(message: "option '--\(spec.long)' doesn't allow an argument")
                    }
                    try spec.apply(&o, nil)
                case .optional:
                    try spec.apply(&o, value)
                case .required:
                    if let value {
                        try spec.apply(&o, value)
                    } else if i < arguments.count {
                        try spec.apply(&o, arguments[i])
                        i += 1
                    } else {
                        throw DaemonOptionsError(message: "option '--\(spec.long)' requires an argument")
                    }
                }
            } else if a.hasPrefix("-") && a.count > 1 {
                var chars = Array(a.dropFirst())
                while !chars.isEmpty {
                    let c = chars.removeFirst()
                    guard let spec = specs.first(where: { $0.short == c }) else {
                        throw DaemonOptionsError(message: "invalid option -- '\(c)'")
                    }
                    switch spec.arg {
                    case .none:
                        try spec.apply(&o, nil)
                    case .optional:
                        try spec.apply(&o, chars.isEmpty ? nil : String(chars))
                        chars.removeAll()
                    case .required:
                        if !chars.isEmpty {
                            try spec.apply(&o, String(chars))
                            chars.removeAll()
                        } else if i < arguments.count {
                            try spec.apply(&o, arguments[i])
                            i += 1
                        } else {
                            throw DaemonOptionsError(message: "option requires an argument -- '\(c)'")
                        }
                    }
                }
            } else {
                operands.append(a)
            }
        }
        if !operands.isEmpty {
            throw DaemonOptionsError(message: "unexpected argument(s): \(operands.joined(separator: " "))")
        }
        do throws(HTTPBindAddressError) {
            o.http = try HTTPBindAddress.check(
                o.httpValue ?? HTTPBindAddress.default.description, allowRemote: o.httpAllowRemote)
        } catch {
            throw DaemonOptionsError(message: error.message)
        }
        return o
    }

    /// `lvsd --help`.
    public static let help = """
        Usage: lvsd [OPTION...]
          -f, --use-file=FILE          Use the specified keepalived configuration file
          -n, --dont-fork              Don't fork the daemon process
          -l, --log-console            Log messages to the console (stderr), syslog style
          -D, --log-detail             Detailed log messages
          -S, --log-facility=[0-7]     Set syslog facility to LOG_LOCAL[0-7]
          -t, --config-test[=LOG_FILE] Check the configuration for obvious errors
          -p, --pid=FILE               Use the specified pid file
          -i, --config-id ID           Skip configuration lines beginning '@' that don't match ID
              --control=PATH|@NAME     Control endpoint (default: $LVSD_CONTROL, else @swiftlvs-lvsd)
              --interface=IF           Attach to IF only (repeatable; default: every non-loopback interface)
              --http=ADDR:PORT|off     HTTP listener: /metrics, /api/v1/, dashboard at / (default: 127.0.0.1:9110)
              --http-allow-remote      Let --http bind a non-loopback address (the listener has no authentication)
              --data-plane=MODE        auto (default): XDP where the driver has it, AF_PACKET + nftables guard
                                       elsewhere; xdp: XDP on every interface or do not start; af-packet: no XDP
              --workers=N              Packet workers (default: one per CPU lvsd may run on)
          -v, --version                Display the version number
          -h, --help                   Display this help message

        lvsd is the SwiftLVS director: the IPVS table of its network namespace, managed with ipvsadm.

        """

    /// `lvsd --version`.
    public static let version = "lvsd (SwiftLVS) 0.1 — IPVS 1.2.1 in user space\n"
}
