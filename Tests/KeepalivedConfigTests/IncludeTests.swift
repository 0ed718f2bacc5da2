// include / includer / includem / includew / includeb / includea, with globs, on fake and real disks.
import Glibc
import KeepalivedConfig
import Testing

@Suite("include through the in-memory file system")
struct IncludeFakeFileSystemTests {
    static let main = "/etc/keepalived/keepalived.conf"

    static func fileSystem(_ mainText: String, _ others: [String: String] = [:]) -> InMemoryConfigFileSystem {
        var files = others
        files[main] = mainText
        return InMemoryConfigFileSystem(files)
    }

    static func run(_ fs: InMemoryConfigFileSystem) -> ConfigCheckResult {
        KeepalivedConfigLoader.check(file: main, fileSystem: fs)
    }

    @Test("K:keepalived.conf(5): include globs resolve against the including file's directory, in sorted order")
    func relativeGlob() {
        let fs = Self.fileSystem(
            "global_defs {\n router_id r1\n}\ninclude conf.d/*.conf\n",
            [
                "/etc/keepalived/conf.d/20-b.conf": "vrrp_script chk_b {\n script /bin/true\n}\n",
                "/etc/keepalived/conf.d/10-a.conf": "vrrp_script chk_a {\n script /bin/true\n}\n",
                "/etc/keepalived/conf.d/sub/30-c.conf": "vrrp_script chk_c {\n script /bin/true\n}\n",
                "/etc/keepalived/conf.d/notes.txt": "garbage",
            ])
        let r = Self.run(fs)
        #expect(r.configuration.vrrpScripts.map(\.name) == ["chk_a", "chk_b"])
        #expect(
            r.configuration.files == [
                Self.main, "/etc/keepalived/conf.d/10-a.conf", "/etc/keepalived/conf.d/20-b.conf",
            ])
    }

    @Test(
        "K:keepalived.conf(5): csh braces {a,b} expand, alternatives in order; nested includes are relative to their own file"
    )
    func bracesAndNesting() {
        let fs = Self.fileSystem(
            "include parts/{vs,vrrp}.conf\n",
            [
                "/etc/keepalived/parts/vrrp.conf": "vrrp_script s2 {\n script /bin/true\n}\n",
                "/etc/keepalived/parts/vs.conf": "include ../parts/./more/s1.conf\n",
                "/etc/keepalived/parts/more/s1.conf": "vrrp_script s1 {\n script /bin/true\n}\n",
            ])
        let r = Self.run(fs)
        #expect(r.configuration.vrrpScripts.map(\.name) == ["s1", "s2"])
        #expect(r.diagnostics.filter { $0.severity >= .warning }.isEmpty)
    }

    @Test("Problems in an included file are reported with that file's path and line")
    func locationsInIncludedFile() {
        let fs = Self.fileSystem(
            "include vrrp.conf\nglobal_defs {\n routr_id x\n}\n",
            ["/etc/keepalived/vrrp.conf": "vrrp_instance VI_1 {\n  state MASTER\n  priorty 100\n}\n"])
        let r = Self.run(fs)
        #expect(
            messages(r, atLeast: .error) == [
                "/etc/keepalived/keepalived.conf:3: unknown keyword 'routr_id' in global_defs; did you mean 'router_id'?",
                "/etc/keepalived/vrrp.conf:1: (VI_1) the virtual router id (virtual_router_id) must be set - ignoring the instance",
                "/etc/keepalived/vrrp.conf:3: unknown keyword 'priorty' in vrrp_instance; did you mean 'priority'?",
            ])
    }

    @Test("An include inside a block contributes lines to that block")
    func includeInsideBlock() {
        let fs = Self.fileSystem(
            "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n include rs.conf\n}\n",
            ["/etc/keepalived/rs.conf": "real_server 10.0.1.1 80 {\n weight 3\n}\n"])
        let vs = Self.run(fs).configuration.virtualServers
        #expect(vs.first?.realServers.map(\.endpoint.description) == ["10.0.1.1:80"])
        #expect(vs.first?.realServers.first?.location == SourceLocation(file: "/etc/keepalived/rs.conf", line: 1))
    }

    @Test("K:parser.c: plain 'include' of a missing file only notes it; the config still runs (exit 0)")
    func plainIncludeMissing() {
        let r = Self.run(Self.fileSystem("include missing.conf\ninclude none/*.conf\n"))
        #expect(
            messages(r) == [
                "/etc/keepalived/keepalived.conf:1: include '/etc/keepalived/missing.conf': No such file or directory",
                "/etc/keepalived/keepalived.conf:2: include '/etc/keepalived/none/*.conf': no files match",
            ])
        #expect(r.exitCode == .ok)
    }

    @Test("K:parser.c check_include: includem fails on a missing file (exit 3); includer only checks matches")
    func strictIncludeMissing() {
        let r = Self.run(Self.fileSystem("includem missing.conf\n"))
        #expect(
            messages(r) == [
                "/etc/keepalived/keepalived.conf:1: include '/etc/keepalived/missing.conf': No such file or directory"
            ])
        #expect(r.exitCode == .cannotRun)
        #expect(!r.canRun)
        #expect(Self.run(Self.fileSystem("includer missing.conf\n")).exitCode == .ok)
    }

    @Test("K:keepalived.conf(5): includem accepts a wildcard matching nothing; includew does not")
    func wildcardChecks() {
        #expect(Self.run(Self.fileSystem("includem conf.d/*.conf\n")).exitCode == .ok)
        let r = Self.run(Self.fileSystem("includew conf.d/*.conf\n"))
        #expect(
            messages(r) == [
                "/etc/keepalived/keepalived.conf:1: include '/etc/keepalived/conf.d/*.conf': no files match"
            ])
        #expect(r.exitCode == .cannotRun)
    }

    @Test("K:keepalived.conf(5): includeb needs every brace alternative to match; includea makes every check")
    func braceChecks() {
        let others = ["/etc/keepalived/a.conf": "global_defs {\n router_id a\n}\n"]
        let loose = Self.run(Self.fileSystem("include {a,b}.conf\n", others))
        #expect(loose.exitCode == .ok)
        #expect(loose.configuration.globalDefs.routerID == "a")
        let strict = Self.run(Self.fileSystem("includeb {a,b}.conf\n", others))
        #expect(
            messages(strict) == [
                "/etc/keepalived/keepalived.conf:1: include '/etc/keepalived/{a,b}.conf': no file matches '/etc/keepalived/b.conf'"
            ])
        #expect(strict.exitCode == .cannotRun)
        #expect(Self.run(Self.fileSystem("includea {a,b}.conf\n", others)).exitCode == .cannotRun)
    }

    @Test("K:parser.c check_glob_file: matched directories and executables are skipped (fatal with includer)")
    func directoriesAndExecutables() {
        var fs = Self.fileSystem(
            "include d*\n",
            ["/etc/keepalived/dir/x.conf": "", "/etc/keepalived/do.sh": "router_id x\n"])
        fs.executables = ["/etc/keepalived/do.sh"]
        #expect(
            messages(Self.run(fs)) == [
                "/etc/keepalived/keepalived.conf:1: include '/etc/keepalived/dir': is a directory - skipping",
                "/etc/keepalived/keepalived.conf:1: include '/etc/keepalived/do.sh': not a regular non-executable file - skipping",
            ])
        var strict = fs
        strict.write(Self.main, "includer d*\n")
        #expect(Self.run(strict).exitCode == .cannotRun)
    }

    @Test("K:global_parser.c include_check: later plain includes make the configured checks")
    func includeCheckKeyword() {
        let r = Self.run(Self.fileSystem("global_defs {\n include_check\n}\ninclude missing.conf\n"))
        #expect(r.exitCode == .cannotRun)
        let relaxed = Self.run(Self.fileSystem("global_defs {\n include_check readable\n}\ninclude missing.conf\n"))
        #expect(relaxed.exitCode == .ok)
    }

    @Test("An include loop is reported instead of recursing")
    func includeLoop() {
        let fs = Self.fileSystem("include a.conf\n", ["/etc/keepalived/a.conf": "include keepalived.conf\n"])
        #expect(
            messages(Self.run(fs)) == [
                "/etc/keepalived/a.conf:1: include loop: '/etc/keepalived/keepalived.conf' is already being read - skipping"
            ])
    }

    @Test("K:main.c: a missing configuration file cannot run (exit 3) and load() refuses it")
    func missingMainFile() {
        let r = KeepalivedConfigLoader.check(file: "/nope/keepalived.conf", fileSystem: InMemoryConfigFileSystem())
        #expect(messages(r) == ["/nope/keepalived.conf: No such file or directory"])
        #expect(r.exitCode == .cannotRun)
        #expect(throws: ConfigLoadError.self) {
            try KeepalivedConfigLoader.load(file: "/nope/keepalived.conf", fileSystem: InMemoryConfigFileSystem())
        }
    }
}

