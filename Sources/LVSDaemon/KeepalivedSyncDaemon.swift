import KeepalivedConfig
import LVSCore
import LVSSync
import LVSVRRP
import Logging
import ServiceLifecycle
// keepalived.conf's lvs_sync_daemon in lvsd: which sync daemons run, following the VRRP instance.
import Synchronization

/// Runs `global_defs { lvs_sync_daemon IF [inst VI] [id N] [maxlen N] [port N] [ttl N] [group IP] }`
/// as keepalived does (ipvswrapper.c, vrrp.c, check_daemon.c):
///
/// ```
///  no instance:   both daemons from start to shutdown (sync id: id, or 0)
///  with instance: BACKUP/FAULT ─▶ backup daemon;  MASTER ─▶ master daemon (sync id: id, or the VRID)
///  reload:        daemons restarted only when the settings changed
///  shutdown:      both stopped
/// ```
/// SwiftLVS additions: each time the instance enters BACKUP the backup daemon asks the masters for
/// their whole table (bulk resync) and the instance does not preempt until it arrived or
/// `lvs_sync_daemon_bulk_wait` seconds passed; `lvs_sync_daemon_auth_key` authenticates messages.
public final class KeepalivedSyncDaemon: @unchecked Sendable {
    /// What the configuration asks for.
    struct Plan: Equatable {
        var interface: String
        var instance: String?
        var syncID: UInt8
        var maxLength: UInt16
        var group: IPAddress?
        var port: UInt16
        var ttl: UInt8
        var key: String?
        var bulkWait: UInt32

        func spec(_ role: SyncDaemonSpec.Role) -> SyncDaemonSpec {
            SyncDaemonSpec(
                role: role, multicastInterface: interface, syncID: syncID, maxLength: maxLength, group: group,
                port: port, ttl: ttl)
        }
    }

    private let runner: SyncDaemonRunner
    private let vrrp: VRRPDaemon?
    private let lock = Mutex(())
    private var plan: Plan?
    private var director: Director?
    private var logger: Logger?
    /// Instance mode: the role the instance's state asks for (nil before its first transition).
    private var role: SyncDaemonSpec.Role?

    public init(runner: SyncDaemonRunner, vrrp: VRRPDaemon?) {
        self.runner = runner
        self.vrrp = vrrp
        vrrp?.addTransitionObserver { [weak self] t in self?.transitioned(t) }
        runner.onBulkFinished { [weak self] result in self?.bulkFinished(result) }
    }

    /// The plan of a configuration (nil: no lvs_sync_daemon), with keepalived's diagnostics.
    static func plan(_ c: KeepalivedConfiguration, logger: Logger?) -> Plan? {
        let g = c.globalDefs
        var interface: String
        var instance: String?
        var config: LVSSyncDaemonConfig?
        if let s = g.lvsSyncDaemon {
            config = s
            interface = s.interface
            instance = s.vrrpInstance
        } else if let legacy = c.vrrpInstances.first(where: { $0.lvsSyncDaemonInterface != nil }) {
            interface = legacy.lvsSyncDaemonInterface!
            instance = legacy.name
        } else {
            return nil
        }
        var syncID = config?.syncID ?? 0
        if let name = instance {
            guard let vi = c.vrrpInstances.first(where: { $0.name == name }) else {
                logger?.error("Unable to find vrrp instance \(name) for lvs_syncd - clearing lvs_syncd config")
                return nil
            }
            if config?.syncID == nil { syncID = vi.virtualRouterID ?? 0 }
        }
        interface = String(interface.prefix(15))
        return Plan(
            interface: interface, instance: instance, syncID: syncID, maxLength: config?.maxLength ?? 0,
            group: config?.group, port: config?.port ?? 0, ttl: config?.ttl ?? 0, key: g.lvsSyncAuthKey,
            bulkWait: g.lvsSyncBulkWait ?? 3)
    }

    /// `lvsd -f` at start (before fork): remembers the plan; daemons start with the service.
    public func configure(_ configuration: KeepalivedConfiguration, logger: Logger) {
        let p = Self.plan(configuration, logger: logger)
        lock.withLock { _ in plan = p }
        applySettings(p)
    }

    private func applySettings(_ p: Plan?) {
        runner.settings = SyncDaemonRunner.Settings(
            key: p?.key.map { SyncKey(Array($0.utf8)) }, bulkWait: .seconds(Int64(p?.bulkWait ?? 3)))
    }

