// The kernel's sync rules on the IPVS table: what a master queues, how a backup enters what it receives.
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSSync
import LVSTestSupport
import Testing

/// A director with `-A -t 192.168.0.240:80 -s rr [-p]` and two DR real servers, and a master daemon.
final class SyncDirector {
    let d = IPVSDriver()
    let vip = Endpoint("192.168.0.240:80")
    var key: ServiceKey { .endpoint(.tcp, vip) }
    var queue: [SyncConnection] = []

    init(persistent: Bool = false, servers: [String] = ["192.168.0.223:80", "192.168.0.224:80"], master: Bool = true)
        throws
    {
        try d.ipvs.addService(
            VirtualServiceSpec(
                key: key, scheduler: "rr", flags: persistent ? .persistent : [],
                persistenceTimeout: persistent ? 360 : 0))
        for s in servers { try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(s)), to: key) }
        if master { try d.ipvs.startSyncDaemon(SyncDaemonSpec(role: .master)) }
    }

    /// The connections queued since the last call.
    func drained() -> [SyncConnection] {
        d.ipvs.drainSyncQueue(into: &queue)
        return queue
    }

    func ack(_ c: Endpoint, _ n: Int = 1) {
        for _ in 0..<n { d.tcp(c, vip, [.ack]) }
    }
}

@Suite struct SyncMasterRuleTests {
    @Test(
        "K:ip_vs_sync_conn_needed: TCP is sent only in ESTABLISHED/FIN_WAIT/CLOSE/CLOSE_WAIT/TIME_WAIT, at in_pkts % sync_period == sync_threshold (3, 53, 103 …)"
    )
    func packetRule() throws {
        let s = try SyncDirector()
        let c = Endpoint("10.0.0.5:40000")
        s.d.tcp(c, s.vip, [.syn])  // SYN_RECV, in_pkts 1
        #expect(s.drained().isEmpty)
        s.ack(c)  // ESTABLISHED, in_pkts 2
        #expect(s.drained().isEmpty)
        s.ack(c)  // in_pkts 3: sent
        let first = s.drained()
        #expect(first.count == 1 && first[0].state == 1 && first[0].clientPort == 40000)
        #expect(first[0].flags.rawValue == 0x0083 && first[0].timeout == 900)
        s.ack(c, 49)  // in_pkts 52
        #expect(s.drained().isEmpty)
        s.ack(c)  // 53
        #expect(s.drained().count == 1)
        s.ack(c, 50)  // 103
        #expect(s.drained().count == 1)
    }

    @Test("K:ip_vs_sync_conn_needed: a half-open connection (SYN_RECV) is never sent, whatever its packet count")
    func halfOpen() throws {
        let s = try SyncDirector()
        let c = Endpoint("10.0.0.5:40001")
        for _ in 0..<60 { s.d.tcp(c, s.vip, [.syn]) }
        #expect(s.drained().isEmpty)
    }

