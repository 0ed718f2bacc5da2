// rtnetlink's wire format: one codec for requests, dump replies and events (links, addresses, routes, neighbours).
import Glibc
import LVSCore
import LVSPacket

/// rtnetlink message types, flags and groups (linux/netlink.h, rtnetlink.h), and the codec.
///
/// Messages are read in place from the receive buffer (no allocation but a link's name): a
/// neighbour event arrives on the packet worker's thread under traffic.
///
/// ```
/// | nlmsghdr: len u32 | type u16 | flags u16 | seq u32 | pid u32 | fixed header | rtattr... |
/// | rtattr: len u16 | type u16 | data, padded to 4 bytes |        (all in host byte order)
/// ```
public enum RTNetlink {
    public static let error: UInt16 = 2
    public static let done: UInt16 = 3
    public static let newLink: UInt16 = 16
    public static let delLink: UInt16 = 17
    public static let getLink: UInt16 = 18
    public static let newAddr: UInt16 = 20
    public static let delAddr: UInt16 = 21
    public static let getAddr: UInt16 = 22
    public static let newRoute: UInt16 = 24
    public static let delRoute: UInt16 = 25
    public static let getRoute: UInt16 = 26
    public static let newNeigh: UInt16 = 28
    public static let delNeigh: UInt16 = 29
    public static let getNeigh: UInt16 = 30

    /// NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND (for every
    /// netlink family: rtnetlink and nf_tables).
    public static let fRequest: UInt16 = 1
    public static let fAck: UInt16 = 4
    public static let fDump: UInt16 = 0x300
    public static let fExcl: UInt16 = 0x200
    public static let fCreate: UInt16 = 0x400
    public static let fAppend: UInt16 = 0x800

    /// RTNLGRP_* numbers.
    public enum Group: UInt32 {
        case link = 1
        case neighbor = 3
        case ipv4Address = 5
        case ipv4Route = 7
        case ipv6Address = 9
        case ipv6Route = 11
    }

    /// The bind mask of `groups` (1 << (group - 1) each).
    public static func mask(_ groups: [Group]) -> UInt32 { groups.reduce(0) { $0 | (1 << ($1.rawValue - 1)) } }

