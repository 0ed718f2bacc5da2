// Engine: quorum with hysteresis, sorry server, notify scripts, FIFO lines, alerts, misc_dynamic, HTTP URLs, omega.
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSTestSupport
import Testing

/// Four real servers of weight 1 with TCP_CHECK retry 0 (delay_loop 5), plus `extraVS`.
func fourServerConfig(_ extraVS: String, global: String = "") -> String {
    var rs = ""
    for i in 1...4 {
        rs += """
                real_server 10.0.1.\(i) 80 {
                    weight 1
                    notify_up "/bin/up \(i)"
                    notify_down "/bin/down \(i)"
                    TCP_CHECK {
                        retry 0
                    }
                }

            """
    }
    return """
        global_defs {
            \(global)
        }
        virtual_server 10.0.0.1 80 {
            delay_loop 5
            lb_algo wrr
            lb_kind DR
            protocol TCP
            \(extraVS)
        \(rs)
        }
        """
}

@Suite("Engine: quorum, sorry server, notifications, misc_dynamic, HTTP, omega")
struct EngineQuorumNotifyTests {
    @Test("K:update_quorum_state: gained at quorum+hysteresis, lost below quorum-hysteresis; scripts on each change")
    func quorumHysteresis() {
        let health = Health()
        var h = EngineHarness(
            fourServerConfig("quorum 3\nhysteresis 1\nquorum_up \"/bin/qup\"\nquorum_down \"/bin/qdown\""),
            answer: health.answer)
        h.start()
        // Start-up: 4 >= 3+1, "Starting with quorum up" runs quorum_up.
        #expect(h.scriptNames() == ["/bin/qup"])
        h.scripts = []
        h.run(until: 2)
        health.down = ["10.0.1.1"]
        h.run(until: 7)  // weight 3 >= 3-1: kept
        health.down = ["10.0.1.1", "10.0.1.2"]
        h.run(until: 12)  // weight 2 >= 2: kept
        #expect(h.engine.quorumUp(virtualServer: 0))
        #expect(h.scriptNames() == ["/bin/down 1", "/bin/down 2"])
        health.down = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
        h.run(until: 17)  // weight 1 < 2: lost
        #expect(!h.engine.quorumUp(virtualServer: 0))
        #expect(h.scriptNames() == ["/bin/down 1", "/bin/down 2", "/bin/down 3", "/bin/qdown"])
        #expect(h.logs.contains("Lost quorum 3-1=2 > 1 for VS [10.0.0.1]:tcp:80"))
        h.scripts = []
        health.down = ["10.0.1.1"]
        h.run(until: 22)  // weight 3 < 3+1: still lost
        #expect(!h.engine.quorumUp(virtualServer: 0))
        #expect(h.scriptNames() == ["/bin/up 2", "/bin/up 3"])
        health.down = []
        h.run(until: 27)  // weight 4: gained
        #expect(h.engine.quorumUp(virtualServer: 0))
        #expect(h.scriptNames() == ["/bin/up 2", "/bin/up 3", "/bin/up 1", "/bin/qup"])
        #expect(h.logs.contains("Gained quorum 3+1=4 <= 4 for VS [10.0.0.1]:tcp:80"))
        // Without a sorry server, quorum only runs scripts: the live servers stay listed.
        #expect(h.table.listed().count == 4)
    }

    @Test("K:update_quorum_state: losing quorum swaps live servers for the sorry server, gaining swaps back")
    func sorryServer() {
        let health = Health()
        var h = EngineHarness(fourServerConfig("quorum 2\nsorry_server 10.0.9.9 80"), answer: health.answer)
        h.start()
        #expect(h.table.listed() == ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"])
        h.run(until: 2)
        health.down = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
        h.run(until: 7)
        // Weight 1 < 2: the remaining live server leaves, the sorry server comes in.
        #expect(h.table.listed() == ["10.0.9.9"])
        #expect(h.table.weight("10.0.9.9") == 1)
        #expect(h.engine.sorryServerActive(virtualServer: 0))
        #expect(h.logs.contains("Adding sorry server [10.0.9.9]:tcp:80 to VS [10.0.0.1]:tcp:80"))
        health.down = ["10.0.1.1", "10.0.1.2"]
        h.run(until: 12)
        // Weight 2: quorum back, sorry server out, live servers in.
        #expect(h.table.listed() == ["10.0.1.3", "10.0.1.4"])
        #expect(!h.engine.sorryServerActive(virtualServer: 0))
        health.down = ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"]
        h.run(until: 17)
        #expect(h.table.listed() == ["10.0.9.9"])
    }

    @Test("K:init_service_vs: alpha with a sorry server starts with quorum down and the sorry server in")
    func alphaSorryAtStart() {
        var h = EngineHarness(fourServerConfig("alpha\nsorry_server 10.0.9.9 80"))
        h.start()
        #expect(h.table.listed() == ["10.0.9.9"])
        #expect(h.logs.contains("Starting with quorum down 1-0=1 > 0 for VS [10.0.0.1]:tcp:80"))
        h.run(until: 2)
        #expect(h.table.listed() == ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"])
    }

