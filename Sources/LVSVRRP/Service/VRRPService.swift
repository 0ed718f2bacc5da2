// The VRRP driver: runs a VRRPNode against real (or fake) adapters on their clock, and reloads it.
import LVSCore

/// A state change of an instance or a sync group, as the driver reports it (for log lines,
/// SMTP alerts and the daemon's own bookkeeping).
public struct VRRPTransition: Hashable, Sendable, CustomStringConvertible {
    /// What changed state.
    public enum Subject: Hashable, Sendable {
        case instance(String)
        case group(String)
    }
    public var subject: Subject
    public var from: VRRPState
    public var to: VRRPState
    /// The instance's effective priority after the change (0 for a group).
    public var priority: UInt8

    public init(subject: Subject, from: VRRPState, to: VRRPState, priority: UInt8) {
        self.subject = subject
        self.from = from
        self.to = to
        self.priority = priority
    }

    /// The instance or group name.
    public var name: String {
        switch subject {
        case .instance(let n), .group(let n): return n
        }
    }

    public var description: String {
        switch subject {
        case .instance(let n): return "VRRP instance \(n): \(from) -> \(to) (priority \(priority))"
        case .group(let n): return "VRRP sync group \(n): \(from) -> \(to)"
        }
    }
}

/// Runs VRRP instances, their scripts and sync groups until cancelled, then stops them the way
/// keepalived does on SIGTERM (priority 0 advert from a master, VIPs removed, notify_stop).
/// `reload` swaps the configuration while running, keeping the state of unchanged instances.
///
/// ```
///  transports ─┐                                   ┌─► transport.send (adverts)
///  link monitor ┼─► events ─► VRRPNode.handle ─► actions ─► VIPInstaller (VIPs)
///  script loops ┤                                   ├─► GARPSender (GARP / NA bursts)
///  timer ───────┘                                   └─► ScriptRunner (notify), log, onTransition
/// ```
public actor VRRPService {
    public private(set) var instances: [VRRPInstanceConfig]
    public private(set) var scripts: [VRRPScriptConfig]
    public private(set) var syncGroups: [VRRPSyncGroupConfig]
    private let adapters: VRRPAdapters
    private let onTransition: (@Sendable (VRRPTransition) -> Void)?
    /// Where the service's jobs run (lvsd: a thread of its own, `VRRPExecutor.shared`; nil: the
    /// calling task's executor and the shared pool).
    private nonisolated let executor: (any TaskExecutor)?
    private var node: VRRPNode?
    private var transports: [VRRPTransportKey: any VRRPTransport] = [:]
    private var readers: [VRRPTransportKey: Task<Void, Never>] = [:]
    private var scriptLoops: [String: (config: VRRPScriptConfig, task: Task<Void, Never>)] = [:]
    private var linkWatcher: Task<Void, Never>?
    private var timerTask: Task<Void, Never>?
    private var continuation: AsyncStream<VRRPNodeEvent>.Continuation?
    private var notifyTasks: [Task<Void, Never>] = []
    /// The state of each instance, as last changed.
    public private(set) var states: [String: VRRPState] = [:]
    /// Every transition so far, in order: (instance, new state).
    public private(set) var transitions: [(String, VRRPState)] = []

    /// Notify scripts are given this long before they are killed.
    public static let notifyTimeout: Duration = .seconds(30)

    public init(
        instances: [VRRPInstanceConfig], scripts: [VRRPScriptConfig] = [], syncGroups: [VRRPSyncGroupConfig] = [],
        adapters: VRRPAdapters, onTransition: (@Sendable (VRRPTransition) -> Void)? = nil,
        executor: (any TaskExecutor)? = nil
    ) {
        self.executor = executor
        self.instances = instances
        self.scripts = scripts
        self.syncGroups = syncGroups
        self.adapters = adapters
        self.onTransition = onTransition
    }

    /// The transport an instance sends and receives on.
    public static func key(for c: VRRPInstanceConfig) -> VRRPTransportKey {
        let group: IPAddress = c.family == .inet ? .v4(c.multicastGroup4) : .v6(c.multicastGroup6)
        return VRRPTransportKey(
            interface: c.interface, family: c.family, unicast: c.isUnicast, group: c.isUnicast ? nil : group)
    }

    /// Runs until the calling task is cancelled; throws if the configuration is refused or a
    /// socket cannot be opened. Everything runs on the service's executor.
    public nonisolated func run() async throws {
        try await withTaskExecutorPreference(executor) { try await self.runOnExecutor() }
    }

    private func runOnExecutor() async throws {
        var n = try VRRPNode(
            instances: instances, sourceAddresses: sourceAddresses(for: instances), scripts: scripts,
            syncGroups: syncGroups)
        do { try openTransports(for: instances) } catch {
            for t in transports.values { t.close() }
            transports = [:]
            throw error
        }
        let (events, cont) = AsyncStream.makeStream(of: VRRPNodeEvent.self)
        continuation = cont
        for k in transports.keys { startReader(k) }
        // keepalived at start-up (not on reload) removes the instances' addresses left on their
        // interfaces, e.g. by a predecessor killed with SIGKILL (vrrp_complete_instance).
        for c in instances {
            for v in c.allInstalledAddresses {
                try? adapters.addresses.remove(v, interface: v.device ?? c.interface ?? "")
            }
        }
        // Initial link states before start.
        let now0 = adapters.clock.now()
        var initial: [VRRPNodeAction] = []
        for name in Self.trackedInterfaces(n).sorted() {
            initial += n.handle(.interfaceState(name: name, up: adapters.interfaces.isUp(name) ?? false), now: now0)
        }
        initial += n.handle(.start, now: now0)
        node = n
        await perform(initial)
        reportGroups(before: [:])
        let changes = adapters.interfaces.changes
        linkWatcher = Task(executorPreference: executor) {
            for await (name, up) in changes { cont.yield(.interfaceState(name: name, up: up)) }
        }
        syncScriptLoops()
        for await e in events {
            if Task.isCancelled { break }
            await step(e)
        }
        await shutdown()
    }

    /// Replaces the configuration while running (SIGHUP), as keepalived reloads: instances that
    /// are the same virtual routers keep their state (see `VRRPNode.reloading`), removed ones are
    /// retired, new ones start. A configuration the node refuses, or a socket that cannot be
    /// opened, throws and leaves the running configuration as it was. Before `run`, it only
    /// replaces the configuration.
    public func reload(
        instances newInstances: [VRRPInstanceConfig], scripts newScripts: [VRRPScriptConfig] = [],
        syncGroups newGroups: [VRRPSyncGroupConfig] = []
    ) async throws {
        guard let old = node, continuation != nil else {
            _ = try VRRPNode(
                instances: newInstances, sourceAddresses: sourceAddresses(for: newInstances), scripts: newScripts,
                syncGroups: newGroups)
            instances = newInstances
            scripts = newScripts
            syncGroups = newGroups
            return
        }
        var linkStates: [String: Bool] = [:]
        for c in newInstances {
            for name in [c.interface].compactMap({ $0 }) + c.trackInterfaces.map(\.name) {
                linkStates[name] = adapters.interfaces.isUp(name) ?? false
            }
        }
        for g in newGroups {
            for t in g.trackInterfaces { linkStates[t.name] = adapters.interfaces.isUp(t.name) ?? false }
        }
        let r = try VRRPNode.reloading(
            old, instances: newInstances, sourceAddresses: sourceAddresses(for: newInstances), scripts: newScripts,
            syncGroups: newGroups, interfaceStates: linkStates, now: adapters.clock.now())
        let before = Set(transports.keys)
        do { try openTransports(for: newInstances) } catch {
            for k in Set(transports.keys).subtracting(before) {
                transports[k]?.close()
                transports[k] = nil
            }
            throw error
        }
        for k in Set(transports.keys).subtracting(before) { startReader(k) }
        let groupsBefore = old.groupStates
        node = r.retired
        await perform(r.retiredActions)
        node = r.node
        instances = newInstances
        scripts = newScripts
        syncGroups = newGroups
        await perform(r.actions)
        reportGroups(before: groupsBefore)
        let used = Set(newInstances.map(Self.key(for:)))
        for k in transports.keys where !used.contains(k) {
            readers[k]?.cancel()
            readers[k] = nil
            transports[k]?.close()
            transports[k] = nil
        }
        for name in states.keys where !newInstances.contains(where: { $0.name == name }) { states[name] = nil }
        syncScriptLoops()
        adapters.log(
            "VRRP configuration reloaded: \(newInstances.count) instance(s), \(r.restored.count) kept their state")
    }

    /// Holds the preemption of instance `instance` for `duration` from now (nil lets go).
    public func holdPreemption(instance: String, for duration: Duration?) {
        let until = duration.map { adapters.clock.now() + $0 }
        continuation?.yield(.holdPreemption(instance: instance, until: until))
    }

    /// Applies one event now.
    private func step(_ e: VRRPNodeEvent) async {
        guard var n = node else { return }
        let groupsBefore = n.groupStates
        let acts = n.handle(e, now: adapters.clock.now())
        node = n
        await perform(acts)
        reportGroups(before: groupsBefore)
    }

    private func shutdown() async {
        timerTask?.cancel()
        continuation?.finish()
        continuation = nil
        linkWatcher?.cancel()
        for t in readers.values { t.cancel() }
        readers = [:]
        for l in scriptLoops.values { l.task.cancel() }
        scriptLoops = [:]
        if var n = node {
            let groupsBefore = n.groupStates
            let acts = n.handle(.stop, now: adapters.clock.now())
            node = n
            await perform(acts)
            reportGroups(before: groupsBefore)
        }
        for t in notifyTasks { await t.value }
        notifyTasks = []
        for t in transports.values { t.close() }
        transports = [:]
    }

    // MARK: - Sockets, readers, script loops

    /// The interface's primary address for each instance without a configured source.
    private func sourceAddresses(for configs: [VRRPInstanceConfig]) -> [String: IPAddress] {
        var sources: [String: IPAddress] = [:]
        for c in configs where c.configuredSourceIP == nil {
            if let i = c.interface, let a = adapters.interfaces.primaryAddress(of: i, family: c.family) {
                sources[c.name] = a
            }
        }
        return sources
    }

    private func openTransports(for configs: [VRRPInstanceConfig]) throws {
        for c in configs {
            let k = Self.key(for: c)
            if transports[k] != nil { continue }
            transports[k] = try adapters.openTransport(k)
        }
    }

    private func startReader(_ k: VRRPTransportKey) {
        guard let t = transports[k], let cont = continuation else { return }
        readers[k]?.cancel()
        readers[k] = Task(executorPreference: executor) {
            for await p in t.packets { cont.yield(.packet(p)) }
        }
    }

    /// Runs one loop per `vrrp_script` an instance tracks; a loop whose script changed restarts.
    private func syncScriptLoops() {
        guard let n = node, let cont = continuation else { return }
        let used = Set(n.instances.flatMap { $0.scriptWeights.keys })
        for (name, loop) in scriptLoops {
            let current = scripts.first { $0.name == name }
            if !used.contains(name) || current != loop.config {
                loop.task.cancel()
                scriptLoops[name] = nil
            }
        }
        for s in scripts where used.contains(s.name) && scriptLoops[s.name] == nil {
            let runner = adapters.scripts
            let clock = adapters.clock
            let task = Task(executorPreference: executor) {
                let argv = ScriptCommand.split(s.script)
                while !Task.isCancelled {
                    let r = await runner.run(argv, timeout: s.effectiveTimeout, user: s.user, group: s.group)
                    if Task.isCancelled { break }
                    cont.yield(.scriptResult(name: s.name, success: r.succeeded))
                    try? await clock.sleep(for: s.interval)
                }
            }
            scriptLoops[s.name] = (s, task)
        }
    }

    static func trackedInterfaces(_ n: VRRPNode) -> Set<String> {
        var tracked = Set<String>()
        for i in n.instances {
            for name in i.interfaceWeights.keys { tracked.insert(name) }
        }
        return tracked
    }

    // MARK: - Actions

    private func reportGroups(before: [String: VRRPState]) {
        guard let onTransition, let n = node else { return }
        for g in n.syncGroups {
            guard let s = n.groupStates[g.name], s != before[g.name] else { continue }
            onTransition(
                VRRPTransition(subject: .group(g.name), from: before[g.name] ?? .initialize, to: s, priority: 0))
        }
    }

    private func perform(_ actions: [VRRPNodeAction]) async {
        for a in actions {
            let cfg = node?.instance(a.instance)?.config
            switch a.action {
            case .log(let line): adapters.log(line)
            case .stateChanged(let from, let to):
                states[a.instance] = to
                transitions.append((a.instance, to))
                onTransition?(
                    VRRPTransition(
                        subject: .instance(a.instance), from: from, to: to,
                        priority: node?.instance(a.instance)?.effectivePriority ?? 0))
            case .sendAdvert(let prio): sendAdvert(a.instance, priority: prio)
            case .addAddresses(let list):
                for v in list {
                    let dev = v.device ?? cfg?.interface ?? ""
                    do { try adapters.addresses.add(v, interface: dev) } catch {
                        adapters.log("(\(a.instance)) \(error.message)")
                    }
                }
            case .removeAddresses(let list):
                for v in list {
                    let dev = v.device ?? cfg?.interface ?? ""
                    do { try adapters.addresses.remove(v, interface: dev) } catch {
                        adapters.log("(\(a.instance)) \(error.message)")
                    }
                }
            case .sendGratuitous(let list, let count):
                for v in list {
                    let dev = v.device ?? cfg?.interface ?? ""
                    do { try adapters.garp.announce(v, interface: dev, count: count) } catch {
                        adapters.log("(\(a.instance)) \(error.message)")
                    }
                }
            case .notify(let inv):
                let runner = adapters.scripts
                let log = adapters.log
                let task = Task(executorPreference: executor) {
                    let r = await runner.run(
                        inv.argv, timeout: Self.notifyTimeout, user: inv.runAs?.user, group: inv.runAs?.group)
                    if !r.succeeded {
                        log("(\(a.instance)) notify script \(inv) failed: exit \(r.exitStatus.map(String.init) ?? "-")")
                    }
                }
                // Stop notifies are awaited before shutdown completes (keepalived waits for them too).
                if inv.kind == .stop || (inv.arguments.count > 2 && inv.arguments[2] == "STOP") {
                    notifyTasks.append(task)
                }
            case .scheduleTimer(let at):
                timerTask?.cancel()
                let clock = adapters.clock
                let cont = continuation
                timerTask = Task(executorPreference: executor) {
                    try? await clock.sleep(until: at)
                    if !Task.isCancelled { cont?.yield(.timer) }
                }
            }
        }
    }

    /// Builds and sends one advert of `instance` to the multicast group or each unicast peer.
    private func sendAdvert(_ name: String, priority: UInt8) {
        guard let inst = node?.instance(name), let t = transports[Self.key(for: inst.config)] else { return }
        let c = inst.config
        let v = c.effectiveVersion
        let interval: UInt16 =
            v == .v2 ? UInt16(c.advertInterval.components.seconds) : UInt16(c.advertInterval / .milliseconds(10))
        let advert = VRRPAdvert(
            version: v, virtualRouterID: c.virtualRouterID, priority: priority,
            addresses: c.advertisedAddresses.map(\.address), interval: interval,
            authType: v == .v2 ? c.authentication.wireType : 0, authData: c.authentication.passwordBytes)
        let group: IPAddress = c.family == .inet ? .v4(c.multicastGroup4) : .v6(c.multicastGroup6)
        let dests = c.isUnicast ? c.unicastPeers.map(\.address) : [group]
        let ttl = c.isUnicast ? c.unicastTTL : VRRPAdvert.requiredTTL
        for d in dests {
            let msg = advert.encoded(source: inst.sourceAddress, destination: d, checksumAsV2: c.v3ChecksumAsV2)
            do { try t.send(msg, source: inst.sourceAddress, destination: d, ttl: ttl) } catch {
                adapters.log("(\(name)) Cant send advert to \(d) (\(error.message))")
            }
        }
    }

    /// A snapshot of the node (for status output and tests).
    public var snapshot: VRRPNode? { node }
}
