// lvsd's announcer: keeps blackhole VIP routes in table N for the VIPs it serves, for BIRD to announce.
import Glibc
import KeepalivedConfig
import LVSControl
import LVSCore
import LVSPlatform
import Logging
import ServiceLifecycle
import Synchronization

/// Why the announce table cannot be used (at start: lvsd says it in one line and exits).
public typealias AnnounceError = CodedError<AnnounceErrorCode>

/// The kinds of announce-table failure.
public enum AnnounceErrorCode: String, Hashable, Sendable {
    /// The table holds routes lvsd did not install, or another live lvsd's.
    case tableInUse
    /// The routing tables cannot be read (rtnetlink).
    case netlink
    /// The crash keeper cannot run (no `ip` program).
    case noKeeper
}

/// A line the announcer logs.
public struct AnnounceLogLine: Hashable, Sendable {
    /// Logged as a warning (else as information).
    public var warning: Bool
    public var text: String
}

/// `global_defs { lvs_announce_table N }` in lvsd:
///
/// ```
///  table changes (control, checks) ─┐
///  quorum (HealthCheckService) ─────┼─▶ inputs ─wake─▶ lvsd-announce thread: VIPAnnouncement
///  passive VIPs (VRRP ownership) ───┤                  .announced ─▶ .plan ─▶ rtnetlink (table N)
///  data plane forwarding ───────────┘                  every 5 s: BIRD's control socket (log on change)
///  SIGTERM/SIGINT: withdraw every route; SIGKILL: the RouteKeeper child withdraws them
/// ```
///
/// Routes are `blackhole VIP/32` (`/128`) with protocol 240 (`lvsd`) and metric = lvsd's pid, the
/// owner mark the keeper checks. Every 10 s the table is compared with what should be there, so a
/// route deleted by hand comes back and one left by a crashed lvsd (keeper killed too) goes.
public final class RouteAnnouncer: @unchecked Sendable {
    /// The protocol number of lvsd's routes (`ip route ... proto 240`; not one of iproute2's
    /// reserved numbers: 18 is keepalived, 12 BIRD, 186-192 FRR).
    public static let protocolNumber: UInt8 = 240
    /// How often the kernel's table is compared with the plan when nothing changed.
    public static let resyncInterval: Duration = .seconds(10)
    /// How often BIRD's control socket is checked.
    public static let probeInterval: Duration = .seconds(5)

    struct Inputs {
        var config: LVSAnnounceConfig?
        var quorum: [ServiceKey: Bool] = [:]
        var passive: Set<IPAddress> = []
        var forwarding = false
    }

    private let table: any AnnounceRouteTable
    private let probe: any AnnouncerProbe
    private let isAlive: @Sendable (UInt32) -> Bool
    /// Leaf lock: the inputs, set by observers on any thread.
    private let inputs = Mutex(Inputs())
    /// The wake of the running thread (nil when it does not run).
    private let wakeBox = Mutex<WakeDescriptor?>(nil)
    // Owned by the announce thread (or by `reconcile` in tests): no lock.
    private var watch = AnnouncerWatch()
    private var watchedSocket: String?
    private var lastFailure: String?
    private var lastForeign = 0
    /// False until a pass ran with a table configured: an lvsd without `lvs_announce_table` reads
    /// no routing table.
    private var everConfigured = false

    public init(
        table: any AnnounceRouteTable = KernelAnnounceTable(), probe: any AnnouncerProbe = BirdControlProbe(),
        isAlive: @escaping @Sendable (UInt32) -> Bool = RouteAnnouncer.processIsAlive
    ) {
        self.table = table
        self.probe = probe
        self.isAlive = isAlive
    }

    /// kill(pid, 0): the process exists.
    public static func processIsAlive(_ pid: UInt32) -> Bool {
        guard pid > 0, pid <= UInt32(Int32.max) else { return false }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM
    }

    /// The configuration in force.
    public var configuration: LVSAnnounceConfig? { inputs.withLock { $0.config } }

    /// Checks that `config`'s table can be used and takes it (`lvsd -f` at start, before the fork;
    /// a reload through `reload`).
    public func configure(_ config: LVSAnnounceConfig?) throws(AnnounceError) {
        if let config { try check(config) }
        inputs.withLock { $0.config = config }
        signal()
    }

