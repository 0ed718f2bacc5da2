// Time: connection expiry on the timing wheel, the 2-second rate estimator, scheduler timers,
// and the connection listing's countdowns.

extension IPVS {
    /// Runs every timer due at `now`: connection and template expiry, the rate estimator (every
    /// 2 s) and the schedulers' periodic work (every 60 s). Call it regularly (the data plane does
    /// once per batch); the packet path never reads a clock.
    public func advance(to now: Timestamp) {
        store.nowTick = ConnectionTable.tick(now)
        connections.advance(to: ConnectionTable.tick(now)) { id, tick in
            // A connection a fast path carries may have seen packets IPVS did not: its timer
            // runs from the latest of them.
            if let seen = fastPathLastSeen, let t = seen(id) {
                let due =
                    ConnectionTable.tick(t) &+ ConnectionTable.ticks(seconds: connections.pointer(id).pointee.timeout)
                if !ConnectionTable.notAfter(due, tick) {
                    connections.arm(id, expires: due)
                    return
                }
            }
            expire(id, tick: tick)
        }
        if nextEstimate == nil { nextEstimate = now + .seconds(2) }
        while let t = nextEstimate, t <= now {
            estimate()
            nextEstimate = t + .seconds(2)
        }
        runDefence(now: now)
        if nextSchedulerTick == nil { nextSchedulerTick = now + .seconds(60) }
        while let t = nextSchedulerTick, t <= now {
            for slot in serviceOrder { service(slot: slot).scheduler?.periodic(now: t) }
            store.purgeTrash(idleTicks: ConnectionTable.ticks(seconds: 60))
            nextSchedulerTick = t + .seconds(60)
        }
    }

    /// `ip_vs_expire_nodest_conn_flush` (kernels ≥ 5.9, with `expire_nodest_conn` = 1): right after a
    /// server is deleted, its connections that control nothing are removed, and so is a template
    /// they leave without connections.
    func expireNodestConnections() {
        guard sysctls.expireNodestConn else { return }
        var victims: [UInt32] = []
        connections.forEachHashed { id in
            let r = connections.pointer(id)
            let d = r.pointee.server
            if d >= 0 && !store.flags(d).contains(.available) && r.pointee.controlled == 0
                && !r.pointee.flags.contains(.template)
            {
                victims.append(id)
            }
        }
        let tick = connections.cursor
        for id in victims {
            let ct = connections.pointer(id).pointee.control
            expire(id, tick: tick)
            if ct != ConnectionTable.none && connections.pointer(ct).pointee.controlled == 0 {
                expire(ct, tick: tick)
            }
        }
    }

    /// One estimator step over every service, listed server and the totals.
    func estimate() {
        for slot in serviceOrder {
            let svc = service(slot: slot)
            serviceStats[Int(slot)].estimate()
            for d in svc.members { store.state(d).pointee.stats.estimate() }
        }
        totalStats.estimate()
    }

    /// `ip_vs_conn_expire`: a connection that still controls others waits 60 s more; otherwise it
    /// leaves the table, releases its template (dropping it at once when this connection was
    /// expired early and the template is unused and not assured) and its server.
    func expire(_ id: UInt32, tick: UInt32) {
        let r = connections.pointer(id)
        if r.pointee.controlled > 0 {
            r.pointee.timeout = 60
            connections.arm(id, expires: tick &+ ConnectionTable.ticks(seconds: 60))
            return
        }
        connectionLeaving?(id)
        connections.unhash(id)
        connections.wheelUnlink(id)
        let ct = r.pointee.control
        if ct != ConnectionTable.none {
            let c = connections.pointer(ct)
            c.pointee.controlled &-= 1
            r.pointee.control = ConnectionTable.none
            if r.pointee.timeout == 0 && c.pointee.controlled == 0
                && (!c.pointee.flags.contains(.template) || !c.pointee.flags.contains(.assured))
            {
                expire(ct, tick: tick)
            }
        }
        if r.pointee.server < 0 && r.pointee.flags.contains(.synced) { unboundSyncedCount -= 1 }
        unbind(id)
        uncountSource(id)
        if r.pointee.flags.contains(.persistenceData) { persistenceEngineData[id] = nil }
        connections.free(id)
    }

