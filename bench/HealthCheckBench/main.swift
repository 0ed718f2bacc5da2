// health-check-bench: the engine's cost per check result and per reload, with a fake clock.
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheckLinux

/// `vs` virtual servers with `rs` real servers each, one TCP_CHECK per real server.
func configuration(vs: Int, rs: Int) -> String {
    var text = ""
    for v in 0..<vs {
        text +=
            "virtual_server 10.1.\(v / 250).\(v % 250 + 1) 80 {\n delay_loop 6\n lb_algo wrr\n lb_kind DR\n protocol TCP\n"
        for r in 0..<rs {
            text +=
                " real_server 10.2.\(r / 250).\(r % 250 + 1) 80 {\n  weight 1\n  TCP_CHECK {\n   connect_timeout 3\n   retry 1\n  }\n }\n"
        }
        text += "}\n"
    }
    return text
}

func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let sizes = [(10, 10), (100, 10), (100, 50)]
print(
    "| virtual servers × real servers | checkers | start | per check result (advance + handle) | reload (same file) |")
print("|---|---|---|---|---|")
for (vs, rs) in sizes {
    let config = KeepalivedConfigLoader.check(text: configuration(vs: vs, rs: rs)).configuration
    var engine = HealthCheckEngine(configuration: config, hostName: "bench", random: FixedHealthCheckRandom(0.5))
    var t0 = nanoseconds()
    _ = engine.start(now: .zero)
    let startNS = nanoseconds() - t0
    // 20 rounds: every checker runs once per round; a tenth of the servers flap.
    var results = 0
    var now = Timestamp.zero
    t0 = nanoseconds()
    for round in 0..<20 {
        now = now + .seconds(7)
        for a in engine.advance(to: now) {
            guard case .probe(let id, _) = a else { continue }
            let fail = id.realServer % 10 == 0 && round % 2 == 1
            _ = engine.handle(.probeFinished(id, fail ? .failed("refused") : .passed), now: now)
            results += 1
        }
    }
    let perResult = Double(nanoseconds() - t0) / Double(max(results, 1))
    t0 = nanoseconds()
    _ = engine.reload(config, now: now)
    let reloadNS = nanoseconds() - t0
    print(
        "| \(vs) × \(rs) | \(vs * rs) | \(startNS / 1000) µs | \(Int(perResult)) ns | \(reloadNS / 1000) µs |")
}
