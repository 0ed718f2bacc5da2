// The packet path: find or schedule a connection, count it, follow its protocol state
// (K:ip_vs_core.c ip_vs_in / ip_vs_out, ip_vs_conn.c).

extension IPVS {
    /// Handles a client → VIP packet: finds its connection or schedules a new one, counts it,
    /// moves the protocol state and restarts the connection's timer.
    public func processInbound(_ p: PacketFacts, now: Timestamp) -> PacketVerdict {
        let tick = ConnectionTable.tick(now)
        connections.startClock(tick)
        store.nowTick = tick
        let proto = p.transport.rawValue
        let client = RawAddress(p.source)
        let virtual = RawAddress(p.destination)
        var id = connections.lookupIn(
            protocol: proto, family: p.source.family, client: client, clientPort: p.sourcePort, virtual: virtual,
            virtualPort: p.destinationPort)

        // A new connection attempt meeting an old entry (`conn_reuse_mode`, `expire_nodest_conn`).
        if id != ConnectionTable.none && isNewConnection(p) {
            let r = connections.pointer(id)
            var reschedule = false
            let server = r.pointee.server
            if sysctls.expireNodestConn && server >= 0 && store.weight(server) == 0 {
                reschedule = true
            } else if sysctls.connReuseMode != 0 && isNewConnectionExpected(r.pointee) {
                reschedule = true
            }
            if reschedule {
                if r.pointee.controlled == 0 { expire(id, tick: tick) }
                id = ConnectionTable.none
            }
        }

        // The real server of an existing connection was deleted.
        if id != ConnectionTable.none {
            let server = connections.pointer(id).pointee.server
            if server >= 0 && !store.flags(server).contains(.available) {
                if sysctls.expireNodestConn {
                    expire(id, tick: tick)
                    id = ConnectionTable.none
                } else {
                    counters.destinationGone &+= 1
                    return .drop(.destinationGone)
                }
            }
        }

        if id == ConnectionTable.none {
            switch p.transport {
            case .tcp:
                guard p.tcpFlags.contains(.syn) || sysctls.sloppyTCP, !p.tcpFlags.contains(.rst) else {
                    counters.notScheduled &+= 1
                    return .pass
                }
            case .sctp:
                guard p.sctpChunkType == 1 || sysctls.sloppySCTP else {
                    counters.notScheduled &+= 1
                    return .pass
                }
            case .udp:
                break
            }
            guard
                let sslot = findService(
                    transport: p.transport, address: p.destination, port: p.destinationPort,
                    firewallMark: p.firewallMark)
            else { return .pass }
            // A packet that cannot be forwarded creates no entry (SwiftLVS: checked before
            // scheduling, so spoofed SYNs with TTL ≤ 1 cost nothing).
            if p.ttl <= 1 {
                counters.ttlExpired &+= 1
                return .drop(.ttlExpired)
            }
            // An overloaded worker sheds what would be new work first. As `drop_packet`
            // (K:ip_vs_proto_*.c conn_schedule → ip_vs_todrop), only a packet that would schedule
            // a new connection is refused; packets of existing connections never get here.
            if shedsNewConnections {
                counters.overloadShed &+= 1
                return .drop(.overload)
            }
            // `ip_vs_todrop` in the protocols' conn_schedule (drop_packet).
            if dropForDefence() {
                counters.defenceDropped &+= 1
                return .drop(.defence)
            }
            let svc = service(slot: sslot)
            if !admitUnderLimits(svc, p, now: now) { return .drop(.connectionLimit) }
            switch schedule(svc, p, tick: tick, now: now) {
            case .success(let new):
                id = new
                if id != ConnectionTable.none && !connections.pointer(id).pointee.flags.contains(.onePacket) {
                    countSource(id)
                }
            case .failure(let failure): return failure.verdict
            }
        }

        let r = connections.pointer(id)
        countTraffic(r.pointee.server, inPackets: 1, inBytes: UInt64(p.length))
        transition(id, direction: .input, p)
        let forwarding = forwardingOf(id)
        syncAfterInbound(id, count: 1, tick: tick)
        if r.pointee.flags.contains(.onePacket) {
            expire(id, tick: tick)
        } else {
            connections.arm(id, expires: tick &+ ConnectionTable.ticks(seconds: r.pointee.timeout))
        }
        return .forward(forwarding)
    }

