// One connection (or persistence template) as the table stores it: 112 bytes, no references.

/// Connection flags (SwiftLVS's own bit layout of the kernel's `IP_VS_CONN_F_*` meanings).
public struct ConnectionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// No packet from the real server seen yet (DR/TUN/local): INPUT-ONLY state table.
    public static let noOutput = ConnectionFlags(rawValue: 1 << 3)
    /// Counted in InActConn rather than ActiveConn.
    public static let inactive = ConnectionFlags(rawValue: 1 << 4)
    /// A persistence template.
    public static let template = ConnectionFlags(rawValue: 1 << 5)
    /// One-packet scheduling: never hashed, gone after one packet.
    public static let onePacket = ConnectionFlags(rawValue: 1 << 6)
    /// In the lookup table under its client key.
    public static let hashedIn = ConnectionFlags(rawValue: 1 << 7)
    /// In the lookup table under its local (FULLNAT) key.
    public static let hashedOut = ConnectionFlags(rawValue: 1 << 8)
    /// A template that controlled a connection which reached ESTABLISHED (`IP_VS_CTPL_S_ASSURED`).
    public static let assured = ConnectionFlags(rawValue: 1 << 9)
    /// Mask of the forwarding-method code stored in the low 3 bits.
    public static let forwardingMask = ConnectionFlags(rawValue: 0x7)
}

/// An address in a fixed 16 bytes: IPv4 in the low 32 bits of `low`, IPv6 in both halves.
public struct RawAddress: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    @inlinable public init(_ a: IPAddress) {
        switch a {
        case .v4(let v):
            high = 0
            low = UInt64(v.value)
        case .v6(let v):
            high = v.high
            low = v.low
        }
    }

    /// The address for a family.
    @inlinable public func address(_ family: AddressFamily) -> IPAddress {
        family == .inet ? .v4(IPv4Address(UInt32(truncatingIfNeeded: low))) : .v6(IPv6Address(high: high, low: low))
    }
}

/// One entry of the connection table. Plain data: indices instead of references, so entries
/// live in large unmanaged arrays with no ARC or per-entry allocation.
public struct ConnectionRecord: Sendable {
    public var client: RawAddress
    public var virtual: RawAddress
    public var destination: RawAddress
    /// FULLNAT local address.
    public var local: RawAddress
    public var clientPort: UInt16
    public var virtualPort: UInt16
    public var destinationPort: UInt16
    public var localPort: UInt16
    /// Real-server slot, or -1.
    public var server: Int32
    /// The controlling template's id, or `ConnectionTable.none`.
    public var control: UInt32
    /// Connections this one controls (`n_control`).
    public var controlled: UInt32
    /// Expiry time in table ticks.
    public var expires: UInt32
    /// Current timeout in seconds.
    public var timeout: UInt32
    /// Packets from the client (sync threshold counting).
    public var inPackets: UInt32
    var inNext: UInt32
    var outNext: UInt32
    var wheelNext: UInt32
    var wheelPrev: UInt32
    var wheelSlot: UInt16
    public var flags: ConnectionFlags
    /// IP protocol number (0 for fwmark templates).
    public var protocolNumber: UInt8
    /// `AddressFamily` raw value of the client side.
    public var familyRaw: UInt8
    /// Protocol state (TCPState / SCTPState raw value; 0 for UDP and templates).
    public var state: UInt8
    /// `AddressFamily` raw value of the real server side.
    public var destinationFamilyRaw: UInt8

    /// The client side's address family.
    @inlinable public var family: AddressFamily { AddressFamily(rawValue: familyRaw) ?? .inet }

    /// The real server's address family (differs only for tunnelled mixed-family servers).
    @inlinable public var destinationFamily: AddressFamily { AddressFamily(rawValue: destinationFamilyRaw) ?? .inet }

    /// The forwarding-method code (`ForwardingMethod.kernelCode`).
    @inlinable public var forwardingCode: UInt32 { UInt32(flags.rawValue & 0x7) }

    static var empty: ConnectionRecord {
        let z = RawAddress(high: 0, low: 0)
        return ConnectionRecord(
            client: z, virtual: z, destination: z, local: z, clientPort: 0, virtualPort: 0, destinationPort: 0,
            localPort: 0, server: -1, control: ConnectionTable.none, controlled: 0, expires: 0, timeout: 0,
            inPackets: 0, inNext: ConnectionTable.none, outNext: ConnectionTable.none, wheelNext: ConnectionTable.none,
            wheelPrev: ConnectionTable.none, wheelSlot: 0, flags: [], protocolNumber: 0, familyRaw: 2, state: 0,
            destinationFamilyRaw: 2)
    }
}
