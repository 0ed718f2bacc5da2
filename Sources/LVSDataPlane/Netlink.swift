// rtnetlink: dumps and events of links, addresses, routes and neighbours into KernelTables.
import CLVSLinux
import Glibc
import LVSCore
import LVSPacket

/// rtnetlink message types and attributes used here (linux/rtnetlink.h, if_link.h, neighbour.h).
enum RTNL {
    static let done: UInt16 = 3
    static let error: UInt16 = 2
    static let newLink: UInt16 = 16
    static let delLink: UInt16 = 17
    static let getLink: UInt16 = 18
    static let newAddr: UInt16 = 20
    static let delAddr: UInt16 = 21
    static let getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24
    static let delRoute: UInt16 = 25
    static let getRoute: UInt16 = 26
    static let newNeigh: UInt16 = 28
    static let delNeigh: UInt16 = 29
    static let getNeigh: UInt16 = 30

    /// RTNLGRP_LINK, NEIGH, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE as a bind mask.
    static let groups: UInt32 = [1, 3, 5, 7, 9, 11].reduce(0) { $0 | (1 << ($1 - 1)) }
}

/// Reads rtnetlink messages (a dump reply or events) into `KernelTables`.
public enum NetlinkParser {
    /// Applies every message in `buffer` to `tables`. Returns true when an NLMSG_DONE was seen.
    @discardableResult
    public static func apply(_ buffer: UnsafeRawBufferPointer, to tables: inout KernelTables) -> Bool {
        guard let base = buffer.baseAddress else { return false }
        var off = 0
        var done = false
        var changed = false
        var forwarding = false
        while off + 16 <= buffer.count {
            let len = Int(base.loadUnaligned(fromByteOffset: off, as: UInt32.self))
            let type = base.loadUnaligned(fromByteOffset: off + 4, as: UInt16.self)
            guard len >= 16, off + len <= buffer.count else { break }
            let body = UnsafeRawBufferPointer(start: base + off + 16, count: len - 16)
            switch type {
            case RTNL.done: done = true
            case RTNL.newLink, RTNL.delLink: changed = link(body, delete: type == RTNL.delLink, &tables) || changed
            case RTNL.newAddr, RTNL.delAddr: changed = address(body, delete: type == RTNL.delAddr, &tables) || changed
            case RTNL.newRoute, RTNL.delRoute:
                forwarding = route(body, delete: type == RTNL.delRoute, &tables) || forwarding
            case RTNL.newNeigh, RTNL.delNeigh:
                forwarding = neighbor(body, delete: type == RTNL.delNeigh, &tables) || forwarding
            default: break
            }
            off += (len + 3) & ~3
        }
        if changed {
            tables.touch()
        } else if forwarding {
            tables.touchForwarding()
        }
        return done
    }

    /// The attributes after a fixed header of `fixed` bytes, looked up by type without building a
    /// table (neighbour events arrive on the packet worker's thread under traffic: no allocation).
    static func attributes(_ body: UnsafeRawBufferPointer, fixed: Int) -> NetlinkAttributes {
        NetlinkAttributes(body: body, start: (fixed + 3) & ~3)
    }

