// Scheduling a new connection, with persistence templates (K:ip_vs_core.c ip_vs_schedule,
// ip_vs_sched_persist; K:ip_vs_conn.c ip_vs_check_template).

extension IPVS {
    static let ftpPort: UInt16 = 21

    /// Picks a real server for a new connection of `svc` and creates the connection (and its
    /// template for persistent services). Failure carries the packet's verdict.
    func schedule(_ svc: VirtualServiceRuntime, _ p: PacketFacts, tick: UInt32, now: Timestamp) -> Result<
        UInt32, ScheduleFailure
    > {
        // "Never schedule Active FTPDATA connections from real server": a client port of 20 is
        // left alone (`ip_vs_schedule`, *ignored = 1).
        if p.sourcePort == 20 {
            counters.notScheduled &+= 1
            return .failure(ScheduleFailure(verdict: .pass))
        }
        if svc.spec.isPersistent { return schedulePersistent(svc, p, tick: tick, now: now) }
        let key = svc.spec.key
        // A non-persistent service only takes its own port ("port zero only supported in
        // persistent services"); the packet then gets `ip_vs_leave`.
        if key.firewallMark == 0 && p.destinationPort != key.port {
            counters.portMismatch &+= 1
            return leave(svc, p)
        }
        let d = pick(svc, p, now: now)
        guard d >= 0 else {
            counters.noDestination &+= 1
            return leave(svc, p)
        }
        let serverPort = store.endpoint(d).port != 0 ? store.endpoint(d).port : p.destinationPort
        let onePacket = svc.spec.flags.contains(.onePacket) && p.transport == .udp
        guard
            let id = newConnection(
                svc, p, server: d, serverPort: serverPort, flags: onePacket ? [.onePacket] : [], tick: tick)
        else { return .failure(ScheduleFailure(verdict: .drop(lastRefusal))) }
        countConnection(d, service: svc)
        return .success(id)
    }

    /// `ip_vs_leave`, for a packet no connection was made for: ICMP port unreachable, except that a
    /// packet for another port of an FTP service's VIP is left to the local stack.
    private func leave(_ svc: VirtualServiceRuntime, _ p: PacketFacts) -> Result<UInt32, ScheduleFailure> {
        if svc.spec.key.port == Self.ftpPort && p.destinationPort != Self.ftpPort {
            return .failure(ScheduleFailure(verdict: .pass))
        }
        return .failure(ScheduleFailure(verdict: .unreachable))
    }

    /// The scheduler's choice, or -1.
    private func pick(_ svc: VirtualServiceRuntime, _ p: PacketFacts, now: Timestamp) -> Int32 {
        guard let scheduler = svc.scheduler else { return -1 }
        let request = SchedulingRequest(
            transport: p.transport, source: p.source, sourcePort: p.sourcePort, destination: p.destination,
            destinationPort: p.destinationPort, now: now)
        return scheduler.schedule(request, random: &random)
    }

