// A small rtnetlink client: link and address dumps, RTM_NEWADDR / RTM_DELADDR, link change events.
import CLVSLinux
import Foundation
import Glibc
import LVSCore

/// One interface as RTM_GETLINK reports it.
public struct LinkInfo: Hashable, Sendable {
    public var index: Int32
    public var name: String
    public var mac: MACAddress?
    public var flags: UInt32

    /// IFF_UP and IFF_RUNNING, as keepalived tests a tracked interface.
    public var isUp: Bool { flags & 0x1 != 0 && flags & 0x40 != 0 }
}

/// One address as RTM_GETADDR reports it.
public struct InterfaceAddress: Hashable, Sendable {
    public var index: Int32
    public var address: IPAddress
    public var prefixLength: Int
    public var scope: UInt8
    public var label: String?
}

/// A NETLINK_ROUTE socket. Messages are built and parsed here byte by byte (host byte order,
/// 4-byte aligned attributes). The socket belongs to the network namespace of the thread that
/// created it, whichever thread uses it later.
public final class RTNetlink: @unchecked Sendable {
    let fd: Int32
    private let lock = NSLock()
    private var seq: UInt32 = 1

    static let newLink: UInt16 = 16
    static let getLink: UInt16 = 18
    static let newAddr: UInt16 = 20
    static let delAddr: UInt16 = 21
    static let getAddr: UInt16 = 22
    static let nlmsgError: UInt16 = 2
    static let nlmsgDone: UInt16 = 3
    static let fRequest: UInt16 = 1
    static let fAck: UInt16 = 4
    static let fDump: UInt16 = 0x300
    static let fExcl: UInt16 = 0x200
    static let fCreate: UInt16 = 0x400

    /// Opens a socket; `groups` subscribes to multicast groups (1 = RTMGRP_LINK).
    public init(groups: UInt32 = 0) throws(VRRPError) {
        let f = clvs_vrrp_netlink_open(groups)
        guard f >= 0 else { throw VRRPError(.netlink, "netlink socket: \(String(cString: strerror(errno)))") }
        fd = f
    }

    deinit { Glibc.close(fd) }

    // MARK: - Encoding

