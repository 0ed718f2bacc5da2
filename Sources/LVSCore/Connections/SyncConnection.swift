// A connection as connection sync carries it: the kernel's flag bits and state numbers, plain data.

/// The kernel's `IP_VS_CONN_F_*` bits, as sync messages carry them (include/uapi/linux/ip_vs.h).
public struct KernelConnectionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The forwarding method in the low 3 bits: 0 masquerade, 1 local, 2 tunnel, 3 route (5 is
    /// SwiftLVS's FULLNAT).
    public static let forwardingMask = KernelConnectionFlags(rawValue: 0x0007)
    public static let sync = KernelConnectionFlags(rawValue: 0x0020)
    public static let hashed = KernelConnectionFlags(rawValue: 0x0040)
    public static let noOutput = KernelConnectionFlags(rawValue: 0x0080)
    public static let inactive = KernelConnectionFlags(rawValue: 0x0100)
    public static let outSequence = KernelConnectionFlags(rawValue: 0x0200)
    public static let inSequence = KernelConnectionFlags(rawValue: 0x0400)
    public static let sequenceMask = KernelConnectionFlags(rawValue: 0x0600)
    public static let noClientPort = KernelConnectionFlags(rawValue: 0x0800)
    public static let template = KernelConnectionFlags(rawValue: 0x1000)
    public static let onePacket = KernelConnectionFlags(rawValue: 0x2000)

    /// `IP_VS_CONN_F_BACKUP_MASK`: the bits a backup keeps from a version 1 message.
    public static let backupMask: KernelConnectionFlags = [
        .forwardingMask, .noOutput, .inactive, .sequenceMask, .noClientPort, .template,
    ]
    /// `IP_VS_CONN_F_BACKUP_UPD_MASK`: the bits a message may change on an existing entry.
    public static let backupUpdateMask: KernelConnectionFlags = [.inactive, .sequenceMask]

    /// The forwarding-method code.
    public var forwardingCode: UInt32 { rawValue & 0x7 }
}

/// Sequence-number adjustment of one direction (`struct ip_vs_seq`).
public struct SyncSequence: Hashable, Sendable {
    public var initialSequence: UInt32
    public var delta: UInt32
    public var previousDelta: UInt32

    public init(initialSequence: UInt32 = 0, delta: UInt32 = 0, previousDelta: UInt32 = 0) {
        self.initialSequence = initialSequence
        self.delta = delta
        self.previousDelta = previousDelta
    }
}

/// A persistence engine's key of a template (`pe_name`, `pe_data`: "sip" and the Call-ID).
public struct SyncPersistenceData: Hashable, Sendable {
    public var engine: [UInt8]
    public var data: [UInt8]

    public init(engine: [UInt8], data: [UInt8]) {
        self.engine = engine
        self.data = data
    }
}

/// One connection or template as a sync message carries it (`struct ip_vs_sync_v4/v6` and its
/// options). Addresses of IPv4 entries are in `RawAddress.w3`.
public struct SyncConnection: Hashable, Sendable {
    /// The address family of all three addresses (the kernel does not sync mixed families).
    public var family: AddressFamily
    /// IP protocol (0 for a fwmark template).
    public var protocolNumber: UInt8
    public var flags: KernelConnectionFlags
    /// Protocol state (TCP/SCTP state number; 0 for UDP); for a template 1 means ASSURED.
    public var state: UInt16
    public var clientPort: UInt16
    public var virtualPort: UInt16
    public var destinationPort: UInt16
    public var firewallMark: UInt32
    /// Seconds (0 in version 0 messages: the backup then uses its own timeouts).
    public var timeout: UInt32
    public var client: RawAddress
    public var virtual: RawAddress
    public var destination: RawAddress
    /// `IPVS_OPT_SEQ_DATA`: present, and the in and out sequence adjustment.
    public var hasSequence = false
    public var inSequence = SyncSequence()
    public var outSequence = SyncSequence()
    /// `IPVS_OPT_PE_DATA` / `IPVS_OPT_PE_NAME`.
    public var persistence: SyncPersistenceData?
    /// SwiftLVS extension (an optional option, ignored by the kernel): the FULLNAT local endpoint.
    public var local: Endpoint?

    public init(
        family: AddressFamily, protocolNumber: UInt8, flags: KernelConnectionFlags, state: UInt16, clientPort: UInt16,
        virtualPort: UInt16, destinationPort: UInt16, firewallMark: UInt32 = 0, timeout: UInt32, client: RawAddress,
        virtual: RawAddress, destination: RawAddress, persistence: SyncPersistenceData? = nil, local: Endpoint? = nil
    ) {
        self.family = family
        self.protocolNumber = protocolNumber
        self.flags = flags
        self.state = state
        self.clientPort = clientPort
        self.virtualPort = virtualPort
        self.destinationPort = destinationPort
        self.firewallMark = firewallMark
        self.timeout = timeout
        self.client = client
        self.virtual = virtual
        self.destination = destination
        self.persistence = persistence
        self.local = local
    }

    public static func == (a: SyncConnection, b: SyncConnection) -> Bool {
        a.family == b.family && a.protocolNumber == b.protocolNumber && a.flags == b.flags && a.state == b.state
            && a.clientPort == b.clientPort && a.virtualPort == b.virtualPort && a.destinationPort == b.destinationPort
            && a.firewallMark == b.firewallMark && a.timeout == b.timeout && a.client == b.client
            && a.virtual == b.virtual && a.destination == b.destination && a.hasSequence == b.hasSequence
            && a.inSequence == b.inSequence && a.outSequence == b.outSequence && a.persistence == b.persistence
            && a.local == b.local
    }

    public func hash(into h: inout Hasher) {
        h.combine(client)
        h.combine(clientPort)
        h.combine(virtual)
        h.combine(virtualPort)
        h.combine(flags.rawValue)
    }

    /// A template (`IP_VS_CONN_F_TEMPLATE`).
    public var isTemplate: Bool { flags.contains(.template) }
}

/// What a backup did with one received connection (`ip_vs_proc_conn`).
public enum SyncApplyOutcome: Hashable, Sendable {
    /// A new entry, bound to a real server of this table.
    case created
    /// A new entry whose real server is not (yet) in this table: it forwards with the message's
    /// method and address, and is bound when the server appears.
    case createdUnbound
    /// An existing entry updated (state, timeout, the INACTIVE bit).
    case updated
    /// An entry pointing at another real server was expired and replaced.
    case replaced
    /// An expiry message for an entry already replaced: ignored.
    case ignoredStale
    /// Refused: unknown protocol, invalid state, unknown persistence engine (the kernel's
    /// "single message dropped" cases), or the table is full.
    case refused(SyncRefusal)
}

/// Why a backup refused a received connection.
public enum SyncRefusal: String, Hashable, Sendable, CaseIterable {
    case unsupportedProtocol
    case invalidState
    case unknownPersistenceEngine
    case tableFull
}
