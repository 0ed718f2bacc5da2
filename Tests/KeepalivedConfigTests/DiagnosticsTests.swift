// Diagnostics: exact file:line messages, did-you-mean, severities and keepalived's -t exit codes.
import KeepalivedConfig
import Testing

@Suite("Unknown keywords and suggestions")
struct UnknownKeywordTests {
    @Test("K:parser.c: an unknown keyword is reported and parsing continues; a close match is suggested")
    func didYouMean() {
        let r = check("global_defs {\n  routr_id r1\n  notification_email_from a@b\n}\n")
        #expect(
            messages(r) == ["keepalived.conf:2: unknown keyword 'routr_id' in global_defs; did you mean 'router_id'?"])
        #expect(r.configuration.globalDefs.notificationEmailFrom == "a@b")
        #expect(r.exitCode == .errors)
    }

    @Test("K:keepalived.conf(5): keywords are case-sensitive; 'STATE' suggests 'state'")
    func caseSensitive() {
        let r = check("vrrp_instance V {\n  STATE MASTER\n  virtual_router_id 1\n}\n")
        #expect(
            messages(r, atLeast: .error) == [
                "keepalived.conf:2: unknown keyword 'STATE' in vrrp_instance; did you mean 'state'?"
            ])
        #expect(r.configuration.vrrpInstances.first?.state == nil)
    }

    @Test("A keyword valid in another block says where it belongs")
    func misplaced() {
        let r = check("vrrp_instance V {\n  virtual_router_id 1\n  lb_algo rr\n}\n")
        #expect(
            messages(r, atLeast: .error) == [
                "keepalived.conf:3: unknown keyword 'lb_algo' in vrrp_instance (it belongs in virtual_server)"
            ])
    }

    @Test("An unknown top-level block is skipped whole: one error, no cascade")
    func unknownBlockSkipped() {
        let r = check("vrrp_instanse VI_1 {\n  state MASTER\n  nested {\n  }\n}\nglobal_defs {\n  router_id r\n}\n")
        #expect(messages(r) == ["keepalived.conf:1: unknown keyword 'vrrp_instanse'; did you mean 'vrrp_instance'?"])
        #expect(r.configuration.globalDefs.routerID == "r")
    }

    @Test("Nothing close: no suggestion")
    func noSuggestion() {
        #expect(messages(check("xyzzy 1\n")) == ["keepalived.conf:1: unknown keyword 'xyzzy'"])
    }

    @Test("K:parser.c: an unexpected '{' is reported and its '}' does not close the enclosing block")
    func unexpectedBrace() {
        let r = check("global_defs {\n  router_id r {\n  }\n  notification_email_from x@y\n}\n")
        #expect(messages(r) == ["keepalived.conf:2: unexpected '{' - ignoring"])
        #expect(r.configuration.globalDefs.notificationEmailFrom == "x@y")
    }
}

@Suite("Values: numbers, BOOL, TIMER, case rules")
struct ValueDiagnosticsTests {
    @Test("K:parser.c null_strvec: a keyword missing its parameter stops keepalived (fatal, exit 3)")
    func missingParameter() {
        let r = check("vrrp_instance V {\n  virtual_router_id 1\n  virtual_ipaddress { 10.0.0.9 }\n  priority\n}\n")
        #expect(messages(r) == ["keepalived.conf:4: 'priority' is missing a parameter"])
        #expect(r.exitCode == .cannotRun)
        do {
            _ = try KeepalivedConfigLoader.load(
                file: "keepalived.conf",
                fileSystem: InMemoryConfigFileSystem(["keepalived.conf": "vrrp_instance V {\n priority\n}\n"]))
            Issue.record("load() accepted a configuration that cannot run")
        } catch {
            #expect(error.code == .cannotRun)
            #expect(error.description == "keepalived.conf:2: 'priority' is missing a parameter")
        }
    }