    @Test(
        "K:ip_vs_sync_conn_needed: leaving ESTABLISHED (FIN → FIN_WAIT/TIME_WAIT/CLOSE) is sent at once, once per state"
    )
    func stateChangeForced() throws {
        let s = try SyncDirector()
        let c = Endpoint("10.0.0.5:40002")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 3)
        _ = s.drained()
        s.d.tcp(c, s.vip, [.fin, .ack])  // IN-ONLY: ES → FW
        let fw = s.drained()
        #expect(fw.count == 1 && fw[0].state == TCPState.finWait.rawValue.u16)
        s.d.tcp(c, s.vip, [.ack])  // FW stays FW: no force, packet 6 is no sync point
        #expect(s.drained().isEmpty)
        s.d.tcp(c, s.vip, [.rst])  // → CLOSE
        let cl = s.drained()
        #expect(cl.count == 1 && cl[0].state == TCPState.close.rawValue.u16)
    }

    @Test(
        "K:ip_vs_sync_conn: the template follows the connection it controls; templates skip the packet rule, so with sync_refresh_period 0 it goes with every packet (\"rate can be reduced only with sync_refresh_period\")"
    )
    func templateAfterConnection() throws {
        let s = try SyncDirector(persistent: true)
        let c = Endpoint("10.0.0.5:40003")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 2)
        let sent = s.drained()
        // SYN (SYN_RECV, not sent) → template; ACK 2 → template; ACK 3 → connection, then template.
        #expect(sent.map(\.isTemplate) == [true, true, false, true])
        let t = sent[3]
        #expect(t.clientPort == 0 && t.timeout == 360 && t.state == 1)  // ASSURED
        #expect(t.flags.contains(.template) && t.flags.contains(.inactive))
        s.ack(c)
        #expect(s.drained().map(\.isTemplate) == [true])
        // With a refresh period, the template is sent again only when its expiry moved enough.
        s.d.ipvs.sysctls.syncRefreshPeriod = 30
        s.ack(c, 10)
        #expect(s.drained().isEmpty)
    }

    @Test("K:ip_vs_sync_conn: one-packet (-o) connections are never sent; their template is, with its own count")
    func onePacket() throws {
        let d = IPVSDriver()
        let vip = Endpoint("192.168.0.240:53")
        let k = ServiceKey.endpoint(.udp, vip)
        try d.ipvs.addService(
            VirtualServiceSpec(key: k, scheduler: "rr", flags: [.persistent, .onePacket], persistenceTimeout: 60))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:53")), to: k)
        try d.ipvs.startSyncDaemon(SyncDaemonSpec(role: .master))
        var q: [SyncConnection] = []
        for _ in 0..<3 { d.udp(Endpoint("10.0.0.9:5000"), vip) }
        d.ipvs.drainSyncQueue(into: &q)
        #expect(q.count == 3 && q.allSatisfy(\.isTemplate))
    }

    @Test("K:ip_vs_sync_conn_needed: sync_period 0 sends once at sync_threshold (and on state changes)")
    func periodZero() throws {
        let s = try SyncDirector()
        s.d.ipvs.sysctls.syncPeriod = 0
        let c = Endpoint("10.0.0.5:40004")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 200)
        #expect(s.drained().count == 1)
    }

    @Test(
        "K:ip_vs_sync_conn_needed: sync_refresh_period sends again only when the expiry moved by the period (or half the timeout), retries after period/8"
    )
    func refreshPeriod() throws {
        let s = try SyncDirector()
        s.d.ipvs.sysctls.syncRefreshPeriod = 10
        s.d.ipvs.sysctls.syncRetries = 1
        let c = Endpoint("10.0.0.5:40005")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 2)  // 3: first send
        #expect(s.drained().count == 1)
        s.ack(c, 50)  // 53: expiry moved < 10 s, a retry only after 10/8 s
        #expect(s.drained().isEmpty)
        s.d.clock.advance(seconds: 2)
        s.ack(c, 50)  // 103: one retry allowed
        #expect(s.drained().count == 1)
        s.d.clock.advance(seconds: 2)
        s.ack(c, 50)  // 153: retries used up
        #expect(s.drained().isEmpty)
        s.d.clock.advance(seconds: 11)
        s.ack(c, 50)  // 203: moved by more than 10 s
        #expect(s.drained().count == 1)
    }

    @Test("A fast path's batch of packets that crosses a sync point (in_pkts 50 → 60 crosses 53) syncs once")
    func fastPathBatch() throws {
        let s = try SyncDirector()
        let c = Endpoint("10.0.0.5:40006")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 2)
        _ = s.drained()
        s.ack(c, 47)  // 50
        let id = s.d.ipvs.connections.lookupIn(
            protocol: 6, family: .inet, client: RawAddress(c.address), clientPort: c.port,
            virtual: RawAddress(s.vip.address), virtualPort: 80)
        s.d.ipvs.noteInboundPackets(connection: id, count: 10, now: s.d.clock.now())
        #expect(s.drained().count == 1)
        s.d.ipvs.noteInboundPackets(connection: id, count: 10, now: s.d.clock.now())  // 61..70: none
        #expect(s.drained().isEmpty)
    }

    @Test(
        "sync_version 0: IPv4 only, and the template of an unsent connection is not sent (ip_vs_sync_conn_v0 returns)")
    func versionZero() throws {
        let s = try SyncDirector(persistent: true)
        s.d.ipvs.sysctls.syncVersion = 0
        let c = Endpoint("10.0.0.5:40007")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 3)
        #expect(s.drained().count == 2)
        s.ack(c)
        #expect(s.drained().isEmpty)
    }

    @Test("Without a master daemon nothing is queued; --stop-daemon master stops queueing")
    func onlyWithMaster() throws {
        let s = try SyncDirector(master: false)
        let c = Endpoint("10.0.0.5:40008")
        s.d.tcp(c, s.vip, [.syn])
        s.ack(c, 3)
        #expect(s.drained().isEmpty && !s.d.ipvs.isSyncMaster)
    }

    @Test("A bulk walk returns every entry (connections and templates, any state) across lock releases")
    func bulkWalk() throws {
        let s = try SyncDirector(persistent: true, master: false)
        for i in 0..<500 {
            s.d.tcp(Endpoint(IPAddress("10.1.\(i / 200).\(i % 200 + 1)")!, 40000), s.vip, [.syn])
        }
        #expect(s.d.ipvs.connectionCount == 1000)
        var cursor = SyncTableCursor()
        var all: [SyncConnection] = []
        var steps = 0
        while !cursor.isFinished {
            s.d.ipvs.syncTableSnapshot(from: &cursor, limit: 64, into: &all)
            steps += 1
        }
        #expect(all.count == 1000 && steps > 10)
        #expect(all.filter(\.isTemplate).count == 500)
        #expect(all.contains { $0.state == TCPState.synRecv.rawValue.u16 })
    }
}

