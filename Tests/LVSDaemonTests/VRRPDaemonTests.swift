// VRRP in lvsd: alerts worded as keepalived's, the daemon's service with fake adapters, reload, stop.
import Foundation
import KeepalivedConfig
import LVSCore
import LVSDaemon
import LVSTestSupport
import LVSVRRP
import Logging
import Testing

/// Log lines captured from a swift-log Logger.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
    func contains(_ s: String) -> Bool { all.contains { $0.contains(s) } }

    var logger: Logger { Logger(label: "test") { _ in CapturingHandler(log: self) } }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .debug
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { log.append("\(event.level): \(event.message)") }
    }
}

final class SentAlerts: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [VRRPAlert] = []
    func add(_ a: VRRPAlert) { lock.withLock { list.append(a) } }
    var all: [VRRPAlert] { lock.withLock { list } }
}

private func configuration(_ text: String) -> KeepalivedConfiguration {
    KeepalivedConfigLoader.check(text: text).configuration
}

/// A fast v3 instance (advert_int 0.1) with `extra` lines, alerting by `smtp_alert`.
private func fastConfig(vips: [String] = ["192.168.0.240"], extra: String = "smtp_alert", name: String = "VI_1")
    -> String
{
    """
    global_defs {
        router_id LVS01
    }
    vrrp_instance \(name) {
        state MASTER
        interface eth0
        virtual_router_id 55
        priority 150
        version 3
        advert_int 0.1
        \(extra)
        virtual_ipaddress {
            \(vips.joined(separator: "\n"))
        }
    }
    """
}

@Suite("VRRP alerts (keepalived vrrp_smtp_notifier wording)")
struct VRRPAlertTests {
    let t = { (s: VRRPTransition.Subject, to: VRRPState) in
        VRRPTransition(subject: s, from: .backup, to: to, priority: 100)
    }

    @Test("K:vrrp_notify.c: instance subjects '[router_id] VRRP Instance NAME - Entering STATE state' and bodies")
    func instanceAlerts() {
        let m = VRRPAlert.make(for: t(.instance("VI_1"), .master), routerID: "LVS01", noEmailFaults: false)
        #expect(
            m
                == VRRPAlert(
                    subject: "[LVS01] VRRP Instance VI_1 - Entering MASTER state",
                    body: "=> VRRP Instance is now owning VRRP VIPs <="))
        #expect(
            VRRPAlert.make(for: t(.instance("VI_1"), .backup), routerID: "LVS01", noEmailFaults: false)?.body
                == "=> VRRP Instance is no longer owning VRRP VIPs <=")
        #expect(
            VRRPAlert.make(for: t(.instance("VI_1"), .fault), routerID: "LVS01", noEmailFaults: false)?.subject
                == "[LVS01] VRRP Instance VI_1 - Entering FAULT state")
        #expect(
            VRRPAlert.make(for: t(.instance("VI_1"), .stop), routerID: "LVS01", noEmailFaults: false)
                == VRRPAlert(subject: "[LVS01] VRRP Instance VI_1 - Stopping", body: "=> VRRP Instance stopping <="))
        #expect(VRRPAlert.make(for: t(.instance("VI_1"), .initialize), routerID: "LVS01", noEmailFaults: false) == nil)
    }

    @Test("K:vrrp_notify.c: no_email_faults sends no FAULT alert; groups are 'VRRP Group NAME'")
    func groupsAndFaults() {
        #expect(VRRPAlert.make(for: t(.instance("VI_1"), .fault), routerID: "R", noEmailFaults: true) == nil)
        let groupAlerts: [(VRRPState, String, String)] = [
            (
                .master, "[R] VRRP Group G - Entering MASTER state",
                "=> All VRRP group instances are now in MASTER state <="
            ),
            (
                .backup, "[R] VRRP Group G - Entering BACKUP state",
                "=> All VRRP group instances are now in BACKUP state <="
            ),
            (
                .fault, "[R] VRRP Group G - Entering FAULT state",
                "=> All VRRP group instances are now in FAULT state <="
            ),
            (.stop, "[R] VRRP Group G - Stopping", "=> All VRRP group instances are now stopping <="),
        ]
        for (to, subject, body) in groupAlerts {
            #expect(
                VRRPAlert.make(for: t(.group("G"), to), routerID: "R", noEmailFaults: false)
                    == VRRPAlert(subject: subject, body: body))
        }
        #expect(VRRPAlert.make(for: t(.group("G"), .initialize), routerID: "R", noEmailFaults: false) == nil)
    }
}

@Suite("VRRPDaemon: VRRP as lvsd's service (fake adapters, virtual time)")
struct VRRPDaemonTests {
    struct Fakes {
        /// The service sleeps on `vt.clock` and runs on `vt.executor`: no real timer is waited for.
        let vt = VirtualTime()
        let transport = FakeVRRPTransport()
        let addresses = FakeVIPInstaller()
        let garp = FakeGARPSender()
        let scripts = FakeScriptRunner()
        let monitor = FakeInterfaceMonitor(up: ["eth0": true], addresses: ["eth0": IPAddress("192.168.0.210")!])

        func factory(failFirst: Bool = false) -> VRRPDaemon.AdapterFactory {
            let calls = Counter()
            return { _, log in
                if failFirst && calls.next() == 0 { throw VRRPError(.noSuchInterface, "no interface eth0") }
                return VRRPAdapters(
                    openTransport: { _ in transport }, addresses: addresses, garp: garp, interfaces: monitor,
                    scripts: scripts, clock: vt.clock, log: log)
            }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func next() -> Int {
            lock.withLock {
                defer { n += 1 }
                return n
            }
        }
    }

