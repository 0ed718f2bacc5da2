// lvsd's sync daemons on real threads over an in-memory network: --start-daemon, traffic, bulk resync, auth.
import Foundation
import LVSControl
import LVSCore
import LVSDaemon
import LVSStatus
import LVSSync
import LVSTestSupport
import Testing

/// One director: its table, a runner on the shared network, ipvsadm-like control.
final class SyncNode {
    let ipvs = IPVS()
    let director: Director
    let runner: SyncDaemonRunner
    let vip = Endpoint("192.168.0.240:80")
    var key: ServiceKey { .endpoint(.tcp, vip) }
    let lines = LockedLines()

    init(network: InMemorySyncNetwork, persistent: Bool = false) throws {
        ipvs.interfaceMTU = { $0 == "eth0" ? 1500 : nil }
        director = Director(model: ipvs)
        let lines = self.lines
        runner = SyncDaemonRunner(log: { lines.append($0) }, makeChannel: { _ in network.channel() })
        runner.attach(owner: director, clock: director.clock)
        ipvs.syncDaemonLauncher = runner
        try director.withModel { m in
            try m.addService(
                VirtualServiceSpec(
                    key: key, scheduler: "rr", flags: persistent ? .persistent : [],
                    persistenceTimeout: persistent ? 360 : 0))
            try m.addRealServer(RealServerSpec(endpoint: Endpoint("192.168.0.223:80")), to: key)
        }
    }

    func control(_ r: ControlRequest) -> ControlResult { director.handle([r], mayChangeState: true)[0] }

    /// A client connection: SYN then `acks` ACKs, through the table under the director's lock.
    func connect(_ client: Endpoint, acks: Int = 2) {
        director.withIPVS { ipvs in
            let now = director.clock.now()
            for flags in [TCPFlags.syn] + Array(repeating: TCPFlags.ack, count: acks) {
                _ = ipvs.processInbound(
                    PacketFacts(
                        transport: .tcp, source: client.address, sourcePort: client.port, destination: vip.address,
                        destinationPort: vip.port, tcpFlags: flags, length: 60), now: now)
            }
        }
    }

    var connections: [ConnectionEntry] { director.withModel { $0.connections(now: director.clock.now()) } }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}

