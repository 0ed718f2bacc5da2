// The engine's runtime records: checkers, destinations (real and sorry servers), virtual servers.
import KeepalivedConfig
import LVSCore

/// How a checker kind counts retries and when it schedules its next run (keepalived's
/// per-checker epilogs differ slightly).
enum RetryStyle {
    /// `tcp_epilog` (TCP_CHECK) and `smtp_final` (SMTP_CHECK): a failure is retried every
    /// `delay_before_retry` up to `retry` times, also while the checker is already down.
    case retryAlways
    /// `udp_epilog`, `icmp_epilog`, `dns_final`, MISC_CHECK: only an up (or not yet run)
    /// checker retries; a down checker simply runs again after `delay_loop`.
    case retryWhileUp
    /// HTTP_GET / SSL_GET (`epilog()` in check_http.c): one URL per run, retries per URL.
    case perURL
}

/// One checker's state (keepalived `checker_t`: `is_up`, `has_run`, `retry_it`, ...).
struct CheckerRuntime {
    var config: HealthChecker
    var isUp = true
    var hasRun = false
    var retryIt: UInt32 = 0
    /// When it runs next; nil while a probe is in flight or when it never runs.
    var nextRun: Timestamp?
    var inFlight = false
    var startedAt = Timestamp.zero
    /// HTTP: the URL checked next (nil: past the last one) and the URL that failed, if any.
    var urlIndex: Int? = 0
    var failedURL: Int?
    /// MISC: the last exit status acted on (keepalived starts it at 0).
    var lastExitCode = 0
    /// False while `ha_suspend` holds the checker (its virtual server's address is not local).
    var enabled = true
    /// FILE_CHECK and BFD_CHECK are not run by SwiftLVS: they never change the server's state.
    var supported: Bool

    init(config: HealthChecker) {
        self.config = config
        switch config.kind {
        case .file, .bfd: supported = false
        default: supported = true
        }
    }

    var retry: UInt32 { config.effective.retry }
    var alpha: Bool { config.effective.alpha }
    var delayLoop: Duration { config.effective.delayLoop.duration }
    var delayBeforeRetry: Duration { config.effective.delayBeforeRetry.duration }

    var style: RetryStyle {
        switch config.kind {
        case .tcp, .smtp: return .retryAlways
        case .http, .ssl: return .perURL
        default: return .retryWhileUp
        }
    }

    var urls: [HTTPCheckURL] {
        switch config.kind {
        case .http(let h), .ssl(let h): return h.urls
        default: return []
        }
    }

    var isMisc: Bool {
        if case .misc = config.kind { return true }
        return false
    }

    /// True when two checkers are "the same check" for reload (keepalived `compare` functions:
    /// same kind and options, same connection).
    func sameCheck(as other: CheckerRuntime) -> Bool {
        config.kind == other.config.kind && config.effective.destination == other.config.effective.destination
            && config.effective.source == other.config.effective.source
    }
}

/// A real server or a sorry server as keepalived tracks it (`real_server_t`: `alive`, `set`,
/// `inhibit`, `effective_weight`, `num_failed_checkers`).
struct Destination {
    /// Its IPVS spec for each service key of the virtual server (same order as the keys).
    var specs: [RealServerSpec]
    var endpoint: Endpoint
    /// In service (counted for the quorum, added to the pool).
    var alive = false
    /// Listed in IPVS (possibly at weight 0 when inhibited).
    var set = false
    /// `inhibit_on_failure` / `sorry_server_inhibit`.
    var inhibit = false
    /// The configured weight (`iweight`).
    var configuredWeight: Int64
    /// The weight in use (`misc_dynamic` changes it).
    var effectiveWeight: Int64
    var previousEffectiveWeight: Int64
    var failedCheckers = 0
    var reloaded = false
    var smtpAlert = false
    var notifyUp: ScriptCommand?
    var notifyDown: ScriptCommand?
    var checkers: [CheckerRuntime] = []

    init(specs: [RealServerSpec], endpoint: Endpoint, weight: Int64) {
        self.specs = specs
        self.endpoint = endpoint
        self.configuredWeight = weight
        self.effectiveWeight = weight
        self.previousEffectiveWeight = weight
    }
}

/// IPVS weights are 0...INT_MAX (keepalived `real_weight()`).
func realWeight(_ w: Int64) -> Int32 { Int32(clamping: max(0, w)) }

/// One `virtual_server` (`virtual_server_t`).
struct VirtualServerRuntime {
    var config: VirtualServer
    /// One service per key (a group has several).
    var services: [VirtualServiceSpec]
    var realServers: [Destination]
    var sorry: Destination?
    var quorumUp = false
    /// Its services are in IPVS.
    var alive = false
    var reloaded = false

    var keys: [ServiceKey] { services.map(\.key) }

    /// Sum of the weights of live real servers (`weigh_live_realservers`).
    var liveWeight: Int64 {
        realServers.reduce(0) { $1.alive ? $0 + Int64(realWeight($1.effectiveWeight)) : $0 }
    }

    /// The address whose presence `ha_suspend` watches (address services only).
    var suspendAddress: IPAddress? {
        if case .endpoint(let a, _) = config.address { return a }
        return nil
    }
}

/// The state of one real server, for callers and tests.
public struct RealServerStatus: Hashable, Sendable {
    public var endpoint: Endpoint
    /// In service.
    public var alive: Bool
    /// Listed in IPVS.
    public var listed: Bool
    /// The weight in use (`misc_dynamic` may change it).
    public var weight: Int32
    /// How many of its checkers are failing.
    public var failedCheckers: Int
    /// Each checker's up/down state.
    public var checkersUp: [Bool]
}

/// Where the engine's jitter comes from: `warmup × random` delays each checker's first run.
public protocol HealthCheckRandom: Sendable {
    /// A value in 0...1.
    func unitInterval() -> Double
}

/// The system's random numbers.
public struct SystemHealthCheckRandom: HealthCheckRandom {
    public init() {}
    public func unitInterval() -> Double { Double.random(in: 0...1) }
}

/// The same value every time (tests).
public struct FixedHealthCheckRandom: HealthCheckRandom {
    public let value: Double
    public init(_ value: Double) { self.value = min(1, max(0, value)) }
    public func unitInterval() -> Double { value }
}
