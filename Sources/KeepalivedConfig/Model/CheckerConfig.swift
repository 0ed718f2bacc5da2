// The typed health checkers of a real server: one case per kind, plus common options.
import LVSCore

/// Where a checker connects (`connect_ip`, `connect_port`, `bindto`, `bind_port`, `bind_if`,
/// `fwmark`, `connect_timeout`), as configured.
public struct CheckerConnection: Hashable, Sendable {
    public var connectIP: IPAddress?
    public var connectPort: UInt16?
    public var bindTo: IPAddress?
    public var bindPort: UInt16?
    public var bindInterface: String?
    /// Mark put on the checker's packets (`SO_MARK`).
    public var firewallMark: UInt32?
    public var connectTimeout: TimerValue?

    public init() {}
}

/// `url { ... }` of HTTP_GET / SSL_GET.
public struct HTTPCheckURL: Hashable, Sendable {
    public var path: String?
    /// `digest`: MD5 of the body, lowercase hex.
    public var digest: String?
    /// `status_code N|N-M ...` (default 200-299).
    public var statusCodes: [ClosedRange<UInt16>] = [200...299]
    public var virtualhost: String?
    public var regex: String?
    public var regexNoMatch = false
    public var regexOptions: [String] = []
    public var regexMinOffset: UInt32?
    public var regexMaxOffset: UInt32?
    public var location: SourceLocation

    public init(location: SourceLocation) { self.location = location }

    /// True when `code` is one of the expected status codes.
    public func accepts(statusCode code: UInt16) -> Bool { statusCodes.contains { $0.contains(code) } }
}

/// `http_protocol 1.0|1.0C|1.1`.
public enum HTTPProtocolVersion: String, Hashable, Sendable {
    case http10 = "1.0"
    /// HTTP/1.0 with `Connection: close`.
    case http10Close = "1.0C"
    case http11 = "1.1"
}

/// HTTP_GET / SSL_GET options.
public struct HTTPCheckConfig: Hashable, Sendable {
    public var urls: [HTTPCheckURL] = []
    public var virtualhost: String?
    /// `http_protocol` (default 1.0).
    public var httpProtocol: HTTPProtocolVersion = .http10
    public var enableSNI = false
    public var sniName: String?
    public var fastRecovery = false
    public var tlsCompliant = false

    public init() {}
}

/// MISC_CHECK options.
public struct MiscCheckConfig: Hashable, Sendable {
    /// `misc_path` (with `user` folded in).
    public var script: ScriptCommand?
    /// `misc_timeout` seconds; nil: the checker's delay_loop.
    public var timeout: TimerValue?
    /// `misc_dynamic`: exit status 2...255 sets the weight to status − 2.
    public var dynamic = false

    public init() {}
}

/// DNS_CHECK query types.
public enum DNSQueryType: String, Hashable, Sendable, CaseIterable {
    case a = "A"
    case ns = "NS"
    case cname = "CNAME"
    case soa = "SOA"
    case mx = "MX"
    case txt = "TXT"
    case aaaa = "AAAA"
}

/// DNS_CHECK options.
public struct DNSCheckConfig: Hashable, Sendable {
    /// `type` (default SOA).
    public var type: DNSQueryType = .soa
    /// `name` (default `.`).
    public var name = "."

    public init() {}
}

/// SMTP_CHECK options.
public struct SMTPCheckConfig: Hashable, Sendable {
    public var heloName: String?
    /// Deprecated `host { ... }` sub-blocks: extra connections, each checked.
    public var hosts: [CheckerConnection] = []

    public init() {}
}

/// UDP_CHECK options.
public struct UDPCheckConfig: Hashable, Sendable {
    /// `payload HEX`; nil: random bytes.
    public var payload: [UInt8]?
    /// `require_reply [HEX]`.
    public var requireReply = false
    /// The reply pattern and, per byte, the bits that must match (`x` nibbles are wildcards).
    public var replyPattern: [UInt8]?
    public var replyMask: [UInt8]?
    /// `min_reply_length` (default 0) / `max_reply_length` (default 255).
    public var minReplyLength: UInt32 = 0
    public var maxReplyLength: UInt32 = 255

    public init() {}
}

/// FILE_CHECK options.
public struct FileCheckConfig: Hashable, Sendable {
    public var trackFile: String?
    public var dynamic = false
    public var weight: Int?
    public var reverse = false

    public init() {}
}

/// The settings a checker runs with once the virtual server → real server → checker cascade and
/// the per-kind defaults are applied.
public struct EffectiveCheckerSettings: Hashable, Sendable {
    /// Where to connect: connect_ip / connect_port, else the real server's address and port.
    public var destination: Endpoint
    /// bindto / bind_port, if set.
    public var source: Endpoint?
    public var connectTimeout: TimerValue
    /// Retries before a failing server goes down (default 1; DNS 3; MISC 0).
    public var retry: UInt32
    /// Delay between retries (default 1 s; HTTP/SSL 3 s; DNS delay_loop).
    public var delayBeforeRetry: TimerValue
    /// Random delay before the first check, up to this (default delay_loop).
    public var warmup: TimerValue
    public var delayLoop: TimerValue
    public var alpha: Bool
}

/// One checker of a real server.
public struct HealthChecker: Hashable, Sendable {
    /// The checker kind and its own options.
    public enum Kind: Hashable, Sendable {
        case tcp
        case http(HTTPCheckConfig)
        case ssl(HTTPCheckConfig)
        case misc(MiscCheckConfig)
        case dns(DNSCheckConfig)
        case smtp(SMTPCheckConfig)
        case udp(UDPCheckConfig)
        case ping
        case file(FileCheckConfig)
        /// BFD_CHECK: the name of a bfd_instance.
        case bfd(name: String?)

        /// The block keyword (`TCP_CHECK`, `HTTP_GET`, ...).
        public var keyword: String {
            switch self {
            case .tcp: return "TCP_CHECK"
            case .http: return "HTTP_GET"
            case .ssl: return "SSL_GET"
            case .misc: return "MISC_CHECK"
            case .dns: return "DNS_CHECK"
            case .smtp: return "SMTP_CHECK"
            case .udp: return "UDP_CHECK"
            case .ping: return "PING_CHECK"
            case .file: return "FILE_CHECK"
            case .bfd: return "BFD_CHECK"
            }
        }
    }

    public var kind: Kind
    /// Connection options as configured (MISC_CHECK, FILE_CHECK and BFD_CHECK have none).
    public var connection = CheckerConnection()
    /// Common options as configured in the checker block.
    public var retry: UInt32?
    public var delayBeforeRetry: TimerValue?
    public var warmup: TimerValue?
    public var delayLoop: TimerValue?
    public var alpha: Bool?
    public var logAllFailures: Bool?
    /// The settings in effect after the cascade (filled in by validation).
    public var effective: EffectiveCheckerSettings
    public var location: SourceLocation
    public var keywordLocations: [String: SourceLocation] = [:]

    public init(kind: Kind, effective: EffectiveCheckerSettings, location: SourceLocation) {
        self.kind = kind
        self.effective = effective
        self.location = location
    }
}
