// Bad input never crashes the reader: mangled seeds, stray syntax, runaway repetition.
import KeepalivedConfig
import Testing

/// A deterministic generator so failures reproduce.
private struct Mixer: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 11 | state << 53
    }
}

@Suite("Robustness")
struct RobustnessTests {
    static let seeds = [
        SeedConfigs.seed000Master, SeedConfigs.seed001, SeedConfigs.seed002Master, SeedConfigs.seed003Full,
    ]

    @Test(
        "Mangled seed configs (deleted, duplicated and inserted characters) never crash; every problem has a valid line"
    )
    func mangledSeeds() {
        var rng = Mixer(state: 42)
        let alphabet = Array("{}\"'#!\\$@~()-,./:0123456789abcxyz \t\n\u{A0}路")
        for seed in Self.seeds {
            let chars = Array(seed)
            for _ in 0..<150 {
                var mutated = chars
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    let i = Int.random(in: 0..<max(mutated.count, 1), using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0 where !mutated.isEmpty: mutated.remove(at: i)
                    case 1 where !mutated.isEmpty: mutated.insert(mutated[i], at: i)
                    default: mutated.insert(alphabet.randomElement(using: &rng)!, at: min(i, mutated.count))
                    }
                }
                let text = String(mutated)
                let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
                let r = check(text)
                for d in r.diagnostics {
                    #expect(d.line >= 0 && d.line <= lineCount, "\(d)")
                }
                _ = r.ipvs
            }
        }
    }

    @Test("Pathological inputs are reported, not looped on or crashed by")
    func pathological() {
        let inputs = [
            "}}}}\n{{{{\n", "~SEQ(\n", "~SEQ(i, 1, 100000000) x $i\n",
            "~SEQ(i, 9223372036854775806, 9223372036854775807) y\n",
            "~LST(\n", "~LST(a)\n", "${\n", "$\n", "@\n", "@^\n", "\"\n", "include\n", "$A= \\\nx \\\n$A\n$A\n",
            "virtual_server\n", "virtual_server_group g {\n fwmark\n 1.2.3.4-1.2.3.3\n ::1/200\n}\n",
            "vrrp_instance V {\n virtual_ipaddress {\n brd\n }\n}\n", String(repeating: "global_defs {\n", count: 500),
            "real_server 1.2.3.4 80 {\n weight 1\n}\n", "virtual_server 1.2.3.4 99999 {\n}\n",
        ]
        for text in inputs {
            let r = check(text)
            _ = r.ipvs
            #expect(r.diagnostics.allSatisfy { !$0.message.isEmpty })
        }
        let runaway = check("~SEQ(i, 1, 100000000) x $i\n")
        #expect(
            messages(runaway) == [
                "keepalived.conf:1: ~SEQ would repeat more than 1000000 times '~SEQ(i, 1, 100000000) x $i'"
            ])
        #expect(
            words("~SEQ(i, 9223372036854775806, 9223372036854775807) y $i") == [
                ["y", "9223372036854775806"], ["y", "9223372036854775807"],
            ])
        let selfExpanding = check("$A= \\\nx \\\n$A\n$A\n")
        #expect(selfExpanding.diagnostics.contains { $0.message.hasPrefix("multi-line parameters nested too deeply") })
    }
}