func eventually(seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

@Suite(.serialized) struct SyncDaemonRunnerTests {
    @Test(
        "--start-daemon runs real daemons: -L --daemon lists them; a master's established connection reaches the backup's table within 2 s; --stop-daemon stops them"
    )
    func masterToBackup() async throws {
        let net = InMemorySyncNetwork()
        let a = try SyncNode(network: net)
        let b = try SyncNode(network: net)
        #expect(a.control(.startSyncDaemon(SyncDaemonSpec(role: .master, syncID: 5))) == .ok)
        #expect(b.control(.startSyncDaemon(SyncDaemonSpec(role: .backup, syncID: 5))) == .ok)
        guard case .syncDaemons(let listed) = a.control(.getSyncDaemons) else { return }
        #expect(listed.map(\.role) == [.master] && listed[0].maxLength == 1472)
        a.connect(Endpoint("10.0.0.5:40000"))
        #expect(await eventually(seconds: 4) { b.connections.count == 1 }, "\(a.lines.all) \(b.lines.all)")
        #expect(b.connections.first?.state == "ESTABLISHED")
        #expect(b.connections.first?.destination == Endpoint("192.168.0.223:80"))
        #expect(a.control(.stopSyncDaemon(.master)) == .ok)
        guard case .syncDaemons(let after) = a.control(.getSyncDaemons) else { return }
        #expect(after.isEmpty)
        #expect(a.control(.stopSyncDaemon(.master)) == .failure(IPVSError(.noDaemon)))
        _ = b.control(.stopSyncDaemon(.backup))
    }

    @Test("A daemon whose sockets cannot be opened is not started and not listed (ENODEV)")
    func failedStartNotListed() throws {
        let net = InMemorySyncNetwork()
        let a = try SyncNode(network: net)
        let r = a.control(.startSyncDaemon(SyncDaemonSpec(role: .master, multicastInterface: "nope0")))
        #expect(r == .failure(IPVSError(.noSuchDevice)))
        guard case .syncDaemons(let listed) = a.control(.getSyncDaemons) else { return }
        #expect(listed.isEmpty)
    }

    @Test(
        "Bulk resync: a backup that starts asks for the whole table and gets it (half-open and idle entries too), then the end marker"
    )
    func bulkResync() async throws {
        let net = InMemorySyncNetwork()
        let a = try SyncNode(network: net, persistent: true)
        let b = try SyncNode(network: net, persistent: true)
        // Entries made before any daemon ran: no packet will send them again.
        for i in 0..<300 { a.connect(Endpoint(IPAddress("10.3.\(i / 200).\(i % 200 + 1)")!, 40000), acks: 0) }
        #expect(a.connections.count == 600)
        #expect(a.control(.startSyncDaemon(SyncDaemonSpec(role: .master))) == .ok)
        let done = LockedLines()
        b.runner.onBulkFinished { r in done.append("\(r)") }
        #expect(b.control(.startSyncDaemon(SyncDaemonSpec(role: .backup))) == .ok)
        #expect(await eventually(seconds: 5) { !done.all.isEmpty }, "\(a.lines.all) \(b.lines.all)")
        #expect(done.all == ["completed(entries: 600)"])
        #expect(b.connections.count == 600)
        #expect(b.connections.filter(\.isTemplate).count == 300)
        #expect(b.connections.contains { $0.state == "SYN_RECV" })
        _ = a.control(.stopSyncDaemon(.master))
        _ = b.control(.stopSyncDaemon(.backup))
    }

    @Test("Bulk resync with nobody answering ends after the wait (timedOut)")
    func bulkTimeout() async throws {
        let net = InMemorySyncNetwork()
        let b = try SyncNode(network: net)
        b.runner.settings = SyncDaemonRunner.Settings(bulkWait: .milliseconds(300))
        let done = LockedLines()
        b.runner.onBulkFinished { r in done.append("\(r)") }
        #expect(b.control(.startSyncDaemon(SyncDaemonSpec(role: .backup))) == .ok)
        #expect(await eventually(seconds: 3) { !done.all.isEmpty })
        #expect(done.all == ["timedOut"])
        _ = b.control(.stopSyncDaemon(.backup))
    }

    @Test("With a shared key, messages without it are counted as unauthenticated and dropped; with it they apply")
    func authentication() async throws {
        let net = InMemorySyncNetwork()
        let a = try SyncNode(network: net)
        let b = try SyncNode(network: net)
        b.runner.settings = SyncDaemonRunner.Settings(key: SyncKey(Array("k1".utf8)), bulkWait: .zero)
        #expect(b.control(.startSyncDaemon(SyncDaemonSpec(role: .backup))) == .ok)
        #expect(a.control(.startSyncDaemon(SyncDaemonSpec(role: .master))) == .ok)
        a.connect(Endpoint("10.0.0.5:40001"))
        #expect(
            await eventually(seconds: 4) { (b.runner.counters(.backup)?.traffic.dropped[.unauthenticated] ?? 0) > 0 })
        #expect(b.connections.isEmpty)
        _ = a.control(.stopSyncDaemon(.master))
        a.runner.settings = SyncDaemonRunner.Settings(key: SyncKey(Array("k1".utf8)))
        #expect(a.control(.startSyncDaemon(SyncDaemonSpec(role: .master))) == .ok)
        a.connect(Endpoint("10.0.0.5:40002"))
        #expect(await eventually(seconds: 4) { b.connections.count == 1 }, "\(b.runner.counters(.backup)!.traffic)")
        _ = a.control(.stopSyncDaemon(.master))
        _ = b.control(.stopSyncDaemon(.backup))
    }

    @Test(
        "Both directions at once: each director runs a master and a backup (ids 1 and 2): connections made on either side are known to the other"
    )
    func bothDirections() async throws {
        let net = InMemorySyncNetwork()
        let a = try SyncNode(network: net)
        let b = try SyncNode(network: net)
        for (n, mine, theirs) in [(a, UInt8(1), UInt8(2)), (b, 2, 1)] {
            #expect(n.control(.startSyncDaemon(SyncDaemonSpec(role: .master, syncID: mine))) == .ok)
            #expect(n.control(.startSyncDaemon(SyncDaemonSpec(role: .backup, syncID: theirs))) == .ok)
        }
        a.connect(Endpoint("10.0.0.7:1000"))
        b.connect(Endpoint("10.0.0.8:2000"))
        #expect(await eventually(seconds: 5) { a.connections.count == 2 && b.connections.count == 2 })
        for n in [a, b] {
            _ = n.control(.stopSyncDaemon(.master))
            _ = n.control(.stopSyncDaemon(.backup))
        }
    }
}

