// Review finding 3: values that once crashed lvsd on SIGHUP are reported with file:line.
import KeepalivedConfig
import Testing

@Suite("Hostile values (finding 3)")
struct HostileValueTests {
    @Test("a digit followed by a combining mark is not a digit: the timer is reported, not a trap")
    func combiningMark() {
        for value in ["1\u{0301}", "3.5\u{0301}", "\u{0661}", "1\u{20DD}0"] {
            let r = check(
                "global_defs {\n}\n" + virtualServer("    delay_loop \(value)\n    real_server 10.0.0.2 80 {\n    }"))
            #expect(messages(r).contains { $0.contains("keepalived.conf:") }, "\(value): \(messages(r))")
            let v = check("vrrp_instance V {\n    advert_int \(value)\n}\n")
            #expect(!messages(v).isEmpty)
        }
    }

    @Test("~SEQ with extreme bounds is an error, not an overflow trap")
    func extremeSequence() {
        for line in [
            "~SEQ(i, 0, -9223372036854775808) x $i", "~SEQ(i, 9223372036854775807, -9223372036854775808) x $i",
            "~SEQ(i, -9223372036854775808, 1, 9223372036854775807) x $i",
            "~SEQ(i, -9223372036854775808) x $i", "~SEQ(i, 0x7fffffffffffffff) x $i",
            "~SEQ(i, -9223372036854775808, -1, 0) x $i",
        ] {
            let r = readLines(line + "\n")
            #expect(r.diagnostics.contains { $0.severity >= .error }, "\(line)")
        }
        // Every combination of extreme bounds and steps: an error or a bounded repetition.
        let extremes = [
            "0", "1", "-1", "2", "9223372036854775807", "-9223372036854775807", "0x7fffffffffffffff",
            "-0x7fffffffffffffff", "4611686018427387904", "-4611686018427387904", "077777777777777777777",
        ]
        for a in extremes {
            for b in extremes {
                _ = readLines("~SEQ(i, \(a), \(b)) x $i\n~SEQx(i, \(a), \(b)) x $i\n")
                for c in extremes { _ = readLines("~SEQ(i, \(a), \(b), \(c)) x $i\n") }
            }
        }
    }
}
