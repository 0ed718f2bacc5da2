// Drives a HealthCheckEngine with a fake clock, fake probes and a fake IPVS table.
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSTestSupport
import Testing

/// The IPVS table as `ipvsadm -Ln` would show it: services, and each one's real servers with
/// their weights. Commands are applied with keepalived's tolerance (EEXIST on add and ENOENT on
/// delete are ignored; an edit of a missing server adds it).
struct FakeIPVSTable {
    var services: [ServiceKey: VirtualServiceSpec] = [:]
    var servers: [ServiceKey: [Endpoint: Int32]] = [:]
    var timeouts: IPVSTimeouts?
    var flushes = 0
    var serviceEdits = 0
    var serviceAdds = 0
    var serviceDeletes = 0

    mutating func apply(_ c: IPVSCommand) {
        switch c {
        case .flush:
            services = [:]
            servers = [:]
            flushes += 1
        case .setTimeouts(let t): timeouts = t
        case .addService(let s):
            serviceAdds += 1
            if services[s.key] == nil {
                services[s.key] = s
                servers[s.key] = [:]
            }
        case .editService(let s):
            serviceEdits += 1
            services[s.key] = s
        case .deleteService(let k):
            serviceDeletes += 1
            services[k] = nil
            servers[k] = nil
        case .addRealServer(let r, let k):
            if servers[k] != nil, servers[k]![r.endpoint] == nil { servers[k]![r.endpoint] = r.weight }
        case .editRealServer(let r, let k):
            if servers[k] != nil { servers[k]![r.endpoint] = r.weight }
        case .deleteRealServer(let e, let k):
            servers[k]?[e] = nil
        }
    }

    /// The weight of `rs` in the only (or given) service, nil when not listed.
    func weight(_ rs: String, port: UInt16 = 80, in key: ServiceKey? = nil) -> Int32? {
        let k = key ?? services.keys.sorted().first!
        return servers[k]?[Endpoint(IPAddress(rs)!, port)]
    }

    func listed(_ key: ServiceKey? = nil) -> Set<String> {
        let k = key ?? services.keys.sorted().first!
        return Set((servers[k] ?? [:]).keys.map { "\($0.address)" })
    }
}

/// A test driver: starts the engine, steps the fake clock from deadline to deadline, answers
/// each probe at once from `answer`, and records everything the engine asked for.
struct EngineHarness {
    var engine: HealthCheckEngine
    let clock = FakeClock()
    var table = FakeIPVSTable()
    var answer: (ProbeRequest) -> ProbeOutcome
    /// Probes waiting for an answer (when `manual` is set).
    var manual = false
    var waiting: [(CheckerID, ProbeRequest)] = []
    var probes: [(at: Timestamp, id: CheckerID, request: ProbeRequest)] = []
    var scripts: [(at: Timestamp, script: NotifyScript)] = []
    var fifo: [String] = []
    var mails: [AlertMail] = []
    var logs: [String] = []
    var ipvsCommands: [IPVSCommand] = []

    init(
        _ text: String, random: Double = 0, localAddresses: Set<IPAddress> = [],
        answer: @escaping (ProbeRequest) -> ProbeOutcome = { _ in .passed }
    ) {
        let result = KeepalivedConfigLoader.check(text: text)
        engine = HealthCheckEngine(
            configuration: result.configuration, hostName: "director", random: FixedHealthCheckRandom(random),
            localAddresses: localAddresses)
        self.answer = answer
    }

    var now: Timestamp { clock.now() }

    mutating func record(_ actions: [HealthCheckAction]) {
        for a in actions {
            switch a {
            case .ipvs(let c):
                ipvsCommands.append(c)
                table.apply(c)
            case .probe(let id, let r):
                probes.append((now, id, r))
                if manual {
                    waiting.append((id, r))
                } else {
                    let outcome = answer(r)
                    record(engine.handle(.probeFinished(id, outcome), now: now))
                }
            case .runScript(let s): scripts.append((now, s))
            case .writeFIFO(let l): fifo.append(l)
            case .sendMail(let m): mails.append(m)
            case .log(let l): logs.append(l)
            }
        }
    }

    mutating func start() { record(engine.start(now: now)) }

    /// Steps through every deadline up to `seconds` after the origin.
    mutating func run(until seconds: Double) {
        let end = Timestamp.seconds(seconds)
        while let d = engine.nextDeadline, d <= end {
            if d > now { clock.advance(by: d - now) }
            record(engine.advance(to: now))
        }
        if end > now { clock.advance(by: end - now) }
    }

    /// Answers the waiting probes.
    mutating func answerWaiting(_ outcome: (ProbeRequest) -> ProbeOutcome) {
        let w = waiting
        waiting = []
        for (id, r) in w { record(engine.handle(.probeFinished(id, outcome(r)), now: now)) }
    }

    mutating func reload(_ text: String) {
        let result = KeepalivedConfigLoader.check(text: text)
        record(engine.reload(result.configuration, now: now))
    }

    mutating func stop() { record(engine.stop(now: now)) }

    /// Times (seconds) at which probes went to `address`.
    func probeTimes(_ address: String) -> [Double] {
        probes.filter { "\($0.request.destination.address)" == address }.map { Double($0.at.nanoseconds) / 1e9 }
    }

    func scriptNames() -> [String] { scripts.map { $0.script.arguments.joined(separator: " ") } }
}

/// A switchable set of healthy addresses for probe answers.
final class Health: @unchecked Sendable {
    var down: Set<String> = []
    var exitCodes: [String: Int] = [:]
    func answer(_ r: ProbeRequest) -> ProbeOutcome {
        let a = "\(r.destination.address)"
        if case .misc = r.checker.kind { return .exited(exitCodes[a] ?? (down.contains(a) ? 1 : 0)) }
        return down.contains(a) ? .failed("connection refused") : .passed
    }
}
