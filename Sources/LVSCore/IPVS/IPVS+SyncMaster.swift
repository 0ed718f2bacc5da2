// Connection sync, master side: which connections the packet path sends, and when
// (K:ip_vs_core.c ip_vs_in, K:ip_vs_sync.c ip_vs_sync_conn, ip_vs_sync_conn_needed).
//
//   processInbound ─▶ noteInboundPackets(id, 1) ─▶ in_pkts += 1 ─▶ needed? ─▶ syncQueue (+ its template)
//   XDP fast path (later) ─▶ noteInboundPackets(id, n) ───────────┘
//   master daemon thread ─▶ drainSyncQueue (under the director's lock) ─▶ LVSSync encoder ─▶ socket

/// Starts and stops the sockets and threads of connection-sync daemons; IPVS calls it from
/// `startSyncDaemon`/`stopSyncDaemon` (with the table's owner holding its lock), so the daemons
/// listed by `ipvsadm -L --daemon` are the ones running.
public protocol SyncDaemonLauncher: AnyObject {
    /// Opens the daemon's sockets and starts it, or throws (the daemon is then not recorded).
    func start(_ spec: SyncDaemonSpec) throws(IPVSError)
    /// Stops a running daemon (it finishes on its own thread).
    func stop(_ role: SyncDaemonSpec.Role)
}

/// Where a bulk walk of the table (`syncTableSnapshot`) continues.
public struct SyncTableCursor: Hashable, Sendable {
    var bucket = 0
    var bucketCount = 0
    /// The walk has visited every bucket.
    public internal(set) var isFinished = false

    public init() {}
}

extension IPVS {
    /// True while a master sync daemon runs (the packet path queues connections to send).
    public var isSyncMaster: Bool { syncQueue != nil }

    /// Counts `count` inbound packets of connection `id` (`in_pkts`) and, with a master daemon
    /// running, queues the connection (and its template) when the kernel would sync it. The
    /// worker calls it for each packet it handles; a fast path that forwards packets without the
    /// worker reports them here in batches, and a batch that crosses a sync point (a count where
    /// `count % sync_period == sync_threshold`) syncs once.
    public func noteInboundPackets(connection id: UInt32, count: UInt32 = 1, now: Timestamp) {
        guard id != ConnectionTable.none, count > 0 else { return }
        syncAfterInbound(id, count: count, tick: ConnectionTable.tick(now))
    }

    /// `ip_vs_in`'s tail: the packet count and the sync decision.
    @inline(__always) func syncAfterInbound(_ id: UInt32, count: UInt32, tick: UInt32) {
        let r = connections.pointer(id)
        let onePacket = r.pointee.flags.contains(.onePacket)
        var pkts: UInt32
        if onePacket {
            pkts = sysctls.syncThreshold
        } else {
            let before = r.pointee.inPackets
            r.pointee.inPackets = before &+ count
            pkts = r.pointee.inPackets
            // A batch: the last count in it that is a sync point, if any.
            if count > 1, let p = Self.lastSyncPoint(after: before, upTo: pkts, sysctls) { pkts = p }
        }
        if syncQueue != nil {
            syncConnection(id, packets: pkts, tick: tick)
        } else if onePacket {
            let ct = r.pointee.control
            if ct != ConnectionTable.none { connections.pointer(ct).pointee.inPackets &+= 1 }
        }
    }

    /// The largest count in `(before, after]` at which the kernel's packet rule fires.
    static func lastSyncPoint(after before: UInt32, upTo after: UInt32, _ s: IPVSSysctls) -> UInt32? {
        if s.syncPeriod == 0 {
            return before < s.syncThreshold && s.syncThreshold <= after ? s.syncThreshold : nil
        }
        let p = s.syncPeriod
        let t = s.syncThreshold % p
        // The largest x ≤ after with x % p == t.
        guard after >= t else { return nil }
        let x = after - ((after &- t) % p)
        return x > before ? x : nil
    }

