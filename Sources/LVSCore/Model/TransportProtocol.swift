// The transport protocols a virtual service can balance.

/// A virtual service's protocol, by IP protocol number.
public enum TransportProtocol: UInt8, Hashable, Sendable, Comparable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case sctp = 132

    /// ipvsadm's listing name: `TCP`, `UDP`, `SCTP`.
    public var description: String {
        switch self {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .sctp: return "SCTP"
        }
    }

    public static func < (a: TransportProtocol, b: TransportProtocol) -> Bool { a.rawValue < b.rawValue }
}
