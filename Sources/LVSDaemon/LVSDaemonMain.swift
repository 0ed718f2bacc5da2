// lvsd's process lifecycle: flags, pid file, control socket, fork, service group, clean exit.
import Dispatch
import Glibc
import KeepalivedConfig
import LVSControl
import LVSStatus
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `lvsd -t`: checks a keepalived configuration without running it.
public protocol ConfigurationTester: Sendable {
    /// Checks `file`; returns one `file:line: problem` line per problem and keepalived's `-t`
    /// exit code (0 clean, 3 cannot run, 4 errors, 5 script security).
    func test(file: String, configID: String?) -> (report: [String], exitCode: Int32)
}

/// `lvsd -f`: runs a keepalived configuration (the director's table, checkers, VRRP).
public protocol DaemonConfigurationLoader: Sendable {
    /// Loads `file` into the director at start; throws a `file:line: problem` message.
    func load(file: String, configID: String?, director: Director, logger: Logger) throws
}

/// `-t` with the KeepalivedConfig module: keepalived's checks, diagnostics and exit codes.
public struct KeepalivedConfigurationTester: ConfigurationTester {
    let environment: [String: String]

    public init(environment: [String: String]) { self.environment = environment }

    public func test(file: String, configID: String?) -> (report: [String], exitCode: Int32) {
        let options = ConfigReaderOptions(
            configID: configID ?? LocalConfigFileSystem.shortHostName(), environment: environment)
        let result = KeepalivedConfigLoader.check(file: file, options: options)
        return (result.diagnostics.map(\.description), result.exitCode.rawValue)
    }
}

/// What lvsd's main program plugs into the lifecycle: configuration test and loading, reload,
/// the data plane and further services (tests plug in fakes).
public struct LVSDaemonHooks: Sendable {
    /// `-t`: the configuration check (keepalived's, from the KeepalivedConfig module).
    public var configurationTester: (any ConfigurationTester)?
    /// `-f`: loading a keepalived.conf (lvsd: `KeepalivedDaemonSupport`); nil refuses `-f`.
    public var configuration: (any DaemonConfigurationLoader)?
    /// What SIGHUP does.
    public var reload: any ReloadHandler = NoConfigurationReload()
    /// Further services for the service group (data plane, health checkers, VRRP), built once
    /// the director exists. They run until SIGTERM/SIGINT and must shut down gracefully.
    public var additionalServices: [@Sendable (Director, Logger) -> any Service] = []
    /// The packet path (`DataPlaneService.make`), built with the parsed options; nil runs the
    /// control endpoint only.
    public var dataPlane: (@Sendable (Director, DaemonOptions, Logger) -> any Service)?
    /// Called once the director exists, before the configuration loads (connection sync attaches).
    public var directorCreated: (@Sendable (Director) -> Void)?
    /// Where `--http` reads lvsd's state (`DirectorStatusSource`); nil: no HTTP listener.
    public var status: (@Sendable (Director) -> any StatusSource)?
    /// The data plane once started: systemd's READY=1 waits for it.
    public var dataPlaneStatus: DataPlaneStatusBox?

    public init() {}
}

