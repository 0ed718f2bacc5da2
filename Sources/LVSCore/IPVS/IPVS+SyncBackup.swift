// Connection sync, backup side: received connections enter the table as the kernel's backup
// enters them (K:ip_vs_sync.c ip_vs_proc_conn, K:ip_vs_ctl.c ip_vs_find_dest,
// K:ip_vs_conn.c ip_vs_bind_dest / ip_vs_try_bind_dest).

extension IPVS {
    /// The longest timeout a received entry gets, in seconds (about 194 days; the kernel caps at
    /// `MAX_SCHEDULE_TIMEOUT`, which the tick clock here cannot hold).
    public static let syncTimeoutLimit: UInt32 = 1 << 24

    /// Number of states of a protocol (`pp->num_states`), nil for a protocol IPVS does not know.
    static func syncStateCount(_ proto: UInt8) -> UInt16? {
        switch proto {
        case TransportProtocol.tcp.rawValue: return UInt16(TCPState.allCases.count)
        case TransportProtocol.udp.rawValue: return 1
        case TransportProtocol.sctp.rawValue: return UInt16(SCTPState.allCases.count)
        default: return nil
        }
    }

    /// Enters one received connection or template, as `ip_vs_proc_conn` does:
    /// - an existing entry gets the message's state, timeout and INACTIVE bit (and is bound if it
    ///   was not); nothing else of it changes;
    /// - an existing connection pointing at another real server is expired and replaced, unless
    ///   the message is INACTIVE (the expiry of a connection already replaced: ignored);
    /// - a new entry is bound to the matching real server, or left unbound (forwarding with the
    ///   message's method and address) until that server appears;
    /// - the timeout is the message's (version 1), or this table's for the state (version 0:
    ///   `timeout` 0; templates then get 180 s).
    /// `c.flags` must already be masked as the decoder does (`IP_VS_CONN_F_BACKUP_MASK` for
    /// version 1) and carry `IP_VS_CONN_F_SYNC`.
    public func applySynced(_ c: SyncConnection, now: Timestamp) -> SyncApplyOutcome {
        let tick = ConnectionTable.tick(now)
        connections.startClock(tick)
        store.nowTick = tick
        let isTemplate = c.flags.contains(.template)
        if !isTemplate {
            guard let states = Self.syncStateCount(c.protocolNumber) else { return .refused(.unsupportedProtocol) }
            if c.state >= states { return .refused(.invalidState) }
        }
        var engineDigest: RawAddress? = nil
        if let pe = c.persistence {
            guard pe.engine == Array("sip".utf8) else { return .refused(.unknownPersistenceEngine) }
            engineDigest = SIPCallID.digest(pe.data)
        }
        var replaced = false
        var id: UInt32
        if !isTemplate {
            id = connections.lookupIn(
                protocol: c.protocolNumber, family: c.family, client: c.client, clientPort: c.clientPort,
                virtual: c.virtual, virtualPort: c.virtualPort)
            if id != ConnectionTable.none {
                let r = connections.pointer(id)
                if r.pointee.destinationPort != c.destinationPort || r.pointee.destination != c.destination
                    || r.pointee.destinationFamilyRaw != c.family.rawValue
                {
                    if c.flags.contains(.inactive) { return .ignoredStale }
                    expire(id, tick: tick)
                    replaced = true
                    id = ConnectionTable.none
                }
            }
        } else {
            id =
                c.clientPort == 0
                ? connections.lookupTemplate(
                    protocol: c.protocolNumber, family: c.family, client: c.client, virtual: c.virtual,
                    virtualPort: c.virtualPort, engineData: engineDigest) : ConnectionTable.none
        }

        let outcome: SyncApplyOutcome
        if id != ConnectionTable.none {
            // Only INACTIVE (and the sequence bits, not kept here) change on an existing entry.
            let r = connections.pointer(id)
            let wasInactive = r.pointee.flags.contains(.inactive)
            let inactive = c.flags.contains(.inactive)
            if wasInactive != inactive {
                if inactive { r.pointee.flags.insert(.inactive) } else { r.pointee.flags.remove(.inactive) }
                let d = r.pointee.server
                if !isTemplate && d >= 0 {
                    store.addActive(inactive ? -1 : 1, slot: d)
                    store.addInactive(inactive ? 1 : -1, slot: d)
                    notifyLoad(d)
                }
            }
            if r.pointee.server < 0 { _ = tryBindSynced(id) }
            outcome = .updated
        } else {
            guard let new = newSyncedEntry(c, engineDigest: engineDigest) else { return .refused(.tableFull) }
            id = new
            let bound = connections.pointer(id).pointee.server >= 0
            outcome = replaced ? .replaced : (bound ? .created : .createdUnbound)
        }

        let r = connections.pointer(id)
        r.pointee.inPackets = sysctls.syncThreshold
        if isTemplate {
            if c.state == 1 { r.pointee.flags.insert(.assured) } else { r.pointee.flags.remove(.assured) }
            r.pointee.state = 0
        } else {
            r.pointee.state = UInt8(truncatingIfNeeded: c.state)
        }
        r.pointee.syncedState = r.pointee.state
        var timeout = min(c.timeout, Self.syncTimeoutLimit)
        if timeout == 0 {
            switch c.protocolNumber {
            case _ where isTemplate: timeout = 180
            case TransportProtocol.tcp.rawValue: timeout = tcpTimeouts[Int(r.pointee.state)]
            case TransportProtocol.sctp.rawValue: timeout = sctpTimeouts[Int(r.pointee.state)]
            case TransportProtocol.udp.rawValue: timeout = udpTimeout
            default: timeout = 180
            }
        }
        r.pointee.timeout = timeout
        connections.arm(id, expires: tick &+ ConnectionTable.ticks(seconds: timeout))
        return outcome
    }

