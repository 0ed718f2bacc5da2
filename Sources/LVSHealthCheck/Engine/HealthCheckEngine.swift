// The health-check engine: keepalived's checker scheduler and IPVS logic as a pure state machine.
import KeepalivedConfig
import LVSCore

/// Runs the health checks of a `KeepalivedConfiguration` the way keepalived's checker process
/// does, without doing any I/O: it is stepped by hand (`start`, `advance(to:)`, `handle`,
/// `reload`, `stop`) and answers with `HealthCheckAction`s for a driver to carry out.
///
/// ```
///  advance(to: now) ─► due checkers ─► .probe(id, request) ─► driver runs the probe
///  handle(.probeFinished(id, outcome)) ─► checker epilog (retry / up / down)
///      ─► real server up/down (all checkers must pass) ─► quorum / sorry server
///      ─► .ipvs(add/edit/delete), .runScript, .writeFIFO, .sendMail, .log
/// ```
public struct HealthCheckEngine: Sendable {
    /// The running configuration.
    public internal(set) var configuration: KeepalivedConfiguration
    var virtualServers: [VirtualServerRuntime] = []
    /// Incremented by every reload; probe results of an older generation are dropped.
    public internal(set) var generation = 0
    let random: any HealthCheckRandom
    let hostName: String
    var localAddresses: Set<IPAddress> = []
    var started = false
    var stopped = false
    var pending: [HealthCheckAction] = []

    /// keepalived's `BOOTSTRAP_DELAY`: checkers first run one second after start, plus warmup.
    public static let bootstrapDelay: Duration = .seconds(1)

    /// Builds the engine for a configuration. `hostName` stands in for `router_id` and the
    /// sender's domain when the configuration names none, as keepalived uses the host name.
    public init(
        configuration: KeepalivedConfiguration, hostName: String = "localhost",
        random: any HealthCheckRandom = SystemHealthCheckRandom(), localAddresses: Set<IPAddress> = []
    ) {
        self.configuration = configuration
        self.hostName = hostName
        self.random = random
        self.localAddresses = localAddresses
        virtualServers = Self.build(configuration)
    }

    // MARK: introspection

    /// True once `start` has run.
    public var isStarted: Bool { started }

    /// How many virtual servers run.
    public var virtualServerCount: Int { virtualServers.count }

    /// The IPVS keys of virtual server `vs`.
    public func serviceKeys(ofVirtualServer vs: Int) -> [ServiceKey] { virtualServers[vs].keys }

    /// The state of real server `rs` of virtual server `vs`.
    public func realServerStatus(virtualServer vs: Int, realServer rs: Int) -> RealServerStatus {
        let d = virtualServers[vs].realServers[rs]
        return RealServerStatus(
            endpoint: d.endpoint, alive: d.alive, listed: d.set, weight: realWeight(d.effectiveWeight),
            failedCheckers: d.failedCheckers, checkersUp: d.checkers.map(\.isUp))
    }

    /// True while virtual server `vs` has its quorum.
    public func quorumUp(virtualServer vs: Int) -> Bool { virtualServers[vs].quorumUp }

    /// True while the sorry server of `vs` is in service.
    public func sorryServerActive(virtualServer vs: Int) -> Bool { virtualServers[vs].sorry?.alive ?? false }

    /// The IDs of every checker, in configuration order.
    public var checkerIDs: [CheckerID] {
        var ids: [CheckerID] = []
        for (v, vs) in virtualServers.enumerated() {
            for (r, rs) in vs.realServers.enumerated() {
                for c in rs.checkers.indices {
                    ids.append(CheckerID(generation: generation, virtualServer: v, realServer: r, checker: c))
                }
            }
        }
        return ids
    }

    // MARK: building

    static func build(_ configuration: KeepalivedConfiguration) -> [VirtualServerRuntime] {
        let ipvs = configuration.ipvsConfiguration()
        var out: [VirtualServerRuntime] = []
        for (index, vs) in configuration.virtualServers.enumerated() {
            let services = ipvs.services.filter { $0.virtualServerIndex == index }
            var runtime = VirtualServerRuntime(config: vs, services: services.map(\.spec), realServers: [])
            for (j, rs) in vs.realServers.enumerated() {
                let specs = services.map { $0.realServers[j] }
                var d = Destination(
                    specs: specs, endpoint: specs.first?.endpoint ?? rs.endpoint, weight: Int64(rs.weight))
                d.inhibit = rs.inhibitOnFailure
                d.smtpAlert = rs.smtpAlert
                d.notifyUp = rs.notifyUp
                d.notifyDown = rs.notifyDown
                d.checkers = rs.checkers.map { CheckerRuntime(config: $0) }
                runtime.realServers.append(d)
            }
            if let sorry = vs.sorryServer, let specs = Optional(services.compactMap(\.sorryServer)), !specs.isEmpty {
                var d = Destination(specs: specs, endpoint: specs[0].endpoint, weight: 1)
                d.inhibit = sorry.inhibit
                runtime.sorry = d
            }
            out.append(runtime)
        }
        return out
    }

