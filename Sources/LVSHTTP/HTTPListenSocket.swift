// The HTTP listener's socket, bound and listening before lvsd forks, so a port in use stops the start.
import Glibc
import LVSCore
import LVSStatus

/// A listening TCP socket on `--http ADDR:PORT`. lvsd binds it in the foreground, next to its
/// control socket: "address already in use" is one line and exit 1 before anything started;
/// the event loop that serves it starts after the fork (`HTTPServer`).
public final class HTTPListenSocket: @unchecked Sendable {
    public let address: HTTPBindAddress
    /// The descriptor (handed to NIO by `HTTPServer`; -1 once taken or closed).
    public private(set) var descriptor: Int32
    /// The port actually bound (differs from `address.port` only for port 0 in tests).
    public let boundPort: UInt16

    /// Binds and listens. Throws the one line lvsd prints.
    public init(_ address: HTTPBindAddress, backlog: Int32 = 128) throws(HTTPListenError) {
        self.address = address
        let family = address.address.family == .inet ? AF_INET : AF_INET6
        let fd = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw HTTPListenError(address, "socket: \(Self.errorText(errno))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var result: Int32
        switch address.address {
        case .v4(let a):
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = address.port.bigEndian
            sa.sin_addr.s_addr = a.value.bigEndian
            result = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(let a):
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { raw in
                for i in 0..<8 { raw[i] = UInt8(truncatingIfNeeded: a.high >> (56 - 8 * UInt64(i))) }
                for i in 0..<8 { raw[8 + i] = UInt8(truncatingIfNeeded: a.low >> (56 - 8 * UInt64(i))) }
            }
            result = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        if result != 0 {
            let e = errno
            _ = Glibc.close(fd)
            if e == EADDRINUSE {
                throw HTTPListenError(
                    address,
                    "address already in use (another lvsd or exporter listens there; "
                        + "--http ADDR:PORT picks another port, --http off turns the listener off)")
            }
            throw HTTPListenError(address, Self.errorText(e))
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            throw HTTPListenError(address, "listen: \(Self.errorText(e))")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var port = address.port
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if named == 0 {
            port = withUnsafeBytes(of: &storage) { raw in UInt16(raw[2]) << 8 | UInt16(raw[3]) }
        }
        descriptor = fd
        boundPort = port
    }

    /// Hands the descriptor over (to NIO); the socket is then closed by its channel.
    func take() -> Int32 {
        defer { descriptor = -1 }
        return descriptor
    }

    /// Closes the socket if nobody took it.
    public func close() {
        if descriptor >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = -1
        }
    }

    deinit { close() }

    static func errorText(_ e: Int32) -> String { String(cString: strerror(e)) }
}

/// Why the HTTP listener could not bind: `--http 127.0.0.1:9110: address already in use …`.
public struct HTTPListenError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    init(_ address: HTTPBindAddress, _ problem: String) { message = "--http \(address): \(problem)" }
    public var description: String { message }
}
