// The VRRP driver: runs a VRRPNode against real (or fake) adapters with real timers.
import Foundation
import LVSCore

/// Runs VRRP instances, their scripts and sync groups until cancelled, then stops them the way
/// keepalived does on SIGTERM (priority 0 advert from a master, VIPs removed, notify_stop).
///
/// ```
///  transports ─┐                                   ┌─► transport.send (adverts)
///  link monitor ┼─► events ─► VRRPNode.handle ─► actions ─► AddressManager (VIPs)
///  script loops ┤                                   ├─► GARPSender (GARP / NA bursts)
///  timer ───────┘                                   └─► ScriptRunner (notify), log
/// ```
public actor VRRPService {
    public let instances: [VRRPInstanceConfig]
    public let scripts: [VRRPScriptConfig]
    public let syncGroups: [VRRPSyncGroupConfig]
    private let adapters: VRRPAdapters
    private var node: VRRPNode?
    private var transports: [VRRPTransportKey: any VRRPTransport] = [:]
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
        adapters: VRRPAdapters
    ) {
        self.instances = instances
        self.scripts = scripts
        self.syncGroups = syncGroups
        self.adapters = adapters
    }

    static func key(for c: VRRPInstanceConfig) -> VRRPTransportKey {
        VRRPTransportKey(interface: c.interface, family: c.family, unicast: c.isUnicast)
    }

    /// Runs until the calling task is cancelled; throws if the configuration is refused or a
    /// socket cannot be opened.
    public func run() async throws {
        var sources: [String: IPAddress] = [:]
        for c in instances where c.configuredSourceIP == nil {
            if let i = c.interface, let a = adapters.interfaces.primaryAddress(of: i, family: c.family) {
                sources[c.name] = a
            }
        }
        var n = try VRRPNode(instances: instances, sourceAddresses: sources, scripts: scripts, syncGroups: syncGroups)
        for c in instances {
            let k = Self.key(for: c)
            if transports[k] != nil { continue }
            do { transports[k] = try adapters.openTransport(k) } catch {
                for t in transports.values { t.close() }
                transports = [:]
                throw error
            }
        }
        let (events, cont) = AsyncStream.makeStream(of: VRRPNodeEvent.self)
        continuation = cont
        // Initial link states before start.
        let now0 = adapters.clock.now()
        var tracked = Set<String>()
        for i in n.instances {
            for name in i.interfaceWeights.keys { tracked.insert(name) }
        }
        var initial: [VRRPNodeAction] = []
        for name in tracked.sorted() {
            initial += n.handle(.interfaceState(name: name, up: adapters.interfaces.isUp(name) ?? false), now: now0)
        }
        initial += n.handle(.start, now: now0)
        node = n
        await perform(initial)

        let usedScripts = Set(n.instances.flatMap { $0.scriptWeights.keys })
        await withTaskGroup(of: Void.self) { group in
            for t in transports.values {
                group.addTask {
                    for await p in t.packets { cont.yield(.packet(p)) }
                }
            }
            let changes = adapters.interfaces.changes
            group.addTask {
                for await (name, up) in changes { cont.yield(.interfaceState(name: name, up: up)) }
            }
            for s in scripts where usedScripts.contains(s.name) {
                let runner = adapters.scripts
                group.addTask {
                    let argv = ScriptCommand.split(s.script)
                    while !Task.isCancelled {
                        let r = await runner.run(argv, timeout: s.effectiveTimeout, user: s.user, group: s.group)
                        if Task.isCancelled { break }
                        cont.yield(.scriptResult(name: s.name, success: r.succeeded))
                        try? await Task.sleep(for: s.interval)
                    }
                }
            }
            for await e in events {
                if Task.isCancelled { break }
                await step(e)
            }
            group.cancelAll()
        }
        await shutdown()
    }

    /// Applies one event now.
    private func step(_ e: VRRPNodeEvent) async {
        guard var n = node else { return }
        let acts = n.handle(e, now: adapters.clock.now())
        node = n
        await perform(acts)
    }

    private func shutdown() async {
        timerTask?.cancel()
        continuation?.finish()
        if var n = node {
            let acts = n.handle(.stop, now: adapters.clock.now())
            node = n
            await perform(acts)
        }
        for t in notifyTasks { await t.value }
        notifyTasks = []
        for t in transports.values { t.close() }
        transports = [:]
    }

    private func perform(_ actions: [VRRPNodeAction]) async {
        for a in actions {
            let cfg = node?.instance(a.instance)?.config
            switch a.action {
            case .log(let line): adapters.log(line)
            case .stateChanged(_, let to):
                states[a.instance] = to
                transitions.append((a.instance, to))
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
                let task = Task {
                    let r = await runner.run(inv.argv, timeout: Self.notifyTimeout, user: nil, group: nil)
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
                let now = adapters.clock.now()
                let wait = at > now ? at - now : .zero
                let cont = continuation
                timerTask = Task {
                    try? await Task.sleep(for: wait)
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