    var routerID: String { configuration.globalDefs.routerID ?? hostName }

    var mailEnabled: Bool {
        !configuration.globalDefs.notificationEmails.isEmpty && configuration.globalDefs.smtpServer != nil
    }

    var noCheckerEmails: Bool {
        configuration.globalDefs.otherSettings.contains { $0.keyword == "no_checker_emails" }
    }

    var rsInitNotifies: Bool {
        configuration.globalDefs.otherSettings.contains { $0.keyword == "rs_init_notifies" }
    }

    mutating func emit(_ a: HealthCheckAction) { pending.append(a) }
    mutating func log(_ s: String) { pending.append(.log(s)) }
    mutating func flushActions() -> [HealthCheckAction] {
        defer { pending = [] }
        return pending
    }

    // MARK: start

    /// Starts: `lvs_flush`, `lvs_timeouts`, the services and their initial real servers
    /// (keepalived `init_services()`), the quorum of each virtual server, and the first run of
    /// every checker after one second plus a random part of its `warmup`.
    public mutating func start(now: Timestamp) -> [HealthCheckAction] {
        guard !started else { return [] }
        started = true
        let g = configuration.globalDefs
        if g.lvsFlush { emit(.ipvs(.flush)) }
        if let t = g.lvsTimeouts, t.tcp != 0 || t.tcpFin != 0 || t.udp != 0 { emit(.ipvs(.setTimeouts(t))) }
        prepareCheckersForStart()
        for v in virtualServers.indices { initService(v) }
        scheduleAll(now: now)
        return flushActions()
    }

    /// keepalived's end of `check_data` processing: alpha checkers start failed, and every
    /// checker's retry counter is preset so the first failure counts at once.
    mutating func prepareCheckersForStart() {
        for v in virtualServers.indices {
            for r in virtualServers[v].realServers.indices {
                for c in virtualServers[v].realServers[r].checkers.indices {
                    var ck = virtualServers[v].realServers[r].checkers[c]
                    if ck.supported && ck.alpha {
                        setCheckerState(&ck, up: false, in: &virtualServers[v].realServers[r])
                    }
                    ck.retryIt = ck.retry
                    virtualServers[v].realServers[r].checkers[c] = ck
                }
            }
        }
    }

    /// Schedules every checker's first run: one second plus `warmup × random`.
    mutating func scheduleAll(now: Timestamp) {
        for v in virtualServers.indices {
            let suspended = isSuspended(v)
            for r in virtualServers[v].realServers.indices {
                for c in virtualServers[v].realServers[r].checkers.indices {
                    var ck = virtualServers[v].realServers[r].checkers[c]
                    ck.enabled = !suspended
                    guard ck.supported else {
                        ck.nextRun = nil
                        virtualServers[v].realServers[r].checkers[c] = ck
                        log(
                            "\(ck.config.kind.keyword) for service \(formatRS(v, r)) is not run by SwiftLVS; it does not change the server's state"
                        )
                        continue
                    }
                    let warmup = Double(ck.config.effective.warmup.microseconds) * random.unitInterval()
                    ck.nextRun = now + Self.bootstrapDelay + .microseconds(Int64(warmup))
                    ck.inFlight = false
                    virtualServers[v].realServers[r].checkers[c] = ck
                    log("Activating healthchecker for service \(formatRS(v, r)) for VS \(formatVS(v))")
                }
            }
        }
    }

    /// `ha_suspend`: the virtual server's checks pause while its address is not local.
    func isSuspended(_ v: Int) -> Bool {
        let vs = virtualServers[v]
        guard vs.config.haSuspend, let a = vs.suspendAddress else { return false }
        return !localAddresses.contains(a)
    }

    // MARK: timers

    /// The earliest time a checker is due, if any.
    public var nextDeadline: Timestamp? {
        var best: Timestamp?
        for vs in virtualServers {
            for rs in vs.realServers {
                for ck in rs.checkers {
                    if let t = ck.nextRun, best.map({ t < $0 }) ?? true { best = t }
                }
            }
        }
        return best
    }

    /// Runs every checker due at or before `now`: a `.probe` for each enabled one; a disabled
    /// (`ha_suspend`) one is simply rescheduled after `delay_loop`.
    public mutating func advance(to now: Timestamp) -> [HealthCheckAction] {
        guard started, !stopped else { return [] }
        for v in virtualServers.indices {
            for r in virtualServers[v].realServers.indices {
                for c in virtualServers[v].realServers[r].checkers.indices {
                    guard let due = virtualServers[v].realServers[r].checkers[c].nextRun, due <= now else { continue }
                    launch(v, r, c, now: now)
                }
            }
        }
        return flushActions()
    }