    static func ipAddress(_ b: UnsafeRawBufferPointer?, family: UInt8) -> IPAddress? {
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

    static func u32(_ b: UnsafeRawBufferPointer?) -> UInt32? {
        guard let b, let p = b.baseAddress, b.count >= 4 else { return nil }
        return p.loadUnaligned(as: UInt32.self)
    }

    static func link(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard body.count >= 16, let p = body.baseAddress else { return false }
        let index = p.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        if delete {
            t.links[index] = nil
            t.addresses.removeAll { $0.interface == index }
            t.routes.removeAll { $0.interface == index }
            t.neighbors = t.neighbors.filter { $0.key.interface != index }
            return true
        }
        let flags = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let a = attributes(body, fixed: 16)
        var mac = MACAddress.zero
        if let m = a[1], let mp = m.baseAddress, m.count == 6 {
            var v: UInt64 = 0
            for i in 0..<6 { v = v << 8 | UInt64(mp.load(fromByteOffset: i, as: UInt8.self)) }
            mac = MACAddress(v)
        }
        var name = t.links[index]?.name ?? ""
        if let n = a[3] { name = String(decoding: n.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let mtu = Int(u32(a[4]) ?? UInt32(t.links[index]?.mtu ?? 1500))
        let master = Int32(bitPattern: u32(a[10]) ?? 0)
        let link = KernelLink(
            index: index, name: name, mac: mac, mtu: mtu, isUp: flags & 1 != 0, isLoopback: flags & 8 != 0,
            master: master)
        // The kernel repeats RTM_NEWLINK for changes we do not track: not a change of the tables.
        if t.links[index] == link { return false }
        t.links[index] = link
        return true
    }

    static func address(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard body.count >= 8, let p = body.baseAddress else { return false }
        let family = p.load(as: UInt8.self)
        let prefix = Int(p.load(fromByteOffset: 1, as: UInt8.self))
        let index = Int32(bitPattern: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let a = attributes(body, fixed: 8)
        guard let addr = ipAddress(a[2] ?? a[1], family: family) else { return false }
        let entry = KernelAddress(interface: index, address: addr, prefixLength: prefix)
        if !delete && t.addresses.contains(entry) { return false }
        t.addresses.removeAll { $0.interface == index && $0.address == addr }
        if !delete { t.addresses.append(entry) }
        return true
    }

    static func route(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard body.count >= 12, let p = body.baseAddress else { return false }
        let family = p.load(as: UInt8.self)
        let dstLen = Int(p.load(fromByteOffset: 1, as: UInt8.self))
        var table = UInt32(p.load(fromByteOffset: 4, as: UInt8.self))
        let type = p.load(fromByteOffset: 7, as: UInt8.self)
        let a = attributes(body, fixed: 12)
        if let t32 = u32(a[15]) { table = t32 }
        // The main table's unicast routes (RT_TABLE_MAIN 254, RTN_UNICAST 1).
        guard table == 254, type == 1 else { return false }
        guard family == UInt8(AF_INET) || family == UInt8(AF_INET6) else { return false }
        let dst = ipAddress(a[1], family: family) ?? (family == UInt8(AF_INET) ? .v4(.any) : .v6(.any))
        guard let oif = u32(a[4]) else { return false }
        let r = KernelRoute(
            destination: dst, prefixLength: dstLen, interface: Int32(bitPattern: oif),
            gateway: ipAddress(a[5], family: family), preferredSource: ipAddress(a[7], family: family),
            metric: u32(a[6]) ?? 0)
        t.routes.removeAll {
            $0.destination == r.destination && $0.prefixLength == r.prefixLength && $0.metric == r.metric
                && (delete || $0.interface == r.interface)
        }
        if !delete { t.routes.append(r) }
        return true
    }

    static func neighbor(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard body.count >= 12, let p = body.baseAddress else { return false }
        let family = p.load(as: UInt8.self)
        let index = p.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        let state = p.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        let a = attributes(body, fixed: 12)
        guard let addr = ipAddress(a[1], family: family) else { return false }
        let key = NeighborKey(interface: index, address: addr)
        // REACHABLE, STALE, DELAY, PROBE, NOARP, PERMANENT carry a usable address.
        let usable: UInt16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80
        if !delete, state & usable != 0, let m = a[2], let mp = m.baseAddress, m.count == 6 {
            var v: UInt64 = 0
            for i in 0..<6 { v = v << 8 | UInt64(mp.load(fromByteOffset: i, as: UInt8.self)) }
            let mac = MACAddress(v)
            if t.neighbors[key] == mac { return false }
            t.neighbors[key] = mac
            return true
        }
        if delete || state & 0x20 != 0 {
            return t.neighbors.removeValue(forKey: key) != nil
        }
        return false
    }
}

/// The rtattr list of one message: `attrs[type]` scans it (a message has a handful) and returns
/// the last attribute of that type, as a table filled in order would.
struct NetlinkAttributes {
    let body: UnsafeRawBufferPointer
    let start: Int

    subscript(_ wanted: UInt16) -> UnsafeRawBufferPointer? {
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

/// An rtnetlink socket subscribed to link, address, route and neighbour events.
public final class NetlinkMonitor {
    public let descriptor: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var sequence: UInt32 = 1
    /// Events were lost (ENOBUFS): the owner should dump again.
    public private(set) var needsResync = false

    /// Opens the socket; nil (errno set) if the kernel refuses.
    public init?() {
        let fd = clvs_dp_netlink_open(RTNL.groups)
        guard fd >= 0 else { return nil }
        descriptor = fd
        buffer = .allocate(byteCount: 1 << 16, alignment: 8)
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    /// Dumps links, addresses, routes and neighbours into `tables` (blocking, bounded to ~2 s).
    public func dump(into tables: inout KernelTables) {
        tables = KernelTables()
        // Events arriving during the dump are applied too; they are newer or equal.
        for (type, family) in [
            (RTNL.getLink, UInt8(AF_UNSPEC)), (RTNL.getAddr, UInt8(AF_UNSPEC)), (RTNL.getRoute, UInt8(AF_UNSPEC)),
            (RTNL.getNeigh, UInt8(AF_UNSPEC)),
        ] {
            sequence &+= 1
            guard clvs_dp_netlink_dump(descriptor, type, family, sequence) >= 0 else { continue }
            var waited = 0
            while waited < 2000 {
                let n = clvs_dp_netlink_recv(descriptor, buffer.baseAddress, buffer.count)
                if n == 0 {
                    _ = clvs_dp_poll2(descriptor, -1, 10)
                    waited += 10
                    continue
                }
                if n < 0 { break }
                if NetlinkParser.apply(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: &tables) { break }
            }
        }
        needsResync = false
        tables.touch()
    }

    /// Applies pending events without blocking. Returns true if anything was read.
    @discardableResult
    public func poll(into tables: inout KernelTables) -> Bool {
        var any = false
        for _ in 0..<64 {
            let n = clvs_dp_netlink_recv(descriptor, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == ENOBUFS { needsResync = true }
                break
            }
            any = true
            NetlinkParser.apply(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: &tables)
        }
        return any
    }

    /// Asks the kernel to resolve `key` (it sends the ARP request or neighbour solicitation; the
    /// answer arrives as an RTM_NEWNEIGH event).
    public func resolve(_ key: NeighborKey) {
        sequence &+= 1
        var bytes = [UInt8](repeating: 0, count: 16)
        let family: UInt8
        switch key.address {
        case .v4(let a):
            family = UInt8(AF_INET)
            withUnsafeBytes(of: a.value.bigEndian) { for i in 0..<4 { bytes[i] = $0[i] } }
        case .v6(let a):
            family = UInt8(AF_INET6)
            withUnsafeBytes(of: a.high.bigEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
            withUnsafeBytes(of: a.low.bigEndian) { for i in 0..<8 { bytes[8 + i] = $0[i] } }
        }
        _ = clvs_dp_netlink_resolve(descriptor, key.interface, family, bytes, sequence)
    }
}
