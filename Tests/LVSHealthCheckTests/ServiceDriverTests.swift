// HealthCheckService with real time, real probes and an LVSCore IPVS table.
import Foundation
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import Testing

/// Records notifications instead of sending them.
final class RecordingNotifier: HealthCheckNotifier, @unchecked Sendable {
    private let lock = NSLock()
    private var _scripts: [NotifyScript] = []
    var scripts: [NotifyScript] { lock.withLock { _scripts } }
    func runScript(_ script: NotifyScript) { lock.withLock { _scripts.append(script) } }
    func writeFIFO(_ line: String) {}
    func sendMail(_ mail: AlertMail) {}
}

@Suite("HealthCheckService: the driver with real time")
struct ServiceDriverTests {
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
        let service = HealthCheckService(
            configuration: config, target: target, notifier: notifier, addressSource: nil
        ) { _ in }
        let task = Task { await service.run() }
        var seen: [String: Int32] = [:]
        for _ in 0..<50 {
            seen = weights(target)
            if seen.count == 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seen.count == 2)
        down.stop()
        for _ in 0..<100 {
            seen = weights(target)
            if seen.count == 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seen == ["127.0.0.1:\(up.port)": 1])
        #expect(notifier.scripts.map(\.arguments) == [["/bin/true", "down"]])
        task.cancel()
        await task.value
        #expect(target.withTable { $0.services().isEmpty })
        up.stop()
    }
}
