// Engine: start-up with and without alpha, retry counting, warmup jitter, several checkers.
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSTestSupport
import Testing

/// A NAT service with two real servers, each with one TCP_CHECK (delay_loop 6, retry 3,
/// delay_before_retry 2), plus `extraVS` / `extraRS` lines.
func twoServerConfig(extraVS: String = "", extraRS1: String = "", extraRS2: String = "", check: String = "")
    -> String
{
    """
    virtual_server 10.0.0.1 80 {
        delay_loop 6
        lb_algo rr
        lb_kind NAT
        protocol TCP
        \(extraVS)
        real_server 10.0.1.1 80 {
            weight 3
            \(extraRS1)
            TCP_CHECK {
                connect_timeout 3
                retry 3
                delay_before_retry 2
                \(check)
            }
        }
        real_server 10.0.1.2 80 {
            weight 1
            \(extraRS2)
            TCP_CHECK {
                connect_timeout 3
                retry 3
                delay_before_retry 2
                \(check)
            }
        }
    }
    """
}

@Suite("Engine: start-up, retries, warmup, several checkers")
struct EngineStartupRetryTests {
    @Test("K:ipwrapper.c init_service_rs: without alpha every real server is added at its weight at start")
    func startWithoutAlpha() {
        var h = EngineHarness(twoServerConfig())
        h.start()
        let key = ServiceKey.endpoint(.tcp, Endpoint(IPAddress("10.0.0.1")!, 80))
        #expect(h.table.services[key]?.scheduler == "rr")
        #expect(h.table.weight("10.0.1.1") == 3)
        #expect(h.table.weight("10.0.1.2") == 1)
        #expect(h.engine.quorumUp(virtualServer: 0))
        #expect(h.logs.contains("Gained quorum 1+0=1 <= 4 for VS [10.0.0.1]:tcp:80"))
    }

    @Test("K:check_data.c presets retry_it: without alpha the first failure takes the server down with no retry")
    func firstFailureImmediate() {
        let health = Health()
        health.down = ["10.0.1.1"]
        var h = EngineHarness(twoServerConfig(), answer: health.answer)
        h.start()
        #expect(h.table.weight("10.0.1.1") == 3)
        h.run(until: 1.0)
        #expect(h.probeTimes("10.0.1.1") == [1.0])
        #expect(h.table.weight("10.0.1.1") == nil)
        #expect(h.table.weight("10.0.1.2") == 1)
        #expect(h.logs.contains("TCP_CHECK on service [10.0.1.1]:tcp:80 failed."))
        #expect(h.logs.contains("Removing service [10.0.1.1]:tcp:80 from VS [10.0.0.1]:tcp:80"))
    }

    @Test("K:tcp_epilog: an up checker retries every delay_before_retry, retry times, then goes down")
    func retryCounting() {
        let health = Health()
        var h = EngineHarness(twoServerConfig(), answer: health.answer)
        h.start()
        h.run(until: 10)
        #expect(h.probeTimes("10.0.1.1") == [1, 7])
        health.down = ["10.0.1.1"]
        h.run(until: 18.9)
        // Failure at 13, retries at 15 and 17 ...
        #expect(h.probeTimes("10.0.1.1") == [1, 7, 13, 15, 17])
        #expect(h.table.weight("10.0.1.1") == 3)
        h.run(until: 19)
        // ... the third retry at 19 fails: down.
        #expect(h.probeTimes("10.0.1.1") == [1, 7, 13, 15, 17, 19])
        #expect(h.table.weight("10.0.1.1") == nil)
        #expect(h.logs.contains("TCP_CHECK on service [10.0.1.1]:tcp:80 failed after 3 retries."))
    }

    @Test("K:tcp_epilog: one success during the retries keeps the server up and resets the count")
    func successDuringRetries() {
        let health = Health()
        var h = EngineHarness(twoServerConfig(), answer: health.answer)
        h.start()
        h.run(until: 12)
        health.down = ["10.0.1.1"]
        h.run(until: 16)  // fails at 13, 15
        health.down = []
        h.run(until: 17)  // passes at 17
        #expect(h.table.weight("10.0.1.1") == 3)
        health.down = ["10.0.1.1"]
        h.run(until: 28.9)  // next at 23, then retries at 25, 27
        #expect(h.table.weight("10.0.1.1") == 3)
        h.run(until: 29)
        #expect(h.table.weight("10.0.1.1") == nil)
    }

    @Test("K:tcp_epilog: one success brings a down server back at its weight")
    func recovery() {
        let health = Health()
        health.down = ["10.0.1.1"]
        var h = EngineHarness(twoServerConfig(), answer: health.answer)
        h.start()
        h.run(until: 1)
        #expect(h.table.weight("10.0.1.1") == nil)
        health.down = []
        h.run(until: 7)
        #expect(h.table.weight("10.0.1.1") == 3)
        #expect(h.logs.contains("TCP connection to [10.0.1.1]:tcp:80 success."))
        #expect(h.logs.contains("Adding service [10.0.1.1]:tcp:80 to VS [10.0.0.1]:tcp:80"))
    }

