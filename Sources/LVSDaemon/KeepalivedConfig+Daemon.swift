// lvsd -f: the keepalived configuration's IPVS table, its health checks, and SIGHUP reload.
import Glibc
import KeepalivedConfig
import LVSControl
import LVSCore
import LVSHealthCheckLinux
import LVSPlatform
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a keepalived.conf in lvsd (`-f FILE`):
///
/// ```
///  load (before fork): parse ─▶ fatal? refuse with file:line ─▶ engine.start ─▶ IPVS table now
///  service (after fork): HealthCheckService ─▶ checks ─▶ Director.withModel (IPVS changes)
///  SIGHUP: parse again ─▶ refused? log file:line, keep running ─▶ else apply the difference
/// ```
///
/// Loading happens before lvsd forks, so nothing here starts a thread or a process until the
/// service runs; the actions of start-up other than IPVS changes (quorum scripts, alerts) wait
/// for it.
public final class KeepalivedDaemonSupport: DaemonConfigurationLoader, ReloadHandler, @unchecked Sendable {
    private let environment: [String: String]
    private let lock = Mutex(())
    private var file: String?
    private var configID: String?
    private var startedEngine: HealthCheckEngine?
    private var pendingActions: [HealthCheckAction] = []
    private var service: HealthCheckService?
    /// The configuration's VRRP part goes to it, at start and on each reload.
    private let vrrp: VRRPDaemon?
    /// `lvs_sync_daemon` goes to it, at start and on each reload.
    private let sync: KeepalivedSyncDaemon?
    /// `lvs_announce_table` goes to it, at start and on each reload; it follows the quorum.
    private let announcer: RouteAnnouncer?
    /// How long each checker's last probe took (the status API and metrics).
    public let latencies = CheckerLatencies()

    public init(
        environment: [String: String], vrrp: VRRPDaemon? = nil, sync: KeepalivedSyncDaemon? = nil,
        announcer: RouteAnnouncer? = nil
    ) {
        self.environment = environment
        self.vrrp = vrrp
        self.sync = sync
        self.announcer = announcer
    }

    func options(_ configID: String?) -> ConfigReaderOptions {
        ConfigReaderOptions(configID: configID ?? LocalConfigFileSystem.shortHostName(), environment: environment)
    }

    /// Reads `file`; throws its fatal problems (`file:line: ...`), logs the others. For a
    /// reload, a file whose blocks do not close (a half-saved edit) is refused too.
    func read(_ file: String, configID: String?, logger: Logger, reloading: Bool = false) throws
        -> KeepalivedConfiguration
    {
        let result = try KeepalivedConfigLoader.load(file: file, options: options(configID))
        if reloading {
            let problems = Self.reloadRefusals(result.diagnostics)
            if !problems.isEmpty { throw ConfigRefused(lines: problems.map(\.description)) }
        }
        for d in result.diagnostics { logger.warning("\(d.description)") }
        // enable_script_security: scripts that would run as root are checked before each run.
        ScriptSecurity.isEnabled = result.configuration.globalDefs.enableScriptSecurity
        return result.configuration
    }

    /// Brace problems: the file does not parse as a whole.
    static func isStructural(_ d: Diagnostic) -> Bool { d.severity >= .error && d.code == .blockStructure }

    /// What makes a reload refused (keepalived's `reload_check_config`, always on in lvsd): any
    /// error — a missing `include`, an invalid virtual server address, unclosed blocks — since
    /// applying such a file would delete the live services it no longer describes.
    public static func reloadRefusals(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.filter { $0.severity >= .error || $0.code == .missingInclude }
    }

    /// `-f` at start: the configuration's services and initial real servers go into the
    /// director's table before lvsd forks (keepalived `init_services`).
    public func load(file: String, configID: String?, director: Director, logger: Logger) throws {
        let configuration = try read(file, configID: configID, logger: logger)
        // A table lvsd cannot announce from stops it here, before anything runs.
        try announcer?.configure(configuration.globalDefs.lvsAnnounce)
        var engine = HealthCheckEngine(
            configuration: configuration, hostName: HealthCheckService.hostName(),
            localAddresses: SystemLocalAddresses().current())
        let actions = engine.start(now: director.clock.now())
        let table = DirectorIPVSTarget(director: director)
        var rest: [HealthCheckAction] = []
        var commands: [IPVSCommand] = []
        for a in actions {
            if case .ipvs(let c) = a { commands.append(c) } else { rest.append(a) }
        }
        for problem in table.apply(commands) { logger.warning("\(problem)") }
        vrrp?.configure(configuration, logger: logger)
        sync?.configure(configuration, logger: logger)
        lock.withLock { _ in
            self.file = file
            self.configID = configID
            startedEngine = engine
            pendingActions = rest
        }
        logger.info(
            "keepalived configuration \(file): \(configuration.virtualServers.count) virtual server(s) loaded")
    }

