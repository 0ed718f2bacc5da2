// The probe seam: run one check and report success or failure; the Linux implementation.
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSPlatform

/// The real probes: TCP connect, HTTP/HTTPS GET, scripts, DNS, SMTP, UDP and ICMP echo.
public struct LinuxHealthProbe: HealthProbe {
    public init() {}

    public func run(_ request: ProbeRequest) async -> ProbeOutcome {
        await Self.pool.run { Self.runBlocking(request) }
    }

    /// Where probes run: threads of their own, so they never tie up the cooperative pool (two
    /// cores here). At most 64 run at once; more wait their turn.
    static let pool = BlockingPool(name: "lvsd-probe", maxThreads: 64)

    /// Runs the check on the calling thread, blocking it until the check ends (at most about
    /// the request's timeout; MISC_CHECK scripts get 2 s more after SIGTERM).
    public static func runBlocking(_ request: ProbeRequest) -> ProbeOutcome {
        switch request.checker.kind {
        case .tcp: return TCPCheck.run(request)
        case .http: return HTTPCheck.run(request, tls: false)
        case .ssl: return HTTPCheck.run(request, tls: true)
        case .misc: return MiscCheck.run(request)
        case .dns: return DNSCheck.run(request)
        case .smtp: return SMTPCheck.run(request)
        case .udp: return UDPCheck.run(request)
        case .ping: return PingCheck.run(request)
        case .file, .bfd: return .failed("\(request.checker.kind.keyword) is not implemented")
        }
    }
}

/// TCP_CHECK: a non-blocking connect to the destination within `connect_timeout`; the
/// connection is closed at once with no data sent. Timeout, RST or an ICMP error fail.
enum TCPCheck {
    static func run(_ r: ProbeRequest) -> ProbeOutcome {
        do {
            _ = try ProbeSocket.connected(
                for: r, type: Int32(SOCK_STREAM.rawValue), deadline: ProbeDeadline(after: r.timeout))
            return .passed
        } catch {
            return .failed(error.message, timedOut: error.timedOut)
        }
    }
}
