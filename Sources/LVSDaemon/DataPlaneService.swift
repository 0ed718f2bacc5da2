// Runs lvsd's packet path (LVSDataPlane) for the life of the service group.
import LVSCore
import LVSDataPlane
import LVSXDP
import Logging
import ServiceLifecycle
import Synchronization

/// Starts the data plane with the director's table, keeps the nftables guard in step with the
/// service table, and stops it (removing the guard) on SIGTERM/SIGINT.
public struct DataPlaneService: Service {
    let dataPlane: DataPlane
    let director: Director
    let logger: Logger
    let ownership: VRRPAddressOwnership?
    let onForwarding: (@Sendable (Bool) -> Void)?
    /// Where the status API finds the running data plane.
    let status: DataPlaneStatusBox?

    /// `interfaces` are `--interface` names (empty: every interface); `statisticsFile` receives
    /// the data plane's counters every second (`LVSD_STATS_FILE`); with `ownership` (lvsd's VRRP),
    /// the services of a VRRP address this lvsd does not own are left to the local stack;
    /// `spinNanoseconds` overrides how long the worker watches the ring before sleeping
    /// (`LVSD_SPIN_US`; 0 = sleep at once); `workerNice` the workers' nice value
    /// (`LVSD_WORKER_NICE`); `onForwarding` is told when packets start and stop
    /// being forwarded (the announcer announces nothing while they are not).
    public init(
        director: Director, interfaces: [String], statisticsFile: String?, logger: Logger,
        ownership: VRRPAddressOwnership? = nil, spinNanoseconds: UInt64? = nil, mode: DataPlaneMode = .auto,
        workers: Int? = nil, fastPath: Bool = true, workerNice: Int32? = nil,
        onForwarding: (@Sendable (Bool) -> Void)? = nil, status: DataPlaneStatusBox? = nil
    ) {
        var configuration = DataPlane.Configuration()
        if let spinNanoseconds { configuration.spinNanoseconds = spinNanoseconds }
        configuration.mode = mode
        configuration.workers = workers
        configuration.fastPath = fastPath
        if let workerNice { configuration.workerNice = workerNice }
        configuration.makeXDP = { try XDPDataPlaneBackend() }
        configuration.interfaces = interfaces.isEmpty ? nil : interfaces
        configuration.statisticsFile = statisticsFile
        let log = logger
        dataPlane = DataPlane(
            owner: director, configuration: configuration,
            listServices: { [director] in director.withModel { $0.services() } },
            log: { log.info("\($0)") })
        self.director = director
        self.logger = logger
        self.ownership = ownership
        self.onForwarding = onForwarding
        self.status = status
    }

    /// The hook lvsd's main program installs (`LVSDaemonHooks.dataPlane`).
    /// `fastPath` false (`LVSD_FAST_PATH=0`) keeps XDP's steering and AF_XDP but forwards every
    /// packet in the workers (a benchmark row).
    public static func make(
        statisticsFile: String?, ownership: VRRPAddressOwnership? = nil, spinNanoseconds: UInt64? = nil,
        fastPath: Bool = true, workerNice: Int32? = nil, onForwarding: (@Sendable (Bool) -> Void)? = nil,
        status: DataPlaneStatusBox? = nil
    ) -> @Sendable (Director, DaemonOptions, Logger) -> any Service {
        { director, options, logger in
            DataPlaneService(
                director: director, interfaces: options.interfaces, statisticsFile: statisticsFile, logger: logger,
                ownership: ownership, spinNanoseconds: spinNanoseconds, mode: options.dataPlane,
                workers: options.workers, fastPath: fastPath, workerNice: workerNice, onForwarding: onForwarding,
                status: status)
        }
    }

    public func run() async throws {
        let dp = dataPlane
        // Registered first: a change made while the data plane starts is not missed.
        director.addChangeObserver { dp.servicesChanged() }
        // Before start: the passive VIPs are in force from the first packet and the first guard.
        if let ownership { Self.followOwnership(ownership, dataPlane: dp, logger: logger) }
        do {
            try dataPlane.start()
        } catch {
            // No director that looks up but answers every client with a RST: lvsd stops, and says
            // why in one line (to the process that started it too, when it forked).
            let failure = DataPlaneStartFailure(error: error)
            status?.settle(nil, problem: "\(error)")
            StartupReport.failed(failure.description)
            throw failure
        }
        StartupReport.succeeded()
        director.withIPVS { ipvs in ipvs.isLocalAddress = { dp.isLocalAddress($0) } }
        dp.servicesChanged()
        status?.settle(dp, problem: nil)
        onForwarding?(true)
        try? await gracefulShutdown()
        onForwarding?(false)
        status?.settle(nil, problem: "stopped")
        dp.stop()
        let s = dp.statistics
        logger.info(
            "data plane stopped",
            metadata: [
                "received": "\(s[.received])", "inbound": "\(s[.inbound])", "outbound": "\(s[.outbound])",
                "transmitted": "\(s[.transmitted])",
            ])
    }
}

extension DataPlaneService {
    /// Keeps the data plane's passive VIPs equal to the VRRP addresses this lvsd does not own,
    /// logging each address whose interception starts or stops.
    static func followOwnership(_ ownership: VRRPAddressOwnership, dataPlane: DataPlane, logger: Logger) {
        let previous = Mutex<Set<IPAddress>?>(nil)
        ownership.addObserver { snapshot in
            let passive = snapshot.passive
            let before = previous.withLock { p in
                defer { p = passive }
                return p
            }
            guard before != passive else { return }
            for a in passive.subtracting(before ?? []).sorted() {
                logger.info(
                    "VRRP address \(a) not owned (instance not MASTER): its virtual services are left to the local stack"
                )
            }
            for a in (before ?? []).subtracting(passive).sorted() {
                logger.info("VRRP address \(a) owned (instance MASTER): its virtual services are intercepted")
            }
            dataPlane.setPassiveAddresses(passive)
        }
    }
}

/// The data plane could not start: lvsd stops (exit status 1) with this line.
public struct DataPlaneStartFailure: Error, CustomStringConvertible, Sendable {
    public var error: DataPlaneError
    public var description: String { "data plane not started: \(error)" }
}