/// A temporary directory for one test, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/swiftlvs-kaconf-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func write(_ relative: String, _ text: String, mode: mode_t = 0o644) {
        let full = path + "/" + relative
        var dir = ""
        for part in relative.split(separator: "/").dropLast() {
            dir += "/" + part
            mkdir(path + dir, 0o755)
        }
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, mode)
        precondition(fd >= 0, "cannot create \(full)")
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        chmod(full, mode)
    }

    deinit { remove(path) }

    private func remove(_ p: String) {
        if let d = opendir(p) {
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                remove(p + "/" + name)
            }
            closedir(d)
            rmdir(p)
        } else {
            unlink(p)
        }
    }
}

@Suite("include on the real disk (LocalConfigFileSystem)")
struct IncludeLocalFileSystemTests {
    @Test("K:parser.c: glob(3) with GLOB_BRACE on a real directory: *, ?, {a,b}, relative to the including file")
    func realGlob() {
        let dir = TemporaryDirectory()
        dir.write(
            "keepalived.conf",
            "global_defs {\n router_id real\n}\ninclude conf.d/*.conf\ninclude extra/{x,y}.conf\ninclude extra/z?.conf\n"
        )
        dir.write("conf.d/b.conf", "vrrp_script b {\n script /bin/true\n}\n")
        dir.write("conf.d/a.conf", "vrrp_script a {\n script /bin/true\n}\n")
        dir.write("conf.d/run.conf", "vrrp_script exec {\n script /bin/true\n}\n", mode: 0o755)
        dir.write("extra/y.conf", "vrrp_script y {\n script /bin/true\n}\n")
        dir.write("extra/x.conf", "include ../nested/n.conf\n")
        dir.write("nested/n.conf", "vrrp_script n {\n script /bin/true\n}\n")
        dir.write("extra/z1.conf", "vrrp_script z1 {\n script /bin/true\n}\n")
        let r = KeepalivedConfigLoader.check(file: dir.path + "/keepalived.conf", fileSystem: LocalConfigFileSystem())
        #expect(r.configuration.globalDefs.routerID == "real")
        #expect(r.configuration.vrrpScripts.map(\.name) == ["a", "b", "n", "y", "z1"])
        #expect(
            messages(r, atLeast: .note).filter { !$0.contains("enable_script_security") } == [
                "\(dir.path)/keepalived.conf:4: include '\(dir.path)/conf.d/run.conf': not a regular non-executable file - skipping"
            ])
    }

    @Test("A real file's bytes, CRLF and UTF-8 comments included, read as on the fake")
    func realFileMatchesFake() {
        let dir = TemporaryDirectory()
        let text = "global_defs {\r\n  router_id 路由器 # 注释\r\n}\r\n"
        dir.write("k.conf", text)
        let real = KeepalivedConfigLoader.check(file: dir.path + "/k.conf", fileSystem: LocalConfigFileSystem())
        let fake = KeepalivedConfigLoader.check(text: text)
        #expect(real.configuration.globalDefs.routerID == "路由器")
        #expect(real.configuration.globalDefs.routerID == fake.configuration.globalDefs.routerID)
        let missing = KeepalivedConfigLoader.check(file: dir.path + "/absent.conf")
        #expect(messages(missing) == ["\(dir.path)/absent.conf: No such file or directory"])
    }
}
