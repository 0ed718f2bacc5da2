// The transport protocols a virtual service can balance.

/// A virtual service's protocol, by IP protocol number.
public enum TransportProtocol: UInt8, Hashable, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case sctp = 132

    /// ipvsadm's listing name: `TCP`, `UDP`, `SCTP` (also `/proc/net/ip_vs_conn`'s, procfs's
    /// `proto` label and keepalived's `protocol` keyword).
    public var name: StaticString {
        switch self {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .sctp: return "SCTP"
        }
    }

    /// The protocol whose listing name is `name` (exactly: `TCP`, `UDP`, `SCTP`).
    public init?(name: String) {
        guard let p = Self.allCases.first(where: { $0.name.description == name }) else { return nil }
        self = p
    }

    public var description: String { name.description }

    public static func < (a: TransportProtocol, b: TransportProtocol) -> Bool { a.rawValue < b.rawValue }
}