@Suite struct SyncBackupRuleTests {
    func backup(servers: [String] = ["192.168.0.223:80", "192.168.0.224:80"], persistent: Bool = false) throws
        -> SyncDirector
    { try SyncDirector(persistent: persistent, servers: servers, master: false) }

    func received(_ c: SyncConnection) -> SyncConnection { c.asReceived }

    @Test(
        "K:ip_vs_proc_conn: a new entry gets the SYNC flag, the message's state and timeout, and is counted active/inactive by its INACTIVE bit"
    )
    func create() throws {
        let b = try backup()
        let now = b.d.clock.now()
        #expect(b.d.ipvs.applySynced(received(SyncFixtures.established), now: now) == .created)
        let e = b.d.ipvs.connections(now: now)
        #expect(e.count == 1 && e[0].state == "ESTABLISHED" && e[0].expiresInSeconds >= 899)
        let rs = try b.d.ipvs.service(b.key).realServers.first { $0.spec.endpoint == Endpoint("192.168.0.223:80") }!
        #expect(rs.activeConnections == 1 && rs.inactiveConnections == 0)
        // A packet of it is forwarded by DR to .223 on this director.
        guard case .forward(let f) = b.d.tcp(Endpoint("10.0.0.5:51234"), b.vip, [.ack]) else {
            Issue.record("not forwarded")
            return
        }
        #expect(f.server == Endpoint("192.168.0.223:80") && f.method == .route)
    }

    @Test(
        "K:ip_vs_proc_conn: on an existing entry only INACTIVE changes (and the counters with it), state and timeout follow"
    )
    func updateOnlyInactive() throws {
        let b = try backup()
        let now = b.d.clock.now()
        _ = b.d.ipvs.applySynced(received(SyncFixtures.established), now: now)
        var fin = received(SyncFixtures.established)
        fin.state = TCPState.finWait.rawValue.u16
        fin.timeout = 120
        fin.flags = KernelConnectionFlags(rawValue: 0x0100 | 0x0002 | 0x0020)  // INACTIVE, and a tunnel method
        #expect(b.d.ipvs.applySynced(fin, now: now) == .updated)
        let e = b.d.ipvs.connections(now: now)[0]
        #expect(e.state == "FIN_WAIT" && e.expiresInSeconds <= 120)
        let rs = try b.d.ipvs.service(b.key).realServers.first { $0.spec.endpoint == Endpoint("192.168.0.223:80") }!
        #expect(rs.activeConnections == 0 && rs.inactiveConnections == 1)
        // The forwarding method did not change (only INACTIVE/SEQ are updated).
        guard case .forward(let f) = b.d.tcp(Endpoint("10.0.0.5:51234"), b.vip, [.ack]) else { return }
        #expect(f.method == .route)
    }

    @Test(
        "K:ip_vs_proc_conn: an entry pointing at another real server is expired and replaced; an INACTIVE one for it is ignored"
    )
    func replace() throws {
        let b = try backup()
        let now = b.d.clock.now()
        _ = b.d.ipvs.applySynced(received(SyncFixtures.established), now: now)
        var moved = received(SyncFixtures.established)
        moved.destination = RawAddress(IPAddress("192.168.0.224")!)
        #expect(b.d.ipvs.applySynced(moved, now: now) == .replaced)
        var stale = received(SyncFixtures.established)
        stale.flags.insert(.inactive)
        #expect(b.d.ipvs.applySynced(stale, now: now) == .ignoredStale)
        guard case .forward(let f) = b.d.tcp(Endpoint("10.0.0.5:51234"), b.vip, [.ack]) else { return }
        #expect(f.server == Endpoint("192.168.0.224:80"))
    }