    /// `ip_vs_conn_new` for a received entry, bound when its real server is found.
    private func newSyncedEntry(_ c: SyncConnection, engineDigest: RawAddress?) -> UInt32? {
        guard let id = connections.allocate() else {
            counters.tableFull &+= 1
            return nil
        }
        let r = connections.pointer(id)
        r.pointee.protocolNumber = c.protocolNumber
        r.pointee.familyRaw = c.family.rawValue
        r.pointee.client = c.client
        r.pointee.clientPort = c.clientPort
        r.pointee.virtual = c.virtual
        r.pointee.virtualPort = c.virtualPort
        r.pointee.destination = c.destination
        r.pointee.destinationFamilyRaw = c.family.rawValue
        r.pointee.destinationPort = c.destinationPort
        var flags: ConnectionFlags = [.synced, ConnectionFlags(rawValue: UInt16(c.flags.forwardingCode))]
        if c.flags.contains(.noOutput) { flags.insert(.noOutput) }
        if c.flags.contains(.inactive) { flags.insert(.inactive) }
        if c.flags.contains(.template) { flags.insert(.template) }
        if c.flags.contains(.onePacket) { flags.insert(.onePacket) }
        r.pointee.flags = flags
        if let engineDigest, let pe = c.persistence {
            r.pointee.local = engineDigest
            r.pointee.flags.insert(.persistenceData)
            persistenceEngineData[id] = String(decoding: pe.data, as: UTF8.self)
        }
        let fullNAT = c.flags.forwardingCode == 5 && c.local != nil && !c.flags.contains(.template)
        if fullNAT, let local = c.local {
            r.pointee.local = RawAddress(local.address)
            r.pointee.localPort = local.port
        }
        if let d = findSyncDestination(c) {
            bindSynced(id, to: d)
        } else {
            unboundSyncedCount += 1
            // An unbound entry keeps the message's fwmark (in the FULLNAT local field, unused
            // otherwise) to find its server later.
            if !fullNAT && engineDigest == nil { r.pointee.local.w3 = c.firewallMark }
        }
        connections.hashIn(id)
        if fullNAT { connections.hashOut(id) }
        return id
    }

    /// `ip_vs_find_dest`: the service by fwmark, then by `<protocol, VIP, port>` (with the FTP and
    /// port-0 fallbacks), then the server by address and port (port 0 for a fwmark service's
    /// non-NAT entries), or by the other of the two ports.
    func findSyncDestination(_ c: SyncConnection) -> Int32? {
        var slot: Int32? = nil
        if c.firewallMark != 0 { slot = serviceByKey[.firewallMark(c.firewallMark, c.family)] }
        if slot == nil, let t = TransportProtocol(rawValue: c.protocolNumber) {
            slot = findService(transport: t, address: c.virtual.address(c.family), port: c.virtualPort)
        }
        guard let slot else { return nil }
        let svc = service(slot: slot)
        var port = c.destinationPort
        if c.firewallMark != 0 && c.flags.forwardingCode != 0 { port = 0 }
        let address = c.destination.address(c.family)
        if let d = member(svc, Endpoint(address, port)) { return d }
        return member(svc, Endpoint(address, port ^ c.destinationPort))
    }

    /// `ip_vs_bind_dest` for an entry made by sync: the forwarding method comes from the server,
    /// a connection keeps the message's INACTIVE bit (and is counted by it), a template counts as
    /// persistent.
    private func bindSynced(_ id: UInt32, to d: Int32) {
        let r = connections.pointer(id)
        r.pointee.flags.remove([.forwardingMask, .noOutput])
        takeForwarding(r, of: d)
        countBound(r, on: d)
    }

    /// `ip_vs_try_bind_dest`: binds an unbound received entry if its real server exists now.
    @discardableResult
    func tryBindSynced(_ id: UInt32) -> Bool {
        let r = connections.pointer(id)
        guard r.pointee.server < 0 else { return true }
        let c = syncSnapshot(id)
        guard let d = findSyncDestination(c) else { return false }
        bindSynced(id, to: d)
        unboundSyncedCount -= 1
        return true
    }

    /// Binds the received entries left unbound to the real servers that exist now (after a real
    /// server was added: "an unknown server leaves the entry unbound until the server appears").
    func bindUnboundSynced() {
        guard unboundSyncedCount > 0 else { return }
        var ids: [UInt32] = []
        connections.forEachHashed { id in
            let r = connections.pointer(id)
            if r.pointee.server < 0 && r.pointee.flags.contains(.synced) { ids.append(id) }
        }
        for id in ids { tryBindSynced(id) }
    }
}
