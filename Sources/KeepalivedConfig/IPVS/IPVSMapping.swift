// From the typed configuration to the IPVS table it describes (what `ipvsadm -Ln` shows).
import LVSCore

/// One IPVS virtual service that a `virtual_server` creates (a group creates one per address and
/// per fwmark entry), with its real servers.
public struct ConfiguredVirtualService: Hashable, Sendable {
    /// The service as `ipvsadm -A` would add it.
    public var spec: VirtualServiceSpec
    /// Every configured real server, in configuration order, as `ipvsadm -a` would add it.
    public var realServers: [RealServerSpec]
    /// `inhibit_on_failure` of each real server (same order).
    public var inhibitOnFailure: [Bool]
    /// `alpha` of each real server (same order).
    public var alpha: [Bool]
    /// The sorry server (weight 1), added while the quorum is lost.
    public var sorryServer: RealServerSpec?
    /// `sorry_server_inhibit`: the sorry server stays listed at weight 0 while quorum holds.
    public var sorryServerInhibit: Bool
    /// The index of the `virtual_server` in `KeepalivedConfiguration.virtualServers`.
    public var virtualServerIndex: Int
    /// Where the `virtual_server` is configured.
    public var location: SourceLocation

    /// The real servers in the table at start-up (keepalived `init_service_vs()`): without
    /// `alpha` every real server at its weight (checkers start "up"); with `alpha` none, except
    /// `inhibit_on_failure` servers, listed at weight 0. The quorum starts as held, so the sorry
    /// server is not added (with `sorry_server_inhibit` it is listed at weight 0).
    public var initialRealServers: [RealServerSpec] {
        var out: [RealServerSpec] = []
        for (i, rs) in realServers.enumerated() {
            if !alpha[i] {
                out.append(rs)
            } else if inhibitOnFailure[i] {
                var quiesced = rs
                quiesced.weight = 0
                out.append(quiesced)
            }
        }
        if sorryServerInhibit, var sorry = sorryServer, !out.contains(where: { $0.endpoint == sorry.endpoint }) {
            sorry.weight = 0
            out.append(sorry)
        }
        return out
    }
}

/// The IPVS state a configuration asks for.
public struct ConfiguredIPVSTable: Hashable, Sendable {
    /// Services in configuration order (a group's in entry and address order).
    public var services: [ConfiguredVirtualService]
    /// `lvs_timeouts` (0 fields: leave unchanged, as `ipvsadm --set`).
    public var timeouts: IPVSTimeouts?
    /// `lvs_flush`: clear the table before adding the configured services.
    public var flushOnStart: Bool
    /// `lvs_flush_on_stop`.
    public var flushOnStop: LVSFlushOnStop?

    /// The table at start-up, as `ipvsadm -Ln` lists it (services in ipvsadm's order, each with
    /// its initial real servers).
    public var initialTable: [VirtualServiceEntry] {
        services.sorted { $0.spec.key < $1.spec.key }.map { s in
            VirtualServiceEntry(
                spec: s.spec,
                realServers: s.initialRealServers.reversed().map { RealServerEntry(spec: $0) })
        }
    }
}

extension KeepalivedConfiguration {
    /// The IPVS services, real servers, sorry servers and timeouts this configuration describes:
    /// `lb_kind NAT` → masquerade, `DR` → route, `TUN` → tunnel (with its type), persistence
    /// granularity → netmask, virtual_server_group ranges, CIDRs and fwmarks expanded.
    public func ipvsConfiguration() -> ConfiguredIPVSTable {
        var services: [ConfiguredVirtualService] = []
        for (index, vs) in virtualServers.enumerated() {
            for key in serviceKeys(of: vs) {
                services.append(service(vs, key: key, index: index))
            }
        }
        return ConfiguredIPVSTable(
            services: services, timeouts: globalDefs.lvsTimeouts, flushOnStart: globalDefs.lvsFlush,
            flushOnStop: globalDefs.lvsFlushOnStop)
    }

