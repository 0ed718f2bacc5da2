// The services lvsd runs in its service group: the control server and the SIGHUP reload hook.
import Glibc
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs the control server for the life of the service group.
public struct ControlServerService: Service {
    let server: ControlServer

    public init(server: ControlServer) { self.server = server }

    public func run() async throws {
        server.start()
        // Wait for SIGTERM/SIGINT (graceful shutdown) or cancellation, then close the endpoint.
        try? await gracefulShutdown()
        server.shutdown()
    }
}

/// What SIGHUP does (lvsd: `KeepalivedDaemonSupport` reloads the keepalived configuration).
public protocol ReloadHandler: Sendable {
    /// Reloads the configuration; a configuration that does not parse must leave the running one.
    func reload(logger: Logger) async
}

/// The reload handler of a build without configuration file support (no `-f`): it says so.
public struct NoConfigurationReload: ReloadHandler {
    public init() {}
    public func reload(logger: Logger) async {
        logger.notice(
            "SIGHUP received: nothing to reload (keepalived configuration support is not implemented yet)")
    }
}

/// Calls the reload handler on every SIGHUP until the group shuts down.
public struct ReloadService: Service {
    let handler: any ReloadHandler
    let logger: Logger

    public init(handler: any ReloadHandler, logger: Logger) {
        self.handler = handler
        self.logger = logger
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await handler.reload(logger: logger)
        }
    }
}