    @Test("K:check_api.c register_checkers_thread: first run after BOOTSTRAP_DELAY (1 s) + warmup × random")
    func warmupJitter() {
        var h = EngineHarness(twoServerConfig(check: "warmup 10"), random: 0.5)
        h.start()
        h.run(until: 20)
        #expect(h.probeTimes("10.0.1.1") == [6, 12, 18])
        // warmup defaults to delay_loop (6): 1 + 3.
        var d = EngineHarness(twoServerConfig(), random: 0.5)
        d.start()
        d.run(until: 10)
        #expect(d.probeTimes("10.0.1.2") == [4, 10])
    }

    @Test("K:ipwrapper.c init_service_rs: with alpha nothing is added at start except inhibit servers at weight 0")
    func alphaStart() {
        var h = EngineHarness(twoServerConfig(extraVS: "alpha", extraRS1: "inhibit_on_failure"))
        h.start()
        #expect(h.table.weight("10.0.1.1") == 0)
        #expect(h.table.weight("10.0.1.2") == nil)
        #expect(!h.engine.quorumUp(virtualServer: 0))
        h.run(until: 1)
        // One success brings each up.
        #expect(h.table.weight("10.0.1.1") == 3)
        #expect(h.table.weight("10.0.1.2") == 1)
        #expect(h.engine.quorumUp(virtualServer: 0))
        #expect(h.logs.contains("Enabling service [10.0.1.1]:tcp:80 of VS [10.0.0.1]:tcp:80"))
    }

    @Test("K:update_svr_checker_state: an alpha server failing its first check announces DOWN once, not again")
    func alphaFirstFailureNotifiesOnce() {
        let health = Health()
        health.down = ["10.0.1.2"]
        var h = EngineHarness(
            twoServerConfig(extraVS: "alpha", extraRS2: "notify_down \"/bin/rs2 down\""), answer: health.answer)
        h.start()
        h.run(until: 40)
        #expect(h.scriptNames() == ["/bin/rs2 down"])
        #expect(h.table.weight("10.0.1.2") == nil)
    }

    @Test("K:check_misc etc: a server with several checkers goes down when any fails, up only when all pass")
    func severalCheckers() {
        let text = """
            virtual_server 10.0.0.1 80 {
                delay_loop 5
                lb_algo rr
                lb_kind NAT
                protocol TCP
                real_server 10.0.1.1 80 {
                    weight 2
                    TCP_CHECK {
                        connect_port 80
                        retry 0
                    }
                    TCP_CHECK {
                        connect_port 81
                        retry 0
                    }
                }
            }
            """
        let failing = Box<Set<UInt16>>([])
        var h = EngineHarness(text) { r in failing.value.contains(r.destination.port) ? .failed("refused") : .passed }
        h.start()
        h.run(until: 2)
        #expect(h.table.weight("10.0.1.1") == 2)
        failing.value = [81]
        h.run(until: 7)
        #expect(h.table.weight("10.0.1.1") == nil)
        failing.value = [80, 81]
        h.run(until: 12)
        #expect(h.engine.realServerStatus(virtualServer: 0, realServer: 0).failedCheckers == 2)
        failing.value = [81]
        h.run(until: 17)
        // Port 80 passes again but 81 still fails: still down.
        #expect(h.table.weight("10.0.1.1") == nil)
        failing.value = []
        h.run(until: 22)
        #expect(h.table.weight("10.0.1.1") == 2)
        #expect(h.engine.realServerStatus(virtualServer: 0, realServer: 0).failedCheckers == 0)
    }

    @Test("K:ipvs_cmd: inhibit_on_failure keeps a failed server listed at weight 0 and restores its weight")
    func inhibitOnFailure() {
        let health = Health()
        var h = EngineHarness(twoServerConfig(extraRS1: "inhibit_on_failure"), answer: health.answer)
        h.start()
        h.run(until: 2)
        health.down = ["10.0.1.1"]
        h.run(until: 19)
        #expect(h.table.weight("10.0.1.1") == 0)
        #expect(h.logs.contains("Disabling service [10.0.1.1]:tcp:80 of VS [10.0.0.1]:tcp:80"))
        health.down = []
        h.run(until: 25)
        #expect(h.table.weight("10.0.1.1") == 3)
    }

    @Test("K:ha_suspend: checks pause while the virtual server's address is not local")
    func haSuspend() {
        var h = EngineHarness(twoServerConfig(extraVS: "ha_suspend"))
        h.start()
        h.run(until: 20)
        #expect(h.probes.isEmpty)
        h.record(h.engine.handle(.localAddress(IPAddress("10.0.0.1")!, present: true), now: h.now))
        h.run(until: 27)
        #expect(h.probeTimes("10.0.1.1") == [25])
        h.record(h.engine.handle(.localAddress(IPAddress("10.0.0.1")!, present: false), now: h.now))
        h.run(until: 40)
        #expect(h.probeTimes("10.0.1.1") == [25])
    }
}

/// A mutable value shared with a probe-answer closure.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ v: T) { value = v }
}