    /// Handles a real server → client packet of a NAT or FULLNAT connection (`ip_vs_out`): counts it,
    /// moves the state (OUTPUT table) and restarts the timer. `.pass` when no connection matches.
    public func processOutbound(_ p: PacketFacts, now: Timestamp) -> PacketVerdict {
        let tick = ConnectionTable.tick(now)
        connections.startClock(tick)
        let id = connections.lookupOut(
            protocol: p.transport.rawValue, source: RawAddress(p.source), sourcePort: p.sourcePort,
            destination: RawAddress(p.destination), destinationPort: p.destinationPort, family: p.source.family)
        if id == ConnectionTable.none { return .pass }
        let r = connections.pointer(id)
        countTraffic(r.pointee.server, outPackets: 1, outBytes: UInt64(p.length))
        transition(id, direction: .output, p)
        connections.arm(id, expires: tick &+ ConnectionTable.ticks(seconds: r.pointee.timeout))
        return .forward(forwardingOf(id))
    }

    /// The forwarding of an existing connection (for ICMP errors and fragments that carry no
    /// usable transport header of their own).
    public func forwarding(ofConnection id: UInt32) -> ForwardingDecision? {
        guard id != ConnectionTable.none, connections.pointer(id).pointee.server >= 0 else { return nil }
        return forwardingOf(id)
    }

    /// A SYN (TCP) or INIT (SCTP) (`is_new_conn`).
    func isNewConnection(_ p: PacketFacts) -> Bool {
        switch p.transport {
        case .tcp: return p.tcpFlags.contains(.syn)
        case .sctp: return p.sctpChunkType == 1
        case .udp: return false
        }
    }

    /// `is_new_conn_expected`: an uncontrolled TCP connection in TIME_WAIT or CLOSE (or FIN_WAIT
    /// of a DR/TUN server with `conn_reuse_mode & 2`), or an SCTP one in CLOSED.
    func isNewConnectionExpected(_ r: ConnectionRecord) -> Bool {
        if r.control != ConnectionTable.none { return false }
        switch r.protocolNumber {
        case TransportProtocol.tcp.rawValue:
            let s = TCPState(rawValue: r.state)
            return s == .timeWait || s == .close
                || (sysctls.connReuseMode & 2 != 0 && s == .finWait && r.flags.contains(.noOutput))
        case TransportProtocol.sctp.rawValue:
            return SCTPState(rawValue: r.state) == .closed
        default:
            return false
        }
    }

    func forwardingOf(_ id: UInt32) -> ForwardingDecision {
        let r = connections.pointer(id).pointee
        let server = r.server
        // An entry made by sync whose server this table lacks forwards with its own method.
        var method = server >= 0 ? store.forwarding(server) : .masquerade
        if method.kernelCode != r.forwardingCode {
            switch r.forwardingCode {
            case 0: method = .masquerade
            case 1: method = .local
            case 3: method = .route
            case 5: method = .fullNAT
            default: method = .tunnel(TunnelSpec())
            }
        }
        let family = r.family
        return ForwardingDecision(
            connection: r.flags.contains(.onePacket) ? ConnectionTable.none : id, method: method,
            server: Endpoint(r.destination.address(r.destinationFamily), r.destinationPort),
            client: Endpoint(r.client.address(family), r.clientPort),
            virtual: Endpoint(r.virtual.address(family), r.virtualPort),
            local: r.forwardingCode == 5 ? Endpoint(r.local.address(family), r.localPort) : nil)
    }

    // MARK: state

    /// `ip_vs_set_state`: the protocol's state machine, the active/inactive counters, and the
    /// timeout of the new state.
    func transition(_ id: UInt32, direction: PacketDirection, _ p: PacketFacts) {
        let r = connections.pointer(id)
        var dir = direction
        if r.pointee.flags.contains(.noOutput) {
            if dir == .output { r.pointee.flags.remove(.noOutput) } else { dir = .inputOnly }
        }
        switch p.transport {
        case .udp:
            r.pointee.timeout = udpTimeout
            // `udp_state_transition`: a reply assures the controlling template.
            if direction == .output { assureControl(id) }
        case .tcp:
            let old = TCPState(rawValue: r.pointee.state) ?? .none
            let new = TCPState.next(
                from: old, direction: dir, syn: p.tcpFlags.contains(.syn), fin: p.tcpFlags.contains(.fin),
                ack: p.tcpFlags.contains(.ack), rst: p.tcpFlags.contains(.rst), secure: sysctls.secureTCP)
            if new != old {
                setActive(id, new.isActive)
                if new == .established { assureControl(id) }
            }
            r.pointee.state = new.rawValue
            r.pointee.timeout = tcpTimeouts[Int(new.rawValue)]
        case .sctp:
            let old = SCTPState(rawValue: r.pointee.state) ?? .none
            let new = SCTPState.next(from: old, direction: dir, chunkType: p.sctpChunkType)
            if new != old {
                setActive(id, new.isActive)
                if new == .established { assureControl(id) }
            }
            r.pointee.state = new.rawValue
            r.pointee.timeout = sctpTimeouts[Int(new.rawValue)]
        }
    }