    @Test(
        "MASTER: VIP installed, keepalived's log lines, an SMTP alert; reload adds a VIP without a new transition; stop: priority 0, VIPs removed, 'Stopping' alert"
    )
    func lifecycle() async throws {
        let f = Fakes()
        let log = CapturedLog()
        let alerts = SentAlerts()
        let daemon = VRRPDaemon(hostName: "lvs-test", makeAdapters: f.factory(), executor: f.vt.executor)
        daemon.setAlertSender { alerts.add($0) }
        daemon.configure(configuration(fastConfig()), logger: log.logger)
        let task = Task(executorPreference: f.vt.executor) { await daemon.run(logger: log.logger) }
        #expect(await f.vt.run(limit: .seconds(3)) { f.addresses.installed == ["eth0 192.168.0.240/32"] }, "\(log.all)")
        #expect(log.contains("info: (VI_1) Entering MASTER STATE"))
        #expect(await f.vt.run(limit: .seconds(1)) { alerts.all.count == 2 })
        #expect(
            alerts.all.map(\.subject) == [
                "[LVS01] VRRP Instance VI_1 - Entering BACKUP state",
                "[LVS01] VRRP Instance VI_1 - Entering MASTER state",
            ])
        await daemon.reload(configuration(fastConfig(vips: ["192.168.0.240", "192.168.0.241"])), logger: log.logger)
        #expect(f.addresses.installed == ["eth0 192.168.0.240/32", "eth0 192.168.0.241/32"])
        #expect(log.contains("VRRP configuration reloaded: 1 instance(s), 1 kept their state"))
        #expect(alerts.all.count == 2)
        task.cancel()
        await task.value
        #expect(f.addresses.installed.isEmpty)
        #expect(f.transport.sent.last?.message[2] == 0)
        #expect(log.contains("(VI_1) sent 0 priority"))
        #expect(alerts.all.last?.subject == "[LVS01] VRRP Instance VI_1 - Stopping")
    }

    @Test("without smtp_alert no alert is sent (keepalived's default)")
    func noAlertByDefault() async throws {
        let f = Fakes()
        let alerts = SentAlerts()
        let daemon = VRRPDaemon(hostName: "h", makeAdapters: f.factory(), executor: f.vt.executor)
        daemon.setAlertSender { alerts.add($0) }
        daemon.configure(configuration(fastConfig(extra: "")), logger: CapturedLog().logger)
        let task = Task(executorPreference: f.vt.executor) { await daemon.run(logger: CapturedLog().logger) }
        #expect(await f.vt.run(limit: .seconds(3)) { !f.addresses.installed.isEmpty })
        task.cancel()
        await task.value
        #expect(alerts.all.isEmpty)
    }

    @Test("VRRP that cannot start is logged and lvsd goes on; the next reload starts it")
    func startFailureThenReload() async throws {
        let f = Fakes()
        let log = CapturedLog()
        let daemon = VRRPDaemon(hostName: "h", makeAdapters: f.factory(failFirst: true), executor: f.vt.executor)
        daemon.configure(configuration(fastConfig()), logger: log.logger)
        let task = Task(executorPreference: f.vt.executor) { await daemon.run(logger: log.logger) }
        #expect(await f.vt.run(limit: .seconds(2)) { log.contains("error: VRRP cannot start: no interface eth0") })
        #expect(f.addresses.installed.isEmpty)
        await daemon.reload(configuration(fastConfig()), logger: log.logger)
        #expect(await f.vt.run(limit: .seconds(3)) { f.addresses.installed == ["eth0 192.168.0.240/32"] }, "\(log.all)")
        task.cancel()
        await task.value
        #expect(f.addresses.installed.isEmpty)
    }

    @Test("a configuration without vrrp_instance runs nothing until a reload brings one")
    func emptyThenReload() async throws {
        let f = Fakes()
        let log = CapturedLog()
        let daemon = VRRPDaemon(hostName: "h", makeAdapters: f.factory(), executor: f.vt.executor)
        daemon.configure(configuration("global_defs {\nrouter_id X\n}"), logger: log.logger)
        let task = Task(executorPreference: f.vt.executor) { await daemon.run(logger: log.logger) }
        await f.vt.run(for: .milliseconds(300))
        #expect(f.transport.sent.isEmpty)
        await daemon.reload(configuration(fastConfig()), logger: log.logger)
        #expect(await f.vt.run(limit: .seconds(3)) { !f.addresses.installed.isEmpty }, "\(log.all)")
        task.cancel()
        await task.value
    }

    @Test("a reload whose VRRP part the running service refuses is logged; the running instance stays")
    func refusedReload() async throws {
        let f = Fakes()
        let log = CapturedLog()
        let daemon = VRRPDaemon(hostName: "h", makeAdapters: f.factory(), executor: f.vt.executor)
        daemon.configure(configuration(fastConfig()), logger: log.logger)
        let task = Task(executorPreference: f.vt.executor) { await daemon.run(logger: log.logger) }
        #expect(await f.vt.run(limit: .seconds(3)) { !f.addresses.installed.isEmpty })
        // An IPv6 instance on eth0, which has no IPv6 address: the node has no source address for it.
        let v6 = fastConfig().replacingOccurrences(of: "192.168.0.240", with: "fe80::240")
        await daemon.reload(configuration(v6), logger: log.logger)
        #expect(log.contains("error: VRRP configuration refused, the running VRRP configuration stays"), "\(log.all)")
        #expect(f.addresses.installed == ["eth0 192.168.0.240/32"])
        task.cancel()
        await task.value
    }
}
