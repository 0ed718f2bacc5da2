// HealthCheckService in virtual time, with fake and with real probes, and an LVSCore IPVS table.
import Foundation
import KeepalivedConfig
import LVSCore
import LVSHealthCheckLinux
import LVSTestSupport
import Synchronization
import Testing

/// A probe whose answer the test sets; it counts its runs.
final class ScriptedProbe: HealthProbe, Sendable {
    private let state = Mutex((passes: true, runs: 0))
    func set(passes: Bool) { state.withLock { $0.passes = passes } }
    var runs: Int { state.withLock { $0.runs } }
    func run(_ request: ProbeRequest) async -> ProbeOutcome {
        state.withLock { s in
            s.runs += 1
            return s.passes ? .passed : .failed("connection refused")
        }
    }
}

/// The real probes, with a count of those under way (their socket work takes real time, which
/// virtual time must wait for).
final class TrackedLinuxProbe: HealthProbe, Sendable {
    private let inFlight = Mutex(0)
    func run(_ request: ProbeRequest) async -> ProbeOutcome {
        inFlight.withLock { $0 += 1 }
        defer { inFlight.withLock { $0 -= 1 } }
        return await LinuxHealthProbe().run(request)
    }
    /// Waits (real time: socket I/O) until no probe is under way.
    func idle() async {
        while inFlight.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(1)) }
    }
}

/// Records notifications instead of sending them.
final class RecordingNotifier: HealthCheckNotifier, @unchecked Sendable {
    private let lock = NSLock()
    private var _scripts: [NotifyScript] = []
    var scripts: [NotifyScript] { lock.withLock { _scripts } }
    func runScript(_ script: NotifyScript) { lock.withLock { _scripts.append(script) } }
    func writeFIFO(_ line: String) {}
    func sendMail(_ mail: AlertMail) {}
}

@Suite("HealthCheckService: the driver in virtual time")
struct ServiceDriverTests {
    /// The service sleeps on `vt.clock` and runs on `vt.executor`: delay_loop costs no real time.
    let vt = VirtualTime()

    func weights(_ target: LockedIPVSTarget) -> [String: Int32] {
        target.withTable { ipvs in
            var out: [String: Int32] = [:]
            for s in ipvs.services() {
                for r in s.realServers { out["\(r.spec.endpoint)"] = r.spec.weight }
            }
            return out
        }
    }

    @Test("A real TCP_CHECK removes a server whose port closes and the service goes away on cancellation")
    func tcpDownAndStop() async throws {
        let up = LocalTCPServer { _, _ in }
        let down = LocalTCPServer { _, _ in }
        let text = """
            virtual_server 10.0.0.1 80 {
                delay_loop 0.2
                lb_algo rr
                lb_kind NAT
                protocol TCP
                real_server 127.0.0.1 \(up.port) {
                    TCP_CHECK {
                        connect_timeout 1
                        retry 0
                        warmup 0
                    }
                }
                real_server 127.0.0.1 \(down.port) {
                    notify_down "/bin/true down"
                    TCP_CHECK {
                        connect_timeout 1
                        retry 0
                        warmup 0
                    }
                }
            }
            """
        let config = KeepalivedConfigLoader.check(text: text).configuration
        let target = LockedIPVSTarget(IPVS())
        let notifier = RecordingNotifier()
        let probe = TrackedLinuxProbe()
        let service = HealthCheckService(
            configuration: config, target: target, probe: probe, notifier: notifier, clock: vt.clock,
            addressSource: nil,
            executor: vt.executor
        ) { _ in }
        let task = Task(executorPreference: vt.executor) { await service.run() }
        #expect(
            await vt.run(limit: .seconds(10)) {
                await probe.idle()
                return weights(target).count == 2
            })
        down.stop()
        #expect(
            await vt.run(limit: .seconds(20)) {
                await probe.idle()
                // The server leaves the table before its notify_down script is handed over.
                return weights(target) == ["127.0.0.1:\(up.port)": 1] && !notifier.scripts.isEmpty
            })
        #expect(notifier.scripts.map(\.arguments) == [["/bin/true", "down"]])
        task.cancel()
        await task.value
        #expect(target.withTable { $0.services().isEmpty })
        up.stop()
    }

    @Test("K:check_tcp.c: delay_loop 60 in virtual time: a failing check removes the server, a passing one restores it")
    func virtualDelayLoop() async throws {
        let text = """
            virtual_server 10.0.0.1 80 {
                delay_loop 60
                lb_algo rr
                lb_kind NAT
                protocol TCP
                real_server 10.0.0.2 80 {
                    weight 3
                    TCP_CHECK {
                        connect_timeout 1
                        retry 0
                        warmup 0
                    }
                }
            }
            """
        let config = KeepalivedConfigLoader.check(text: text).configuration
        let target = LockedIPVSTarget(IPVS())
        let probe = ScriptedProbe()
        let service = HealthCheckService(
            configuration: config, target: target, probe: probe, notifier: RecordingNotifier(), clock: vt.clock,
            addressSource: nil, executor: vt.executor
        ) { _ in }
        let task = Task(executorPreference: vt.executor) { await service.run() }
        #expect(await vt.run(limit: .seconds(120)) { probe.runs == 1 })
        #expect(weights(target) == ["10.0.0.2:80": 3])
        let firstCheck = vt.clock.now()
        probe.set(passes: false)
        #expect(await vt.run(limit: .seconds(300)) { weights(target).isEmpty })
        // The next check comes one delay_loop after the first: a minute of virtual time, no real wait.
        #expect(vt.clock.now() - firstCheck >= .seconds(59))
        #expect(probe.runs == 2)
        probe.set(passes: true)
        #expect(await vt.run(limit: .seconds(300)) { weights(target) == ["10.0.0.2:80": 3] })
        #expect(probe.runs == 3)
        task.cancel()
        await task.value
        #expect(target.withTable { $0.services().isEmpty })
    }
}