    /// Moves a connection between the ActiveConn and InActConn counts of its server.
    private func setActive(_ id: UInt32, _ active: Bool) {
        let r = connections.pointer(id)
        let d = r.pointee.server
        guard d >= 0 else { return }
        let inactive = r.pointee.flags.contains(.inactive)
        if active && inactive {
            r.pointee.flags.remove(.inactive)
            store.addActive(1, slot: d)
            store.addInactive(-1, slot: d)
        } else if !active && !inactive {
            r.pointee.flags.insert(.inactive)
            store.addActive(-1, slot: d)
            store.addInactive(1, slot: d)
        } else {
            return
        }
        notifyLoad(d)
    }

    /// `ip_vs_control_assure_ct`: a template whose connection reached ESTABLISHED is ASSURED.
    private func assureControl(_ id: UInt32) {
        let ct = connections.pointer(id).pointee.control
        if ct != ConnectionTable.none && connections.pointer(ct).pointee.flags.contains(.template) {
            connections.pointer(ct).pointee.flags.insert(.assured)
        }
    }

    // MARK: statistics

    /// `ip_vs_in_stats` / `ip_vs_out_stats`: counts traffic on server `d`, its service and the
    /// table, only for a server still available.
    @inline(__always)
    func countTraffic(
        _ d: Int32, inPackets: UInt64 = 0, inBytes: UInt64 = 0, outPackets: UInt64 = 0, outBytes: UInt64 = 0
    ) {
        guard d >= 0 else { return }
        let s = store.state(d)
        guard s.pointee.flags.contains(.available) else { return }
        let svc = Int(s.pointee.service)
        if inPackets > 0 {
            s.pointee.stats.countIn(packets: inPackets, bytes: inBytes)
            serviceStats[svc].countIn(packets: inPackets, bytes: inBytes)
            totalStats.countIn(packets: inPackets, bytes: inBytes)
        }
        if outPackets > 0 {
            s.pointee.stats.countOut(packets: outPackets, bytes: outBytes)
            serviceStats[svc].countOut(packets: outPackets, bytes: outBytes)
            totalStats.countOut(packets: outPackets, bytes: outBytes)
        }
    }

    func countConnection(_ d: Int32, service svc: VirtualServiceRuntime) {
        store.state(d).pointee.stats.countConnection()
        serviceStats[Int(svc.slot)].countConnection()
        totalStats.countConnection()
    }

    // MARK: binding

    /// Tells the owning service's scheduler that a listed server's load changed.
    func notifyLoad(_ d: Int32) {
        if store.position(d) >= 0, let svc = serviceSlots[Int(store.service(d))] {
            svc.scheduler?.loadChanged(d)
        }
    }

    private func notifyOverload(_ d: Int32) {
        if store.position(d) >= 0, let svc = serviceSlots[Int(store.service(d))] {
            svc.scheduler?.overloadChanged(d)
        }
    }

    /// `ip_vs_bind_dest`: the connection takes the server's forwarding flags, is counted inactive
    /// (or persistent for a template), and may set the server's overload flag.
    func bind(_ id: UInt32, to d: Int32) {
        let r = connections.pointer(id)
        takeForwarding(r, of: d)
        r.pointee.flags.insert(.inactive)
        countBound(r, on: d)
    }

    /// `ip_vs_bind_dest`'s first steps: the connection holds server `d` and takes its forwarding
    /// method (NOOUTPUT unless masquerade or FULLNAT).
    func takeForwarding(_ r: UnsafeMutablePointer<ConnectionRecord>, of d: Int32) {
        store.retain(d)
        r.pointee.server = d
        let code = store.forwarding(d).kernelCode
        r.pointee.flags.insert(ConnectionFlags(rawValue: UInt16(code)))
        if code != 0 && code != 5 { r.pointee.flags.insert(.noOutput) }
    }

    /// `ip_vs_bind_dest`'s counting: a template as persistent (and INACTIVE), a connection as
    /// inactive or active by its INACTIVE bit; then the overload check.
    func countBound(_ r: UnsafeMutablePointer<ConnectionRecord>, on d: Int32) {
        if r.pointee.flags.contains(.template) {
            r.pointee.flags.insert(.inactive)
            store.addPersistent(1, slot: d)
        } else {
            if r.pointee.flags.contains(.inactive) {
                store.addInactive(1, slot: d)
            } else {
                store.addActive(1, slot: d)
            }
            notifyLoad(d)
        }
        markOverloadIfNeeded(d)
    }