    /// The IPVS keys of a virtual server: one, or one per address/fwmark of its group.
    public func serviceKeys(of vs: VirtualServer) -> [ServiceKey] {
        let proto = vs.transportProtocol ?? .tcp
        switch vs.address {
        case .endpoint(let a, let port): return [.endpoint(proto, Endpoint(a, port))]
        case .firewallMark(let m): return [.firewallMark(m, vs.family)]
        case .group(let name):
            guard let group = virtualServerGroup(named: name) else { return [] }
            var keys: [ServiceKey] = []
            for entry in group.entries {
                switch entry {
                case .firewallMark(let m, let family, _):
                    keys.append(.firewallMark(m, family ?? vs.family))
                case .addresses(let first, let last, let port, _):
                    for a in IPAddressRange(first: first, last: last) {
                        keys.append(.endpoint(proto, Endpoint(a, port ?? 0)))
                    }
                }
            }
            return keys
        }
    }

    private func service(_ vs: VirtualServer, key: ServiceKey, index: Int) -> ConfiguredVirtualService {
        var flags = vs.flags
        if vs.persistenceTimeout != nil { flags.insert(.persistent) }
        var netmask: UInt32?
        switch vs.persistenceGranularity {
        case .ipv4Netmask(let m)?: netmask = key.family == .inet ? m.value : nil
        case .ipv6PrefixLength(let p)?: netmask = key.family == .inet6 ? UInt32(p) : nil
        case nil: netmask = nil
        }
        let spec = VirtualServiceSpec(
            key: key, scheduler: vs.scheduler, flags: flags, persistenceTimeout: vs.persistenceTimeout ?? 0,
            netmask: netmask, persistenceEngine: vs.persistenceEngine)
        func destination(_ address: IPAddress, _ port: UInt16, _ forwarding: ForwardingMethod, weight: Int32)
            -> RealServerSpec
        {
            // In a group, a real server without a port serves each entry on the entry's port.
            let p = port == 0 && key.firewallMark == 0 ? key.port : port
            return RealServerSpec(endpoint: Endpoint(address, p), forwarding: forwarding, weight: weight)
        }
        var realServers: [RealServerSpec] = []
        for rs in vs.realServers {
            var spec = destination(rs.address, rs.port, rs.forwarding, weight: rs.weight)
            spec.upperThreshold = rs.upperThreshold
            spec.lowerThreshold = rs.lowerThreshold
            realServers.append(spec)
        }
        let sorry = vs.sorryServer.map { destination($0.address, $0.port, $0.forwarding, weight: 1) }
        return ConfiguredVirtualService(
            spec: spec, realServers: realServers, inhibitOnFailure: vs.realServers.map(\.inhibitOnFailure),
            alpha: vs.realServers.map(\.alpha), sorryServer: sorry,
            sorryServerInhibit: vs.sorryServer?.inhibit ?? false, virtualServerIndex: index,
            location: vs.location)
    }
}

/// The addresses from `first` to `last` inclusive (same family).
public struct IPAddressRange: Sequence, Hashable, Sendable {
    public var first: IPAddress
    public var last: IPAddress

    public init(first: IPAddress, last: IPAddress) {
        self.first = first
        self.last = last
    }

    /// How many addresses the range holds (saturating).
    public var count: UInt64 {
        switch (first, last) {
        case (.v4(let a), .v4(let b)): return b.value >= a.value ? UInt64(b.value - a.value) + 1 : 0
        case (.v6(let a), .v6(let b)):
            guard b >= a else { return 0 }
            if a.high != b.high { return UInt64.max }
            return b.low - a.low == UInt64.max ? UInt64.max : b.low - a.low + 1
        default: return 0
        }
    }

    public struct Iterator: IteratorProtocol {
        var upcoming: IPAddress?
        let last: IPAddress
        public mutating func next() -> IPAddress? {
            guard let current = upcoming, current <= last else { return nil }
            switch current {
            case .v4(let a): upcoming = a.value == UInt32.max ? nil : .v4(IPv4Address(a.value + 1))
            case .v6(let a):
                if a.low == UInt64.max {
                    upcoming = a.high == UInt64.max ? nil : .v6(IPv6Address(high: a.high + 1, low: 0))
                } else {
                    upcoming = .v6(IPv6Address(high: a.high, low: a.low + 1))
                }
            }
            return current
        }
    }

    public func makeIterator() -> Iterator {
        Iterator(upcoming: first.family == last.family ? first : nil, last: last)
    }
}
