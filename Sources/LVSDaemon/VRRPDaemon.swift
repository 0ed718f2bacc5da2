// VRRP inside lvsd: the keepalived configuration's instances run as a service, reloaded on SIGHUP.
import Glibc
import KeepalivedConfig
import LVSHealthCheckLinux
import LVSPlatform
import LVSVRRPLinux
import Logging
import ServiceLifecycle
import Synchronization

/// An SMTP alert of a VRRP transition, as keepalived words it (`vrrp_smtp_notifier`,
/// `vrrp_sync_smtp_notifier`, `smtp_alert` subjects): the same mail as a checker's alert.
public typealias VRRPAlert = AlertMail

extension VRRPAlert {
    /// The alert for `t`, or nil when keepalived sends none (INIT; FAULT with `no_email_faults`).
    public static func make(for t: VRRPTransition, routerID: String, noEmailFaults: Bool) -> VRRPAlert? {
        if t.to == .fault && noEmailFaults { return nil }
        // "Entering MASTER state" / "Stopping"; a group's body names the state the same way.
        let what: String
        let groupState: String
        switch t.to {
        case .master, .backup, .fault: (what, groupState) = ("Entering \(t.to) state", "in \(t.to) state")
        case .stop: (what, groupState) = ("Stopping", "stopping")
        case .initialize: return nil
        }
        switch t.subject {
        case .instance(let n):
            let body =
                switch t.to {
                case .master: "=> VRRP Instance is now owning VRRP VIPs <="
                case .stop: "=> VRRP Instance stopping <="
                default: "=> VRRP Instance is no longer owning VRRP VIPs <="
                }
            return VRRPAlert(subject: "[\(routerID)] VRRP Instance \(n) - \(what)", body: body)
        case .group(let n):
            return VRRPAlert(
                subject: "[\(routerID)] VRRP Group \(n) - \(what)",
                body: "=> All VRRP group instances are now \(groupState) <=")
        }
    }
}

/// Decides which transitions are mailed: only instances and groups with `smtp_alert` in force,
/// and only when the state differs from the last one mailed (keepalived's `last_email_state`).
struct VRRPAlertFilter: Sendable {
    private var lastMailed: [VRRPTransition.Subject: VRRPState] = [:]

    mutating func alert(for t: VRRPTransition, setup: VRRPSetup) -> VRRPAlert? {
        switch t.subject {
        case .instance(let n): guard setup.alertingInstances.contains(n) else { return nil }
        case .group(let n): guard setup.alertingGroups.contains(n) else { return nil }
        }
        guard lastMailed[t.subject] != t.to,
            let alert = VRRPAlert.make(for: t, routerID: setup.routerID, noEmailFaults: setup.noEmailFaults)
        else { return nil }
        lastMailed[t.subject] = t.to
        return alert
    }
}

/// VRRP in lvsd (`-f FILE` with `vrrp_instance` blocks), keepalived's VRRP process:
///
/// ```
///  configure (before fork) ─▶ VRRPSetup (diagnostics logged)
///  service (after fork): LinuxVRRPAdapters.make ─▶ VRRPService.run ─▶ VIPs via rtnetlink, GARP,
///                        notify scripts, log lines, SMTP alerts (onTransition)
///  SIGHUP: reload(configuration) ─▶ VRRPService.reload (state kept for the same routers)
///  SIGTERM: the service is cancelled ─▶ priority 0 from masters, VIPs removed, notify_stop
/// ```
///
/// A configuration whose VRRP cannot start (an interface that does not exist, a socket refused)
/// is logged; the rest of lvsd keeps running, and the next reload tries again.
public final class VRRPDaemon: @unchecked Sendable {
    /// Sends one alert (the daemon's SMTP client); called on the VRRP service's task, must not block.
    public typealias AlertSender = @Sendable (VRRPAlert) -> Void
    /// Builds the adapters for a setup (LinuxVRRPAdapters in lvsd, fakes in tests).
    public typealias AdapterFactory = @Sendable (VRRPSetup, @escaping @Sendable (String) -> Void) throws -> VRRPAdapters

    private let hostName: String
    private let makeAdapters: AdapterFactory
    /// Where the VRRP service runs (nil: `VRRPExecutor.shared`, a thread of its own, started on
    /// first use — after lvsd forked: a thread started before `fork` does not exist in the child).
    private let executor: ThreadExecutor?
    private let lock = Mutex(())
    private var setup: VRRPSetup?
    private var sendAlert: AlertSender?
    private var service: VRRPService?
    private var filter = VRRPAlertFilter()
    private var wakeUp: AsyncStream<Void>.Continuation?
    private var smtp: SMTPAlertSettings?
    private var alertsInFlight = 0
    /// `waitForAlerts` callers, resumed when `alertsInFlight` comes down to 0 (or at their limit).
    private var alertWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextAlertWaiter = 0
    /// Which virtual addresses the instances own now (the data plane's passive VIPs follow it).
    public let ownership = VRRPAddressOwnership()
    private var transitionObservers: [@Sendable (VRRPTransition) -> Void] = []

