// sockaddr_in / sockaddr_in6 of an address and port, for bind(2), connect(2) and sendto(2).
import Glibc
import LVSCore

/// The socket address of an `IPAddress` and a port.
public enum SocketAddress {
    /// `a`:`port` as a `sockaddr_in`.
    public static func ipv4(_ a: IPv4Address, port: UInt16) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = a.value.bigEndian
        return sa
    }

    /// `a`:`port` as a `sockaddr_in6`.
    public static func ipv6(_ a: IPv6Address, port: UInt16) -> sockaddr_in6 {
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: a.bytes) }
        return sa
    }

    /// Calls `body` with `a`:`port` as a `sockaddr` and its length.
    public static func with<R>(_ a: IPAddress, port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch a {
        case .v4(let v):
            var sa = ipv4(v, port: port)
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(let v):
            var sa = ipv6(v, port: port)
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}
