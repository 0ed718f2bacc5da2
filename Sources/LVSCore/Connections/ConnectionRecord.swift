// One connection (or persistence template) as the table stores it: 128 bytes (two cache lines), no references.

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
    /// A template keyed also by persistence-engine data (a SIP Call-ID digest in `local`).
    public static let persistenceData = ConnectionFlags(rawValue: 1 << 10)
    /// Created by connection sync on a backup (`IP_VS_CONN_F_SYNC`).
    public static let synced = ConnectionFlags(rawValue: 1 << 11)
    /// Counted in the per-source sketch (`lvsd_source_conn_max`).
    public static let sourceCounted = ConnectionFlags(rawValue: 1 << 12)
    /// Mask of the forwarding-method code stored in the low 3 bits.
    public static let forwardingMask = ConnectionFlags(rawValue: 0x7)
}

/// An address in a fixed 16 bytes as four 32-bit words (4-byte aligned, so a record packs tightly):
/// IPv4 in `w3`, IPv6 in network word order.
public struct RawAddress: Hashable, Sendable {
    public var w0: UInt32
    public var w1: UInt32
    public var w2: UInt32
    public var w3: UInt32

    @inlinable public init(high: UInt64, low: UInt64) {
        w0 = UInt32(truncatingIfNeeded: high >> 32)
        w1 = UInt32(truncatingIfNeeded: high)
        w2 = UInt32(truncatingIfNeeded: low >> 32)
        w3 = UInt32(truncatingIfNeeded: low)
    }

    @inlinable public init(_ a: IPAddress) {
        switch a {
        case .v4(let v):
            (w0, w1, w2, w3) = (0, 0, 0, v.value)
        case .v6(let v):
            (w0, w1) = (UInt32(truncatingIfNeeded: v.high >> 32), UInt32(truncatingIfNeeded: v.high))
            (w2, w3) = (UInt32(truncatingIfNeeded: v.low >> 32), UInt32(truncatingIfNeeded: v.low))
        }
    }

    /// Bytes 0–7 as a host integer.
    @inlinable public var high: UInt64 { UInt64(w0) << 32 | UInt64(w1) }
    /// Bytes 8–15 as a host integer.
    @inlinable public var low: UInt64 { UInt64(w2) << 32 | UInt64(w3) }

    /// The address for a family.
    @inlinable public func address(_ family: AddressFamily) -> IPAddress {
        family == .inet ? .v4(IPv4Address(w3)) : .v6(IPv6Address(high: high, low: low))
    }
}

/// One entry of the connection table. Plain data: indices instead of references, so entries
/// live in large unmanaged arrays with no ARC or per-entry allocation.
public struct ConnectionRecord: Sendable {
    // First cache line: everything a lookup compares, so a chain walk touches one line per entry.
    public var client: RawAddress
    public var virtual: RawAddress
    public var clientPort: UInt16
    public var virtualPort: UInt16
    /// IP protocol number (0 for fwmark templates).
    public var protocolNumber: UInt8
    /// `AddressFamily` raw value of the client side.
    public var familyRaw: UInt8
    public var flags: ConnectionFlags
    var inNext: UInt32
    public var destination: RawAddress
    public var destinationPort: UInt16
    /// Protocol state (TCPState / SCTPState raw value; 0 for UDP and templates).
    public var state: UInt8
    /// `AddressFamily` raw value of the real server side.
    public var destinationFamilyRaw: UInt8
    // Second line: FULLNAT, timers, bookkeeping.
    /// FULLNAT local address.
    public var local: RawAddress
    public var localPort: UInt16
    var wheelSlot: UInt16
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
    var outNext: UInt32
    var wheelNext: UInt32
    var wheelPrev: UInt32
    /// Inbound packets seen (`in_pkts`): drives when the sync master sends the connection.
    public var inPackets: UInt32
    /// When the connection was last synced, as `sync_endtime`: the tick its timeout would end,
    /// rounded down to a multiple of 4, with the retries already made in the low 2 bits.
    public var syncEndTime: UInt32
    /// The state when the connection was last synced (`old_state`).
    public var syncedState: UInt8

    /// The client side's address family.
    @inlinable public var family: AddressFamily { AddressFamily(rawValue: familyRaw) ?? .inet }

    /// The real server's address family (differs only for tunnelled mixed-family servers).
    @inlinable public var destinationFamily: AddressFamily { AddressFamily(rawValue: destinationFamilyRaw) ?? .inet }

    /// The forwarding-method code (`ForwardingMethod.kernelCode`).
    @inlinable public var forwardingCode: UInt32 { UInt32(flags.rawValue & 0x7) }

    static var empty: ConnectionRecord {
        let z = RawAddress(high: 0, low: 0)
        return ConnectionRecord(
            client: z, virtual: z, clientPort: 0, virtualPort: 0, protocolNumber: 0, familyRaw: 2, flags: [],
            inNext: ConnectionTable.none, destination: z, destinationPort: 0, state: 0, destinationFamilyRaw: 2,
            local: z, localPort: 0, wheelSlot: 0, server: -1, control: ConnectionTable.none, controlled: 0,
            expires: 0, timeout: 0, outNext: ConnectionTable.none, wheelNext: ConnectionTable.none,
            wheelPrev: ConnectionTable.none, inPackets: 0, syncEndTime: 0, syncedState: 0)
    }
}