    mutating func launch(_ v: Int, _ r: Int, _ c: Int, now: Timestamp) {
        var ck = virtualServers[v].realServers[r].checkers[c]
        if !ck.enabled {
            ck.nextRun = now + ck.delayLoop
            virtualServers[v].realServers[r].checkers[c] = ck
            return
        }
        let id = CheckerID(generation: generation, virtualServer: v, realServer: r, checker: c)
        ck.nextRun = nil
        ck.inFlight = true
        ck.startedAt = now
        virtualServers[v].realServers[r].checkers[c] = ck
        // HTTP_GET/SSL_GET with no URL: "enable server w/o checking".
        if ck.style == .perURL && ck.urls.isEmpty {
            checkerFinished(id, .passed, now: now)
        } else {
            emit(.probe(id, probeRequest(v, r, c)))
        }
    }

    /// The probe for a checker's next run.
    func probeRequest(_ v: Int, _ r: Int, _ c: Int) -> ProbeRequest {
        let vs = virtualServers[v]
        let rs = vs.realServers[r]
        let ck = rs.checkers[c]
        let eff = ck.config.effective
        var destination = eff.destination
        if case .smtp = ck.config.kind, destination.port == 0 { destination.port = 25 }
        var request = ProbeRequest(
            checker: ck.config, destination: destination, source: eff.source, timeout: eff.connectTimeout.duration)
        switch ck.config.kind {
        case .http(let h), .ssl(let h):
            let urls = h.urls
            let i = min(ck.urlIndex ?? 0, max(urls.count - 1, 0))
            if !urls.isEmpty { request.url = urls[i] }
            let rsConfig = vs.config.realServers[r]
            request.virtualHost =
                request.url?.virtualhost ?? h.virtualhost ?? rsConfig.virtualhost ?? vs.config.virtualhost
        case .misc(let m):
            request.timeout = (m.timeout ?? eff.delayLoop).duration
            request.scriptUser = m.script?.user ?? configuration.globalDefs.scriptUser
            request.scriptGroup = m.script?.user != nil ? m.script?.group : configuration.globalDefs.scriptGroup
        default: break
        }
        return request
    }

    // MARK: events

    /// Applies one event at `now`.
    public mutating func handle(_ event: HealthCheckEvent, now: Timestamp) -> [HealthCheckAction] {
        guard started, !stopped else { return [] }
        switch event {
        case .probeFinished(let id, let outcome):
            checkerFinished(id, outcome, now: now)
        case .localAddress(let address, let present):
            addressChanged(address, present: present)
        }
        return flushActions()
    }

    mutating func addressChanged(_ address: IPAddress, present: Bool) {
        if present { localAddresses.insert(address) } else { localAddresses.remove(address) }
        for v in virtualServers.indices where virtualServers[v].config.haSuspend {
            guard virtualServers[v].suspendAddress == address else { continue }
            for r in virtualServers[v].realServers.indices {
                for c in virtualServers[v].realServers[r].checkers.indices {
                    let was = virtualServers[v].realServers[r].checkers[c].enabled
                    if was != present {
                        log(
                            "\(present ? "Activating" : "Suspending") healthchecker for service \(formatRS(v, r)) for VS \(formatVS(v))"
                        )
                    }
                    virtualServers[v].realServers[r].checkers[c].enabled = present
                }
            }
        }
    }

    mutating func checkerFinished(_ id: CheckerID, _ outcome: ProbeOutcome, now: Timestamp) {
        guard id.generation == generation, virtualServers.indices.contains(id.virtualServer),
            virtualServers[id.virtualServer].realServers.indices.contains(id.realServer),
            virtualServers[id.virtualServer].realServers[id.realServer].checkers.indices.contains(id.checker),
            virtualServers[id.virtualServer].realServers[id.realServer].checkers[id.checker].inFlight
        else { return }
        let (v, r, c) = (id.virtualServer, id.realServer, id.checker)
        virtualServers[v].realServers[r].checkers[c].inFlight = false
        switch virtualServers[v].realServers[r].checkers[c].style {
        case .retryAlways, .retryWhileUp:
            if virtualServers[v].realServers[r].checkers[c].isMisc {
                miscEpilog(v, r, c, outcome, now: now)
            } else {
                layer4Epilog(v, r, c, outcome, now: now)
            }
        case .perURL:
            httpEpilog(v, r, c, outcome, now: now)
        }
    }
}
