// Host and service names as ipvsadm resolves them, behind a protocol so tests need no DNS.
import LVSCore

#if canImport(Glibc)
    import Glibc
#endif

/// The name lookups ipvsadm does: `gethostbyname` (IPv4 only), `getservbyname`, and for listings
/// without `-n`, `gethostbyaddr` and `getservbyport`.
public protocol IPVSAdmNameResolver: AnyObject {
    /// `gethostbyname(name)` restricted to IPv4 (ipvsadm's `host_to_addr`).
    func ipv4Address(ofHost name: String) -> IPv4Address?
    /// `getservbyname(name, proto)`; `proto` is "tcp", "udp" or "sctp".
    func port(ofService name: String, protocol proto: String) -> UInt16?
    /// `gethostbyaddr`: the host name of an address, if any.
    func hostName(of address: IPAddress) -> String?
    /// `getservbyport`: the service name of a port, if any.
    func serviceName(ofPort port: UInt16, protocol proto: String) -> String?
}

/// Resolves nothing: every address and port stays numeric.
public final class NumericOnlyResolver: IPVSAdmNameResolver {
    public init() {}
    public func ipv4Address(ofHost name: String) -> IPv4Address? { nil }
    public func port(ofService name: String, protocol proto: String) -> UInt16? { nil }
    public func hostName(of address: IPAddress) -> String? { nil }
    public func serviceName(ofPort port: UInt16, protocol proto: String) -> String? { nil }
}

/// A resolver backed by fixed tables (tests, or names known in advance).
public final class TableResolver: IPVSAdmNameResolver {
    public var hosts: [String: IPv4Address]
    public var services: [String: UInt16]
    public var hostNames: [IPAddress: String]
    public var serviceNames: [UInt16: String]

    public init(
        hosts: [String: IPv4Address] = [:], services: [String: UInt16] = [:], hostNames: [IPAddress: String] = [:],
        serviceNames: [UInt16: String] = [:]
    ) {
        self.hosts = hosts
        self.services = services
        self.hostNames = hostNames
        self.serviceNames = serviceNames
    }

    public func ipv4Address(ofHost name: String) -> IPv4Address? { hosts[name] }
    public func port(ofService name: String, protocol proto: String) -> UInt16? { services[name] }
    public func hostName(of address: IPAddress) -> String? { hostNames[address] }
    public func serviceName(ofPort port: UInt16, protocol proto: String) -> String? { serviceNames[port] }
}

#if canImport(Glibc)
    /// The system's resolver (`/etc/hosts`, DNS, `/etc/services` through glibc), with results
    /// cached for the life of the process.
    public final class SystemResolver: IPVSAdmNameResolver {
        private var hostNameCache: [IPAddress: String?] = [:]
        private var serviceNameCache: [String: String?] = [:]

        public init() {}

        public func ipv4Address(ofHost name: String) -> IPv4Address? {
            guard let h = gethostbyname(name), h.pointee.h_addrtype == AF_INET, h.pointee.h_length == 4,
                let list = h.pointee.h_addr_list, let first = list[0]
            else { return nil }
            let b = UnsafeRawPointer(first).assumingMemoryBound(to: UInt8.self)
            return IPv4Address(b[0], b[1], b[2], b[3])
        }

        public func port(ofService name: String, protocol proto: String) -> UInt16? {
            guard let s = getservbyname(name, proto) else { return nil }
            return UInt16(bigEndian: UInt16(truncatingIfNeeded: s.pointee.s_port))
        }

        public func hostName(of address: IPAddress) -> String? {
            if let cached = hostNameCache[address] { return cached }
            var result: String?
            switch address {
            case .v4(let a):
                var raw = in_addr(s_addr: a.value.bigEndian)
                if let h = gethostbyaddr(&raw, socklen_t(MemoryLayout<in_addr>.size), AF_INET) {
                    result = String(cString: h.pointee.h_name)
                }
            case .v6(let a):
                var bytes = [UInt8](repeating: 0, count: 16)
                for i in 0..<8 {
                    bytes[i] = UInt8(truncatingIfNeeded: a.high >> UInt64(56 - 8 * i))
                    bytes[i + 8] = UInt8(truncatingIfNeeded: a.low >> UInt64(56 - 8 * i))
                }
                if let h = gethostbyaddr(bytes, 16, AF_INET6) { result = String(cString: h.pointee.h_name) }
            }
            hostNameCache[address] = result
            return result
        }

        public func serviceName(ofPort port: UInt16, protocol proto: String) -> String? {
            let key = "\(port)/\(proto)"
            if let cached = serviceNameCache[key] { return cached }
            var result: String?
            if let s = getservbyport(Int32(port.bigEndian), proto) { result = String(cString: s.pointee.s_name) }
            serviceNameCache[key] = result
            return result
        }
    }
#endif