    @Test("K:vrrp_parser.c: priority outside 1..255 or not a number is an error and the default stays")
    func numbers() {
        let r = check("vrrp_instance V {\n  virtual_router_id 1\n  priority 300\n  advert_int abc\n}\n")
        #expect(
            messages(r, atLeast: .error) == [
                "keepalived.conf:3: 'priority' 300 is outside [1, 255]",
                "keepalived.conf:4: 'advert_int': invalid number 'abc'",
            ])
        #expect(r.configuration.vrrpInstances.first?.priority == 100)
        #expect(r.configuration.vrrpInstances.first?.advertInterval == .seconds(1))
    }

    @Test("K:keepalived.conf(5): TIMER is decimal seconds with microsecond resolution")
    func timers() {
        #expect(TimerValue.parse("2.71828").value == TimerValue(microseconds: 2_718_280))
        #expect(TimerValue.parse("3").value == .seconds(3))
        #expect(TimerValue.parse("0.000001").value == TimerValue(microseconds: 1))
        #expect(TimerValue.parse("1.0000005").value == TimerValue(microseconds: 1_000_001))
        #expect(TimerValue.parse("1.0000005").problem == "number '1.0000005' has too many decimal places")
        #expect(TimerValue.parse("-1").problem == "negative number '-1'")
        #expect(TimerValue.parse("1e3").value == nil)
        #expect(TimerValue(microseconds: 1_500_000).description == "1.5s")
    }

    @Test("K:parser.c check_true_false: BOOL is on|off|true|false|yes|no; anything else is an error")
    func bools() {
        let r = check(
            virtualServer(
                "lb_algo rr\nlb_kind NAT\nprotocol TCP\ninhibit_on_failure maybe\nreal_server 10.0.1.1 80 {\n inhibit_on_failure no\n alpha yes\n}"
            ))
        #expect(
            messages(r) == [
                "keepalived.conf:5: invalid value 'maybe' for 'inhibit_on_failure' (expected on|off|true|false|yes|no)"
            ])
        let rs = r.configuration.virtualServers.first?.realServers.first
        #expect(rs?.inhibitOnFailure == false)
        #expect(rs?.alpha == true)
    }

    @Test("K:vrrp_parser.c: 'state master' is unknown (case-sensitive) and falls back to BACKUP")
    func stateCase() {
        let r = check("vrrp_instance VI_1 {\n  state master\n  virtual_router_id 1\n}\n")
        #expect(
            messages(r, atLeast: .error) == ["keepalived.conf:2: (VI_1) unknown state 'master', defaulting to BACKUP"])
        #expect(r.configuration.vrrpInstances.first?.state == .backup)
    }

    @Test("K:check_parser.c: lb_kind is case-sensitive (dr is unknown); protocol is not (tcp is TCP)")
    func lvsCase() {
        let r = check(virtualServer("lb_algo rr\nlb_kind dr\nprotocol tcp\nreal_server 10.0.1.1 80 {\n}"))
        #expect(
            messages(r, atLeast: .error).first
                == "keepalived.conf:3: unknown forwarding method 'dr' for virtual server (expected NAT, DR or TUN)")
        #expect(r.configuration.virtualServers.first?.transportProtocol == .tcp)
        #expect(r.configuration.virtualServers.first?.forwarding == .masquerade)
    }

    @Test("Extra words after a single-value keyword are noted and ignored")
    func extraWords() {
        let r = check("global_defs {\n  router_id r1 r2\n}\n")
        #expect(messages(r) == ["keepalived.conf:2: extra words after 'router_id' ignored: 'r2'"])
        #expect(r.exitCode == .ok)
    }
}

@Suite("Legacy aliases")
struct LegacyAliasTests {
    @Test("K:check_parser.c: lvs_sched = lb_algo, lvs_method = lb_kind; nb_get_retry = retry in every checker")
    func aliases() throws {
        let r = check(
            virtualServer(
                "lvs_sched wrr\nlvs_method DR\nprotocol TCP\nreal_server 10.0.1.1 80 {\n HTTP_GET {\n  url {\n   path /\n  }\n  nb_get_retry 4\n }\n TCP_CHECK {\n  nb_get_retry 2\n }\n}"
            ))
        #expect(messages(r).isEmpty)
        let vs = try #require(r.configuration.virtualServers.first)
        #expect(vs.scheduler == "wrr")
        #expect(vs.forwarding == .route)
        #expect(vs.realServers.first?.checkers.map(\.effective.retry) == [4, 2])
    }

