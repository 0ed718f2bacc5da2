// What one ipvsadm invocation asks for, as ipvsadm.c's command entry holds it before it calls libipvs.
import LVSCore

/// IP protocol numbers as ipvsadm stores them in a service.
public enum IPProtocolNumber {
    public static let ip: UInt8 = 0
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let sctp: UInt8 = 132

    /// `getservbyname`'s protocol name for a protocol number, if ipvsadm looks names up for it.
    public static func serviceProtocolName(_ p: UInt8) -> String? {
        switch p {
        case tcp: return "tcp"
        case udp: return "udp"
        case sctp: return "sctp"
        default: return nil
        }
    }
}

/// Address families as ipvsadm stores them (0 = not set).
public enum AddressFamilyNumber {
    public static let unspecified: UInt16 = 0
    public static let inet: UInt16 = 2
    public static let inet6: UInt16 = 10
}

/// The virtual service fields of a command (`ipvs_service_t`).
public struct ServiceArguments: Hashable, Sendable {
    public var family: UInt16 = AddressFamilyNumber.unspecified
    public var protocolNumber: UInt8 = IPProtocolNumber.ip
    public var address: IPAddress = .v4(.any)
    public var port: UInt16 = 0
    public var firewallMark: UInt32 = 0
    public var scheduler: [UInt8] = []
    public var flags: UInt32 = 0
    public var timeout: UInt32 = 0
    /// An IPv4 mask in host order, or an IPv6 prefix length.
    public var netmask: UInt32 = 0xFFFF_FFFF
    public var persistenceEngine: [UInt8] = []

    public init() {}

    /// The service's key, or nil when no service was named.
    public var key: ServiceKey? {
        if firewallMark != 0 {
            return .firewallMark(firewallMark, family == AddressFamilyNumber.inet6 ? .inet6 : .inet)
        }
        guard let p = TransportProtocol(rawValue: protocolNumber) else { return nil }
        return .endpoint(p, Endpoint(address, port))
    }
}

/// The real-server fields of a command (`ipvs_dest_t`).
public struct DestinationArguments: Hashable, Sendable {
    public var family: UInt16 = AddressFamilyNumber.unspecified
    public var address: IPAddress = .v4(.any)
    public var port: UInt16 = 0
    /// `IP_VS_CONN_F_*` forwarding code: 0 masquerade, 2 tunnel, 3 direct routing (the default),
    /// 5 FULLNAT (SwiftLVS).
    public var forwardingCode: UInt32 = 3
    public var weight: Int64 = 1
    public var upperThreshold: Int64 = 0
    public var lowerThreshold: Int64 = 0
    /// 0 ipip, 1 gue, 2 gre.
    public var tunnelType: UInt8 = 0
    public var tunnelPort: UInt16 = 0
    /// 0 no checksum, 1 checksum, 2 remote checksum (bits may combine).
    public var tunnelFlags: UInt16 = 0

    public init() {}

    public var endpoint: Endpoint { Endpoint(address, port) }

    /// The forwarding method this command asks for.
    public var forwarding: ForwardingMethod {
        switch forwardingCode & 7 {
        case 0: return .masquerade
        case 1: return .local
        case 2:
            return .tunnel(
                TunnelSpec(
                    type: TunnelType(rawValue: tunnelType) ?? .ipip, port: tunnelPort,
                    flags: TunnelFlags(rawValue: tunnelFlags)))
        case 5: return .fullNAT
        default: return .route
        }
    }

    /// The real-server description sent to lvsd.
    public var spec: RealServerSpec {
        RealServerSpec(
            endpoint: endpoint, forwarding: forwarding, weight: Int32(truncatingIfNeeded: weight),
            upperThreshold: UInt32(truncatingIfNeeded: upperThreshold),
            lowerThreshold: UInt32(truncatingIfNeeded: lowerThreshold))
    }
}

/// The sync-daemon fields of a command (`ipvs_daemon_t`).
public struct DaemonArguments: Hashable, Sendable {
    public var role: SyncDaemonSpec.Role = .master
    public var interface: [UInt8] = []
    public var syncID: UInt8 = 0
    public var maxLength: UInt16 = 0
    public var group: IPAddress?
    public var port: UInt16 = 0
    public var ttl: UInt8 = 0

    public init() {}

    public var spec: SyncDaemonSpec {
        SyncDaemonSpec(
            role: role, multicastInterface: CText.text(interface), syncID: syncID, maxLength: maxLength,
            group: group, port: port, ttl: ttl)
    }
}

/// ipvsadm's listing format flags (`FMT_*`).
public struct ListingFormat: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let numeric = ListingFormat(rawValue: 0x0001)
    public static let rule = ListingFormat(rawValue: 0x0002)
    public static let stats = ListingFormat(rawValue: 0x0004)
    public static let rate = ListingFormat(rawValue: 0x0008)
    public static let thresholds = ListingFormat(rawValue: 0x0010)
    public static let persistentConn = ListingFormat(rawValue: 0x0020)
    public static let noSort = ListingFormat(rawValue: 0x0040)
    public static let exact = ListingFormat(rawValue: 0x0080)
    public static let tunInfo = ListingFormat(rawValue: 0x0100)
}

/// A fully parsed and checked ipvsadm command, ready to run.
public struct IPVSAdmCommand: Hashable, Sendable {
    public var kind: IPVSAdmCommandKind
    public var service = ServiceArguments()
    public var destination = DestinationArguments()
    public var timeouts = IPVSTimeouts(tcp: 0, tcpFin: 0, udp: 0)
    public var daemon = DaemonArguments()
    /// `-z`: a FULLNAT local address (SwiftLVS extension, DPVS syntax).
    public var localAddress: IPAddress?
    /// The option classes given (bits of `IPVSAdmOptionClass`).
    public var options: UInt64 = 0
    public var format: ListingFormat = []

    public init(kind: IPVSAdmCommandKind) { self.kind = kind }

    public func has(_ o: IPVSAdmOptionClass) -> Bool { options & o.bit != 0 }

    /// The virtual service description sent with `-A` / `-E`.
    public var serviceSpec: VirtualServiceSpec? {
        guard let key = service.key else { return nil }
        return VirtualServiceSpec(
            key: key, scheduler: CText.text(service.scheduler), flags: ServiceFlags(rawValue: service.flags),
            persistenceTimeout: service.timeout, netmask: service.netmask,
            persistenceEngine: service.persistenceEngine.isEmpty ? nil : CText.text(service.persistenceEngine))
    }
}
