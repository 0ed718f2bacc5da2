// Runs lvsd's packet path (LVSDataPlane) for the life of the service group.
import LVSCore
import LVSDataPlane
import Logging
import ServiceLifecycle

/// Starts the data plane with the director's table, keeps the nftables guard in step with the
/// service table, and stops it (removing the guard) on SIGTERM/SIGINT.
public struct DataPlaneService: Service {
    let dataPlane: DataPlane
    let director: Director
    let logger: Logger

    /// `interfaces` are `--interface` names (empty: every interface); `statisticsFile` receives
    /// the data plane's counters every second (`LVSD_STATS_FILE`).
    public init(director: Director, interfaces: [String], statisticsFile: String?, logger: Logger) {
        var configuration = DataPlane.Configuration()
        configuration.interfaces = interfaces.isEmpty ? nil : interfaces
        configuration.statisticsFile = statisticsFile
        let log = logger
        dataPlane = DataPlane(
            owner: director, configuration: configuration,
            listServices: { [director] in director.withModel { $0.services() } },
            log: { log.info("\($0)") })
        self.director = director
        self.logger = logger
    }

    /// The hook lvsd's main program installs (`LVSDaemonHooks.dataPlane`).
    public static func make(statisticsFile: String?) -> @Sendable (Director, DaemonOptions, Logger) -> any Service {
        { director, options, logger in
            DataPlaneService(
                director: director, interfaces: options.interfaces, statisticsFile: statisticsFile, logger: logger)
        }
    }

    public func run() async throws {
        let dp = dataPlane
        // Registered first: a change made while the data plane starts is not missed.
        director.addChangeObserver { dp.servicesChanged() }
        do {
            try dataPlane.start()
        } catch {
            // The control endpoint keeps serving (listings, a configuration test bed); say so loudly.
            logger.error("data plane not started: \(error) (lvsd serves the control endpoint only)")
            try? await gracefulShutdown()
            return
        }
        director.withIPVS { ipvs in ipvs.isLocalAddress = { dp.isLocalAddress($0) } }
        dp.servicesChanged()
        try? await gracefulShutdown()
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
