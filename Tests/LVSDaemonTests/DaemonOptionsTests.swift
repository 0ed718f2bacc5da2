// lvsd's command line: keepalived's flags with getopt_long's rules.
import LVSDaemon
import Testing

@Suite("lvsd flags (keepalived's)")
struct DaemonOptionsTests {
    @Test("-f -n -l -D -t -p -i, long forms, clusters and attached values")
    func flags() throws {
        let o = try DaemonOptions.parse([
            "-f", "/etc/keepalived/keepalived.conf", "-nlD", "-p/run/lvsd.pid", "-i", "lb1",
        ])
        #expect(o.configurationFile == "/etc/keepalived/keepalived.conf")
        #expect(o.dontFork && o.logConsole && o.logDetail)
        #expect(o.pidFile == "/run/lvsd.pid")
        #expect(o.configID == "lb1")
        #expect(!o.configTest)

        let l = try DaemonOptions.parse([
            "--use-file=/a.conf", "--dont-fork", "--log-console", "--log-detail", "--pid", "/p", "--config-id=x",
            "--control", "@ns1", "--interface", "eth0", "--interface=eth1", "--log-facility", "3",
        ])
        #expect(l.configurationFile == "/a.conf" && l.dontFork && l.logConsole && l.logDetail)
        #expect(l.pidFile == "/p" && l.configID == "x" && l.control == "@ns1" && l.logFacility == 3)
        #expect(l.interfaces == ["eth0", "eth1"])
    }

    @Test("-t/--config-test takes its optional log file only attached, as getopt_long does")
    func configTest() throws {
        let a = try DaemonOptions.parse(["-t"])
        #expect(a.configTest && a.configTestLogFile == nil)
        let b = try DaemonOptions.parse(["--config-test=/tmp/report", "-f", "x"])
        #expect(b.configTest && b.configTestLogFile == "/tmp/report" && b.configurationFile == "x")
        let c = try DaemonOptions.parse(["-t/tmp/r"])
        #expect(c.configTestLogFile == "/tmp/r")
    }

    @Test("unambiguous long prefixes are accepted (--dont → --dont-fork)")
    func prefixes() throws {
        #expect(try DaemonOptions.parse(["--dont"]).dontFork)
        #expect(try DaemonOptions.parse(["--use", "f"]).configurationFile == "f")
    }

    @Test("errors: unknown option, missing argument, stray operand, bad facility, ambiguous prefix")
    func errors() {
        func message(_ a: [String]) -> String? {
            do {
                _ = try DaemonOptions.parse(a)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(message(["--bogus"]) == "unrecognized option '--bogus'")
        #expect(message(["-x"]) == "invalid option -- 'x'")
        #expect(message(["-f"]) == "option requires an argument -- 'f'")
        #expect(message(["--pid"]) == "option '--pid' requires an argument")
        #expect(message(["--dont-fork=yes"]) == "option '--dont-fork' doesn't allow an argument")
        #expect(message(["stray"]) == "unexpected argument(s): stray")
        #expect(message(["-S", "9"]) == "invalid log facility '9' (expected 0-7)")
        #expect(message(["--log"]) == "option '--log' is ambiguous")
    }
}
