// lvsd's `lvs_announce_table N [bird_socket PATH|none]` (global_defs): values, defaults, file:line errors.
import KeepalivedConfig
import Testing

@Suite("lvs_announce_table (lvsd's scale-out extension)")
struct AnnounceTableTests {
    @Test("a table number; BIRD's socket defaults to Debian's /run/bird/bird.ctl")
    func defaults() throws {
        let r = check("global_defs {\n lvs_announce_table 100\n}\n")
        let a = try #require(r.configuration.globalDefs.lvsAnnounce)
        #expect(a.table == 100)
        #expect(a.birdSocket == "/run/bird/bird.ctl")
        #expect(a.location.line == 2)
        #expect(messages(r).isEmpty)
        #expect(r.exitCode == .ok)
    }

    @Test("bird_socket PATH, bird_socket none, the largest table number")
    func socketOption() throws {
        let path = check("global_defs {\n lvs_announce_table 4294967295 bird_socket /tmp/lab/bird.ctl\n}\n")
        #expect(path.configuration.globalDefs.lvsAnnounce?.table == 4_294_967_295)
        #expect(path.configuration.globalDefs.lvsAnnounce?.birdSocket == "/tmp/lab/bird.ctl")
        let none = check("global_defs {\n lvs_announce_table 7 bird_socket none\n}\n")
        let a = try #require(none.configuration.globalDefs.lvsAnnounce)
        #expect(a.table == 7 && a.birdSocket == nil)
        #expect(messages(path).isEmpty && messages(none).isEmpty)
    }

    @Test(
        "values lvsd cannot use are fatal with file:line (lvsd -t exits 3, lvsd -f refuses to start)",
        arguments: [
            (
                "lvs_announce_table 254",
                "keepalived.conf:2: lvs_announce_table 254 is the kernel's 'main' table: choose a table of its own (e.g. 100)"
            ),
            (
                "lvs_announce_table 255",
                "keepalived.conf:2: lvs_announce_table 255 is the kernel's 'local' table: choose a table of its own (e.g. 100)"
            ),
            (
                "lvs_announce_table 253",
                "keepalived.conf:2: lvs_announce_table 253 is the kernel's 'default' table: choose a table of its own (e.g. 100)"
            ),
            (
                "lvs_announce_table 0",
                "keepalived.conf:2: lvs_announce_table 0 is the kernel's 'unspec' table: choose a table of its own (e.g. 100)"
            ),
            (
                "lvs_announce_table main",
                "keepalived.conf:2: lvs_announce_table 'main' is not a routing table number (1-4294967295)"
            ),
            (
                "lvs_announce_table -1",
                "keepalived.conf:2: lvs_announce_table '-1' is not a routing table number (1-4294967295)"
            ),
            (
                "lvs_announce_table 4294967296",
                "keepalived.conf:2: lvs_announce_table '4294967296' is not a routing table number (1-4294967295)"
            ),
            (
                "lvs_announce_table 100 bird /run/bird.ctl",
                "keepalived.conf:2: lvs_announce_table: unexpected 'bird /run/bird.ctl' (expected bird_socket PATH|none)"
            ),
            (
                "lvs_announce_table 100 bird_socket",
                "keepalived.conf:2: lvs_announce_table: unexpected 'bird_socket' (expected bird_socket PATH|none)"
            ),
            (
                "lvs_announce_table 100 bird_socket run/bird.ctl",
                "keepalived.conf:2: lvs_announce_table bird_socket 'run/bird.ctl' is not an absolute path (or 'none')"
            ),
        ])
    func badValues(line: String, message: String) {
        let r = check("global_defs {\n \(line)\n}\n")
        #expect(messages(r) == [message])
        #expect(r.exitCode == .cannotRun)
        #expect(!r.canRun)
        #expect(r.configuration.globalDefs.lvsAnnounce == nil)
    }

    @Test("no value at all is reported by the keyword's arity check")
    func missingValue() {
        let r = check("global_defs {\n lvs_announce_table\n}\n")
        #expect(!messages(r).isEmpty)
        #expect(messages(r).allSatisfy { $0.hasPrefix("keepalived.conf:2: ") })
        #expect(r.configuration.globalDefs.lvsAnnounce == nil)
    }
}