    /// `ip_vs_bind_dest`'s last step: the server is overloaded once its connections reach the
    /// upper threshold.
    func markOverloadIfNeeded(_ d: Int32) {
        let upper = store.upperThreshold(d)
        if upper != 0 && UInt32(max(0, store.activeConnections(d) &+ store.inactiveConnections(d))) >= upper
            && !store.flags(d).contains(.overload)
        {
            store.setOverloaded(slot: d, true)
            notifyOverload(d)
        }
    }

    /// `ip_vs_unbind_dest`: uncounts the connection and applies the overload-clearing rules.
    func unbind(_ id: UInt32) {
        let r = connections.pointer(id)
        let d = r.pointee.server
        guard d >= 0 else { return }
        if r.pointee.flags.contains(.template) {
            store.addPersistent(-1, slot: d)
        } else {
            if r.pointee.flags.contains(.inactive) {
                store.addInactive(-1, slot: d)
            } else {
                store.addActive(-1, slot: d)
            }
            notifyLoad(d)
        }
        let total = Int64(store.activeConnections(d)) + Int64(store.inactiveConnections(d))
        let lower = Int64(store.lowerThreshold(d))
        let upper = Int64(store.upperThreshold(d))
        let wasOverloaded = store.flags(d).contains(.overload)
        if lower != 0 {
            if total < lower { store.setOverloaded(slot: d, false) }
        } else if upper != 0 {
            if total * 4 < upper * 3 { store.setOverloaded(slot: d, false) }
        } else {
            store.setOverloaded(slot: d, false)
        }
        if wasOverloaded && !store.flags(d).contains(.overload) { notifyOverload(d) }
        r.pointee.server = -1
        store.release(d)
    }
}

// MARK: - Lookups of the packet path (packets that are not a flow's own: ICMP errors, fragments)

extension IPVS {
    /// True if a virtual service takes `transport` packets to `address`:`port` (ip_vs_in's
    /// service lookup, FTP's data ports included).
    public func hasVirtualService(
        transport: TransportProtocol, address: IPAddress, port: UInt16, firewallMark: UInt32 = 0
    ) -> Bool {
        findService(transport: transport, address: address, port: port, firewallMark: firewallMark) != nil
    }

    /// True if a client's packet to `virtual`:`virtualPort` belongs to an existing connection.
    /// ip_vs_in looks connections up before services: a connection whose service was deleted
    /// still carries its packets.
    public func hasConnection(
        protocolNumber: UInt8, client: IPAddress, clientPort: UInt16, virtual: IPAddress, virtualPort: UInt16
    ) -> Bool {
        firewallMarkOfConnection(
            protocolNumber: protocolNumber, client: client, clientPort: clientPort, virtual: virtual,
            virtualPort: virtualPort) != nil
    }

    /// The firewall mark of a client's connection to `virtual`:`virtualPort` (`cp->fwmark`: its
    /// service's mark, 0 for an address service), or nil if there is no such connection.
    public func firewallMarkOfConnection(
        protocolNumber: UInt8, client: IPAddress, clientPort: UInt16, virtual: IPAddress, virtualPort: UInt16
    ) -> UInt32? {
        let id = connections.lookupIn(
            protocol: protocolNumber, family: client.family, client: RawAddress(client), clientPort: clientPort,
            virtual: RawAddress(virtual), virtualPort: virtualPort)
        guard id != ConnectionTable.none else { return nil }
        return firewallMark(of: connections.pointer(id).pointee)
    }

    /// The connection of a quoted packet (the one an ICMP error carries), looked up as a client's
    /// packet, then as a real server's reply (ip_vs_in_icmp / ip_vs_out_icmp); with its forwarding
    /// and whether the quoted packet travelled inbound. Nil if no connection has it.
    public func connection(
        ofQuotedPacket protocolNumber: UInt8, source: IPAddress, sourcePort: UInt16, destination: IPAddress,
        destinationPort: UInt16
    ) -> (forwarding: ForwardingDecision, inbound: Bool)? {
        var id = connections.lookupIn(
            protocol: protocolNumber, family: source.family, client: RawAddress(source), clientPort: sourcePort,
            virtual: RawAddress(destination), virtualPort: destinationPort)
        var inbound = true
        if id == ConnectionTable.none {
            id = connections.lookupOut(
                protocol: protocolNumber, source: RawAddress(source), sourcePort: sourcePort,
                destination: RawAddress(destination), destinationPort: destinationPort)
            inbound = false
        }
        guard let d = forwarding(ofConnection: id) else { return nil }
        return (d, inbound)
    }
}

extension ForwardingDecision {
    /// True when the packet belongs to a connection (its later fragments and ICMP errors can be
    /// matched to it); false for one-packet scheduling.
    public var isTracked: Bool { connection != ConnectionTable.none }
}