    /// `ip_vs_sync_conn` (version 1) and `ip_vs_sync_conn_v0`: the connection if needed, then
    /// its controlling template (with the template's own packet count).
    func syncConnection(_ first: UInt32, packets: UInt32, tick: UInt32) {
        var id = first
        var pkts = packets
        if sysctls.syncVersion == 0 {
            // Version 0: IPv4 only; nothing (not even the template) for one-packet or unneeded ones.
            let r = connections.pointer(id)
            if r.pointee.family != .inet || r.pointee.flags.contains(.onePacket) { return }
            if !syncNeeded(id, packets: pkts, tick: tick) { return }
            enqueueSync(id)
            let ct = r.pointee.control
            if ct == ConnectionTable.none { return }
            syncConnection(ct, packets: controllerPackets(ct), tick: tick)
            return
        }
        while true {
            let r = connections.pointer(id)
            if !r.pointee.flags.contains(.onePacket) && syncNeeded(id, packets: pkts, tick: tick) {
                // "SYNC, connection pe_data invalid": engine data on an unbound entry stops here.
                if r.pointee.flags.contains(.persistenceData) && r.pointee.server < 0 { return }
                enqueueSync(id)
            }
            let ct = r.pointee.control
            if ct == ConnectionTable.none { return }
            pkts = controllerPackets(ct)
            id = ct
        }
    }

    /// The count the controller is checked with: a template's own `in_pkts`, incremented; for
    /// another controller, the threshold.
    private func controllerPackets(_ ct: UInt32) -> UInt32 {
        let c = connections.pointer(ct)
        guard c.pointee.flags.contains(.template) else { return sysctls.syncThreshold }
        c.pointee.inPackets &+= 1
        return c.pointee.inPackets
    }

    /// `ip_vs_sync_conn_needed`: the state filter (TCP ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT,
    /// TIME_WAIT; SCTP ESTABLISHED and the shutdown states), a forced send on a state change out
    /// of ESTABLISHED, the refresh-period and retries rule, and the packet rule (not for templates).
    func syncNeeded(_ id: UInt32, packets pkts: UInt32, tick now: UInt32) -> Bool {
        let r = connections.pointer(id)
        let orig = r.pointee.syncEndTime
        let timeout = ConnectionTable.ticks(seconds: r.pointee.timeout)
        var n = (now &+ timeout) & ~UInt32(3)
        let isTemplate = r.pointee.flags.contains(.template)
        let state = r.pointee.state
        var checkRules = true
        if isTemplate {
            // force = 0
        } else if sysctls.syncPersistMode && inPersistence(id) {
            return false
        } else if r.pointee.protocolNumber == TransportProtocol.tcp.rawValue {
            let s = TCPState(rawValue: state) ?? .none
            guard s == .established || s == .finWait || s == .close || s == .closeWait || s == .timeWait else {
                return false
            }
            if state != r.pointee.syncedState && s != .established { checkRules = false }
        } else if r.pointee.protocolNumber == TransportProtocol.sctp.rawValue {
            let s = SCTPState(rawValue: state) ?? .none
            guard
                s == .established || s == .shutdownSent || s == .shutdownReceived || s == .shutdownAckSent
                    || s == .closed
            else { return false }
            if state != r.pointee.syncedState && s != .established { checkRules = false }
        }
        if checkRules {
            let refresh = ConnectionTable.ticks(seconds: sysctls.syncRefreshPeriod)
            if sysctls.syncRefreshPeriod > 0 {
                let diff = Int64(Int32(bitPattern: n &- orig))
                let minDiff = Int64(max(timeout >> 1, ConnectionTable.ticks(seconds: 10)))
                // Not moved enough since the last send: only a retry, after refresh/8.
                if abs(diff) < min(Int64(refresh), minDiff) {
                    let retries = orig & 3
                    if retries >= sysctls.syncRetries { return false }
                    if Int32(bitPattern: now &- (orig &- timeout &+ (refresh >> 3))) < 0 { return false }
                    n |= retries + 1
                }
            }
            if sysctls.syncPeriod > 0 {
                if !isTemplate && pkts % sysctls.syncPeriod != sysctls.syncThreshold { return false }
            } else if sysctls.syncRefreshPeriod == 0 && pkts != sysctls.syncThreshold {
                return false
            }
        }
        r.pointee.syncedState = state
        r.pointee.syncEndTime = n
        return true
    }

