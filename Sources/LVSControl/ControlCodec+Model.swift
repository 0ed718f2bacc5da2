// Wire encoding of the IPVS model types (addresses, services, real servers, listings, errors).
import LVSCore

extension ControlByteWriter {
    public mutating func address(_ a: IPAddress) {
        switch a {
        case .v4(let v4):
            u8(AddressFamily.inet.rawValue)
            u32(v4.value)
        case .v6(let v6):
            u8(AddressFamily.inet6.rawValue)
            u64(v6.high)
            u64(v6.low)
        }
    }

    public mutating func endpoint(_ e: Endpoint) {
        address(e.address)
        u16(e.port)
    }

    public mutating func serviceKey(_ k: ServiceKey) {
        switch k {
        case .endpoint(let p, let e):
            u8(1)
            u8(p.rawValue)
            endpoint(e)
        case .firewallMark(let m, let f):
            u8(2)
            u32(m)
            u8(f.rawValue)
        }
    }

    public mutating func serviceSpec(_ s: VirtualServiceSpec) {
        serviceKey(s.key)
        string(s.scheduler)
        u32(s.flags.rawValue)
        u32(s.persistenceTimeout)
        u32(s.netmask)
        optionalString(s.persistenceEngine)
    }

    public mutating func forwarding(_ f: ForwardingMethod) {
        u8(UInt8(f.kernelCode))
        if case .tunnel(let t) = f {
            u8(t.type.rawValue)
            u16(t.port)
            u16(t.flags.rawValue)
        }
    }

    public mutating func realServerSpec(_ s: RealServerSpec) {
        endpoint(s.endpoint)
        forwarding(s.forwarding)
        u32(UInt32(bitPattern: s.weight))
        u32(s.upperThreshold)
        u32(s.lowerThreshold)
    }

    public mutating func counters(_ c: IPVSCounters) {
        u64(c.connections)
        u64(c.inPackets)
        u64(c.outPackets)
        u64(c.inBytes)
        u64(c.outBytes)
    }

    public mutating func rates(_ r: IPVSRates) {
        u64(r.cps)
        u64(r.inPPS)
        u64(r.outPPS)
        u64(r.inBPS)
        u64(r.outBPS)
    }

    public mutating func realServerEntry(_ e: RealServerEntry) {
        realServerSpec(e.spec)
        u32(e.activeConnections)
        u32(e.inactiveConnections)
        u32(e.persistentConnections)
        counters(e.counters)
        rates(e.rates)
    }

    public mutating func serviceEntry(_ e: VirtualServiceEntry) {
        serviceSpec(e.spec)
        list(e.realServers) { w, r in w.realServerEntry(r) }
        counters(e.counters)
        rates(e.rates)
        list(e.localAddresses) { w, a in w.address(a) }
    }

    public mutating func connection(_ c: ConnectionEntry) {
        string(c.protocolName)
        endpoint(c.client)
        endpoint(c.virtual)
        endpoint(c.destination)
        string(c.state)
        u32(c.expiresInSeconds)
        bool(c.isTemplate)
        optionalString(c.persistenceEngine)
        optionalString(c.persistenceEngineData)
    }

    public mutating func info(_ i: IPVSInfo) {
        u32(i.versionCode)
        u32(i.connectionTableSize)
        u32(i.serviceCount)
    }

    public mutating func timeouts(_ t: IPVSTimeouts) {
        u32(t.tcp)
        u32(t.tcpFin)
        u32(t.udp)
    }

    public mutating func role(_ r: SyncDaemonSpec.Role) { u8(r == .master ? 1 : 2) }

    public mutating func syncDaemon(_ d: SyncDaemonSpec) {
        role(d.role)
        string(d.multicastInterface)
        u8(d.syncID)
        u16(d.maxLength)
        if let g = d.group {
            u8(1)
            address(g)
        } else {
            u8(0)
        }
        u16(d.port)
        u8(d.ttl)
    }

    public mutating func ipvsError(_ e: IPVSError) {
        string(e.code.rawValue)
        optionalString(e.detail)
    }
}

extension ControlByteReader {
    public mutating func address() throws(ControlProtocolError) -> IPAddress {
        switch try u8("address family") {
        case AddressFamily.inet.rawValue: return .v4(IPv4Address(try u32("IPv4 address")))
        case AddressFamily.inet6.rawValue:
            let hi = try u64("IPv6 address")
            let lo = try u64("IPv6 address")
            return .v6(IPv6Address(high: hi, low: lo))
        case let f: throw ControlProtocolError(.malformed, "bad address family \(f)")
        }
    }

    public mutating func endpoint() throws(ControlProtocolError) -> Endpoint {
        let a = try address()
        return Endpoint(a, try u16("port"))
    }

    public mutating func family() throws(ControlProtocolError) -> AddressFamily {
        let v = try u8("family")
        guard let f = AddressFamily(rawValue: v) else { throw ControlProtocolError(.malformed, "bad family \(v)") }
        return f
    }

    public mutating func serviceKey() throws(ControlProtocolError) -> ServiceKey {
        switch try u8("service key") {
        case 1:
            let p = try u8("protocol")
            guard let proto = TransportProtocol(rawValue: p) else {
                throw ControlProtocolError(.malformed, "bad protocol \(p)")
            }
            return .endpoint(proto, try endpoint())
        case 2:
            let m = try u32("fwmark")
            return .firewallMark(m, try family())
        case let t: throw ControlProtocolError(.malformed, "bad service key tag \(t)")
        }
    }