    /// `hostName` is the default router_id; `makeAdapters` defaults to the Linux adapters in
    /// lvsd's own network namespace; `executor` is where the VRRP service runs.
    public init(hostName: String, makeAdapters: AdapterFactory? = nil, executor: ThreadExecutor? = nil) {
        self.hostName = hostName
        self.executor = executor
        let keeper = SharedAddressKeeper()
        self.makeAdapters =
            makeAdapters ?? { setup, log in
                var adapters = try LinuxVRRPAdapters.make(for: setup.instances, log: log)
                // The addresses VRRP adds leave the box with lvsd, SIGKILL included.
                if let k = keeper.get(log: log) { adapters.addresses = KeptVIPInstaller(adapters.addresses, keeper: k) }
                return adapters
            }
    }

    /// The host name (`gethostname`), keepalived's default `router_id`.
    public static func systemHostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Replaces the SMTP exchange (to `smtp_server`, for `notification_email`) by `sender`, e.g. to
    /// collect alerts in a test; nil goes back to SMTP.
    public func setAlertSender(_ sender: AlertSender?) { lock.withLock { _ in sendAlert = sender } }

    /// The setup in force (nil before `configure`).
    public var currentSetup: VRRPSetup? { lock.withLock { _ in setup } }

    /// The running VRRP service (nil while none runs), for the status API and metrics.
    public var runningService: VRRPService? { lock.withLock { _ in service } }

    /// Maps the configuration at start (`lvsd -f`, before the service runs) and logs what the
    /// mapping reports.
    public func configure(_ configuration: KeepalivedConfiguration, logger: Logger) {
        let s = VRRPSetup(configuration: configuration, hostName: hostName)
        log(s.diagnostics, logger)
        let mail = SMTPAlertSettings(globalDefs: configuration.globalDefs, hostName: hostName)
        lock.withLock { _ in
            setup = s
            smtp = mail
        }
        ownership.configure(s.instances)
        if !s.isEmpty {
            logger.info("VRRP: \(s.instances.count) instance(s): \(s.instances.map(\.name).joined(separator: ", "))")
        }
    }

    /// SIGHUP with a configuration that parsed: the VRRP part is applied as keepalived reloads.
    /// A VRRP configuration the running service refuses is logged and the running one stays.
    public func reload(_ configuration: KeepalivedConfiguration, logger: Logger) async {
        let s = VRRPSetup(configuration: configuration, hostName: hostName)
        log(s.diagnostics, logger)
        let mail = SMTPAlertSettings(globalDefs: configuration.globalDefs, hostName: hostName)
        let running = lock.withLock { _ in service }
        if let running {
            do {
                try await running.reload(instances: s.instances, scripts: s.scripts, syncGroups: s.syncGroups)
                lock.withLock { _ in
                    setup = s
                    smtp = mail
                }
                ownership.configure(s.instances)
                if let node = await running.snapshot {
                    ownership.replaceStates(
                        Dictionary(node.instances.map { ($0.config.name, $0.state) }, uniquingKeysWith: { a, _ in a }))
                }
            } catch {
                logger.error("VRRP configuration refused, the running VRRP configuration stays: \(error)")
            }
        } else {
            let wake = lock.withLock { _ in
                setup = s
                smtp = mail
                return wakeUp
            }
            ownership.configure(s.instances)
            wake?.yield()
        }
    }

    private func log(_ diagnostics: [Diagnostic], _ logger: Logger) {
        for d in diagnostics {
            if d.severity >= .error { logger.error("\(d.description)") } else { logger.warning("\(d.description)") }
        }
    }

    /// The service for lvsd's service group.
    public func makeService(logger: Logger) -> any Service { VRRPDaemonService(daemon: self, logger: logger) }

    /// Runs VRRP until the task is cancelled (then stops it as keepalived does on SIGTERM);
    /// waits for a reload while there is nothing to run or it could not start.
    public func run(logger: Logger) async {
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        lock.withLock { _ in wakeUp = wake }
        var iterator = wakes.makeAsyncIterator()
        while !Task.isCancelled {
            let current = lock.withLock { _ in setup }
            if let current, !current.isEmpty {
                await runService(current, logger: logger)
                if Task.isCancelled { break }
            }
            // Nothing to run, or it could not start: wait for a reload.
            guard await iterator.next() != nil else { break }
        }
        lock.withLock { _ in wakeUp = nil }
    }