    /// SIGHUP: a new table is taken if it can be used; otherwise the running one stays (logged).
    public func reload(_ config: LVSAnnounceConfig?, logger: Logger) {
        let old = configuration
        guard config != old else { return }
        do throws(AnnounceError) {
            try configure(config)
        } catch {
            logger.error("\(error.message); announcing stays as it was")
            return
        }
        switch (old, config) {
        case (nil, let c?): logger.info("announce: lvs_announce_table \(c.table): VIPs with a service up are announced")
        case (_?, nil): logger.info("announce: lvs_announce_table removed: every announced VIP is withdrawn")
        case (let o?, let c?) where o.table != c.table:
            logger.info("announce: table \(o.table) → \(c.table): routes move")
        default: break
        }
    }

    private func check(_ config: LVSAnnounceConfig) throws(AnnounceError) {
        guard RouteKeeper.ipProgram != nil else {
            throw AnnounceError(
                .noKeeper,
                "\(config.location): lvs_announce_table needs the ip program (iproute2): its crash keeper removes a killed lvsd's routes with it"
            )
        }
        let view: AnnounceTableView
        do throws(PlatformError) {
            view = try table.view(table: config.table, protocolNumber: Self.protocolNumber)
        } catch {
            throw AnnounceError(.netlink, "\(config.location): lvs_announce_table \(config.table): \(error.message)")
        }
        if let problem = VIPAnnouncement.conflict(
            table: config.table, owner: UInt32(getpid()), view: view, isAlive: isAlive)
        {
            throw AnnounceError(.tableInUse, "\(config.location): lvs_announce_table \(config.table): \(problem)")
        }
    }

    // MARK: inputs

    /// The keepalived virtual servers' quorum, by service key (`HealthCheckService`).
    public func quorumChanged(_ quorum: [ServiceKey: Bool]) {
        inputs.withLock { $0.quorum = quorum }
        signal()
    }

    /// The VRRP addresses this lvsd does not own.
    public func passiveChanged(_ passive: Set<IPAddress>) {
        inputs.withLock { $0.passive = passive }
        signal()
    }

    /// Whether the data plane forwards.
    public func forwardingChanged(_ forwarding: Bool) {
        inputs.withLock { $0.forwarding = forwarding }
        signal()
    }

    /// The service table changed.
    public func changed() { signal() }

    private func signal() { wakeBox.withLock { $0 }?.signal() }

    // MARK: the work

    /// One pass: the routes the inputs call for, in the kernel; BIRD's socket when `probeBird`.
    /// Returns the lines to log. Called by the announce thread only (and by tests, which drive it
    /// step by step with fakes instead of running the thread). `services` nil: not listed (the
    /// loop lists them only while configured); a configuration that arrived since then waits for
    /// the next pass, which its `configure` wakes.
    public func reconcile(services: [VirtualServiceEntry]?, owner: UInt32, probeBird: Bool, stopping: Bool = false)
        -> [AnnounceLogLine]
    {
        let i = inputs.withLock { $0 }
        var lines: [AnnounceLogLine] = []
        if i.config != nil { everConfigured = true }
        guard everConfigured else { return lines }
        guard let services = services ?? (i.config == nil ? [] : nil) else { return lines }
        let desired =
            i.config == nil
            ? []
            : VIPAnnouncement.announced(
                services: services, quorum: i.quorum, passive: i.passive, forwarding: i.forwarding)
        do throws(PlatformError) {
            let view = try table.view(table: i.config?.table, protocolNumber: Self.protocolNumber)
            if view.foreignCount != lastForeign, let t = i.config?.table {
                lastForeign = view.foreignCount
                if view.foreignCount > 0 {
                    lines.append(
                        AnnounceLogLine(
                            warning: true,
                            text:
                                "announce: table \(t) now also holds \(view.foreignCount) route(s) lvsd did not install (e.g. '\(view.foreignExample ?? "?")'): BIRD announces them too"
                        ))
                }
            }
            for change in VIPAnnouncement.plan(
                desired: desired, table: i.config?.table, owner: owner, view: view, isAlive: isAlive)
            {
                try table.apply(change, protocolNumber: Self.protocolNumber)
                lines.append(
                    AnnounceLogLine(
                        warning: false, text: Self.describe(change, owner: owner, desired: desired, stopping: stopping))
                )
            }
            lastFailure = nil
        } catch {
            let line = "announce: \(error.message) (retried in \(Self.resyncInterval))"
            if line != lastFailure { lines.append(AnnounceLogLine(warning: true, text: line)) }
            lastFailure = line
        }
        if probeBird, let config = i.config, let socket = config.birdSocket {
            if watchedSocket != socket {
                watch = AnnouncerWatch()
                watchedSocket = socket
            }
            if let (warning, line) = watch.observe(probe.check(socket: socket), socket: socket, table: config.table) {
                lines.append(AnnounceLogLine(warning: warning, text: line))
            }
        }
        return lines
    }

