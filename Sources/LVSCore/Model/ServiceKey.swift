// How a virtual service is identified: protocol + address:port, or a firewall mark.

/// The identity of a virtual service, as the kernel hashes it: `<protocol, VIP, port>` or
/// `<fwmark, family>`.
public enum ServiceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A TCP, UDP or SCTP service on an address and port (port 0 means "every port").
    case endpoint(TransportProtocol, Endpoint)
    /// A firewall-mark service (`-f mark`), for one address family.
    case firewallMark(UInt32, AddressFamily)

    /// The address family of the service.
    public var family: AddressFamily {
        switch self {
        case .endpoint(_, let e): return e.address.family
        case .firewallMark(_, let f): return f
        }
    }

    /// The service's port (0 for fwmark services).
    public var port: UInt16 {
        if case .endpoint(_, let e) = self { return e.port }
        return 0
    }

    /// The firewall mark, or 0 for address services.
    public var firewallMark: UInt32 {
        if case .firewallMark(let m, _) = self { return m }
        return 0
    }

    /// `TCP 10.0.0.1:80` or `FWM 1`.
    public var description: String {
        switch self {
        case .endpoint(let p, let e): return "\(p) \(e)"
        case .firewallMark(let m, let f): return f == .inet ? "FWM \(m)" : "FWM \(m) IPv6"
        }
    }

    /// ipvsadm's display order: fwmark, family, protocol, address, port (`ipvsadm.c` list sort).
    public static func < (a: ServiceKey, b: ServiceKey) -> Bool {
        func tuple(_ k: ServiceKey) -> (UInt32, AddressFamily, UInt8) {
            switch k {
            case .endpoint(let p, let e): return (0, e.address.family, p.rawValue)
            case .firewallMark(let m, let f): return (m, f, 0)
            }
        }
        let (ma, fa, pa) = tuple(a)
        let (mb, fb, pb) = tuple(b)
        if ma != mb { return ma < mb }
        if fa != fb { return fa < fb }
        if pa != pb { return pa < pb }
        if case .endpoint(_, let ea) = a, case .endpoint(_, let eb) = b { return ea < eb }
        return false
    }
}
