// How packets reach a real server: masquerade (NAT), direct routing, tunnelling, local, FULLNAT.

/// The encapsulation of a tunnelled real server (`--tun-type`).
public enum TunnelType: UInt8, Hashable, Sendable, CustomStringConvertible {
    case ipip = 0
    case gue = 1
    case gre = 2

    /// `ipip`, `gue`, `gre` as ipvsadm names them.
    public var description: String {
        switch self {
        case .ipip: return "ipip"
        case .gue: return "gue"
        case .gre: return "gre"
        }
    }
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
public struct TunnelFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `--tun-csum`: outer checksum on (gue, gre).
    public static let checksum = TunnelFlags(rawValue: 1 << 0)
    /// `--tun-remcsum`: remote checksum offload (gue only).
    public static let remoteChecksum = TunnelFlags(rawValue: 1 << 1)
}

/// Tunnel parameters of a tunnelled real server.
public struct TunnelSpec: Hashable, Sendable {
    public var type: TunnelType
    /// The destination UDP port for GUE (`--tun-port`); 0 otherwise.
    public var port: UInt16
    public var flags: TunnelFlags

    public init(type: TunnelType = .ipip, port: UInt16 = 0, flags: TunnelFlags = []) {
        self.type = type
        self.port = port
        self.flags = flags
    }
}

/// The forwarding method of a real server (`IP_VS_CONN_F_FWD_MASK`).
public enum ForwardingMethod: Hashable, Sendable {
    /// NAT, `-m`: destination rewritten to the real server, replies rewritten back. "Masq".
    case masquerade
    /// The local stack (`IP_VS_CONN_F_LOCALNODE`). "Local".
    case local
    /// IP tunnelling, `-i`. "Tunnel".
    case tunnel(TunnelSpec)
    /// Direct routing, `-g` (the default). "Route".
    case route
    /// FULLNAT (not in mainline; Alibaba LVS / DPVS): source rewritten to a local address too. "FullNat".
    case fullNAT

    /// The kernel's connection-flag value of the method (MASQ 0, LOCALNODE 1, TUNNEL 2, DROUTE 3;
    /// FULLNAT 5 as in Alibaba's LVS).
    public var kernelCode: UInt32 {
        switch self {
        case .masquerade: return 0
        case .local: return 1
        case .tunnel: return 2
        case .route: return 3
        case .fullNAT: return 5
        }
    }

    /// ipvsadm's "Forward" column: `Masq`, `Local`, `Tunnel`, `Route`, `FullNat`.
    public var listingName: String {
        switch self {
        case .masquerade: return "Masq"
        case .local: return "Local"
        case .tunnel: return "Tunnel"
        case .route: return "Route"
        case .fullNAT: return "FullNat"
        }
    }

    /// True for methods whose replies come back through the director (NAT and FULLNAT).
    @inlinable public var repliesPassThroughDirector: Bool {
        switch self {
        case .masquerade, .fullNAT: return true
        default: return false
        }
    }
}