    static func describe(_ change: AnnounceRouteChange, owner: UInt32, desired: Set<IPAddress>, stopping: Bool)
        -> String
    {
        switch change {
        case .add(let r):
            return "announce: \(r.vip) up: blackhole \(r.vip)/\(r.prefixLength) in table \(r.table)"
        case .remove(let r) where r.metric != owner:
            return "announce: removed \(r) proto \(protocolNumber) left by lvsd pid \(r.metric), which is gone"
        case .remove(let r) where stopping:
            return "announce: \(r.vip) withdrawn from table \(r.table) (lvsd stopping)"
        case .remove(let r) where desired.contains(r.vip):
            return "announce: \(r.vip) moved out of table \(r.table)"
        case .remove(let r):
            return "announce: \(r.vip) withdrawn from table \(r.table) (no virtual service of it up)"
        }
    }

    /// Removes every route of this lvsd (a clean stop).
    public func withdrawAll(owner: UInt32) -> [AnnounceLogLine] {
        inputs.withLock { $0.config = nil }
        return reconcile(services: [], owner: owner, probeBird: false, stopping: true)
    }

    /// The service for lvsd's service group: the announce thread and the keeper, from the start
    /// until SIGTERM/SIGINT, then every route withdrawn.
    public func makeService(director: Director, logger: Logger) -> any Service {
        RouteAnnouncerService(announcer: self, director: director, logger: logger)
    }

    /// Runs the announce loop on the calling thread until `stop` is signalled.
    func loop(director: Director, stop: WakeDescriptor, wake: WakeDescriptor, logger: Logger) {
        let owner = UInt32(getpid())
        let clock = ContinuousClock()
        var nextResync = clock.now
        var nextProbe = clock.now
        var keeper: RouteKeeper?
        defer { keeper?.stop() }
        while true {
            let now = clock.now
            let configured = configuration != nil
            if configured && keeper == nil {
                let (k, problem) = RouteKeeper.start(protocolNumber: Self.protocolNumber, owner: owner)
                keeper = k
                if let problem {
                    logger.error(
                        "announce: crash keeper not started (a killed lvsd would leave its routes): \(problem)")
                }
            }
            let probeBird = now >= nextProbe
            if probeBird { nextProbe = now + Self.probeInterval }
            nextResync = now + Self.resyncInterval
            // The listing runs on a packet worker (the control queue) and allocates there: only
            // while there is something to announce.
            let services = configured ? director.withModel { $0.services() } : nil
            log(reconcile(services: services, owner: owner, probeBird: probeBird), logger)
            let deadline = min(nextResync, nextProbe)
            let left = max(clock.now.duration(to: deadline), .zero)
            let ms = Int32(min(max(left / .milliseconds(1), 1), 60_000))
            let ready = Readiness.wait([stop.descriptor, wake.descriptor], timeoutMilliseconds: ms)
            if ready & 1 != 0 { break }
            if ready & 2 != 0 { wake.drain() }
        }
        log(withdrawAll(owner: owner), logger)
    }

    private func log(_ lines: [AnnounceLogLine], _ logger: Logger) {
        for l in lines {
            if l.warning { logger.warning("\(l.text)") } else { logger.info("\(l.text)") }
        }
    }

    func attach(_ wake: WakeDescriptor?) { wakeBox.withLock { $0 = wake } }
}

/// Runs the announcer in lvsd's service group (appended last: on SIGTERM it withdraws the routes
/// first, while the data plane still forwards).
struct RouteAnnouncerService: Service {
    let announcer: RouteAnnouncer
    let director: Director
    let logger: Logger

    func run() async throws {
        let stop: WakeDescriptor
        let wake: WakeDescriptor
        do {
            stop = try WakeDescriptor()
            wake = try WakeDescriptor()
        } catch {
            logger.error("announce: not started: \(error)")
            try? await gracefulShutdown()
            return
        }
        announcer.attach(wake)
        director.addChangeObserver { [announcer] in announcer.changed() }
        let (announcer, director, logger) = (announcer, director, logger)
        let (finished, done) = AsyncStream.makeStream(of: Void.self)
        let started = PlatformThread.detach(name: "lvsd-announce") {
            announcer.loop(director: director, stop: stop, wake: wake, logger: logger)
            done.finish()
        }
        guard started else {
            logger.error("announce: no thread to run on: VIPs are not announced")
            announcer.attach(nil)
            try? await gracefulShutdown()
            return
        }
        try? await gracefulShutdown()
        stop.signal()
        // The loop withdraws every route, then ends.
        for await _ in finished {}
        announcer.attach(nil)
    }
}
