// Review finding 5: with enable_script_security, a script run as root must sit on a path only
// root can change (keepalived's check_security rules).
import Foundation
import LVSPlatform
import Testing

@Suite("script security (finding 5)", .serialized)
struct ScriptSecurityTests {
    /// A root-owned directory tree with a script in it; `body` may loosen it.
    func withTree(_ body: (String, String) throws -> Void) throws {
        let dir = "/tmp/lvsd-sec-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        chmod(dir, 0o755)
        chmod(dir + "/bin", 0o755)
        let script = dir + "/bin/check.sh"
        try "#!/bin/sh\nexit 0\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir, script)
    }

    @Test("K:notify.c check_security: root-owned path, not group/other writable: secure; /tmp's sticky bit is fine")
    func secure() throws {
        guard geteuid() == 0 else { return }
        try withTree { _, script in #expect(ScriptSecurity.check(script) == nil) }
    }

    @Test("a world-writable script, a writable directory, a non-root owner: insecure")
    func insecure() throws {
        guard geteuid() == 0 else { return }
        try withTree { _, script in
            chmod(script, 0o777)
            #expect(ScriptSecurity.check(script)?.reason == "is writable by group or others")
        }
        try withTree { dir, script in
            chmod(dir + "/bin", 0o777)
            #expect(ScriptSecurity.check(script)?.path == dir + "/bin")
        }
        try withTree { _, script in
            chown(script, 65534, 65534)
            #expect(ScriptSecurity.check(script)?.reason == "is owned by uid 65534, not root")
        }
        // A symbolic link is judged by what it points to.
        try withTree { dir, script in
            chmod(script, 0o777)
            symlink(script, dir + "/link.sh")
            #expect(ScriptSecurity.check(dir + "/link.sh") != nil)
        }
    }

    @Test("enable_script_security refuses to run an insecure script as root; as another user it runs; off, it runs")
    func spawnRefuses() throws {
        guard geteuid() == 0 else { return }
        try withTree { _, script in
            chmod(script, 0o777)
            ScriptSecurity.isEnabled = true
            defer { ScriptSecurity.isEnabled = false }
            guard case .failure(.insecure) = ChildProcess.spawn([script], user: nil, group: nil) else {
                Issue.record("an insecure script ran as root")
                return
            }
            if case .success(let pid) = ChildProcess.spawn([script], user: "nobody", group: nil) {
                ChildProcess.reap(pid)
            } else {
                Issue.record("refused as nobody")
            }
            ScriptSecurity.isEnabled = false
            if case .success(let pid) = ChildProcess.spawn([script], user: nil, group: nil) {
                ChildProcess.reap(pid)
            } else {
                Issue.record("refused with security off")
            }
        }
    }
}