    /// The service for lvsd's service group: starts what the plan says, stops both at shutdown.
    public func makeService(director: Director, logger: Logger) -> any Service {
        KeepalivedSyncService(daemon: self, director: director, logger: logger)
    }

    func started(director: Director, logger: Logger) {
        let (p, r) = lock.withLock { _ -> (Plan?, SyncDaemonSpec.Role?) in
            self.director = director
            self.logger = logger
            return (plan, role)
        }
        guard let p else { return }
        if p.instance == nil {
            start(.master, p)
            start(.backup, p)
        } else if let r {
            // VRRP reported the instance's state before this service ran.
            start(r, p)
        }
    }

    func stopped() {
        let d = lock.withLock { _ -> Director? in
            defer { director = nil }
            return director
        }
        d?.withModel { m in
            for r in [SyncDaemonSpec.Role.master, .backup] where m.syncDaemons.contains(where: { $0.role == r }) {
                try? m.stopSyncDaemon(r)
            }
        }
        runner.stopAll()
    }

    /// SIGHUP: restarts the daemons only when the settings changed.
    public func reload(_ configuration: KeepalivedConfiguration, logger: Logger) {
        let new = Self.plan(configuration, logger: logger)
        let (old, r, running) = lock.withLock { _ -> (Plan?, SyncDaemonSpec.Role?, Bool) in
            defer { plan = new }
            return (plan, role, director != nil)
        }
        guard old != new else { return }
        applySettings(new)
        guard running else { return }
        logger.info("lvs_sync_daemon changed: restarting the sync daemons")
        for role in [SyncDaemonSpec.Role.master, .backup] { stop(role) }
        guard let new else { return }
        if new.instance == nil {
            start(.master, new)
            start(.backup, new)
        } else if new.instance == old?.instance, let r {
            start(r, new)
        }
    }

    // MARK: following VRRP

    private func transitioned(_ t: VRRPTransition) {
        guard case .instance(let name) = t.subject else { return }
        let (p, running) = lock.withLock { _ in (plan, director != nil) }
        guard let p, p.instance == name else { return }
        let want: SyncDaemonSpec.Role?
        switch t.to {
        case .master: want = .master
        case .backup, .fault: want = .backup
        default: want = nil
        }
        guard let want else { return }
        let previous = lock.withLock { _ -> SyncDaemonSpec.Role? in
            defer { role = want }
            return role
        }
        guard running else { return }
        if want != previous { stop(want == .master ? .backup : .master) }
        // Started now, or already running (then, back from FAULT, it heard nothing meanwhile:
        // it asks for the table again).
        if !start(want, p) && want == .backup && t.to == .backup { runner.requestBulkResync() }
        if t.to == .backup && p.bulkWait > 0 {
            vrrp?.holdPreemption(instance: name, for: .seconds(Int64(p.bulkWait)))
        }
    }

    private func bulkFinished(_ result: SyncBulkResult) {
        guard let name = lock.withLock({ _ in plan?.instance }) else { return }
        vrrp?.holdPreemption(instance: name, for: nil)
    }

    /// Starts the daemon unless it runs; true when it was started now.
    @discardableResult
    private func start(_ role: SyncDaemonSpec.Role, _ p: Plan) -> Bool {
        let (d, log) = lock.withLock { _ in (director, logger) }
        guard let d else { return false }
        do {
            return try d.withModel { m in
                if m.syncDaemons.contains(where: { $0.role == role }) { return false }
                try m.startSyncDaemon(p.spec(role))
                return true
            }
        } catch {
            let message = (error as? IPVSError)?.message ?? "\(error)"
            log?.error("IPVS cmd start-daemon \(role.rawValue) error: \(message)")
            return false
        }
    }

    private func stop(_ role: SyncDaemonSpec.Role) {
        let d = lock.withLock { _ in director }
        d?.withModel { m in
            if m.syncDaemons.contains(where: { $0.role == role }) { try? m.stopSyncDaemon(role) }
        }
    }
}

/// Runs the configured sync daemons for the life of the service group.
struct KeepalivedSyncService: Service {
    let daemon: KeepalivedSyncDaemon
    let director: Director
    let logger: Logger

    func run() async throws {
        daemon.started(director: director, logger: logger)
        try? await gracefulShutdown()
        daemon.stopped()
    }
}
