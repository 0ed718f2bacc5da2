// lvs-sysctl against a real IPVS table through the wire format: procps-ng sysctl 4.0.2's
// syntax, output, messages and exit codes (checked against /usr/sbin/sysctl in a fresh netns).
import IPVSAdmKit
import LVSControl
import LVSCore
import LVSTestSupport
import Testing

final class FakeSysctlFiles: SysctlFiles {
    var texts: [String: String] = [:]
    var proc: [String: String] = ["/proc/sys/net/ipv4/ip_forward": "0\n"]

    func readText(_ path: String) -> Result<String, SysctlErrno> {
        texts[path].map { .success($0) } ?? .failure(.noEntry)
    }
    func readProc(_ path: String) -> Result<String, SysctlErrno> {
        proc[path].map { .success($0) } ?? .failure(.noEntry)
    }
    func writeProc(_ path: String, _ value: String) -> SysctlErrno? {
        guard proc[path] != nil else { return .noEntry }
        guard Int(value) != nil else { return .invalid }
        proc[path] = value + "\n"
        return nil
    }
}

@Suite("lvs-sysctl")
struct LVSSysctlTests {
    let director = InProcessDirector()
    let files = FakeSysctlFiles()

    func run(_ args: [String]) -> (Int32, String, String) {
        let out = CapturedOutput()
        let rc = LVSSysctl(backend: director, files: files, output: out).run(args)
        return (rc, out.stdout, out.stderr)
    }

    @Test("sysctl: read prints 'name = value', -n the value, -N the name; slashes work as dots")
    func reads() {
        #expect(run(["net.ipv4.vs.sloppy_tcp"]) == (0, "net.ipv4.vs.sloppy_tcp = 0\n", ""))
        #expect(run(["-n", "net.ipv4.vs.am_droprate"]) == (0, "10\n", ""))
        #expect(run(["-N", "net.ipv4.vs.am_droprate"]) == (0, "net.ipv4.vs.am_droprate\n", ""))
        #expect(run(["net/ipv4/vs/sync_threshold"]) == (0, "net.ipv4.vs.sync_threshold = 3\t50\n", ""))
        #expect(run(["net.ipv4.ip_forward"]) == (0, "net.ipv4.ip_forward = 0\n", ""))
    }

    @Test("sysctl: -w NAME=VALUE writes and echoes; NAME=VALUE without -w too; -q is silent")
    func writes() {
        #expect(run(["-w", "net.ipv4.vs.sloppy_tcp=1"]) == (0, "net.ipv4.vs.sloppy_tcp = 1\n", ""))
        #expect(director.ipvs.sysctls.sloppyTCP)
        #expect(run(["net.ipv4.vs.drop_entry=3"]) == (0, "net.ipv4.vs.drop_entry = 3\n", ""))
        #expect(director.ipvs.sysctls.dropEntry == 3)
        #expect(run(["-q", "-w", "net.ipv4.vs.secure_tcp=3"]) == (0, "", ""))
        #expect(director.ipvs.sysctls.secureTCP)
        #expect(run(["-w", "net.ipv4.vs.sync_threshold=3 10"]) == (0, "net.ipv4.vs.sync_threshold = 3 10\n", ""))
    }