    /// `ip_vs_sched_persist`: the template `<proto, caddr & mask, 0, vaddr, vport>` (vport 0 for FTP
    /// and port-0 services; proto IP and vaddr = fwmark for fwmark services) chooses the server;
    /// without a usable template the scheduler picks and a template is made with the service's
    /// persistence timeout.
    private func schedulePersistent(_ svc: VirtualServiceRuntime, _ p: PacketFacts, tick: UInt32, now: Timestamp)
        -> Result<UInt32, ScheduleFailure>
    {
        let spec = svc.spec
        let family = p.source.family
        let clientNet: RawAddress
        switch p.source {
        case .v4(let a): clientNet = RawAddress(.v4(IPv4Address(a.value & spec.netmask)))
        case .v6(let a): clientNet = RawAddress(.v6(a.masked(prefixLength: Int(spec.netmask))))
        }
        var proto = p.transport.rawValue
        var vaddr = RawAddress(p.destination)
        var vport: UInt16 = 0
        if p.destinationPort == spec.key.port {
            if spec.key.port != Self.ftpPort { vport = p.destinationPort }
        } else if spec.key.firewallMark != 0 {
            proto = 0
            vaddr =
                family == .inet
                ? RawAddress(high: 0, low: UInt64(spec.key.firewallMark))
                : RawAddress(high: UInt64(spec.key.firewallMark) << 32, low: 0)
        }
        // `--pe sip`: UDP SIP messages are also keyed by their Call-ID; without one the default
        // persistence applies (`ip_vs_sip_fill_param` sets pe_data only on success).
        // A packet the engine cannot key (not UDP, or no Call-ID) is dropped:
        // `ip_vs_sip_fill_param` fails with EINVAL and `ip_vs_sched_persist` sets *ignored = -1.
        var callID: [UInt8]? = nil
        if spec.persistenceEngine == "sip" {
            guard p.transport == .udp, let payload = p.payload, let id = SIPCallID.extract(payload) else {
                counters.persistenceEngine &+= 1
                return .failure(ScheduleFailure(verdict: .drop(.persistenceEngine)))
            }
            callID = id
        }
        let engineData = callID.map(SIPCallID.digest)
        var ct = connections.lookupTemplate(
            protocol: proto, family: family, client: clientNet, virtual: vaddr, virtualPort: vport,
            engineData: engineData)
        if ct != ConnectionTable.none && !checkTemplate(ct) { ct = ConnectionTable.none }
        let d: Int32
        if ct == ConnectionTable.none {
            let picked = pick(svc, p, now: now)
            guard picked >= 0 else {
                counters.noDestination &+= 1
                return leave(svc, p)
            }
            d = picked
            let templatePort: UInt16 =
                (p.destinationPort == spec.key.port && spec.key.port != Self.ftpPort) ? store.endpoint(d).port : 0
            guard connections.chainHasRoom(proto, clientNet, 0) else {
                counters.chainTooLong &+= 1
                return .failure(ScheduleFailure(verdict: .drop(.chainTooLong)))
            }
            guard let t = connections.allocate() else {
                counters.tableFull &+= 1
                return .failure(ScheduleFailure(verdict: .drop(.tableFull)))
            }
            let r = connections.pointer(t)
            r.pointee.protocolNumber = proto
            r.pointee.familyRaw = family.rawValue
            r.pointee.client = clientNet
            r.pointee.clientPort = 0
            r.pointee.virtual = vaddr
            r.pointee.virtualPort = vport
            r.pointee.destination = RawAddress(store.endpoint(d).address)
            r.pointee.destinationFamilyRaw = store.endpoint(d).address.family.rawValue
            r.pointee.destinationPort = templatePort
            r.pointee.flags = [.template]
            if let engineData, let callID {
                r.pointee.local = engineData
                r.pointee.flags.insert(.persistenceData)
                persistenceEngineData[t] = String(decoding: callID, as: UTF8.self)
            }
            bind(t, to: d)
            connections.hashIn(t)
            r.pointee.timeout = spec.persistenceTimeout
            ct = t
        } else {
            d = connections.pointer(ct).pointee.server
        }
        var dport = p.destinationPort
        if dport == spec.key.port && store.endpoint(d).port != 0 { dport = store.endpoint(d).port }
        let onePacket = spec.flags.contains(.onePacket) && p.transport == .udp
        guard
            let id = newConnection(
                svc, p, server: d, serverPort: dport, flags: onePacket ? [.onePacket] : [], tick: tick)
        else {
            connections.arm(
                ct, expires: tick &+ ConnectionTable.ticks(seconds: connections.pointer(ct).pointee.timeout))
            return .failure(ScheduleFailure(verdict: .drop(lastRefusal)))
        }
        // `ip_vs_control_add` + `ip_vs_conn_put(ct)`: the template's timer restarts on every use.
        connections.pointer(id).pointee.control = ct
        connections.pointer(ct).pointee.controlled &+= 1
        connections.arm(ct, expires: tick &+ ConnectionTable.ticks(seconds: connections.pointer(ct).pointee.timeout))
        countConnection(d, service: svc)
        return .success(id)
    }