    static func put16(_ b: inout [UInt8], _ v: UInt16) { b += [UInt8(truncatingIfNeeded: v), UInt8(v >> 8)] }
    static func put32(_ b: inout [UInt8], _ v: UInt32) {
        b += [
            UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v >> 16),
            UInt8(v >> 24),
        ]
    }
    static func get16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    static func get32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    /// Appends an rtattr (length, type, data, padding to 4 bytes).
    static func attr(_ b: inout [UInt8], type: UInt16, _ data: [UInt8]) {
        put16(&b, UInt16(4 + data.count))
        put16(&b, type)
        b += data
        while b.count % 4 != 0 { b.append(0) }
    }

    /// A whole message: nlmsghdr then `body`.
    static func message(type: UInt16, flags: UInt16, seq: UInt32, body: [UInt8]) -> [UInt8] {
        var m: [UInt8] = []
        put32(&m, UInt32(16 + body.count))
        put16(&m, type)
        put16(&m, flags)
        put32(&m, seq)
        put32(&m, 0)
        return m + body
    }

    /// The body of an RTM_NEWADDR / RTM_DELADDR for `a` on interface `index` (ifaddrmsg, then
    /// IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST, IFA_LABEL as present).
    public static func addressBody(_ a: VirtualIPAddress, index: Int32) -> [UInt8] {
        var b: [UInt8] = [a.address.family.rawValue, UInt8(a.prefixLength), 0, a.scope.rawValue]
        put32(&b, UInt32(bitPattern: index))
        attr(&b, type: 2, a.address.bytes)  // IFA_LOCAL
        attr(&b, type: 1, a.address.bytes)  // IFA_ADDRESS
        if let brd = a.broadcast, a.address.family == .inet { attr(&b, type: 4, brd.bytes) }
        if let l = a.label, a.address.family == .inet { attr(&b, type: 3, Array(l.utf8) + [0]) }
        return b
    }

    // MARK: - I/O

    private func nextSeq() -> UInt32 {
        seq &+= 1
        return seq
    }

    private func sendRaw(_ m: [UInt8]) throws(VRRPError) {
        let n = m.withUnsafeBytes { clvs_vrrp_netlink_send(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw VRRPError(.netlink, "netlink send: \(String(cString: strerror(errno)))") }
    }

    private func receiveRaw() throws(VRRPError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw VRRPError(.netlink, "netlink recv: \(String(cString: strerror(errno)))") }
        return Array(buf[0..<n])
    }

    /// Splits a datagram into (type, flags, seq, payload) messages.
    static func split(_ d: [UInt8]) -> [(type: UInt16, seq: UInt32, payload: [UInt8])] {
        var out: [(UInt16, UInt32, [UInt8])] = []
        var o = 0
        while o + 16 <= d.count {
            let len = Int(get32(d, o))
            guard len >= 16, o + len <= d.count else { break }
            out.append((get16(d, o + 4), get32(d, o + 8), Array(d[(o + 16)..<(o + len)])))
            o += (len + 3) & ~3
        }
        return out
    }

    /// Attributes after a fixed header of `skip` bytes.
    static func attributes(_ p: [UInt8], skip: Int) -> [UInt16: [UInt8]] {
        var out: [UInt16: [UInt8]] = [:]
        var o = skip
        while o + 4 <= p.count {
            let len = Int(get16(p, o))
            guard len >= 4, o + len <= p.count else { break }
            out[get16(p, o + 2) & 0x3FFF] = Array(p[(o + 4)..<(o + len)])
            o += (len + 3) & ~3
        }
        return out
    }

    /// Sends a request with NLM_F_ACK and waits for its error/ack; returns the errno (0 = ok).
    func request(type: UInt16, flags: UInt16, body: [UInt8]) throws(VRRPError) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        let s = nextSeq()
        try sendRaw(Self.message(type: type, flags: Self.fRequest | Self.fAck | flags, seq: s, body: body))
        while true {
            for m in Self.split(try receiveRaw()) where m.seq == s && m.type == Self.nlmsgError {
                return -Int32(bitPattern: Self.get32(m.payload, 0))
            }
        }
    }

    /// Sends a dump request and collects the payloads of its answers.
    func dump(type: UInt16, body: [UInt8]) throws(VRRPError) -> [(type: UInt16, payload: [UInt8])] {
        lock.lock()
        defer { lock.unlock() }
        let s = nextSeq()
        try sendRaw(Self.message(type: type, flags: Self.fRequest | Self.fDump, seq: s, body: body))
        var out: [(UInt16, [UInt8])] = []
        while true {
            for m in Self.split(try receiveRaw()) where m.seq == s {
                if m.type == Self.nlmsgDone { return out }
                if m.type == Self.nlmsgError {
                    throw VRRPError(.netlink, "netlink dump: error \(-Int32(bitPattern: Self.get32(m.payload, 0)))")
                }
                out.append((m.type, m.payload))
            }
        }
    }

    /// Parses an RTM_NEWLINK payload.
    static func parseLink(_ p: [UInt8]) -> LinkInfo? {
        guard p.count >= 16 else { return nil }
        let a = attributes(p, skip: 16)
        guard let n = a[3] else { return nil }
        let name = String(decoding: n.prefix { $0 != 0 }, as: UTF8.self)
        let mac = a[1].flatMap { $0.count == 6 ? MACAddress($0) : nil }
        return LinkInfo(index: Int32(bitPattern: get32(p, 4)), name: name, mac: mac, flags: get32(p, 8))
    }

    /// Every interface of the namespace.
    public func links() throws(VRRPError) -> [LinkInfo] {
        var body = [UInt8](repeating: 0, count: 16)
        body[0] = 0  // AF_UNSPEC
        return try dump(type: Self.getLink, body: body).compactMap { Self.parseLink($0.payload) }
    }

    /// Every address of the namespace.
    public func addresses() throws(VRRPError) -> [InterfaceAddress] {
        try dump(type: Self.getAddr, body: [0, 0, 0, 0, 0, 0, 0, 0]).compactMap { m in
            let p = m.payload
            guard p.count >= 8 else { return nil }
            let a = Self.attributes(p, skip: 8)
            guard let raw = a[2] ?? a[1] else { return nil }
            let addr: IPAddress
            if p[0] == AddressFamily.inet.rawValue && raw.count == 4 {
                addr = .v4(IPv4Address(bytes: raw, at: 0))
            } else if p[0] == AddressFamily.inet6.rawValue && raw.count == 16 {
                addr = .v6(IPv6Address(bytes: raw, at: 0))
            } else {
                return nil
            }
            let label = a[3].map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return InterfaceAddress(
                index: Int32(bitPattern: Self.get32(p, 4)), address: addr, prefixLength: Int(p[1]), scope: p[3],
                label: label)
        }
    }

    /// The index of an interface.
    public func index(of name: String) throws(VRRPError) -> Int32 {
        guard let l = try links().first(where: { $0.name == name }) else {
            throw VRRPError(.noSuchInterface, "interface \(name) does not exist")
        }
        return l.index
    }

    /// Waits for link change notifications (a socket opened with `groups: 1`); blocks.
    func receiveLinkChanges() throws(VRRPError) -> [LinkInfo] {
        try Self.split(receiveRaw()).compactMap { $0.type == Self.newLink ? Self.parseLink($0.payload) : nil }
    }
}

/// Adds and removes VIPs with RTM_NEWADDR / RTM_DELADDR, as `ip addr add|del` does.
public final class NetlinkAddressManager: AddressManager, @unchecked Sendable {
    let netlink: RTNetlink

    /// Opens the netlink socket in the calling thread's network namespace.
    public init() throws(VRRPError) { netlink = try RTNetlink() }

    public func add(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        let idx = try netlink.index(of: interface)
        let err = try netlink.request(
            type: RTNetlink.newAddr, flags: RTNetlink.fCreate | RTNetlink.fExcl,
            body: RTNetlink.addressBody(a, index: idx))
        if err != 0 && err != EEXIST {
            throw VRRPError(.netlink, "cannot add \(a) to \(interface): \(String(cString: strerror(err)))")
        }
    }

    public func remove(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        let idx = try netlink.index(of: interface)
        let err = try netlink.request(type: RTNetlink.delAddr, flags: 0, body: RTNetlink.addressBody(a, index: idx))
        if err != 0 && err != EADDRNOTAVAIL && err != ENODEV {
            throw VRRPError(.netlink, "cannot remove \(a) from \(interface): \(String(cString: strerror(err)))")
        }
    }
}