    @Test("sysctl's messages and exit codes: unknown key, bad value, -e, missing '=', no arguments")
    func errors() {
        #expect(
            run(["net.ipv4.vs.foo"]) == (
                1, "", "lvs-sysctl: cannot stat /proc/sys/net/ipv4/vs/foo: No such file or directory\n"
            ))
        #expect(
            run(["-w", "net.ipv4.vs.drop_entry=7"])
                == (1, "", "lvs-sysctl: setting key \"net.ipv4.vs.drop_entry\": Invalid argument\n"))
        #expect(director.ipvs.sysctls.dropEntry == 0)
        #expect(
            run(["-w", "net.ipv4.vs.sloppy_tcp=abc"])
                == (1, "", "lvs-sysctl: setting key \"net.ipv4.vs.sloppy_tcp\": Invalid argument\n"))
        #expect(run(["-e", "net.ipv4.vs.foo"]) == (0, "", ""))
        #expect(
            run(["-w", "net.ipv4.vs.sloppy_tcp"]) == (
                1, "", "lvs-sysctl: command line(0): invalid syntax, continuing...\n"
            ))
        // procps adds one per failing argument.
        #expect(run(["net.ipv4.vs.foo", "net.ipv4.vs.bar", "net.ipv4.vs.sloppy_tcp"]).0 == 2)
        let none = run([])
        #expect(none.0 == 1 && none.2.hasPrefix("lvs-sysctl: no variables specified\n"))
        director.mayChangeState = false
        #expect(
            run(["-w", "net.ipv4.vs.sloppy_tcp=1"])
                == (1, "", "lvs-sysctl: permission denied on key \"net.ipv4.vs.sloppy_tcp\"\n"))
    }

    @Test("-a lists every knob of lvsd, sorted, as 'net.ipv4.vs.NAME = VALUE'")
    func all() {
        let (rc, out, _) = run(["-a"])
        #expect(rc == 0)
        let lines = out.split(separator: "\n")
        #expect(lines.count == IPVS.knobs.count)
        #expect(lines.contains("net.ipv4.vs.secure_tcp = 0"))
        #expect(lines.contains("net.ipv4.vs.amemthresh = 1024"))
        #expect(lines.map(String.init) == lines.map(String.init).sorted())
    }

    @Test(
        "-p FILE: comments, blank lines, a '-' line's failure ignored, bad lines reported with file(line), other keys to /proc/sys"
    )
    func preload() {
        files.texts["/etc/sysctl.d/90-lvs.conf"] = """
            # director
            ; tuning
            net.ipv4.ip_forward = 1

              net.ipv4.vs.conn_reuse_mode = 0
            net.ipv4.vs.expire_nodest_conn=1
            -net.ipv4.vs.nope = 1
            -net.ipv4.vs.drop_entry = 9
            badline
            net.ipv4.vs.nope2 = 1
            """
        let (rc, out, err) = run(["-p", "/etc/sysctl.d/90-lvs.conf"])
        #expect(rc == 1)
        #expect(
            out == "net.ipv4.ip_forward = 1\nnet.ipv4.vs.conn_reuse_mode = 0\nnet.ipv4.vs.expire_nodest_conn = 1\n")
        #expect(
            err
                == "lvs-sysctl: /etc/sysctl.d/90-lvs.conf(9): invalid syntax, continuing...\n"
                + "lvs-sysctl: cannot stat /proc/sys/net/ipv4/vs/nope2: No such file or directory\n")
        #expect(files.proc["/proc/sys/net/ipv4/ip_forward"] == "1\n")
        #expect(director.ipvs.sysctls.connReuseMode == 0 && director.ipvs.sysctls.expireNodestConn)
        #expect(
            run(["-p", "/missing.conf"]) == (
                1, "", "lvs-sysctl: cannot open \"/missing.conf\": No such file or directory\n"
            ))
        files.texts["/etc/sysctl.conf"] = "net.ipv4.vs.sloppy_tcp = 1\n"
        #expect(run(["-p"]) == (0, "net.ipv4.vs.sloppy_tcp = 1\n", ""))
        #expect(run(["-e", "-p", "/etc/sysctl.d/90-lvs.conf"]).0 == 1)  // the bad line still fails
    }

    @Test("lvsd not running: one clear line, exit 1")
    func unreachable() {
        let s = StaticBackend()
        s.unreachable = IPVSAdmBackendError(
            message: "Can't initialize ipvs: lvsd is not running in this network namespace")
        let out = CapturedOutput()
        let rc = LVSSysctl(backend: s, files: files, output: out).run(["net.ipv4.vs.sloppy_tcp"])
        #expect(rc == 1)
        #expect(out.stderr == "lvs-sysctl: Can't initialize ipvs: lvsd is not running in this network namespace\n")
    }
}
