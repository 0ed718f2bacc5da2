// lvsd -f for VRRP: reads keepalived.conf at start and on SIGHUP and hands it to the VRRPDaemon.
import KeepalivedConfig
import Logging

/// Reads the configuration file for `VRRPDaemon` (`lvsd -f FILE`): refused at start with its
/// `file:line:` problems when it cannot run; on SIGHUP a file that cannot run is reported and
/// the running VRRP configuration stays.
public final class VRRPConfigurationSupport: DaemonConfigurationSupport, ReloadHandler, @unchecked Sendable {
    public let daemon: VRRPDaemon
    private let environment: [String: String]
    private var file: String?
    private var configID: String?

    public init(daemon: VRRPDaemon, environment: [String: String]) {
        self.daemon = daemon
        self.environment = environment
    }

    /// Reads `file`; throws its fatal problems, logs the others.
    func read(_ file: String, configID: String?, logger: Logger) throws -> KeepalivedConfiguration {
        let options = ConfigReaderOptions(
            configID: configID ?? LocalConfigFileSystem.shortHostName(), environment: environment)
        let result = try KeepalivedConfigLoader.load(file: file, options: options)
        for d in result.diagnostics { logger.warning("\(d.description)") }
        return result.configuration
    }

    public func load(file: String, configID: String?, director: Director, logger: Logger) throws {
        let configuration = try read(file, configID: configID, logger: logger)
        self.file = file
        self.configID = configID
        daemon.configure(configuration, logger: logger)
    }

    public func reload(logger: Logger) async {
        guard let file else { return }
        do {
            let configuration = try read(file, configID: configID, logger: logger)
            await daemon.reload(configuration, logger: logger)
        } catch {
            logger.error("Configuration \(file) refused, the running VRRP configuration stays:\n\(error)")
        }
    }
}