@Suite(.serialized) struct SyncDaemonStatusTests {
    /// `/metrics` as lvsd writes it from the runner (the provider the HTTP listener calls).
    func scrape(_ runner: SyncDaemonRunner) async -> String {
        var w = PrometheusWriter()
        await SyncMetricsProvider(runner: runner).writeMetrics(into: &w)
        return w.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    @Test(
        "Counters match the traffic: a bulk resync, three synced connections in one message, three malformed datagrams; /metrics, the status and the network agree"
    )
    func countersAfterKnownTraffic() async throws {
        let net = InMemorySyncNetwork()
        let a = try SyncNode(network: net)
        let b = try SyncNode(network: net)
        #expect(a.control(.startSyncDaemon(SyncDaemonSpec(role: .master, syncID: 7))) == .ok)
        let bulk = LockedLines()
        b.runner.onBulkFinished { bulk.append("\($0)") }
        #expect(b.control(.startSyncDaemon(SyncDaemonSpec(role: .backup, syncID: 7))) == .ok)
        // 1. The backup's bulk request (20 bytes) and the master's end marker (20 bytes, no entries).
        #expect(await eventually(seconds: 5) { !bulk.all.isEmpty }, "\(a.lines.all) \(b.lines.all)")
        #expect(bulk.all == ["completed(entries: 0)"])
        // 2. Three connections reach in_pkts 3 (K:ip_vs_sync.c sync_threshold 3): three entries
        // queued in one message, sent when it is 2 s old (IPVS_SYNC_FLUSH_TIME).
        for port in UInt16(40001)...40003 { a.connect(Endpoint(IPAddress("10.0.0.9")!, port)) }
        #expect(await eventually(seconds: 2) { a.runner.status().first?.master?.queuedEntries == 3 })
        let queued = try #require(a.runner.status().first?.master)
        #expect(queued.oldestQueuedSeconds != nil)
        #expect(await eventually(seconds: 5) { b.connections.count == 3 })
        #expect(a.runner.status().first?.master?.queuedEntries == 0)
        #expect(a.runner.status().first?.master?.oldestQueuedSeconds == nil)
        // 3. Malformed datagrams from a third member of the group.
        let intruder = net.channel()
        #expect(intruder.send([0, 1, 2]))  // header_too_short
        #expect(intruder.send([0, 7, 0, 99, 0, 1, 0, 0]))  // size_mismatch
        #expect(intruder.send([0, 9, 0, 8, 0, 1, 0, 0]))  // wrong_sync_id
        #expect(await eventually(seconds: 3) { (b.runner.counters(.backup)?.traffic.droppedTotal ?? 0) == 3 })

        let message = 8 + 3 * 36
        let m = try #require(a.runner.status().first)
        #expect(m.role == "master" && m.syncID == 7 && m.interface == "eth0" && m.running)
        #expect(m.sent == SyncTraffic(messages: 2, entries: 3, bytes: UInt64(message + 20)))
        #expect(m.received == SyncTraffic(messages: 1, entries: 0, bytes: 20))
        #expect(m.master?.bulkAnswers == 1 && m.master?.lastBulkAnswer?.entries == 0)
        let s = try #require(b.runner.status().first)
        #expect(s.role == "backup" && s.running)
        #expect(s.sent == SyncTraffic(messages: 1, entries: 0, bytes: 20))
        #expect(s.received == SyncTraffic(messages: 2, entries: 3, bytes: UInt64(message + 20)))
        let drops = Dictionary(uniqueKeysWithValues: s.drops.map { ($0.name, $0.value) })
        #expect(drops["header_too_short"] == 1 && drops["size_mismatch"] == 1 && drops["wrong_sync_id"] == 1)
        #expect(drops.values.reduce(0, +) == 3)
        let backup = try #require(s.backup)
        #expect(backup.applied.first { $0.name == "created" }?.value == 3)
        #expect(backup.bulkCompleted == 1 && backup.bulkTimedOut == 0 && !backup.bulkInProgress)
        #expect(backup.lastBulk?.entries == 0)
        let lag = try #require(backup.lagSeconds)
        try await Task.sleep(for: .milliseconds(50))
        #expect(try #require(b.runner.status().first?.backup?.lagSeconds) > lag, "the lag grows while nothing arrives")
        // What the daemons counted is what went over the network (plus the intruder's 3 datagrams).
        #expect(UInt64(net.sent.count) == m.sent.messages + s.sent.messages + 3)
        #expect(UInt64(net.sent.reduce(0) { $0 + $1.count }) == m.sent.bytes + s.sent.bytes + 3 + 8 + 8)

        let master = await scrape(a.runner)
        for line in [
            #"lvsd_sync_daemon_up{interface="eth0",role="master",syncid="7"} 1"#,
            #"lvsd_sync_messages_total{direction="sent",interface="eth0",role="master",syncid="7"} 2"#,
            #"lvsd_sync_entries_total{direction="sent",interface="eth0",role="master",syncid="7"} 3"#,
            #"lvsd_sync_bytes_total{direction="sent",interface="eth0",role="master",syncid="7"} \#(message + 20)"#,
            #"lvsd_sync_drops_total{interface="eth0",reason="queue_full",role="master",syncid="7"} 0"#,
            #"lvsd_sync_master_queue_entries{interface="eth0",role="master",syncid="7"} 0"#,
            #"lvsd_sync_bulk_resyncs_total{interface="eth0",result="answered",role="master",syncid="7"} 1"#,
        ] {
            #expect(master.contains(line + "\n"), "\(line)\n\(master)")
        }
        let backupText = await scrape(b.runner)
        for line in [
            #"lvsd_sync_messages_total{direction="received",interface="eth0",role="backup",syncid="7"} 2"#,
            #"lvsd_sync_entries_total{direction="received",interface="eth0",role="backup",syncid="7"} 3"#,
            #"lvsd_sync_drops_total{interface="eth0",reason="wrong_sync_id",role="backup",syncid="7"} 1"#,
            #"lvsd_sync_drops_total{interface="eth0",reason="unauthenticated",role="backup",syncid="7"} 0"#,
            #"lvsd_sync_backup_applied_entries_total{interface="eth0",result="created",role="backup",syncid="7"} 3"#,
            #"lvsd_sync_bulk_resync_in_progress{interface="eth0",role="backup",syncid="7"} 0"#,
            #"lvsd_sync_bulk_resyncs_total{interface="eth0",result="completed",role="backup",syncid="7"} 1"#,
            #"lvsd_sync_bulk_resync_last_entries{interface="eth0",role="backup",syncid="7"} 0"#,
        ] {
            #expect(backupText.contains(line + "\n"), "\(line)\n\(backupText)")
        }
        #expect(backupText.contains(#"lvsd_sync_backup_lag_seconds{interface="eth0",role="backup",syncid="7"} "#))

        _ = a.control(.stopSyncDaemon(.master))
        _ = b.control(.stopSyncDaemon(.backup))
        #expect(a.runner.status().isEmpty && b.runner.status().isEmpty)
        #expect(await scrape(a.runner) == "", "no daemon, no family")
    }

    @Test("A backup whose bulk request nobody answers shows it in progress, then timed out")
    func bulkInProgressThenTimedOut() async throws {
        let net = InMemorySyncNetwork()
        let b = try SyncNode(network: net)
        // A wait long enough that a loaded machine (labs beside this test) still sees it in progress.
        b.runner.settings = SyncDaemonRunner.Settings(bulkWait: .seconds(3))
        #expect(b.control(.startSyncDaemon(SyncDaemonSpec(role: .backup))) == .ok)
        #expect(await eventually(seconds: 2) { b.runner.status().first?.backup?.bulkInProgress == true })
        #expect(await eventually(seconds: 8) { b.runner.status().first?.backup?.bulkTimedOut == 1 })
        let s = try #require(b.runner.status().first?.backup)
        #expect(!s.bulkInProgress && s.bulkCompleted == 0 && s.lagSeconds == nil && s.lastBulk == nil)
        _ = b.control(.stopSyncDaemon(.backup))
    }
}
