// The kernel's DoS defences, re-evaluated every second: drop_entry, drop_packet, secure_tcp
// (K:ip_vs_ctl.c update_defense_level, defense_work_handler; K:ip_vs_conn.c ip_vs_random_dropentry).
//
//   every second ─▶ available = min(system MemAvailable, table headroom)   (pages)
//                   nomem = available < amemthresh
//                   drop_entry  1 ⇄ 2 (nomem), 3 always ─▶ scan 1/32 of the buckets, drop SYN_RECV…
//                   drop_packet 1 ⇄ 2 (nomem), 3 always ─▶ 1 of every `rate` new connections dropped
//                   secure_tcp  1 ⇄ 2 (nomem), 3 always ─▶ the stricter TCP state table (mode ≥ 2)

/// The defence state the sysctls drive (`ipvs->dropentry`, `drop_rate`, `drop_counter`).
public struct DefenceState: Hashable, Sendable {
    /// `ipvs->dropentry`: the random entry scan runs every second.
    public var dropEntryActive = false
    /// `ipvs->drop_rate`: 1 of this many new connections is dropped (0 = none).
    public var dropRate = 0
    var dropCounter = 0
    /// Available memory at the last evaluation, in pages.
    public var availablePages = 0
    /// Entries dropped by `drop_entry` so far.
    public var entriesDropped: UInt64 = 0
    /// New connections dropped by `drop_packet` so far.
    public var packetsDropped: UInt64 = 0

    public init() {}
}

extension IPVS {
    /// The connection table's maximum now (`net.ipv4.vs.lvsd_conn_max`).
    public var connectionLimit: Int { connections.maxConnections }

    /// What the packet path refused and the defences dropped, by reason (for /metrics).
    public var refusalCounts: [(reason: String, count: UInt64)] {
        let c = counters
        return [
            ("table_full", c.tableFull), ("chain_too_long", c.chainTooLong), ("limited", c.limited),
            ("drop_packet", c.defenceDropped), ("overload", c.overloadShed), ("drop_entry", defence.entriesDropped),
            ("ttl_expired", c.ttlExpired),
            ("no_destination", c.noDestination), ("destination_gone", c.destinationGone),
            ("no_local_address", c.noLocalAddress), ("persistence_engine", c.persistenceEngine),
        ]
    }

    /// Bytes one table entry costs (the record; buckets and wheel are shared).
    static var bytesPerEntry: Int { MemoryLayout<ConnectionRecord>.stride + 8 }

    /// The connection table's headroom in 4 KiB pages: what lvsd can still take before it refuses
    /// new connections. Part of the "available memory" `amemthresh` is compared with.
    public var tableHeadroomPages: Int {
        max(0, connections.maxConnections - connections.count) * Self.bytesPerEntry / 4096
    }

    /// `update_defense_level`: derives the active defences from the three modes and the memory
    /// available now; automatic modes flip between 1 and 2 as the kernel's do.
    public func updateDefenceLevel() {
        var available = tableHeadroomPages
        if let system = systemAvailablePages() { available = min(available, system) }
        defence.availablePages = available
        let threshold = max(sysctls.amemthresh, 0)
        let nomem = available < threshold

        switch sysctls.dropEntry {
        case 1:
            defence.dropEntryActive = nomem
            if nomem { sysctls.dropEntry = 2 }
        case 2:
            defence.dropEntryActive = nomem
            if !nomem { sysctls.dropEntry = 1 }
        case 3: defence.dropEntryActive = true
        default: defence.dropEntryActive = false
        }

        switch sysctls.dropPacket {
        case 1, 2:
            if nomem {
                let rate = threshold / max(1, threshold - available)
                defence.dropRate = rate
                defence.dropCounter = rate
                sysctls.dropPacket = 2
            } else {
                defence.dropRate = 0
                sysctls.dropPacket = 1
            }
        case 3: defence.dropRate = sysctls.amDroprate
        default: defence.dropRate = 0
        }

        switch sysctls.secureTCPMode {
        case 1, 2: sysctls.secureTCPMode = nomem ? 2 : 1
        default: break
        }
    }

    /// `ip_vs_todrop`: true for 1 of every `drop_rate` new connections.
    func dropForDefence() -> Bool {
        guard defence.dropRate > 0 else { return false }
        defence.dropCounter -= 1
        if defence.dropCounter > 0 { return false }
        defence.dropCounter = defence.dropRate
        defence.packetsDropped &+= 1
        return true
    }

    /// `ip_vs_random_dropentry`: a random 1/32 of the buckets; half-open TCP/SCTP entries go, and
    /// established / UDP entries idle for 60 s with 1–8 packets in (`todrop_entry`, dropping every
    /// n-th one with n packets). A dropped connection's template goes with it when it controls
    /// nothing else. Entries that control others are kept.
    public func randomDropEntries() {
        let tick = connections.cursor
        let scans = max(1, connections.bucketCount >> 5)
        var victims: [UInt32] = []
        for _ in 0..<scans {
            let b = Int(defenceRandom.next32()) & (connections.bucketCount - 1)
            connections.forEachHashed(bucket: b) { id in
                let r = connections.pointer(id).pointee
                if r.controlled > 0 || r.flags.contains(.template) { return }
                let drop: Bool
                switch r.protocolNumber {
                case TransportProtocol.tcp.rawValue:
                    switch TCPState(rawValue: r.state) {
                    case .synRecv, .synAck: drop = true
                    case .established: drop = toDropEntry(r, tick: tick)
                    default: drop = false
                    }
                case TransportProtocol.sctp.rawValue:
                    switch SCTPState(rawValue: r.state) {
                    case .init1, .initState: drop = true
                    case .established: drop = toDropEntry(r, tick: tick)
                    default: drop = false
                    }
                default:
                    drop = toDropEntry(r, tick: tick)
                }
                if drop { victims.append(id) }
            }
        }
        for id in victims where connections.pointer(id).pointee.flags.contains(.hashedIn) {
            let ct = connections.pointer(id).pointee.control
            connections.pointer(id).pointee.timeout = 0
            expire(id, tick: tick)
            defence.entriesDropped &+= 1
            if ct != ConnectionTable.none && connections.pointer(ct).pointee.controlled == 0
                && connections.pointer(ct).pointee.flags.contains(.hashedIn)
            {
                expire(ct, tick: tick)
            }
        }
    }

    /// `todrop_entry`: idle for at least 60 s (the time since its timer was last set), 1–8 packets
    /// in, and the n-th such entry with n packets.
    private func toDropEntry(_ r: ConnectionRecord, tick: UInt32) -> Bool {
        let remaining = Int64(Int32(bitPattern: r.expires &- tick))
        let idle = Int64(ConnectionTable.ticks(seconds: r.timeout)) - remaining
        if idle < Int64(ConnectionTable.ticks(seconds: 60)) { return false }
        let n = Int(r.inPackets)
        guard (1...8).contains(n) else { return false }
        dropEntryCounters[n] -= 1
        if dropEntryCounters[n] > 0 { return false }
        dropEntryCounters[n] = n
        return true
    }

    /// The defences' work of one second (`defense_work_handler`).
    func runDefence(now: Timestamp) {
        if nextDefence == nil { nextDefence = now }
        while let t = nextDefence, t <= now {
            updateDefenceLevel()
            if defence.dropEntryActive { randomDropEntries() }
            nextDefence = t + .seconds(1)
            if now - t > .seconds(5) { nextDefence = now + .seconds(1) }
        }
    }
}