    public mutating func serviceSpec() throws(ControlProtocolError) -> VirtualServiceSpec {
        let key = try serviceKey()
        let sched = try string("scheduler")
        let flags = ServiceFlags(rawValue: try u32("flags"))
        let timeout = try u32("timeout")
        let mask = try u32("netmask")
        let pe = try optionalString("persistence engine")
        return VirtualServiceSpec(
            key: key, scheduler: sched, flags: flags, persistenceTimeout: timeout, netmask: mask,
            persistenceEngine: pe)
    }

    public mutating func forwarding() throws(ControlProtocolError) -> ForwardingMethod {
        switch try u8("forwarding method") {
        case 0: return .masquerade
        case 1: return .local
        case 2:
            let t = try u8("tunnel type")
            guard let type = TunnelType(rawValue: t) else {
                throw ControlProtocolError(.malformed, "bad tunnel type \(t)")
            }
            let port = try u16("tunnel port")
            let flags = TunnelFlags(rawValue: try u16("tunnel flags"))
            return .tunnel(TunnelSpec(type: type, port: port, flags: flags))
        case 3: return .route
        case 5: return .fullNAT
        case let m: throw ControlProtocolError(.malformed, "bad forwarding method \(m)")
        }
    }

    public mutating func realServerSpec() throws(ControlProtocolError) -> RealServerSpec {
        let e = try endpoint()
        let f = try forwarding()
        let w = Int32(bitPattern: try u32("weight"))
        let upper = try u32("upper threshold")
        let lower = try u32("lower threshold")
        return RealServerSpec(endpoint: e, forwarding: f, weight: w, upperThreshold: upper, lowerThreshold: lower)
    }

    public mutating func counters() throws(ControlProtocolError) -> IPVSCounters {
        IPVSCounters(
            connections: try u64("counters"), inPackets: try u64("counters"), outPackets: try u64("counters"),
            inBytes: try u64("counters"), outBytes: try u64("counters"))
    }

    public mutating func rates() throws(ControlProtocolError) -> IPVSRates {
        IPVSRates(
            cps: try u64("rates"), inPPS: try u64("rates"), outPPS: try u64("rates"), inBPS: try u64("rates"),
            outBPS: try u64("rates"))
    }

    public mutating func realServerEntry() throws(ControlProtocolError) -> RealServerEntry {
        let spec = try realServerSpec()
        let active = try u32("active connections")
        let inactive = try u32("inactive connections")
        let persistent = try u32("persistent connections")
        return RealServerEntry(
            spec: spec, activeConnections: active, inactiveConnections: inactive, persistentConnections: persistent,
            counters: try counters(), rates: try rates())
    }

    public mutating func serviceEntry() throws(ControlProtocolError) -> VirtualServiceEntry {
        let spec = try serviceSpec()
        let servers = try list("real servers", minimumElementSize: 40) { r throws(ControlProtocolError) in
            try r.realServerEntry()
        }
        let c = try counters()
        let r = try rates()
        let locals = try list("local addresses", minimumElementSize: 5) { r throws(ControlProtocolError) in
            try r.address()
        }
        return VirtualServiceEntry(spec: spec, realServers: servers, counters: c, rates: r, localAddresses: locals)
    }

    public mutating func connection() throws(ControlProtocolError) -> ConnectionEntry {
        let proto = try string("protocol name")
        let client = try endpoint()
        let virtual = try endpoint()
        let destination = try endpoint()
        let state = try string("state")
        let expires = try u32("expiry")
        let template = try bool("template")
        let pe = try optionalString("persistence engine")
        let peData = try optionalString("persistence engine data")
        return ConnectionEntry(
            protocolName: proto, client: client, virtual: virtual, destination: destination, state: state,
            expiresInSeconds: expires, isTemplate: template, persistenceEngine: pe, persistenceEngineData: peData)
    }

    public mutating func info() throws(ControlProtocolError) -> IPVSInfo {
        IPVSInfo(versionCode: try u32("info"), connectionTableSize: try u32("info"), serviceCount: try u32("info"))
    }

    public mutating func timeouts() throws(ControlProtocolError) -> IPVSTimeouts {
        IPVSTimeouts(tcp: try u32("timeouts"), tcpFin: try u32("timeouts"), udp: try u32("timeouts"))
    }

    public mutating func role() throws(ControlProtocolError) -> SyncDaemonSpec.Role {
        switch try u8("daemon role") {
        case 1: return .master
        case 2: return .backup
        case let r: throw ControlProtocolError(.malformed, "bad daemon role \(r)")
        }
    }

    public mutating func syncDaemon() throws(ControlProtocolError) -> SyncDaemonSpec {
        let role = try role()
        let ifname = try string("multicast interface")
        let syncID = try u8("sync id")
        let maxLength = try u16("sync max length")
        let group: IPAddress? = try bool("group") ? try address() : nil
        let port = try u16("multicast port")
        let ttl = try u8("multicast ttl")
        return SyncDaemonSpec(
            role: role, multicastInterface: ifname, syncID: syncID, maxLength: maxLength, group: group, port: port,
            ttl: ttl)
    }

    public mutating func ipvsError() throws(ControlProtocolError) -> IPVSError {
        let raw = try string("error code")
        guard let code = IPVSError.Code(rawValue: raw) else {
            throw ControlProtocolError(.malformed, "unknown error code \(raw)")
        }
        return IPVSError(code, detail: try optionalString("error detail"))
    }
}
