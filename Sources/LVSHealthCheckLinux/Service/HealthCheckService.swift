// The health-check driver: runs the engine on its clock with real (or fake) probes and notifications.
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSPlatform

/// getifaddrs(3).
public struct SystemLocalAddresses: LocalAddressSource {
    public init() {}
    public func current() -> Set<IPAddress> {
        var out = Set<IPAddress>()
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return out }
        defer { freeifaddrs(list) }
        var p = list
        while let ifa = p {
            if let sa = ifa.pointee.ifa_addr {
                if Int32(sa.pointee.sa_family) == AF_INET {
                    let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        IPv4Address(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
                    }
                    out.insert(.v4(a))
                } else if Int32(sa.pointee.sa_family) == AF_INET6 {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        var a = $0.pointee.sin6_addr
                        var buf = [CChar](repeating: 0, count: 64)
                        inet_ntop(AF_INET6, &a, &buf, 64)
                        if let ip = IPAddress(stringFromCBuffer(buf)) { out.insert(ip) }
                    }
                }
            }
            p = ifa.pointee.ifa_next
        }
        return out
    }
}

/// Runs a `HealthCheckEngine` until cancelled:
///
/// ```
///  clock ─► engine.advance ─► .probe ─► Task { probe.run } ─► engine.handle(.probeFinished)
///                          ─► .ipvs ─► target.apply         (the daemon's IPVS table)
///                          ─► .runScript / .writeFIFO / .sendMail ─► notifier (never waits)
///  reload(config) ─► engine.reload ─► the difference only
///  cancellation ─► engine.stop ─► removals, omega notifies
/// ```
public actor HealthCheckService {
    private var engine: HealthCheckEngine
    private let target: any HealthCheckIPVSTarget
    private let probe: any HealthProbe
    private var notifier: any HealthCheckNotifier
    private let clock: any LVSSleepingClock
    /// Where the probes' tasks start (nil: the shared pool; tests: their `VirtualTime`'s).
    private let executor: (any TaskExecutor)?
    private let log: @Sendable (String) -> Void
    private let addressSource: (any LocalAddressSource)?
    private let hostName: String
    private var knownAddresses: Set<IPAddress> = []
    private var probesInFlight = 0
    private var running = false
    private var pendingActions: [HealthCheckAction] = []
    /// Told every virtual server's quorum (by service key) at start and on each change.
    private let quorumObserver: (@Sendable ([ServiceKey: Bool]) -> Void)?
    private var lastQuorum: [ServiceKey: Bool]?

    /// How often the loop looks at the clock (checks are due at most this late).
    public static let tick: Duration = .milliseconds(20)
    /// How often `ha_suspend` re-reads the local addresses.
    public static let addressPollInterval: Duration = .seconds(1)

    /// - Parameters:
    ///   - notifier: nil builds a `SystemNotifier` from `global_defs`.
    ///   - addressSource: where `ha_suspend` learns the local addresses (polled once a second).
    public init(
        configuration: KeepalivedConfiguration, target: any HealthCheckIPVSTarget,
        probe: any HealthProbe = LinuxHealthProbe(), notifier: (any HealthCheckNotifier)? = nil,
        clock: any LVSSleepingClock = MonotonicClock(), hostName: String = HealthCheckService.hostName(),
        random: any HealthCheckRandom = SystemHealthCheckRandom(),
        addressSource: (any LocalAddressSource)? = SystemLocalAddresses(), executor: (any TaskExecutor)? = nil,
        log: @escaping @Sendable (String) -> Void
    ) {
        let addresses = addressSource?.current() ?? []
        quorumObserver = nil
        engine = HealthCheckEngine(
            configuration: configuration, hostName: hostName, random: random, localAddresses: addresses)
        knownAddresses = addresses
        self.target = target
        self.probe = probe
        self.notifier = notifier ?? SystemNotifier(globalDefs: configuration.globalDefs, hostName: hostName, log: log)
        self.clock = clock
        self.executor = executor
        self.hostName = hostName
        self.addressSource = addressSource
        self.log = log
    }

    /// Takes over an engine already started (the daemon starts it before forking, so the
    /// table is complete when `lvsd -f` returns) and the actions of its start that were not
    /// carried out yet (scripts, FIFO lines, alerts, log lines).
    public init(
        startedEngine: HealthCheckEngine, pendingActions: [HealthCheckAction], target: any HealthCheckIPVSTarget,
        probe: any HealthProbe = LinuxHealthProbe(), notifier: (any HealthCheckNotifier)? = nil,
        clock: any LVSSleepingClock = MonotonicClock(), hostName: String = HealthCheckService.hostName(),
        addressSource: (any LocalAddressSource)? = SystemLocalAddresses(), executor: (any TaskExecutor)? = nil,
        quorumObserver: (@Sendable ([ServiceKey: Bool]) -> Void)? = nil, log: @escaping @Sendable (String) -> Void
    ) {
        self.quorumObserver = quorumObserver
        engine = startedEngine
        self.pendingActions = pendingActions
        knownAddresses = addressSource?.current() ?? []
        self.target = target
        self.probe = probe
        self.notifier =
            notifier ?? SystemNotifier(globalDefs: startedEngine.configuration.globalDefs, hostName: hostName, log: log)
        self.clock = clock
        self.executor = executor
        self.hostName = hostName
        self.addressSource = addressSource
        self.log = log
    }

    /// The short host name (keepalived's default `router_id`).
    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        let name = stringFromCBuffer(buf)
        return String(name.split(separator: ".").first ?? Substring(name))
    }

    /// Runs until the calling task is cancelled, then stops the checks and clears the
    /// services as keepalived does on SIGTERM.
    public func run() async {
        running = true
        if engine.isStarted {
            perform(pendingActions)
            pendingActions = []
        } else {
            perform(engine.start(now: clock.now()))
        }
        publishQuorum()
        var lastAddressPoll = clock.now()
        while !Task.isCancelled {
            perform(engine.advance(to: clock.now()))
            if let source = addressSource, clock.now() - lastAddressPoll >= Self.addressPollInterval,
                engine.configuration.virtualServers.contains(where: \.haSuspend)
            {
                lastAddressPoll = clock.now()
                let now = source.current()
                for a in now.subtracting(knownAddresses) {
                    perform(engine.handle(.localAddress(a, present: true), now: clock.now()))
                }
                for a in knownAddresses.subtracting(now) {
                    perform(engine.handle(.localAddress(a, present: false), now: clock.now()))
                }
                knownAddresses = now
            }
            var wait = Self.tick
            if let d = engine.nextDeadline {
                let left = d - clock.now()
                if left < wait { wait = max(left, .milliseconds(1)) }
            }
            try? await clock.sleep(for: wait)
        }
        perform(engine.stop(now: clock.now()))
        running = false
    }

    /// Applies a new configuration (SIGHUP): only the difference reaches IPVS.
    public func reload(_ configuration: KeepalivedConfiguration) {
        if configuration.globalDefs != engine.configuration.globalDefs {
            notifier = SystemNotifier(globalDefs: configuration.globalDefs, hostName: hostName, log: log)
        }
        perform(engine.reload(configuration, now: clock.now()))
        publishQuorum()
    }

    /// The quorum of every virtual server by service key (a virtual_server_group's keys share it).
    public var quorum: [ServiceKey: Bool] {
        var out: [ServiceKey: Bool] = [:]
        for v in 0..<engine.virtualServerCount {
            let up = engine.quorumUp(virtualServer: v)
            for k in engine.serviceKeys(ofVirtualServer: v) { out[k] = (out[k] ?? false) || up }
        }
        return out
    }

    /// Tells the observer the quorum if it changed.
    private func publishQuorum() {
        guard let quorumObserver else { return }
        let q = quorum
        guard q != lastQuorum else { return }
        lastQuorum = q
        quorumObserver(q)
    }

    /// The state of every real server, per virtual server.
    public func status() -> [[RealServerStatus]] {
        (0..<engine.virtualServerCount).map { v in
            (0..<engine.configuration.virtualServers[v].realServers.count).map {
                engine.realServerStatus(virtualServer: v, realServer: $0)
            }
        }
    }

    /// The running configuration.
    public var configuration: KeepalivedConfiguration { engine.configuration }

    private func finished(_ id: CheckerID, _ outcome: ProbeOutcome) {
        probesInFlight -= 1
        perform(engine.handle(.probeFinished(id, outcome), now: clock.now()))
    }

    private func perform(_ actions: [HealthCheckAction]) {
        var batch: [IPVSCommand] = []
        func flushBatch() {
            if batch.isEmpty { return }
            for problem in target.apply(batch) { log(problem) }
            batch = []
        }
        for a in actions {
            switch a {
            case .ipvs(let c): batch.append(c)
            case .probe(let id, let request):
                flushBatch()
                probesInFlight += 1
                let probe = self.probe
                Task(executorPreference: executor) { [weak self] in
                    let outcome = await probe.run(request)
                    await self?.finished(id, outcome)
                }
            case .runScript(let s):
                flushBatch()
                notifier.runScript(s)
            case .writeFIFO(let l):
                flushBatch()
                notifier.writeFIFO(l)
            case .sendMail(let m):
                flushBatch()
                notifier.sendMail(m)
            case .log(let l): log(l)
            }
        }
        flushBatch()
        if !actions.isEmpty { publishQuorum() }
    }
}