    /// `ip_vs_check_template`: a template whose server was deleted, or is quiesced while
    /// `expire_quiescent_template` is set, is re-keyed to port 0xFFFF so it stops matching, and its
    /// timer is left alone.
    func checkTemplate(_ ct: UInt32) -> Bool {
        let r = connections.pointer(ct)
        let d = r.pointee.server
        let usable =
            d >= 0 && store.flags(d).contains(.available)
            && !(sysctls.expireQuiescentTemplate && store.weight(d) == 0)
        if usable { return true }
        if r.pointee.virtualPort != 0xFFFF {
            connections.unhash(ct)
            r.pointee.destinationPort = 0xFFFF
            r.pointee.virtualPort = 0xFFFF
            r.pointee.clientPort = 0
            connections.hashIn(ct)
        }
        return false
    }

    /// `ip_vs_conn_new` for a scheduled connection (plus FULLNAT's local address and port).
    private func newConnection(
        _ svc: VirtualServiceRuntime, _ p: PacketFacts, server d: Int32, serverPort: UInt16, flags: ConnectionFlags,
        tick: UInt32
    ) -> UInt32? {
        var local: (RawAddress, UInt16)? = nil
        if store.forwarding(d).kernelCode == 5 {
            local = allocateLocalEndpoint(svc, p, server: d, serverPort: serverPort)
            if local == nil {
                counters.noLocalAddress &+= 1
                lastRefusal = .noLocalAddress
                return nil
            }
        }
        if !flags.contains(.onePacket)
            && !connections.chainHasRoom(p.transport.rawValue, RawAddress(p.source), p.sourcePort)
        {
            counters.chainTooLong &+= 1
            lastRefusal = .chainTooLong
            return nil
        }
        guard let id = connections.allocate() else {
            counters.tableFull &+= 1
            lastRefusal = .tableFull
            return nil
        }
        let r = connections.pointer(id)
        r.pointee.protocolNumber = p.transport.rawValue
        r.pointee.familyRaw = p.source.family.rawValue
        r.pointee.client = RawAddress(p.source)
        r.pointee.clientPort = p.sourcePort
        r.pointee.virtual = RawAddress(p.destination)
        r.pointee.virtualPort = p.destinationPort
        r.pointee.destination = RawAddress(store.endpoint(d).address)
        r.pointee.destinationFamilyRaw = store.endpoint(d).address.family.rawValue
        r.pointee.destinationPort = serverPort
        r.pointee.flags = flags
        r.pointee.state = 0
        r.pointee.timeout = 3
        if let (laddr, lport) = local {
            r.pointee.local = laddr
            r.pointee.localPort = lport
        }
        bind(id, to: d)
        if !flags.contains(.onePacket) {
            connections.hashIn(id)
            if local != nil { connections.hashOut(id) }
        }
        return id
    }

    /// FULLNAT: the service's next local address (round robin) and a local port that no live
    /// connection to the same server uses with it, so the reply `server → local:port` names
    /// exactly one connection.
    private func allocateLocalEndpoint(
        _ svc: VirtualServiceRuntime, _ p: PacketFacts, server d: Int32, serverPort: UInt16
    )
        -> (RawAddress, UInt16)?
    {
        let candidates = svc.localAddresses.filter { $0.family == store.endpoint(d).address.family }
        guard !candidates.isEmpty else { return nil }
        let raddr = RawAddress(store.endpoint(d).address)
        for _ in 0..<candidates.count {
            let laddr = RawAddress(candidates[Int(svc.localCursor % UInt32(candidates.count))])
            svc.localCursor &+= 1
            for _ in 0..<64512 {
                let port = UInt16(1024 + Int(localPortCursor % 64512))
                localPortCursor &+= 1
                if connections.lookupOut(
                    protocol: p.transport.rawValue, source: raddr, sourcePort: serverPort, destination: laddr,
                    destinationPort: port) == ConnectionTable.none
                {
                    return (laddr, port)
                }
            }
        }
        return nil
    }
}

/// Why scheduling made no connection, with the packet's verdict.
struct ScheduleFailure: Error {
    var verdict: PacketVerdict
}