    @Test(
        "K:ip_vs_proc_conn: an unknown real server leaves the entry unbound but forwarding; it is bound (and counted) when the server appears"
    )
    func unboundUntilServerAppears() throws {
        let b = try backup(servers: ["192.168.0.224:80"])
        let now = b.d.clock.now()
        #expect(b.d.ipvs.applySynced(received(SyncFixtures.established), now: now) == .createdUnbound)
        #expect(b.d.ipvs.unboundSyncedCount == 1)
        guard case .forward(let f) = b.d.tcp(Endpoint("10.0.0.5:51234"), b.vip, [.ack]) else {
            Issue.record("an unbound entry still forwards")
            return
        }
        #expect(f.server == Endpoint("192.168.0.223:80") && f.method == .route)
        try b.d.ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:80")), to: b.key)
        #expect(b.d.ipvs.unboundSyncedCount == 0)
        let rs = try b.d.ipvs.service(b.key).realServers.first { $0.spec.endpoint == Endpoint("192.168.0.223:80") }!
        #expect(rs.activeConnections == 1)
        // Expiry of a bound entry releases the server's count.
        b.d.advance(seconds: 901)
        #expect(b.d.ipvs.connectionCount == 0)
    }

    @Test("K:ip_vs_proc_conn: version 0 (timeout 0) takes the table's timeout for the state; templates 180 s")
    func versionZeroTimeouts() throws {
        let b = try backup(persistent: true)
        let now = b.d.clock.now()
        var c = received(SyncFixtures.established)
        c.timeout = 0
        var t = received(SyncFixtures.template)
        t.timeout = 0
        _ = b.d.ipvs.applySynced(c, now: now)
        _ = b.d.ipvs.applySynced(t, now: now)
        let e = b.d.ipvs.connections(now: now)
        #expect(e.first { !$0.isTemplate }!.expiresInSeconds >= 899)
        #expect(e.first { $0.isTemplate }!.expiresInSeconds <= 180 && e.first { $0.isTemplate }!.state == "ASSURED")
    }

    @Test("A synced template keeps the persistent client on its real server when this director schedules")
    func templateKeepsClient() throws {
        let b = try backup(persistent: true)
        let now = b.d.clock.now()
        var t = received(SyncFixtures.template)
        t.destination = RawAddress(IPAddress("192.168.0.224")!)
        #expect(b.d.ipvs.applySynced(t, now: now) == .created)
        for _ in 0..<5 {
            #expect(b.d.connect(from: IPAddress("10.0.0.5")!, to: b.vip) == Endpoint("192.168.0.224:80"))
        }
    }

    @Test(
        "K:ip_vs_proc_sync_conn: unknown protocol, a state beyond the protocol's, an unknown persistence engine → refused"
    )
    func refusals() throws {
        let b = try backup()
        let now = b.d.clock.now()
        var c = received(SyncFixtures.established)
        c.protocolNumber = 47
        #expect(b.d.ipvs.applySynced(c, now: now) == .refused(.unsupportedProtocol))
        c.protocolNumber = 6
        c.state = 11
        #expect(b.d.ipvs.applySynced(c, now: now) == .refused(.invalidState))
        var t = received(SyncFixtures.sipTemplate)
        t.persistence = SyncPersistenceData(engine: Array("xyz".utf8), data: [1])
        #expect(b.d.ipvs.applySynced(t, now: now) == .refused(.unknownPersistenceEngine))
        #expect(b.d.ipvs.connectionCount == 0)
    }

    @Test("Master → wire → backup: the backup's table lists what the master's lists (connections and templates)")
    func endToEnd() throws {
        let m = try SyncDirector(persistent: true)
        for i in 0..<20 {
            let c = Endpoint(IPAddress("10.2.0.\(i + 1)")!, 40000)
            m.d.tcp(c, m.vip, [.syn])
            m.ack(c, 2)
        }
        var engine = SyncMasterEngine(syncID: 1, maximumLength: 1472)
        var wire = engine.enqueue(m.drained(), version: 1, now: m.d.clock.now())
        wire += engine.flush()
        let b = try backup(persistent: true)
        var backupEngine = SyncBackupEngine(syncID: 0, maximumLength: 1472)
        for datagram in wire {
            guard case .apply(let cs) = datagram.withUnsafeBytes({ backupEngine.receive($0, now: .zero) }) else {
                Issue.record("not applied")
                continue
            }
            for c in cs { _ = b.d.ipvs.applySynced(c, now: b.d.clock.now()) }
        }
        func rows(_ d: IPVSDriver) -> [String] {
            d.ipvs.connections(now: d.clock.now()).map {
                "\($0.protocolName) \($0.client) \($0.virtual) \($0.destination) \($0.state)"
            }
            .sorted()
        }
        #expect(rows(b.d) == rows(m.d))
        #expect(rows(b.d).count == 40)
    }
}

extension UInt8 {
    var u16: UInt16 { UInt16(self) }
}
