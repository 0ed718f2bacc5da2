// What the health-check engine asks its driver to do: IPVS changes, probes, notifications, log lines.
import KeepalivedConfig
import LVSCore

/// One change to the IPVS table, as keepalived's `ipvs_cmd()` would send it to the kernel.
public enum IPVSCommand: Hashable, Sendable, CustomStringConvertible {
    /// `lvs_flush` at start-up, `lvs_flush_on_stop` at shutdown (`ipvsadm -C`).
    case flush
    /// `lvs_timeouts` (`ipvsadm --set`; a zero field leaves that timeout unchanged).
    case setTimeouts(IPVSTimeouts)
    /// `ipvsadm -A`.
    case addService(VirtualServiceSpec)
    /// `ipvsadm -E`.
    case editService(VirtualServiceSpec)
    /// `ipvsadm -D`.
    case deleteService(ServiceKey)
    /// `ipvsadm -a`.
    case addRealServer(RealServerSpec, service: ServiceKey)
    /// `ipvsadm -e` (keepalived adds the server when it is missing: `ipvs_talk` retries an
    /// EDITDEST that fails with ENOENT as ADDDEST).
    case editRealServer(RealServerSpec, service: ServiceKey)
    /// `ipvsadm -d`.
    case deleteRealServer(Endpoint, service: ServiceKey)

    public var description: String {
        switch self {
        case .flush: return "flush"
        case .setTimeouts(let t): return "set timeouts \(t.tcp) \(t.tcpFin) \(t.udp)"
        case .addService(let s): return "add service \(s.key) \(s.scheduler)"
        case .editService(let s): return "edit service \(s.key) \(s.scheduler)"
        case .deleteService(let k): return "delete service \(k)"
        case .addRealServer(let r, let k): return "add \(r.endpoint) weight \(r.weight) to \(k)"
        case .editRealServer(let r, let k): return "edit \(r.endpoint) weight \(r.weight) in \(k)"
        case .deleteRealServer(let e, let k): return "delete \(e) from \(k)"
        }
    }
}

/// Identifies one checker: the virtual server, real server and checker indexes in the running
/// configuration, and the configuration generation (a reload starts a new one, so results of
/// probes started before it are recognised and dropped).
public struct CheckerID: Hashable, Sendable, CustomStringConvertible {
    public var generation: Int
    public var virtualServer: Int
    public var realServer: Int
    public var checker: Int

    public var description: String { "g\(generation)/vs\(virtualServer)/rs\(realServer)/c\(checker)" }
}

/// One probe to run: the checker's configuration and where to connect, resolved by the engine.
public struct ProbeRequest: Hashable, Sendable {
    /// The checker as configured (kind and kind-specific options).
    public var checker: HealthChecker
    /// `connect_ip`/`connect_port`, else the real server's address and port.
    public var destination: Endpoint
    /// `bindto`/`bind_port`.
    public var source: Endpoint?
    /// `connect_timeout` (MISC_CHECK: `misc_timeout`, else `delay_loop`).
    public var timeout: Duration
    /// HTTP_GET/SSL_GET: the URL checked this time (keepalived checks one URL per run).
    public var url: HTTPCheckURL?
    /// HTTP_GET/SSL_GET: the Host header value: the URL's `virtualhost`, else the checker's,
    /// the real server's or the virtual server's; nil: the destination address and port.
    public var virtualHost: String?
    /// MISC_CHECK: the user and group to run the script as (`user` on the line, else
    /// `script_user`); nil runs it as the daemon's user.
    public var scriptUser: String?
    public var scriptGroup: String?

    public init(
        checker: HealthChecker, destination: Endpoint, source: Endpoint?, timeout: Duration, url: HTTPCheckURL? = nil,
        virtualHost: String? = nil, scriptUser: String? = nil, scriptGroup: String? = nil
    ) {
        self.checker = checker
        self.destination = destination
        self.source = source
        self.timeout = timeout
        self.url = url
        self.virtualHost = virtualHost
        self.scriptUser = scriptUser
        self.scriptGroup = scriptGroup
    }
}

/// What one probe found.
public struct ProbeOutcome: Hashable, Sendable, CustomStringConvertible {
    /// True when the check passed.
    public var success: Bool
    /// Why it failed (or what it saw), for the log: `connection refused`, `HTTP status code 500`.
    public var detail: String
    /// MISC_CHECK: the script's exit status, when it exited.
    public var exitStatus: Int?
    /// MISC_CHECK: the signal that ended the script, when it was killed.
    public var signal: Int32?
    /// The probe ran out of time (connect, read, or script timeout).
    public var timedOut: Bool

    public init(
        success: Bool, detail: String = "", exitStatus: Int? = nil, signal: Int32? = nil, timedOut: Bool = false
    ) {
        self.success = success
        self.detail = detail
        self.exitStatus = exitStatus
        self.signal = signal
        self.timedOut = timedOut
    }

    /// A passing check.
    public static let passed = ProbeOutcome(success: true, detail: "ok")
    /// A failing check with a reason.
    public static func failed(_ detail: String, timedOut: Bool = false) -> ProbeOutcome {
        ProbeOutcome(success: false, detail: detail, timedOut: timedOut)
    }
    /// A MISC_CHECK script that exited with `status`.
    public static func exited(_ status: Int) -> ProbeOutcome {
        ProbeOutcome(success: status == 0, detail: "exited with status \(status)", exitStatus: status)
    }

    public var description: String { success ? "success" : "failure (\(detail))" }
}

/// A notify script to run (`notify_up`, `notify_down`, `quorum_up`, `quorum_down`), with the
/// arguments configured and no others, as keepalived's `notify_exec()`.
public struct NotifyScript: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case notifyUp = "notify_up"
        case notifyDown = "notify_down"
        case quorumUp = "quorum_up"
        case quorumDown = "quorum_down"
    }
    public var kind: Kind
    /// The program and its arguments.
    public var arguments: [String]
    /// The user and group to run it as (`script_user` when the line names none).
    public var user: String?
    public var group: String?

    public init(kind: Kind, arguments: [String], user: String?, group: String?) {
        self.kind = kind
        self.arguments = arguments
        self.user = user
        self.group = group
    }
}

/// An e-mail alert, formatted as keepalived's `smtp_alert()`.
public struct AlertMail: Hashable, Sendable {
    /// `[router_id] Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN`.
    public var subject: String
    /// `=> TCP CHECK failed on service <=`.
    public var body: String

    public init(subject: String, body: String) {
        self.subject = subject
        self.body = body
    }
}

/// What the engine asks for. The engine does none of it itself.
public enum HealthCheckAction: Hashable, Sendable {
    /// Change the IPVS table.
    case ipvs(IPVSCommand)
    /// Start a probe; its outcome comes back as `HealthCheckEvent.probeFinished`.
    case probe(CheckerID, ProbeRequest)
    /// Run a notify script (without waiting for it).
    case runScript(NotifyScript)
    /// Write a line (ending in a newline) to `lvs_notify_fifo`.
    case writeFIFO(String)
    /// Send an e-mail alert to `notification_email` through `smtp_server`.
    case sendMail(AlertMail)
    /// A log line, worded as keepalived's.
    case log(String)
}

/// What the driver tells the engine.
public enum HealthCheckEvent: Hashable, Sendable {
    /// A probe started by `.probe` finished.
    case probeFinished(CheckerID, ProbeOutcome)
    /// An address appeared on or left a local interface (`ha_suspend`: checks of a virtual
    /// server run only while its address is local).
    case localAddress(IPAddress, present: Bool)
}