/// `lvsd`'s main program.
public enum LVSDaemonMain {
    /// Runs lvsd and returns its exit status. Must be called on the main thread before any other
    /// thread exists (lvsd forks unless `-n`).
    public static func run(
        arguments: [String], environment: [String: String], hooks: LVSDaemonHooks = .init(),
        makeModel: () -> any IPVSControlTarget
    ) -> Int32 {
        let options: DaemonOptions
        do {
            options = try DaemonOptions.parse(arguments)
        } catch {
            printErr("lvsd: \(error.message)\nTry 'lvsd --help' for more information.\n")
            return 1
        }
        if options.showHelp {
            printOut(DaemonOptions.help)
            return 0
        }
        if options.showVersion {
            printOut(DaemonOptions.version)
            return 0
        }
        if options.configTest {
            return configTest(options, hooks)
        }
        if let file = options.configurationFile, hooks.configuration == nil {
            printErr(
                "lvsd: -f \(file): running a keepalived configuration is not implemented yet "
                    + "(`lvsd -t -f \(file)` checks it; without -f lvsd starts with an empty table that ipvsadm fills)\n"
            )
            return 1
        }
        let endpoint: ControlEndpoint
        do {
            endpoint = try ControlEndpoint.resolve(override: options.control, environment: environment)
        } catch {
            printErr("lvsd: \(error)\n")
            return 1
        }
        if let pidFile = options.pidFile, let running = PidFile.runningProcess(in: pidFile) {
            printErr("lvsd: already running (pid \(running), pid file \(pidFile))\n")
            return 1
        }

        // Before any thread exists: every thread inherits these signals blocked, so they reach
        // the service group's signal sources (signalfd) instead of killing the process. Anything
        // lvsd spawns later (notify scripts, checkers) must unblock them in the child
        // (posix_spawnattr_setsigmask), or the child would ignore SIGTERM.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)

        let level: Logger.Level = options.logDetail ? .debug : .info
        if options.logConsole {
            LoggingSystem.bootstrap { _ in ConsoleSyslogLogHandler(level: level) }
        } else {
            SyslogLogHandler.open(facility: options.logFacility)
            LoggingSystem.bootstrap { _ in SyslogLogHandler(level: level) }
        }
        let logger = Logger(label: "lvsd")

        let director = Director(model: makeModel())
        hooks.directorCreated?(director)
        if let file = options.configurationFile, let configuration = hooks.configuration {
            do {
                try configuration.load(file: file, configID: options.configID, director: director, logger: logger)
            } catch {
                printErr("lvsd: \(error)\n")
                return 1
            }
        }
        let server = ControlServer(endpoint: endpoint, handler: director, logger: logger)
        do {
            try server.bind()
        } catch {
            printErr("lvsd: \(error.message)\n")
            return 1
        }
        // Bound in the foreground too: a port in use is one line and exit 1, nothing started.
        let (httpBound, httpSocket) = bindHTTP(options, hooks)
        guard httpBound else { return 1 }

        if !options.dontFork {
            let pid = fork()
            if pid < 0 {
                printErr("lvsd: fork: \(String(cString: strerror(errno)))\n")
                return 1
            }
            if pid > 0 {
                // The parent: the child is the daemon; its control socket already listens.
                if let pidFile = options.pidFile { PidFile.write(pid, to: pidFile) }
                return 0
            }
            setsid()
            chdir("/")
            let null = open("/dev/null", O_RDWR)
            if null >= 0 {
                dup2(null, 0)
                dup2(null, 1)
                if !options.logConsole { dup2(null, 2) }
                if null > 2 { close(null) }
            }
        } else if let pidFile = options.pidFile {
            PidFile.write(getpid(), to: pidFile)
        }

        logger.info(
            "lvsd starting",
            metadata: [
                "pid": "\(getpid())", "control": "\(endpoint)",
                "interfaces": "\(options.interfaces.isEmpty ? "all" : options.interfaces.joined(separator: ","))",
            ])
        var services: [any Service] = [ControlServerService(server: server)]
        let (httpStarted, httpService) = startHTTP(httpSocket, hooks: hooks, director: director, logger: logger)
        guard httpStarted else {
            server.shutdown()
            return 1
        }
        if let httpService { services.append(httpService) }
        if let makeDataPlane = hooks.dataPlane { services.append(makeDataPlane(director, options, logger)) }
        for make in hooks.additionalServices { services.append(make(director, logger)) }
        let systemd = SystemdNotifier(environment: environment)
        services.append(
            ReloadService(
                handler: systemd.map { SystemdNotifyingReload(inner: hooks.reload, notifier: $0) } ?? hooks.reload,
                logger: logger))
        // Last: shut down first, so STOPPING=1 goes out as shutdown begins.
        if let systemd {
            services.append(SystemdNotifyService(notifier: systemd, dataPlane: hooks.dataPlaneStatus, logger: logger))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))

        let done = DispatchSemaphore(value: 0)
        let failure = ResultBox()
        Task.detached {
            do {
                try await group.run()
            } catch {
                failure.set("\(error)")
            }
            done.signal()
        }
        done.wait()
        server.shutdown()
        if let pidFile = options.pidFile { PidFile.remove(pidFile, ifOwnedBy: getpid()) }
        if let message = failure.get() {
            logger.error("lvsd stopped on error: \(message)")
            return 1
        }
        logger.info("lvsd stopped")
        return 0
    }

    static func configTest(_ options: DaemonOptions, _ hooks: LVSDaemonHooks) -> Int32 {
        guard let tester = hooks.configurationTester else {
            printErr("lvsd: configuration test: no configuration support in this build, nothing was checked\n")
            return 1
        }
        let file = options.configurationFile ?? "/etc/keepalived/keepalived.conf"
        let (problems, exitCode) = tester.test(file: file, configID: options.configID)
        let report = problems.map { $0 + "\n" }.joined()
        if let log = options.configTestLogFile {
            let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if fd >= 0 {
                _ = Array(report.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        } else {
            printErr(report)
        }
        return exitCode
    }

    static func printOut(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(1, $0.baseAddress, $0.count) } }
    static func printErr(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(2, $0.baseAddress, $0.count) } }
}

/// A string set from a task and read after it finished.
final class ResultBox: Sendable {
    private let value = Mutex<String?>(nil)
    func set(_ v: String) { value.withLock { $0 = v } }
    func get() -> String? { value.withLock { $0 } }
}

/// keepalived-style pid files: the pid in decimal and a newline.
public enum PidFile {
    /// The pid recorded in `path` if that process is alive.
    public static func runningProcess(in path: String) -> Int32? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buf = [Int8](repeating: 0, count: 32)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
        let text = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let pid = Int32(text.trimmingCharacters(in: " \n\t")), pid > 0 else { return nil }
        if kill(pid, 0) == 0 || errno == EPERM { return pid }
        return nil
    }

    public static func write(_ pid: Int32, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = Array("\(pid)\n".utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Removes `path` if it still names `pid`.
    public static func remove(_ path: String, ifOwnedBy pid: Int32) {
        guard let f = fopen(path, "r") else { return }
        var buf = [Int8](repeating: 0, count: 32)
        let ok = fgets(&buf, Int32(buf.count), f) != nil
        fclose(f)
        let text = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if ok, Int32(text.trimmingCharacters(in: " \n\t")) == pid { unlink(path) }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