    /// `in_persistence`: some controlling entry up the chain is a template.
    private func inPersistence(_ id: UInt32) -> Bool {
        var ct = connections.pointer(id).pointee.control
        var guardSteps = 0
        while ct != ConnectionTable.none && guardSteps < 8 {
            let c = connections.pointer(ct)
            if c.pointee.flags.contains(.template) { return true }
            ct = c.pointee.control
            guardSteps += 1
        }
        return false
    }

    private func enqueueSync(_ id: UInt32) {
        guard syncQueue != nil else { return }
        if syncQueue!.count >= syncQueueLimit {
            syncQueueDrops &+= 1
            return
        }
        syncQueue!.append(syncSnapshot(id))
    }

    /// The sync form of an entry: the kernel's flag bits and state numbers.
    public func syncSnapshot(_ id: UInt32) -> SyncConnection {
        let r = connections.pointer(id).pointee
        var flags = KernelConnectionFlags(rawValue: r.forwardingCode)
        if r.flags.contains(.noOutput) { flags.insert(.noOutput) }
        if r.flags.contains(.inactive) { flags.insert(.inactive) }
        if r.flags.contains(.template) { flags.insert(.template) }
        if r.flags.contains(.onePacket) { flags.insert(.onePacket) }
        if r.flags.contains(.synced) { flags.insert(.sync) }
        let isTemplate = r.flags.contains(.template)
        var c = SyncConnection(
            family: r.family, protocolNumber: r.protocolNumber, flags: flags,
            state: isTemplate ? (r.flags.contains(.assured) ? 1 : 0) : UInt16(r.state), clientPort: r.clientPort,
            virtualPort: r.virtualPort, destinationPort: r.destinationPort, firewallMark: firewallMark(of: r),
            timeout: r.timeout, client: r.client, virtual: r.virtual, destination: r.destination)
        if r.flags.contains(.persistenceData), let text = persistenceEngineData[id] {
            c.persistence = SyncPersistenceData(engine: Array("sip".utf8), data: Array(text.utf8))
        }
        if r.forwardingCode == 5 { c.local = Endpoint(r.local.address(r.family), r.localPort) }
        return c
    }

    /// `cp->fwmark`: the mark of a fwmark service's entries (the template's virtual address holds
    /// it; a connection takes it from its server's service).
    func firewallMark(of r: ConnectionRecord) -> UInt32 {
        if r.protocolNumber == 0 { return r.family == .inet ? r.virtual.w3 : r.virtual.w0 }
        let d = r.server
        if d < 0 {
            let kept = r.flags.contains(.synced) && r.forwardingCode != 5 && !r.flags.contains(.persistenceData)
            return kept ? r.local.w3 : 0
        }
        // The server's own copy of its service's key (no reference to the service object).
        return store.state(d).pointee.serviceKey.firewallMark
    }

    /// Hands the connections queued for sending to the master daemon: `buffer` (emptied, its
    /// capacity kept) is swapped with the queue, so nothing is allocated on either side.
    public func drainSyncQueue(into buffer: inout [SyncConnection]) {
        guard syncQueue != nil else {
            buffer.removeAll(keepingCapacity: true)
            return
        }
        buffer.removeAll(keepingCapacity: true)
        swap(&syncQueue!, &buffer)
    }

    /// A bulk resync's walk: appends up to about `limit` entries (connections and templates,
    /// every state) from where `cursor` stopped. Call it repeatedly, releasing the table's lock
    /// between calls, until `cursor.isFinished`; entries added meanwhile may or may not be seen.
    public func syncTableSnapshot(from cursor: inout SyncTableCursor, limit: Int, into out: inout [SyncConnection]) {
        let count = connections.bucketCount
        if cursor.bucketCount != count {
            // The table grew (buckets doubled): bucket b's entries are now in 2b and 2b + 1.
            if cursor.bucketCount > 0 && count > cursor.bucketCount {
                cursor.bucket *= count / cursor.bucketCount
            }
            cursor.bucketCount = count
        }
        var taken = 0
        while cursor.bucket < count && taken < limit {
            connections.forEachHashed(bucket: cursor.bucket) { id in
                out.append(syncSnapshot(id))
                taken += 1
            }
            cursor.bucket += 1
        }
        if cursor.bucket >= count { cursor.isFinished = true }
    }
}
