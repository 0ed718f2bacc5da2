// The kernel's interfaces, addresses, routes and neighbours as the data plane needs them for egress.
import LVSCore
import LVSPacket

/// One network interface (RTM_NEWLINK).
public struct KernelLink: Hashable, Sendable {
    public var index: Int32
    public var name: String
    public var mac: MACAddress
    public var mtu: Int
    public var isUp: Bool
    public var isLoopback: Bool
    /// The bridge or bond this interface is enslaved to (0 for none): its IP traffic is handled
    /// on the master, so the data plane does not attach to it.
    public var master: Int32

    public init(
        index: Int32, name: String, mac: MACAddress, mtu: Int, isUp: Bool, isLoopback: Bool, master: Int32 = 0
    ) {
        self.index = index
        self.name = name
        self.mac = mac
        self.mtu = mtu
        self.isUp = isUp
        self.isLoopback = isLoopback
        self.master = master
    }
}

/// An address of this host (RTM_NEWADDR).
public struct KernelAddress: Hashable, Sendable {
    public var interface: Int32
    public var address: IPAddress
    public var prefixLength: Int

    public init(interface: Int32, address: IPAddress, prefixLength: Int) {
        self.interface = interface
        self.address = address
        self.prefixLength = prefixLength
    }
}

/// A route of the main table (RTM_NEWROUTE, unicast).
public struct KernelRoute: Hashable, Sendable {
    public var destination: IPAddress
    public var prefixLength: Int
    public var interface: Int32
    public var gateway: IPAddress?
    public var preferredSource: IPAddress?
    public var metric: UInt32

    public init(
        destination: IPAddress, prefixLength: Int, interface: Int32, gateway: IPAddress? = nil,
        preferredSource: IPAddress? = nil, metric: UInt32 = 0
    ) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.interface = interface
        self.gateway = gateway
        self.preferredSource = preferredSource
        self.metric = metric
    }

    /// True if `a` lies in this route's prefix.
    public func contains(_ a: IPAddress) -> Bool {
        switch (destination, a) {
        case (.v4(let d), .v4(let x)):
            let m = IPv4Address.mask(prefixLength: prefixLength).value
            return d.value & m == x.value & m
        case (.v6(let d), .v6(let x)):
            return d.masked(prefixLength: prefixLength) == x.masked(prefixLength: prefixLength)
        default:
            return false
        }
    }
}

/// A neighbour entry (RTM_NEWNEIGH) keyed by interface and address.
public struct NeighborKey: Hashable, Sendable {
    public var interface: Int32
    public var address: IPAddress
    public init(interface: Int32, address: IPAddress) {
        self.interface = interface
        self.address = address
    }
}

/// Where a packet to some destination leaves: interface, link header, and the source address to
/// use for packets the director originates there (tunnel outer source, ICMP errors).
public struct Egress: Sendable, Equatable {
    public var interface: Int32
    public var link: EgressLink
    public var sourceAddress: IPAddress?
}

/// Why no egress could be found.
public enum EgressFailure: Error, Sendable, Equatable {
    /// No route covers the destination.
    case noRoute
    /// The next hop's MAC is not known yet (resolution was asked for).
    case noNeighbor(NeighborKey)
    /// The route's interface is down or gone.
    case interfaceDown
}

/// The kernel state the data plane reads, kept in step by rtnetlink events. Owned by one thread.
public struct KernelTables: Sendable {
    public var links: [Int32: KernelLink] = [:]
    public var addresses: [KernelAddress] = []
    public var routes: [KernelRoute] = []
    public var neighbors: [NeighborKey: MACAddress] = [:]
    /// Incremented on every change, so caches built from the tables can tell they are stale.
    public private(set) var generation: UInt64 = 0
    /// Incremented when links or addresses change (what the attached interfaces, the local
    /// addresses and the guard depend on); a neighbour or route change leaves it alone, so the
    /// packet worker rebuilds nothing (and allocates nothing) for those.
    public private(set) var layoutGeneration: UInt64 = 0
    /// Local addresses (fast membership test).
    public private(set) var localAddresses: Set<IPAddress> = []

    public init() {}

    /// Marks any change (links, addresses, routes or neighbours edited directly).
    public mutating func touch() {
        generation &+= 1
        layoutGeneration &+= 1
        localAddresses = Set(addresses.map(\.address))
    }

    /// Marks a change of routes or neighbours only.
    public mutating func touchForwarding() {
        generation &+= 1
    }

    /// The loopback interface's index (1 in every namespace, read from the table when present).
    public var loopbackIndex: Int32 {
        links.values.first(where: \.isLoopback)?.index ?? 1
    }

    /// True if `a` is an address of this host.
    @inlinable public func isLocal(_ a: IPAddress) -> Bool { localAddresses.contains(a) }

    /// The most specific main-table route for `a` (lowest metric among equals), ignoring routes
    /// whose interface is down.
    public func route(to a: IPAddress) -> KernelRoute? {
        var best: KernelRoute?
        for r in routes where r.destination.family == a.family && r.contains(a) {
            if let l = links[r.interface], !l.isUp { continue }
            if let b = best {
                if r.prefixLength > b.prefixLength || (r.prefixLength == b.prefixLength && r.metric < b.metric) {
                    best = r
                }
            } else {
                best = r
            }
        }
        return best
    }

    /// The source address for packets the director sends out of `interface` toward `a`: the
    /// route's preferred source, else the interface's first address of that family in the same
    /// subnet as the next hop, else its first address of that family.
    public func sourceAddress(interface: Int32, toward a: IPAddress, route: KernelRoute?) -> IPAddress? {
        if let s = route?.preferredSource { return s }
        let mine = addresses.filter { $0.interface == interface && $0.address.family == a.family }
        let hop = route?.gateway ?? a
        if let same = mine.first(where: {
            KernelRoute(destination: $0.address, prefixLength: $0.prefixLength, interface: interface).contains(hop)
        }) {
            return same.address
        }
        return mine.first?.address
    }

    /// How to send a packet to `destination`: a local address goes to the loopback interface (the
    /// local stack); anything else follows the route to its next hop, whose MAC must be known.
    public func egress(to destination: IPAddress) -> Result<Egress, EgressFailure> {
        if isLocal(destination) {
            let lo = loopbackIndex
            let mtu = links[lo]?.mtu ?? 65536
            return .success(
                Egress(
                    interface: lo, link: EgressLink(sourceMAC: .zero, destinationMAC: .zero, mtu: mtu),
                    sourceAddress: destination))
        }
        guard let r = route(to: destination) else { return .failure(.noRoute) }
        guard let link = links[r.interface], link.isUp else { return .failure(.interfaceDown) }
        let source = sourceAddress(interface: r.interface, toward: destination, route: r)
        if link.isLoopback {
            return .success(
                Egress(
                    interface: link.index, link: EgressLink(sourceMAC: .zero, destinationMAC: .zero, mtu: link.mtu),
                    sourceAddress: source))
        }
        let hop = r.gateway ?? destination
        let key = NeighborKey(interface: r.interface, address: hop)
        guard let mac = neighbors[key] else { return .failure(.noNeighbor(key)) }
        return .success(
            Egress(
                interface: r.interface, link: EgressLink(sourceMAC: link.mac, destinationMAC: mac, mtu: link.mtu),
                sourceAddress: source))
    }
}
