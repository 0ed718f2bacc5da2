// rtnetlink dumps and events of links, addresses, routes and neighbours, applied to KernelTables.
import Glibc
import LVSCore
import LVSPacket
import LVSPlatform

/// Applies rtnetlink messages (a dump reply or events, decoded by `RTNetlink`) to `KernelTables`.
public enum NetlinkParser {
    /// Applies every message in `buffer` to `tables`. Returns true when an NLMSG_DONE was seen.
    @discardableResult
    public static func apply(_ buffer: UnsafeRawBufferPointer, to tables: inout KernelTables) -> Bool {
        var done = false
        var changed = false
        var forwarding = false
        RTNetlink.forEachMessage(in: buffer) { type, _, body in
            switch type {
            case RTNetlink.done: done = true
            case RTNetlink.newLink, RTNetlink.delLink:
                changed = link(body, delete: type == RTNetlink.delLink, &tables) || changed
            case RTNetlink.newAddr, RTNetlink.delAddr:
                changed = address(body, delete: type == RTNetlink.delAddr, &tables) || changed
            case RTNetlink.newRoute, RTNetlink.delRoute:
                forwarding = route(body, delete: type == RTNetlink.delRoute, &tables) || forwarding
            case RTNetlink.newNeigh, RTNetlink.delNeigh:
                forwarding = neighbor(body, delete: type == RTNetlink.delNeigh, &tables) || forwarding
            default: break
            }
        }
        if changed {
            tables.touch()
        } else if forwarding {
            tables.touchForwarding()
        }
        return done
    }

    static func link(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard let l = RTNetlinkLink(body) else { return false }
        let index = l.index
        if delete {
            t.links[index] = nil
            t.addresses.removeAll { $0.interface == index }
            t.routes.removeAll { $0.interface == index }
            t.neighbors = t.neighbors.filter { $0.key.interface != index }
            return true
        }
        let link = KernelLink(
            index: index, name: l.name ?? t.links[index]?.name ?? "", mac: l.mac ?? .zero,
            mtu: Int(l.mtu ?? UInt32(t.links[index]?.mtu ?? 1500)), isUp: l.isAdministrativelyUp,
            isLoopback: l.isLoopback, master: l.master ?? 0)
        // The kernel repeats RTM_NEWLINK for changes we do not track: not a change of the tables.
        if t.links[index] == link { return false }
        t.links[index] = link
        return true
    }

    static func address(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard let a = RTNetlinkAddress(body) else { return false }
        let entry = KernelAddress(interface: a.index, address: a.address, prefixLength: a.prefixLength)
        if !delete && t.addresses.contains(entry) { return false }
        t.addresses.removeAll { $0.interface == a.index && $0.address == a.address }
        if !delete { t.addresses.append(entry) }
        return true
    }

    static func route(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard let r = RTNetlinkRoute(body) else { return false }
        // The main table's unicast routes (RT_TABLE_MAIN 254, RTN_UNICAST 1).
        guard r.table == 254, r.type == 1 else { return false }
        guard r.family == UInt8(AF_INET) || r.family == UInt8(AF_INET6) else { return false }
        guard let oif = r.outputInterface else { return false }
        let route = KernelRoute(
            destination: r.destination ?? (r.family == UInt8(AF_INET) ? .v4(.any) : .v6(.any)),
            prefixLength: r.destinationLength, interface: oif, gateway: r.gateway, preferredSource: r.preferredSource,
            metric: r.metric ?? 0)
        t.routes.removeAll {
            $0.destination == route.destination && $0.prefixLength == route.prefixLength && $0.metric == route.metric
                && (delete || $0.interface == route.interface)
        }
        if !delete { t.routes.append(route) }
        return true
    }

    static func neighbor(_ body: UnsafeRawBufferPointer, delete: Bool, _ t: inout KernelTables) -> Bool {
        guard let n = RTNetlinkNeighbor(body) else { return false }
        let key = NeighborKey(interface: n.index, address: n.address)
        if !delete, n.isUsable, let mac = n.mac {
            if t.neighbors[key] == mac { return false }
            t.neighbors[key] = mac
            return true
        }
        if delete || n.isFailed {
            return t.neighbors.removeValue(forKey: key) != nil
        }
        return false
    }
}

/// An rtnetlink socket subscribed to link, address, route and neighbour events.
public final class NetlinkMonitor {
    private let socket: RTNetlinkSocket
    private let buffer: UnsafeMutableRawBufferPointer
    /// Events were lost (ENOBUFS): the owner should dump again.
    public private(set) var needsResync = false

    /// The socket's descriptor, for poll(2).
    public var descriptor: Int32 { socket.descriptor }

    /// Opens the socket (non-blocking, 4 MiB receive buffer).
    public init() throws(PlatformError) {
        socket = try RTNetlinkSocket(
            groups: [.link, .neighbor, .ipv4Address, .ipv4Route, .ipv6Address, .ipv6Route], nonBlocking: true,
            receiveBuffer: 4 << 20)
        buffer = .allocate(byteCount: 1 << 16, alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// Dumps links, addresses, routes and neighbours into `tables` (blocking, bounded to ~2 s).
    public func dump(into tables: inout KernelTables) {
        tables = KernelTables()
        // Events arriving during the dump are applied too; they are newer or equal.
        for type in [RTNetlink.getLink, RTNetlink.getAddr, RTNetlink.getRoute, RTNetlink.getNeigh] {
            let request = RTNetlinkRequest.dump(
                type: type, family: UInt8(AF_UNSPEC), fixed: 12, sequence: socket.nextSequence())
            guard (try? socket.send(request.message)) != nil else { continue }
            var waited = 0
            while waited < 2000 {
                let n = socket.receive(into: buffer, wait: false)
                if n == 0 {
                    _ = Readiness.wait([socket.descriptor], timeoutMilliseconds: 10)
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
            let n = socket.receive(into: buffer, wait: false)
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
        let request = RTNetlinkRequest.resolveNeighbor(
            index: key.interface, address: key.address, sequence: socket.nextSequence())
        try? socket.send(request.message)
    }
}