    /// `ipvsadm -Lnc`: every connection and template, with its state and time left.
    public func connections(now: Timestamp) -> [ConnectionEntry] {
        connections(now: now, buckets: 0..<connections.bucketCount)
    }

    /// The hash buckets a listing walks (`connections(now:buckets:)` lists a range of them, so a
    /// big table is listed in steps between which packets are processed).
    public var connectionBucketCount: Int { connections.bucketCount }

    /// The connections and templates hashed in `buckets`, in the order `-Lnc` lists them. A walk in
    /// steps may miss or repeat an entry that moves meanwhile (as reading /proc/net/ip_vs_conn in
    /// several reads may).
    public func connections(now: Timestamp, buckets: Range<Int>) -> [ConnectionEntry] {
        let tick = ConnectionTable.tick(now)
        var out: [ConnectionEntry] = []
        for b in buckets { connections.forEachHashed(bucket: b) { out.append(connectionEntry($0, tick: tick)) } }
        return out
    }

    /// A piece of the `ipvsadm -Lnc` listing: the entries of buckets `cursor.bucket…` until at
    /// least `maxEntries` were given to `body`. Returns the cursor to continue from, or nil at the
    /// end. Between pieces the table may change (as `/proc/net/ip_vs_conn` read in pieces): an
    /// entry added or removed meanwhile may be missed, and if the table grew, a few may be seen twice.
    public func connections(
        now: Timestamp, from cursor: ConnectionListingCursor, maxEntries: Int, _ body: (ConnectionEntry) -> Void
    ) -> ConnectionListingCursor? {
        let tick = ConnectionTable.tick(now)
        let buckets = connections.bucketCount
        var b = cursor.bucket
        if cursor.bucketCount != 0 && cursor.bucketCount != buckets {
            b = Int((Int64(b) * Int64(buckets)) / Int64(cursor.bucketCount))
        }
        var given = 0
        while b < buckets {
            connections.forEachHashed(bucket: b) { id in
                body(connectionEntry(id, tick: tick))
                given += 1
            }
            b += 1
            if given >= maxEntries { break }
        }
        return b < buckets ? ConnectionListingCursor(bucket: b, bucketCount: buckets) : nil
    }

    func connectionEntry(_ id: UInt32, tick: UInt32) -> ConnectionEntry {
        let r = connections.pointer(id).pointee
        let left = Int32(bitPattern: r.expires &- tick)
        let family = r.family
        let isTemplate = r.flags.contains(.template)
        let transport = TransportProtocol(rawValue: r.protocolNumber)
        let protoName = transport?.description ?? "IP"
        let stateName: String
        switch transport {
        case .tcp: stateName = TCPState(rawValue: r.state)?.name ?? "ERR!"
        case .udp: stateName = "UDP"
        case .sctp: stateName = SCTPState(rawValue: r.state)?.name ?? "ERR!"
        case nil: stateName = "NONE"
        }
        return ConnectionEntry(
            protocolName: protoName, client: Endpoint(r.client.address(family), r.clientPort),
            virtual: Endpoint(r.virtual.address(family), r.virtualPort),
            destination: Endpoint(r.destination.address(r.destinationFamily), r.destinationPort),
            state: isTemplate ? (r.flags.contains(.assured) ? "ASSURED" : "NONE") : stateName,
            expiresInSeconds: left > 0 ? ConnectionTable.seconds(ticks: UInt32(left)) : 0,
            isTemplate: isTemplate,
            persistenceEngine: r.flags.contains(.persistenceData) ? "sip" : nil,
            persistenceEngineData: r.flags.contains(.persistenceData) ? persistenceEngineData[id] : nil)
    }

    /// Live connections and templates.
    public var connectionCount: Int { connections.count }
}

/// Where a connection listing given in pieces continues.
public struct ConnectionListingCursor: Hashable, Sendable {
    public var bucket: Int
    /// The table's bucket count when the cursor was made (0 at the start).
    public var bucketCount: Int

    public init(bucket: Int = 0, bucketCount: Int = 0) {
        self.bucket = bucket
        self.bucketCount = bucketCount
    }
}