    @Test("K:global_parser.c: deprecated spellings are read as the current keyword, with a note")
    func deprecated() {
        let r = check("global_defs {\n  lvs_flush_onstop\n  lvs_id r1\n}\nvrrp_track_file f {\n  file /tmp/f\n}\n")
        #expect(
            messages(r) == [
                "keepalived.conf:2: 'lvs_flush_onstop' is deprecated; read as 'lvs_flush_on_stop'",
                "keepalived.conf:3: 'lvs_id' is keepalived 1.x's name for 'router_id'",
                "keepalived.conf:5: 'vrrp_track_file' is deprecated; read as 'track_file'",
            ])
        #expect(r.configuration.globalDefs.lvsFlushOnStop == .all)
        #expect(r.configuration.globalDefs.routerID == "r1")
        #expect(r.configuration.otherBlocks.map(\.keyword) == ["track_file"])
        #expect(r.exitCode == .ok)
    }
}

@Suite("Exit codes (keepalived -t)")
struct ExitCodeTests {
    let at = SourceLocation(file: "k.conf", line: 1)

    @Test("K:main.c config_test_exit: 0 clean, 3 cannot run, 4 errors, 5 script security")
    func mapping() {
        func code(_ severities: [DiagnosticSeverity]) -> ConfigTestExitCode {
            ConfigTestExitCode(diagnostics: severities.map { Diagnostic($0, "x", at: at) })
        }
        #expect(code([]) == .ok)
        #expect(code([.note, .note]) == .ok)
        #expect(code([.warning]) == .errors)
        #expect(code([.error, .note]) == .errors)
        #expect(code([.security]) == .scriptSecurity)
        #expect(code([.fatal]) == .cannotRun)
        #expect(ConfigTestExitCode.ok.rawValue == 0)
        #expect(ConfigTestExitCode.cannotRun.rawValue == 3)
        #expect(ConfigTestExitCode.errors.rawValue == 4)
        #expect(ConfigTestExitCode.scriptSecurity.rawValue == 5)
    }

    @Test("The most serious problem decides: fatal beats errors beats script security")
    func precedence() {
        func code(_ severities: [DiagnosticSeverity]) -> ConfigTestExitCode {
            ConfigTestExitCode(diagnostics: severities.map { Diagnostic($0, "x", at: at) })
        }
        #expect(code([.security, .fatal]) == .cannotRun)
        #expect(code([.security, .error]) == .errors)
        #expect(code([.warning, .security]) == .errors)
    }

    @Test("Diagnostics print as file:line: message (file: message without a line)")
    func format() {
        #expect(
            Diagnostic(.error, "bad", at: SourceLocation(file: "/etc/k.conf", line: 7)).description
                == "/etc/k.conf:7: bad")
        #expect(
            Diagnostic(.fatal, "gone", at: SourceLocation(file: "/etc/k.conf", line: 0)).description
                == "/etc/k.conf: gone")
    }

    @Test("A clean configuration exits 0 and loads")
    func clean() throws {
        let text =
            "global_defs {\n router_id r\n}\n"
            + virtualServer("lb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.1.1 80 {\n}")
        #expect(check(text).exitCode == .ok)
        let loaded = try KeepalivedConfigLoader.load(
            file: "k.conf", fileSystem: InMemoryConfigFileSystem(["k.conf": text]))
        #expect(loaded.configuration.virtualServers.count == 1)
    }
}

@Suite("Diagnostic codes")
struct DiagnosticCodeTests {
    @Test("unbalanced braces carry .blockStructure (SIGHUP refuses such a file); other problems .general")
    func braceProblems() {
        let unclosed = KeepalivedConfigLoader.check(text: "global_defs {\n    router_id X\n").diagnostics
        #expect(unclosed.contains { $0.code == .blockStructure && $0.message.contains("block is not closed") })
        let extra = KeepalivedConfigLoader.check(text: "global_defs {\n    router_id X\n}\n}\n").diagnostics
        #expect(extra.contains { $0.code == .blockStructure && $0.message == "extra '}'" })
        let unknown = KeepalivedConfigLoader.check(text: "global_defs {\n    no_such_keyword 1\n}\n").diagnostics
        #expect(!unknown.isEmpty && unknown.allSatisfy { $0.code == .general })
    }
}