    @Test("K:sorry_server_inhibit: the sorry server is listed at weight 0 while quorum holds, 1 when lost")
    func sorryInhibit() {
        let health = Health()
        var h = EngineHarness(
            fourServerConfig("quorum 4\nsorry_server 10.0.9.9 80\nsorry_server_inhibit"), answer: health.answer)
        h.start()
        #expect(h.table.weight("10.0.9.9") == 0)
        h.run(until: 2)
        health.down = ["10.0.1.4"]
        h.run(until: 7)
        #expect(h.table.weight("10.0.9.9") == 1)
        #expect(h.table.listed() == ["10.0.9.9"])
        #expect(h.logs.contains("Enabling sorry server [10.0.9.9]:tcp:80 to VS [10.0.0.1]:tcp:80"))
        health.down = []
        h.run(until: 12)
        #expect(h.table.weight("10.0.9.9") == 0)
        #expect(h.table.listed().count == 5)
    }

    @Test("K:do_rs_notifies: notify scripts, FIFO lines and alerts only on transitions, with keepalived's wording")
    func notificationsOnTransitionsOnly() {
        let health = Health()
        let global = """
            router_id LVS_A
            notification_email {
                ops@example.org
            }
            smtp_server 127.0.0.1
            lvs_notify_fifo /run/lvs.fifo
            """
        var h = EngineHarness(fourServerConfig("smtp_alert", global: global), answer: health.answer)
        h.start()
        #expect(h.fifo == ["VS [10.0.0.1]:tcp:80 UP\n"])
        #expect(
            h.mails == [
                AlertMail(
                    subject: "[LVS_A] Virtualserver [10.0.0.1]:tcp:80 - UP",
                    body: "=> Starting with quorum up 1+0=1 <= 4 <=")
            ])
        h.fifo = []
        h.mails = []
        h.run(until: 3)
        #expect(h.scripts.isEmpty && h.fifo.isEmpty && h.mails.isEmpty)
        health.down = ["10.0.1.2"]
        h.run(until: 30)  // five failed runs, one transition
        #expect(h.scriptNames() == ["/bin/down 2"])
        #expect(h.scripts[0].script.arguments == ["/bin/down", "2"])
        #expect(h.fifo == ["RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n"])
        #expect(
            h.mails == [
                AlertMail(
                    subject: "[LVS_A] Realserver [10.0.1.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN",
                    body: "=> TCP CHECK failed on service <=")
            ])
        health.down = []
        h.run(until: 40)
        #expect(h.scriptNames() == ["/bin/down 2", "/bin/up 2"])
        #expect(h.fifo.last == "RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n")
        #expect(
            h.mails.last?.subject == "[LVS_A] Realserver [10.0.1.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - UP")
        #expect(h.mails.last?.body == "=> TCP CHECK succeed on service <=")
        #expect(h.mails.count == 2)
    }

    @Test("K:smtp_alert: no mail without notification_email and smtp_server")
    func noMailWithoutServer() {
        let health = Health()
        health.down = ["10.0.1.1"]
        var h = EngineHarness(fourServerConfig("", global: "router_id X"), answer: health.answer)
        h.start()
        h.run(until: 10)
        #expect(h.mails.isEmpty)
        #expect(!h.logs.isEmpty)
    }

    @Test("K:check_misc.c: misc_dynamic exit 2..255 sets weight = exit - 2, exit 0 the configured weight, 1 fails")
    func miscDynamic() {
        let text = """
            virtual_server 10.0.0.1 80 {
                delay_loop 5
                lb_algo wrr
                lb_kind NAT
                protocol TCP
                real_server 10.0.1.1 80 {
                    weight 10
                    MISC_CHECK {
                        misc_path "/bin/check 10.0.1.1"
                        misc_dynamic
                    }
                }
            }
            """
        let health = Health()
        health.exitCodes["10.0.1.1"] = 7
        var h = EngineHarness(text, answer: health.answer)
        h.start()
        #expect(h.table.weight("10.0.1.1") == 10)
        h.run(until: 2)
        #expect(h.table.weight("10.0.1.1") == 5)
        #expect(
            h.logs.contains("Changing weight from 10 to 5 for active service [10.0.1.1]:tcp:80 of VS [10.0.0.1]:tcp:80")
        )
        health.exitCodes["10.0.1.1"] = 2
        h.run(until: 7)
        #expect(h.table.weight("10.0.1.1") == 0)
        health.exitCodes["10.0.1.1"] = 0
        h.run(until: 12)
        #expect(h.table.weight("10.0.1.1") == 10)
        health.exitCodes["10.0.1.1"] = 1
        h.run(until: 17)
        #expect(h.table.weight("10.0.1.1") == nil)
        #expect(
            h.logs.contains(
                "Misc check for [[10.0.1.1]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/check] failed (exited with status 1)."
            )
        )
        #expect(h.probes.first?.request.timeout == .seconds(5))
    }

    @Test("K:check_misc.c: a timed-out script fails; the next run is timed from the start of the last")
    func miscTimeoutAndTiming() {
        let text = """
            virtual_server 10.0.0.1 80 {
                delay_loop 10
                lb_algo rr
                lb_kind NAT
                protocol TCP
                real_server 10.0.1.1 80 {
                    MISC_CHECK {
                        misc_path /bin/slow
                        misc_timeout 3
                    }
                }
            }
            """
        var h = EngineHarness(text)
        h.manual = true
        h.start()
        h.run(until: 1)
        #expect(h.waiting.count == 1)
        #expect(h.waiting[0].1.timeout == .seconds(3))
        h.clock.advance(seconds: 3)
        h.answerWaiting { _ in ProbeOutcome(success: false, detail: "timed out", signal: 9, timedOut: true) }
        #expect(h.table.weight("10.0.1.1", port: 80) == nil)
        #expect(h.logs.contains("Misc check for [[10.0.1.1]:tcp:80 VS [10.0.0.1]:tcp:80] by [/bin/slow] timed out."))
        h.run(until: 12)
        // Started at 1, next at 1 + 10, not 4 + 10.
        #expect(h.probes.map { Double($0.at.nanoseconds) / 1e9 } == [1, 11])
    }

    @Test("K:check_http.c epilog: one URL per delay_loop; after a failure every URL must pass again")
    func httpURLs() {
        let text = """
            virtual_server 10.0.0.1 80 {
                delay_loop 10
                lb_algo rr
                lb_kind NAT
                protocol TCP
                real_server 10.0.1.1 80 {
                    HTTP_GET {
                        url {
                            path /a
                        }
                        url {
                            path /b
                        }
                        retry 2
                        delay_before_retry 3
                    }
                }
            }
            """
        let badB = Box(true)
        var h = EngineHarness(text) { r in
            r.url?.path == "/b" && badB.value ? .failed("HTTP status code error to") : .passed
        }
        h.start()
        h.run(until: 11)
        // /a at 1, /b at 11 fails: the first failure takes it down (retry preset at start).
        #expect(h.probes.map { $0.request.url?.path ?? "" } == ["/a", "/b"])
        #expect(h.table.weight("10.0.1.1") == nil)
        h.run(until: 21)
        #expect(h.probes.map { Double($0.at.nanoseconds) / 1e9 } == [1, 11, 21])
        badB.value = false
        h.run(until: 31)  // /b passes at 31: start again from /a
        #expect(h.table.weight("10.0.1.1") == nil)
        h.run(until: 41)  // /a
        #expect(h.table.weight("10.0.1.1") == nil)
        h.run(until: 51)  // /b: all passed
        #expect(h.table.weight("10.0.1.1") == 1)
        #expect(h.probes.map { $0.request.url?.path ?? "" } == ["/a", "/b", "/b", "/b", "/a", "/b"])
        #expect(h.logs.contains("Remote Web server [10.0.1.1]:tcp:80 succeed on service."))
        // An up checker retries a failing URL every delay_before_retry, retry times.
        badB.value = true
        h.run(until: 71)  // /a 61, /b 71 fails
        h.run(until: 77)  // retries at 74, 77
        #expect(h.table.weight("10.0.1.1") == nil)
        #expect(h.probes.suffix(3).map { Double($0.at.nanoseconds) / 1e9 } == [71, 74, 77])
    }

    @Test("K:clear_service_rs: at shutdown omega runs notify_down and quorum_down; without omega nothing runs")
    func omega() {
        var h = EngineHarness(fourServerConfig("omega\nquorum_down /bin/qdown"))
        h.start()
        h.run(until: 2)
        h.stop()
        #expect(h.scriptNames() == ["/bin/down 1", "/bin/down 2", "/bin/down 3", "/bin/down 4", "/bin/qdown"])
        #expect(h.table.services.isEmpty)
        var n = EngineHarness(fourServerConfig("quorum_down /bin/qdown"))
        n.start()
        n.run(until: 2)
        n.stop()
        #expect(n.scripts.isEmpty)
        #expect(n.table.services.isEmpty)
        #expect(n.logs.contains("Shutting down service [10.0.1.1]:tcp:80 from VS [10.0.0.1]:tcp:80"))
    }

    @Test("K:check_daemon.c: lvs_flush and lvs_timeouts at start, lvs_flush_on_stop at stop")
    func flushAndTimeouts() {
        var h = EngineHarness(
            fourServerConfig("", global: "lvs_flush\nlvs_timeouts tcp 900 tcpfin 120 udp 300\nlvs_flush_on_stop"))
        h.start()
        #expect(h.ipvsCommands.first == .flush)
        #expect(h.table.timeouts == IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300))
        h.stop()
        #expect(h.table.flushes == 2)
        #expect(h.table.services.isEmpty)
    }
}
