// lvsd's sync daemons on real threads over an in-memory network: --start-daemon, traffic, bulk resync, auth.
import Foundation
import LVSControl
import LVSCore
import LVSDaemon
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
