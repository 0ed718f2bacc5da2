// An IPv4 or IPv6 address, an address family, and an address:port endpoint.

/// The address family of a service, real server or connection.
public enum AddressFamily: UInt8, Hashable, Sendable, Comparable {
    /// IPv4 (`AF_INET`).
    case inet = 2
    /// IPv6 (`AF_INET6`).
    case inet6 = 10

    public static func < (a: AddressFamily, b: AddressFamily) -> Bool { a.rawValue < b.rawValue }
}

/// An IPv4 or an IPv6 address.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses an IPv4 dotted quad or an IPv6 address (without brackets).
    public init?(_ text: some StringProtocol) {
        if let a = IPv4Address(text) {
            self = .v4(a)
        } else if let a = IPv6Address(text) {
            self = .v6(a)
        } else {
            return nil
        }
    }

    /// The address family.
    @inlinable public var family: AddressFamily {
        switch self {
        case .v4: return .inet
        case .v6: return .inet6
        }
    }

    /// The text form (`10.0.0.1`, `2001:db8::1`).
    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }

    /// The IPv4 address, if this is one.
    @inlinable public var v4: IPv4Address? {
        if case .v4(let a) = self { return a }
        return nil
    }

    /// The IPv6 address, if this is one.
    @inlinable public var v6: IPv6Address? {
        if case .v6(let a) = self { return a }
        return nil
    }

    /// The kernel's 32-bit fold of an address for hashing schedulers: an IPv4 address as is, an
    /// IPv6 address as the XOR of its four words (ip_vs_dh/sh/lblc `ip_vs_*_hashkey`). The result
    /// is in host order, i.e. already `ntohl`-ed.
    @inlinable public var folded32: UInt32 {
        switch self {
        case .v4(let a): return a.value
        case .v6(let a):
            let w = a.words
            return w.0 ^ w.1 ^ w.2 ^ w.3
        }
    }

    /// Orders addresses as ipvsadm's sort does: IPv4 before IPv6, then by value.
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v6(let x), .v6(let y)): return x < y
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    /// The all-zero address of a family.
    public static func any(_ family: AddressFamily) -> IPAddress {
        family == .inet ? .v4(.any) : .v6(.any)
    }
}

/// An address and a port.
public struct Endpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `10.0.0.1:80` or `[2001:db8::1]:80`, as ipvsadm prints numeric endpoints.
    public var description: String {
        switch address {
        case .v4(let a): return "\(a):\(port)"
        case .v6(let a): return "[\(a)]:\(port)"
        }
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool {
        a.address != b.address ? a.address < b.address : a.port < b.port
    }
}
