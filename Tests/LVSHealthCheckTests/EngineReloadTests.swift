import Foundation
// Engine: SIGHUP reload applies the difference (keepalived clear_diff_services, migrate_checkers).
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSTestSupport
import Testing

@Suite("Engine: reload")
struct EngineReloadTests {
    @Test("K:clear_diff_services: reloading the same configuration changes nothing in IPVS")
    func sameConfigurationUntouched() {
        var h = EngineHarness(twoServerConfig())
        h.start()
        h.run(until: 3)
        h.ipvsCommands = []
        h.reload(twoServerConfig())
        #expect(h.ipvsCommands.isEmpty)
        #expect(h.table.weight("10.0.1.1") == 3)
    }

    @Test("K:init_service_rs: a real server whose checks fail is not re-added by a reload; it comes back on success")
    func failedServerNotReadded() {
        let health = Health()
        health.down = ["10.0.1.1"]
        var h = EngineHarness(twoServerConfig(), answer: health.answer)
        h.start()
        h.run(until: 3)
        #expect(h.table.weight("10.0.1.1") == nil)
        h.ipvsCommands = []
        h.reload(twoServerConfig())
        #expect(h.ipvsCommands.isEmpty)
        #expect(h.table.weight("10.0.1.1") == nil)
        #expect(h.engine.realServerStatus(virtualServer: 0, realServer: 0).checkersUp == [false])
        // Still failing after the reload: stays out, no new notification.
        h.scripts = []
        h.run(until: 12)
        #expect(h.table.weight("10.0.1.1") == nil)
        health.down = []
        h.run(until: 20)
        #expect(h.table.weight("10.0.1.1") == 3)
    }

    @Test("K:clear_diff_rs: removed real servers are deleted, new ones added, kept ones untouched")
    func realServerDiff() {
        var h = EngineHarness(twoServerConfig())
        h.start()
        h.run(until: 3)
        h.ipvsCommands = []
        let next = twoServerConfig().replacingOccurrences(of: "10.0.1.2", with: "10.0.1.7")
        h.reload(next)
        let key = ServiceKey.endpoint(.tcp, Endpoint(IPAddress("10.0.0.1")!, 80))
        #expect(
            Set(h.ipvsCommands.map(\.description)) == [
                "delete 10.0.1.2:80 from \(key)", "add 10.0.1.7:80 weight 1 to \(key)",
            ])
        #expect(h.table.listed() == ["10.0.1.1", "10.0.1.7"])
        #expect(h.logs.contains("service [10.0.1.2]:tcp:80 no longer exist"))
    }

    @Test("K:clear_diff_services: a changed scheduler is an edit of the service, not a delete and add")
    func schedulerEdit() {
        var h = EngineHarness(twoServerConfig())
        h.start()
        h.ipvsCommands = []
        h.reload(twoServerConfig().replacingOccurrences(of: "lb_algo rr", with: "lb_algo wlc"))
        #expect(h.ipvsCommands.count == 1)
        #expect(h.table.serviceEdits == 1 && h.table.serviceDeletes == 0)
        #expect(h.table.services.values.first?.scheduler == "wlc")
        #expect(h.table.listed() == ["10.0.1.1", "10.0.1.2"])
    }

    @Test("K:clear_diff_services: a virtual server gone from the configuration is removed")
    func virtualServerRemoved() {
        let two =
            twoServerConfig() + "\n"
            + twoServerConfig().replacingOccurrences(of: "10.0.0.1 80", with: "10.0.0.2 80")
        var h = EngineHarness(two)
        h.start()
        #expect(h.table.services.count == 2)
        h.reload(twoServerConfig())
        #expect(h.table.services.count == 1)
        #expect(h.logs.contains("Removing Virtual Server [10.0.0.2]:tcp:80"))
    }

    @Test("A probe started before a reload is ignored when it finishes after it")
    func staleProbeIgnored() {
        var h = EngineHarness(twoServerConfig())
        h.manual = true
        h.start()
        h.run(until: 1)
        #expect(h.waiting.count == 2)
        let stale = h.waiting
        h.waiting = []
        h.reload(twoServerConfig())
        h.ipvsCommands = []
        for (id, _) in stale { h.record(h.engine.handle(.probeFinished(id, .failed("refused")), now: h.now)) }
        #expect(h.ipvsCommands.isEmpty)
        #expect(h.table.weight("10.0.1.1") == 3)
    }

    @Test("K:migrate_checkers: a kept up checker keeps its retry count; the next failures finish it")
    func retryCountMigrated() {
        let health = Health()
        var h = EngineHarness(twoServerConfig(), answer: health.answer)
        h.start()
        h.run(until: 2)
        health.down = ["10.0.1.1"]
        h.run(until: 8)  // fails at 7: retry 1 of 3
        h.reload(twoServerConfig())
        #expect(h.table.weight("10.0.1.1") == 3)
        // Checks restart 1 s after the reload (random 0): 9, then retries at 11, 13.
        h.run(until: 13)
        #expect(h.table.weight("10.0.1.1") == nil)
    }
}

@Suite("Engine: reload of weights")
struct EngineReloadWeightTests {
    @Test("A weight changed in the configuration is applied by the reload as an edit")
    func weightChange() {
        var h = EngineHarness(twoServerConfig())
        h.start()
        h.run(until: 2)
        h.ipvsCommands = []
        let text = twoServerConfig().replacingOccurrences(of: "weight 1\n", with: "weight 4\n")
        h.reload(text)
        #expect(h.table.weight("10.0.1.2") == 4)
        #expect(h.ipvsCommands.count == 1)
        #expect(
            h.logs.contains("Changing weight from 1 to 4 for active service [10.0.1.2]:tcp:80 of VS [10.0.0.1]:tcp:80"))
    }
}