    /// The health-check service for lvsd's service group (nil without `-f`).
    public func makeService(director: Director, logger: Logger) -> any Service {
        lock.withLock { _ in makeServiceLocked(director: director, logger: logger) }
    }

    private func makeServiceLocked(director: Director, logger: Logger) -> any Service {
        guard let engine = startedEngine else { return IdleService() }
        var quorumObserver: (@Sendable ([ServiceKey: Bool]) -> Void)?
        if let announcer { quorumObserver = { q in announcer.quorumChanged(q) } }
        let s = HealthCheckService(
            startedEngine: engine, pendingActions: pendingActions, target: DirectorIPVSTarget(director: director),
            probe: TimedHealthProbe(LinuxHealthProbe(), latencies: latencies), clock: director.clock,
            quorumObserver: quorumObserver
        ) { line in logger.info("\(line)") }
        service = s
        pendingActions = []
        return HealthCheckDaemonService(service: s)
    }

    /// The running health checks (nil without `-f`), for the status API and metrics.
    public var healthCheckService: HealthCheckService? { lock.withLock { _ in service } }

    /// SIGHUP: the new configuration's difference is applied; one that cannot run is refused
    /// with its `file:line:` problems and the running one stays.
    public func reload(logger: Logger) async {
        let (file, configID, service) = lock.withLock { _ in (self.file, self.configID, self.service) }
        guard let file, let service else {
            logger.notice("SIGHUP received: no configuration file to reload (lvsd was started without -f)")
            return
        }
        logger.info("Reloading configuration \(file)")
        let configuration: KeepalivedConfiguration
        do {
            configuration = try read(file, configID: configID, logger: logger, reloading: true)
        } catch {
            logger.error("Configuration \(file) refused, the running configuration stays:\n\(error)")
            return
        }
        await service.reload(configuration)
        await vrrp?.reload(configuration, logger: logger)
        sync?.reload(configuration, logger: logger)
        announcer?.reload(configuration.globalDefs.lvsAnnounce, logger: logger)
        logger.info("Configuration \(file) reloaded")
    }
}

/// A reload refused for problems that are not fatal at start-up (unclosed blocks).
struct ConfigRefused: Error, CustomStringConvertible {
    var lines: [String]
    var description: String { lines.joined(separator: "\n") }
}

/// The director's table as the health checker's IPVS target, with keepalived's tolerance:
/// adding what exists or deleting what is gone is not an error; editing a missing real server
/// adds it.
struct DirectorIPVSTarget: HealthCheckIPVSTarget {
    let director: Director

    func apply(_ commands: [IPVSCommand]) -> [String] {
        let problems = director.withModel { m in
            var problems: [String] = []
            for c in commands {
                do throws(IPVSError) {
                    try Self.apply(c, to: m)
                } catch {
                    problems.append("IPVS (\(c)): \(error.message)")
                }
            }
            return problems
        }
        // The data plane's nftables guard follows the table.
        if !commands.isEmpty { director.notifyChanged() }
        return problems
    }

    static func apply(_ command: IPVSCommand, to m: any IPVSControlTarget) throws(IPVSError) {
        do throws(IPVSError) {
            switch command {
            case .flush: m.flush()
            case .setTimeouts(let t): m.setTimeouts(t)
            case .addService(let s): try m.addService(s)
            case .editService(let s): try m.editService(s)
            case .deleteService(let k): try m.deleteService(k)
            case .addRealServer(let r, let k): try m.addRealServer(r, to: k)
            case .editRealServer(let r, let k):
                do throws(IPVSError) { try m.editRealServer(r, in: k) } catch  where error.code == .noSuchDestination {
                    try m.addRealServer(r, to: k)
                }
            case .deleteRealServer(let e, let k): try m.deleteRealServer(e, from: k)
            }
        } catch {
            switch (command, error.code) {
            case (.addService, .serviceExists), (.addRealServer, .destinationExists),
                (.deleteService, .noSuchService), (.deleteRealServer, .noSuchDestination):
                return
            default: throw error
            }
        }
    }
}

/// Runs the health checks until lvsd shuts down, then stops them (omega notifies, removals).
struct HealthCheckDaemonService: Service {
    let service: HealthCheckService

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await service.run() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}

/// A service that only waits for shutdown (lvsd without `-f`).
struct IdleService: Service {
    func run() async throws { try? await gracefulShutdown() }
}
