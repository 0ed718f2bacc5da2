// Where the control socket lives: an abstract Unix socket per network namespace, or a path.
#if canImport(Glibc)
    import Glibc
#endif

/// The address of lvsd's control socket.
///
/// The default is the abstract Unix socket `@swiftlvs-lvsd`. Abstract sockets belong to the
/// network namespace, exactly like the kernel's IPVS table, so `ip netns exec NS ipvsadm …`
/// reaches the lvsd of namespace NS and no other. `lvsd --control PATH` and the environment
/// variable `LVSD_CONTROL` (honoured by lvsd and ipvsadm) select another endpoint: a text that
/// starts with `@` names an abstract socket, anything else is a filesystem path.
public enum ControlEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// An abstract-namespace socket name (without the leading NUL).
    case abstract(String)
    /// A socket file.
    case path(String)

    /// The environment variable that overrides the endpoint.
    public static let environmentVariable = "LVSD_CONTROL"
    /// The default endpoint, `@swiftlvs-lvsd`.
    public static let `default` = ControlEndpoint.abstract("swiftlvs-lvsd")

    /// Parses `@name` (abstract) or a path; nil for an empty text or one too long for `sun_path`.
    public init?(parsing text: String) {
        if text.hasPrefix("@") {
            let name = String(text.dropFirst())
            guard !name.isEmpty, name.utf8.count <= 107 else { return nil }
            self = .abstract(name)
        } else {
            guard !text.isEmpty, text.utf8.count <= 107 else { return nil }
            self = .path(text)
        }
    }

    /// The endpoint named by `override`, else by `LVSD_CONTROL` in `environment`, else the default.
    /// Throws a message when the chosen text is not a usable endpoint.
    public static func resolve(override: String? = nil, environment: [String: String]) throws(ControlEndpointError)
        -> ControlEndpoint
    {
        if let text = override ?? environment[environmentVariable] {
            guard let e = ControlEndpoint(parsing: text) else { throw ControlEndpointError(text: text) }
            return e
        }
        return .default
    }

    /// `@name` or the path, as users write it.
    public var description: String {
        switch self {
        case .abstract(let n): return "@" + n
        case .path(let p): return p
        }
    }

    #if canImport(Glibc)
        /// Calls `body` with a `sockaddr_un` for this endpoint and its exact length.
        public func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
            let length: Int
            switch self {
            case .abstract(let name):
                let bytes = Array(name.utf8)
                withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                    raw[0] = 0
                    for (i, b) in bytes.enumerated() { raw[i + 1] = b }
                }
                length = pathOffset + 1 + bytes.count
            case .path(let p):
                let bytes = Array(p.utf8)
                withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                    for (i, b) in bytes.enumerated() { raw[i] = b }
                    raw[bytes.count] = 0
                }
                length = pathOffset + bytes.count + 1
            }
            return withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
            }
        }
    #endif
}

/// An `LVSD_CONTROL` / `--control` value that is not a usable endpoint.
public struct ControlEndpointError: Error, Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String {
        "invalid control endpoint '\(text)' (use @name for an abstract socket or a path of at most 107 bytes)"
    }
}
