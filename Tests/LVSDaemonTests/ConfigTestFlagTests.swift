// lvsd -t: keepalived's configuration check and exit codes; -f is refused until lvsd runs configurations.
import Foundation
import LVSControl
import LVSCore
import LVSDaemon
import Testing

@Suite("lvsd -t / -f")
final class ConfigTestFlagTests {
    let dir = NSTemporaryDirectory() + "lvsd-t-\(getpid())-\(UUID().uuidString.prefix(8))"

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func temporaryFile(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(_ args: [String]) -> Int32 {
        var hooks = LVSDaemonHooks()
        hooks.configurationTester = KeepalivedConfigurationTester(environment: [:])
        return LVSDaemonMain.run(arguments: args, environment: [:], hooks: hooks) { IPVS() }
    }

    @Test("keepalived main.c config_test_exit: 4 with errors, report as file:line lines in the -t log file")
    func errors() throws {
        let conf = try temporaryFile(
            "keepalived.conf",
            """
            virtual_server 192.168.0.240 80 {
                lb_algo rr
                lb_kind DR
                protocol TCP
                real_server 192.168.0.223 80 {
                    weight 1
                }
                bogus_keyword 1
            }

            """)
        let report = conf + ".report"
        #expect(run(["--config-test=\(report)", "-f", conf]) == 4)
        #expect(
            try String(contentsOfFile: report, encoding: .utf8)
                == "\(conf):8: unknown keyword 'bogus_keyword' in virtual_server\n")
    }

    @Test("a clean configuration exits 0; a missing one 3 (cannot run)")
    func cleanAndMissing() throws {
        let conf = try temporaryFile(
            "ok.conf",
            """
            virtual_server 10.0.0.1 80 {
                lb_algo wlc
                lb_kind NAT
                protocol TCP
                real_server 10.0.0.2 80 {
                    weight 1
                }
            }

            """)
        #expect(run(["-t", "-f", conf, "--config-test=/dev/null"]) == 0)
        #expect(run(["--config-test=/dev/null", "-f", conf + ".missing"]) == 3)
    }

    @Test("-f is refused with a clear message until lvsd runs keepalived configurations")
    func runNotYet() throws {
        let conf = try temporaryFile("x.conf", "")
        #expect(run(["-n", "-f", conf]) == 1)
    }
}