    /// Appends a netlink attribute to `bytes`: length, type, data, padding to 4 bytes.
    public static func appendAttribute(_ type: UInt16, _ data: [UInt8], to bytes: inout [UInt8]) {
        withUnsafeBytes(of: UInt16(4 + data.count)) { bytes += $0 }
        withUnsafeBytes(of: type) { bytes += $0 }
        bytes += data
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    // MARK: - Reading

    /// Calls `body(type, sequence, payload)` for every whole message in `buffer`, in order; a
    /// truncated or lying length ends the walk.
    @inlinable
    public static func forEachMessage(
        in buffer: UnsafeRawBufferPointer, _ body: (UInt16, UInt32, UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        guard let base = buffer.baseAddress else { return }
        var off = 0
        while off + 16 <= buffer.count {
            let len = Int(base.loadUnaligned(fromByteOffset: off, as: UInt32.self))
            guard len >= 16, off + len <= buffer.count else { break }
            let type = base.loadUnaligned(fromByteOffset: off + 4, as: UInt16.self)
            let seq = base.loadUnaligned(fromByteOffset: off + 8, as: UInt32.self)
            try body(type, seq, UnsafeRawBufferPointer(start: base + off + 16, count: len - 16))
            off += (len + 3) & ~3
        }
    }

    /// The error number of an NLMSG_ERROR payload (0 = an acknowledgement).
    public static func errorNumber(_ payload: UnsafeRawBufferPointer) -> Int32 {
        guard payload.count >= 4, let p = payload.baseAddress else { return EPROTO }
        return -p.loadUnaligned(as: Int32.self)
    }

    /// An address attribute of `family` (AF_INET: 4 bytes, AF_INET6: 16), or nil.
    public static func ipAddress(_ b: UnsafeRawBufferPointer?, family: UInt8) -> IPAddress? {
        guard let b, let p = b.baseAddress else { return nil }
        if family == UInt8(AF_INET), b.count >= 4 {
            return .v4(IPv4Address(p.loadUnaligned(as: UInt32.self).bigEndian))
        }
        if family == UInt8(AF_INET6), b.count >= 16 {
            return .v6(
                IPv6Address(
                    high: p.loadUnaligned(as: UInt64.self).bigEndian,
                    low: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self).bigEndian))
        }
        return nil
    }

    /// A 4-byte attribute in host order, or nil.
    public static func u32(_ b: UnsafeRawBufferPointer?) -> UInt32? {
        guard let b, let p = b.baseAddress, b.count >= 4 else { return nil }
        return p.loadUnaligned(as: UInt32.self)
    }

    /// A 6-byte hardware address attribute, or nil.
    public static func mac(_ b: UnsafeRawBufferPointer?) -> MACAddress? {
        guard let b, let p = b.baseAddress, b.count == 6 else { return nil }
        var v: UInt64 = 0
        for i in 0..<6 { v = v << 8 | UInt64(p.load(fromByteOffset: i, as: UInt8.self)) }
        return MACAddress(v)
    }

    /// A NUL-terminated string attribute, or nil.
    public static func string(_ b: UnsafeRawBufferPointer?) -> String? {
        b.map { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

/// The rtattr list of one message: `attributes[type]` scans it (a message has a handful) and
/// returns the last attribute of that type, as a table filled in order would.
public struct RTNetlinkAttributes {
    public let body: UnsafeRawBufferPointer
    public let start: Int

    /// The attributes after a fixed header of `fixed` bytes.
    public init(_ body: UnsafeRawBufferPointer, fixed: Int) {
        self.body = body
        start = (fixed + 3) & ~3
    }

    public subscript(_ wanted: UInt16) -> UnsafeRawBufferPointer? {
        guard let base = body.baseAddress else { return nil }
        var found: UnsafeRawBufferPointer?
        var off = start
        while off + 4 <= body.count {
            let len = Int(base.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            let type = base.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self) & 0x3FFF
            guard len >= 4, off + len <= body.count else { break }
            if type == wanted { found = UnsafeRawBufferPointer(start: base + off + 4, count: len - 4) }
            off += (len + 3) & ~3
        }
        return found
    }
}

/// One interface (RTM_NEWLINK / RTM_DELLINK: ifinfomsg, IFLA_* attributes).
public struct RTNetlinkLink: Hashable, Sendable {
    public var index: Int32
    /// IFF_* flags.
    public var flags: UInt32
    /// IFLA_IFNAME, IFLA_ADDRESS, IFLA_MTU, IFLA_MASTER when present.
    public var name: String?
    public var mac: MACAddress?
    public var mtu: UInt32?
    public var master: Int32?

    /// IFF_UP.
    public var isAdministrativelyUp: Bool { flags & 0x1 != 0 }
    /// IFF_LOOPBACK.
    public var isLoopback: Bool { flags & 0x8 != 0 }
    /// IFF_UP and IFF_RUNNING, as keepalived tests a tracked interface.
    public var isRunning: Bool { flags & 0x1 != 0 && flags & 0x40 != 0 }

    /// Parses a link message's payload; nil if too short.
    public init?(_ body: UnsafeRawBufferPointer) {
        guard body.count >= 16, let p = body.baseAddress else { return nil }
        index = p.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        flags = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let a = RTNetlinkAttributes(body, fixed: 16)
        name = RTNetlink.string(a[3])
        mac = RTNetlink.mac(a[1])
        mtu = RTNetlink.u32(a[4])
        master = RTNetlink.u32(a[10]).map { Int32(bitPattern: $0) }
    }
}

/// One address (RTM_NEWADDR / RTM_DELADDR: ifaddrmsg, IFA_* attributes).
public struct RTNetlinkAddress: Hashable, Sendable {
    public var index: Int32
    /// IFA_LOCAL, else IFA_ADDRESS.
    public var address: IPAddress
    public var prefixLength: Int
    public var scope: UInt8
    /// IFA_LABEL (IPv4 `eth0:1` aliases).
    public var label: String?

    public init(index: Int32, address: IPAddress, prefixLength: Int, scope: UInt8, label: String?) {
        self.index = index
        self.address = address
        self.prefixLength = prefixLength
        self.scope = scope
        self.label = label
    }

    /// Parses an address message's payload; nil if too short or of another family.
    public init?(_ body: UnsafeRawBufferPointer) {
        guard body.count >= 8, let p = body.baseAddress else { return nil }
        let family = p.load(as: UInt8.self)
        let a = RTNetlinkAttributes(body, fixed: 8)
        guard let addr = RTNetlink.ipAddress(a[2] ?? a[1], family: family) else { return nil }
        self.init(
            index: Int32(bitPattern: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), address: addr,
            prefixLength: Int(p.load(fromByteOffset: 1, as: UInt8.self)),
            scope: p.load(fromByteOffset: 3, as: UInt8.self),
            label: RTNetlink.string(a[3]))
    }
}

/// One route (RTM_NEWROUTE / RTM_DELROUTE: rtmsg, RTA_* attributes).
public struct RTNetlinkRoute: Hashable, Sendable {
    public var family: UInt8
    public var destinationLength: Int
    /// RTA_TABLE, else rtm_table.
    public var table: UInt32
    /// rtm_type (RTN_UNICAST = 1, RTN_BLACKHOLE = 6).
    public var type: UInt8
    /// rtm_protocol: who installed the route (`proto` in `ip route`: 2 kernel, 4 static, 12 bird).
    public var protocolNumber: UInt8
    public var destination: IPAddress?
    public var outputInterface: Int32?
    public var gateway: IPAddress?
    public var preferredSource: IPAddress?
    public var metric: UInt32?

    /// Parses a route message's payload; nil if too short.
    public init?(_ body: UnsafeRawBufferPointer) {
        guard body.count >= 12, let p = body.baseAddress else { return nil }
        family = p.load(as: UInt8.self)
        destinationLength = Int(p.load(fromByteOffset: 1, as: UInt8.self))
        type = p.load(fromByteOffset: 7, as: UInt8.self)
        protocolNumber = p.load(fromByteOffset: 5, as: UInt8.self)
        let a = RTNetlinkAttributes(body, fixed: 12)
        table = RTNetlink.u32(a[15]) ?? UInt32(p.load(fromByteOffset: 4, as: UInt8.self))
        destination = RTNetlink.ipAddress(a[1], family: family)
        outputInterface = RTNetlink.u32(a[4]).map { Int32(bitPattern: $0) }
        gateway = RTNetlink.ipAddress(a[5], family: family)
        preferredSource = RTNetlink.ipAddress(a[7], family: family)
        metric = RTNetlink.u32(a[6])
    }
}

/// One neighbour (RTM_NEWNEIGH / RTM_DELNEIGH: ndmsg, NDA_* attributes).
public struct RTNetlinkNeighbor: Hashable, Sendable {
    public var index: Int32
    /// NUD_* state bits.
    public var state: UInt16
    public var address: IPAddress
    public var mac: MACAddress?

    /// REACHABLE, STALE, DELAY, PROBE, NOARP, PERMANENT: the hardware address can be used.
    public var isUsable: Bool { state & (0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80) != 0 }
    /// NUD_FAILED.
    public var isFailed: Bool { state & 0x20 != 0 }

    /// Parses a neighbour message's payload; nil if too short or without an address.
    public init?(_ body: UnsafeRawBufferPointer) {
        guard body.count >= 12, let p = body.baseAddress else { return nil }
        let family = p.load(as: UInt8.self)
        let a = RTNetlinkAttributes(body, fixed: 12)
        guard let addr = RTNetlink.ipAddress(a[1], family: family) else { return nil }
        index = p.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        state = p.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        address = addr
        mac = RTNetlink.mac(a[2])
    }
}
