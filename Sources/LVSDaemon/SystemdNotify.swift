// sd_notify without libsystemd: READY=1, RELOADING=1, STOPPING=1 as datagrams to $NOTIFY_SOCKET.
import Glibc
import Logging
import ServiceLifecycle

/// systemd's notification protocol (sd_notify(3)): one `AF_UNIX` datagram of `KEY=VALUE` lines
/// to the socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket). Without
/// the variable nothing is sent, so lvsd behaves the same outside systemd.
public struct SystemdNotifier: Sendable {
    /// `$NOTIFY_SOCKET`.
    public let socketPath: String

    /// nil when lvsd does not run under a `Type=notify` unit.
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@"), path.utf8.count < 108
        else { return nil }
        socketPath = path
    }

    /// Sends `state` (e.g. `READY=1\nSTATUS=…`); returns false when the datagram was not sent.
    @discardableResult
    public func send(_ state: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == bytes.count
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` systemd 253+ expects with it.
    public func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        send("RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)")
    }
}

/// Tells systemd lvsd is ready once the control socket listens (it does before the service
/// group runs) and the data plane has started or failed to, then STOPPING=1 when shutdown begins.
/// Added last to the service group, so it is the first one shut down.
struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier
    let dataPlane: DataPlaneStatusBox?
    let logger: Logger

    func run() async throws {
        var status = "serving the control endpoint"
        if let dataPlane {
            await dataPlane.waitUntilSettled()
            if let dp = dataPlane.current {
                status = "directing on \(dp.attachedInterfaces.joined(separator: ", "))"
            } else if let problem = dataPlane.problem {
                status = "data plane not started: \(problem); serving the control endpoint only"
            }
        }
        if !notifier.send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") {
            logger.warning("systemd notification to \(notifier.socketPath) failed: \(String(cString: strerror(errno)))")
        }
        try? await gracefulShutdown()
        notifier.send("STOPPING=1\nSTATUS=stopping")
    }
}

/// A reload wrapped in RELOADING=1 … READY=1.
struct SystemdNotifyingReload: ReloadHandler {
    let inner: any ReloadHandler
    let notifier: SystemdNotifier

    func reload(logger: Logger) async {
        notifier.reloading()
        await inner.reload(logger: logger)
        notifier.send("READY=1\nSTATUS=configuration reloaded")
    }
}