    private func runService(_ s: VRRPSetup, logger: Logger) async {
        let log: @Sendable (String) -> Void = { logger.info("\($0)") }
        let adapters: VRRPAdapters
        do {
            adapters = try makeAdapters(s, log)
        } catch {
            logger.error("VRRP cannot start: \(error) - waiting for a configuration reload")
            return
        }
        let svc = VRRPService(
            instances: s.instances, scripts: s.scripts, syncGroups: s.syncGroups, adapters: adapters,
            onTransition: { [weak self] t in self?.transitioned(t, logger: logger) },
            executor: executor ?? VRRPExecutor.shared)
        lock.withLock { _ in service = svc }
        do {
            try await svc.run()
        } catch {
            logger.error("VRRP cannot start: \(error) - waiting for a configuration reload")
        }
        adapters.interfaces.close()
        lock.withLock { _ in service = nil }
    }

    /// Registers `observer`, called on VRRP's thread for every transition (connection sync follows
    /// its instance's state with it).
    public func addTransitionObserver(_ observer: @escaping @Sendable (VRRPTransition) -> Void) {
        lock.withLock { _ in transitionObservers.append(observer) }
    }

    /// Holds instance `instance`'s preemption for `duration` (nil lets go), if VRRP runs.
    public func holdPreemption(instance: String, for duration: Duration?) {
        guard let svc = lock.withLock({ _ in service }) else { return }
        Task { await svc.holdPreemption(instance: instance, for: duration) }
    }

    private func transitioned(_ t: VRRPTransition, logger: Logger) {
        // First: a new MASTER intercepts its VIPs' services before the VIPs are added.
        if case .instance(let name) = t.subject {
            ownership.update(instance: name, state: t.to)
            VRRPMetricsEvents.transitioned(instance: name, to: t.to)
        }
        for o in lock.withLock({ _ in transitionObservers }) { o(t) }
        let (alert, sender, smtp) = lock.withLock { _ -> (VRRPAlert?, AlertSender?, SMTPAlertSettings?) in
            guard let s = setup else { return (nil, nil, nil) }
            return (filter.alert(for: t, setup: s), sendAlert, self.smtp)
        }
        guard let alert else { return }
        if let sender {
            sender(alert)
        } else if let smtp {
            // keepalived's SMTP exchange, on a thread of its own (it blocks for up to the timeouts).
            lock.withLock { _ in alertsInFlight += 1 }
            let started = PlatformThread.detach(name: "lvsd-smtp") { [self] in
                if let problem = SMTPAlertClient.send(alert, settings: smtp) {
                    logger.error("\(problem)")
                } else {
                    logger.info("SMTP alert successfully sent.")
                }
                alertDone()
            }
            if !started {
                alertDone()
                logger.error("SMTP alert not sent: no thread to send it")
            }
        }
    }
}

extension VRRPDaemon {
    /// Waits until the SMTP alerts being sent are done (the "Stopping" ones at shutdown), for at
    /// most `limit`.
    public func waitForAlerts(limit: Duration) async {
        var timer: Task<Void, Never>?
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let id = lock.withLock { _ -> Int? in
                guard alertsInFlight > 0 else { return nil }
                nextAlertWaiter += 1
                alertWaiters[nextAlertWaiter] = waiter
                return nextAlertWaiter
            }
            guard let id else { return waiter.resume() }
            // Not a child task: the wait lasts its limit even when the caller is being cancelled.
            timer = Task { [self] in
                try? await Task.sleep(for: limit)
                lock.withLock { _ in alertWaiters.removeValue(forKey: id) }?.resume()
            }
        }
        timer?.cancel()
    }

    /// One SMTP alert is done; the last one resumes `waitForAlerts`.
    private func alertDone() {
        let waiters = lock.withLock { _ -> [CheckedContinuation<Void, Never>] in
            alertsInFlight -= 1
            guard alertsInFlight == 0 else { return [] }
            defer { alertWaiters = [:] }
            return Array(alertWaiters.values)
        }
        for w in waiters { w.resume() }
    }
}

/// Runs `VRRPDaemon` in lvsd's service group until SIGTERM/SIGINT, then stops it cleanly.
struct VRRPDaemonService: Service {
    let daemon: VRRPDaemon
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            // On VRRP's own thread from the first job: nothing else in lvsd can delay its timers.
            group.addTask(executorPreference: VRRPExecutor.shared) { await daemon.run(logger: logger) }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // The transitions to STOP have queued their alerts; give them a few seconds to go out.
        await daemon.waitForAlerts(limit: .seconds(5))
    }
}
