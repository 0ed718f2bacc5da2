// The data plane's lifecycle: port, kernel tables, worker thread, nftables guard, statistics file.
import CLVSLinux
import Glibc
import LVSCore
import LVSPacket
import LVSPlatform
import Synchronization

/// Why the data plane could not start. `code` says what kind; `message` is the line lvsd logs.
public struct DataPlaneError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The kinds of failure.
    public enum Code: String, Hashable, Sendable {
        /// The AF_PACKET socket or its ring could not be set up.
        case packetRing
        /// The rtnetlink socket could not be opened.
        case netlink
        /// An `--interface` names no interface of the namespace.
        case noSuchInterface
        /// The worker's wake descriptor could not be made.
        case wakeDescriptor
        /// The worker thread could not be started.
        case thread
        /// The nftables guard could not be installed (nf_tables netlink refused or missing): the
        /// kernel would answer the virtual services' clients itself.
        case guardTable
        /// `--data-plane xdp` and XDP could not be set up (program, attach, AF_XDP socket).
        case xdp
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// `--data-plane`: how lvsd receives its traffic.
public enum DataPlaneMode: String, Sendable, CaseIterable {
    /// XDP (native) where the driver has it, AF_PACKET + nftables guard elsewhere (lo, bridges).
    case auto
    /// XDP on every attached interface (generic mode where the driver has none); `lo` on AF_PACKET.
    /// lvsd does not start if XDP cannot be set up.
    case xdp
    /// AF_PACKET and the nftables guard everywhere (no XDP).
    case afPacket = "af-packet"
}

/// The director's packet path on Linux: packet workers reading AF_XDP sockets (XDP mode) or
/// AF_PACKET rings, the XDP program's steering and fast path, the nftables guard for interfaces
/// without XDP.
///
/// ```
///  control ──ControlQueue──▶ worker 0 … N−1 (the IPVS table's lock among workers only, once per batch)
///     │ servicesChanged()             ▲ AF_XDP sockets (XDP interfaces' queues) / AF_PACKET ring (lo, others)
///     ├─▶ XDP steering maps (diff)    │ frames the XDP program steers; established flows stay in XDP
///     └─▶ nftables guard (AF_PACKET interfaces only)
/// ```
public final class DataPlane: @unchecked Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// `--interface` names (nil: every non-loopback interface that is not a bridge/bond port).
        public var interfaces: [String]?
        /// Where to write the statistics every second (nil: nowhere).
        public var statisticsFile: String?
        /// How long the worker keeps watching the ring after a batch before it sleeps.
        public var spinNanoseconds: UInt64 = 50_000
        /// Whether to install the nftables guard (through nf_tables netlink, on the interfaces served
        /// by AF_PACKET). Without it the kernel answers service traffic itself: only for tests of
        /// the worker alone.
        public var installGuard = true
        public var port = AFPacketPort.Configuration()
        /// `--data-plane`.
        public var mode = DataPlaneMode.auto
        /// `--workers` (nil: one per CPU this process may run on).
        public var workers: Int?
        /// Whether established flows are forwarded by the XDP program (`LVSD_FAST_PATH=0`: off).
        public var fastPath = true
        /// The workers' nice value (nil: lvsd's own; `LVSD_WORKER_NICE`). At a higher priority
        /// than the kernel's receive threads (threaded NAPI, ksoftirqd: nice 0) on a shared CPU, an
        /// overloaded worker keeps most of the CPU, and the frames it could not take are dropped at
        /// the interface's ring before the kernel spends work on them (receive livelock otherwise:
        /// the kernel steers frames the starved worker then drops at its full ring). Measured on one core,
        /// AF_XDP NAT at 1.2 Mpps offered: 431 kpps delivered at nice 0, 581–634 at −5/−10.
        public var workerNice: Int32? = -10
        /// Makes XDP mode's kernel side (nil: this build has no XDP; only AF_PACKET).
        public var makeXDP: (@Sendable () throws -> XDPBackend)?
        public init() {}
    }

    let owner: IPVSOwner
    let listServices: @Sendable () -> [VirtualServiceEntry]
    let configuration: Configuration
    let log: @Sendable (String) -> Void

    // Shared between the workers and control threads.
    let running = Atomic<Bool>(false)
    /// Set once the guard can be reconciled (before the first reconcile in `start`).
    let accepting = Atomic<Bool>(false)
    /// Bumped when every flow must be revalidated (table or passive change).
    let revalidation = Atomic<UInt64>(0)
    /// Each worker's statistics (published every 100 ms).
    let published = Mutex<[DataPlaneStatistics]>([])
    let mailbox = Mutex(WorkerMailbox())
    let guardLock = Mutex(GuardState())
    var threads: [PlatformThread] = []
    var statisticsThread: PlatformThread?
    /// Wake each worker from poll(2) (a change to pick up, control work, or stop).
    var wakes: [WakeDescriptor] = []
    /// Signalled by a worker when it applied a new passive set.
    let passiveApplied = try? WakeDescriptor()
    /// Wakes the statistics thread to stop.
    var statisticsStop: WakeDescriptor?
    /// Asks the reconcile thread (`lvsd-reconcile`) to reconcile the guard for worker 0, which
    /// cannot itself (it serves the control queue the service listing goes through).
    var reconcileWake: WakeDescriptor?
    var reconcileThread: PlatformThread?
    /// XDP mode's kernel side (nil: AF_PACKET only), and the fast path's flows.
    var backend: XDPBackend?
    var registry: FlowRegistry?
    /// Whether the nftables guard runs (some interface is served by AF_PACKET).
    var guardActive = false
    /// What `start` planned, and the interfaces that appeared since (worker 0's, see
    /// `DataPlane+LateInterfaces.swift`).
    var startPlan = InterfacePlan()
    var lateInterfaces: [Int32: String] = [:]
    /// Drops a dead lvsd's kernel's RSTs from FULLNAT local addresses (nil: not installed).
    /// Touched under `guardLock`.
    var localAddressGuard: LocalAddressGuard?
    /// Takes firewall-marked packets from the kernel (nil: not available, said in the log).
    var firewallMarks: FirewallMarkIntake?
    var firewallMarksWarned = false
    /// `net.ipv4.conf.lo.accept_local` before start (restored by `stop`).
    private var savedAcceptLocal: String?
    static let acceptLocalPath = "/proc/sys/net/ipv4/conf/lo/accept_local"

    /// What the control threads and the workers hand each other (under `mailbox`): worker 0
    /// publishes what it attached to and the local addresses; the control side posts destinations
    /// to resolve, the guarded sources and the passive VIPs.
    struct WorkerMailbox {
        var attachedInterfaces: [String] = []
        /// The interfaces the nftables guard covers (AF_PACKET mode; nil: every attached one).
        var guardedInterfaces: [String]?
        var interfaces: [InterfaceStatus] = []
        var localAddresses: Set<IPAddress> = []
        var pendingDestinations: [IPAddress] = []
        var guardError: String?
        var guardedSources: Set<GuardedSource> = []
        var guardedGeneration: UInt64 = 0
        /// Passive VIPs as the workers and the guard see them (they differ during a change).
        var passiveForWorker: Set<IPAddress> = []
        var passiveForGuard: Set<IPAddress> = []
        var passiveGeneration: UInt64 = 0
        /// The passive generation each worker applied last.
        var passiveApplied: [UInt64] = []
        /// The passive set requested last (`setPassiveAddresses`).
        var passive: Set<IPAddress> = []
        var rpFilterWarned = false
    }

    /// The guard's socket (its table lives as long as it: a killed lvsd leaves none), the table
    /// applied last, and why the last apply failed.
    struct GuardState {
        var table: NFTablesGuardTable?
        var applied: NFTables.Table?
        var failure: String?
    }

    /// The comment that names the guard table's lvsd.
    static var guardOwner: String { "swiftlvs lvsd pid \(getpid())" }

    /// `listServices` must take the director's lock itself (it is called without it held).
    public init(
        owner: IPVSOwner, configuration: Configuration, listServices: @escaping @Sendable () -> [VirtualServiceEntry],
        log: @escaping @Sendable (String) -> Void
    ) {
        self.owner = owner
        self.configuration = configuration
        self.listServices = listServices
        self.log = log
    }

    /// Reads the kernel tables, chooses each interface's mode (XDP or AF_PACKET), opens the
    /// ports, installs the steering and the guard and starts the workers.
    public func start() throws(DataPlaneError) {
        let monitor: NetlinkMonitor
        do {
            monitor = try NetlinkMonitor()
        } catch {
            throw DataPlaneError(.netlink, "cannot open rtnetlink: \(errorText(error.errno))")
        }
        var tables = KernelTables()
        monitor.dump(into: &tables)
        if let names = configuration.interfaces {
            let known = Set(tables.links.values.map(\.name))
            for n in names where !known.contains(n) {
                throw DataPlaneError(.noSuchInterface, "--interface \(n): no such interface")
            }
        }
        let plan = try planInterfaces(tables)
        startPlan = plan
        lateInterfaces = [:]
        var ports = try openPorts(plan)
        if configuration.installGuard {
            // Worker 0 also reads the packets the kernel marks for a firewall-mark service.
            do {
                let intake = try FirewallMarkIntake()
                let port = FirewallMarkPort(inner: ports[0], log: intake.socket)
                if port.pollDescriptor >= 0 {
                    firewallMarks = intake
                    ports[0] = port
                } else {
                    log("firewall-mark services cannot be served: epoll: \(errorText(errno))")
                }
            } catch {
                log("firewall-mark services cannot be served (nfnetlink_log): \(error)")
            }
        }
        var workers: [(DataPlaneWorker, NetlinkMonitor)] = []
        let synProxyHold = SynProxyHold()
        for (i, port) in ports.enumerated() {
            let m: NetlinkMonitor
            if i == 0 {
                m = monitor
            } else {
                do {
                    m = try NetlinkMonitor()
                } catch {
                    closeBackend()
                    throw DataPlaneError(.netlink, "cannot open rtnetlink: \(errorText(error.errno))")
                }
            }
            let worker = DataPlaneWorker(port: port, owner: owner)
            worker.interfaceNames = configuration.interfaces
            if i == 0 { worker.tables = tables } else { m.dump(into: &worker.tables) }
            worker.resolveNeighbor = { [m] key in m.resolve(key) }
            worker.registry = registry
            worker.synProxyHold = synProxyHold
            workers.append((worker, m))
        }
        published.withLock { $0 = Array(repeating: DataPlaneStatistics(), count: workers.count) }
        mailbox.withLock {
            $0.passiveApplied = Array(repeating: 0, count: workers.count)
            $0.interfaces = plan.status
            $0.guardedInterfaces = plan.backendUsed ? plan.afPacketNames : nil
        }
        publishTables(workers[0].0)
        do {
            wakes = try workers.map { _ throws(PlatformError) in try WakeDescriptor() }
        } catch {
            closeBackend()
            throw DataPlaneError(.wakeDescriptor, "eventfd: \(errorText(error.errno))")
        }
        if let registry { owner.withIPVS { registry.attach(to: $0) } }
        // From here on a change of the service table is applied (servicesChanged); the first
        // reconcile below covers every change made before.
        accepting.store(true, ordering: .releasing)
        guardActive = configuration.installGuard && !plan.afPacketNames.isEmpty
        if guardActive {
            // Without the guard the kernel would answer every client with a RST: no data plane.
            do {
                let table = try NFTablesGuardTable()
                guardLock.withLock { $0.table = table }
            } catch {
                accepting.store(false, ordering: .releasing)
                closeBackend()
                throw DataPlaneError(.guardTable, "cannot install the nftables guard: \(error)")
            }
        }
        if configuration.installGuard {
            do {
                let lag = try LocalAddressGuard()
                guardLock.withLock { _ in localAddressGuard = lag }
            } catch {
                log("local-address guard not installed (after a crash the kernel may reset FULLNAT flows): \(error)")
            }
        }
        reconcile(logFailure: false)
        if guardActive {
            let failure = guardLock.withLock { g -> String? in
                guard let f = g.failure else { return nil }
                g.table?.close()
                g.table = nil
                return f
            }
            if let failure {
                accepting.store(false, ordering: .releasing)
                closeBackend()
                throw DataPlaneError(.guardTable, "cannot install the nftables guard: \(failure)")
            }
            if guardLock.withLock({ $0.table?.ownerUnsupported == true }) {
                log(
                    "nftables guard: this kernel has no table owners (Linux < 5.12): a killed lvsd leaves its table until the next start"
                )
            }
        }
        if firewallMarks?.ownerUnsupported == true {
            log(
                "firewall-mark table: this kernel has no table owners (Linux < 5.12): a killed lvsd leaves marked packets dropped until the next start"
            )
        }
        // Replies to local clients are handed to the stack on `lo` with a local source address
        // (the VIP): the kernel takes such a packet only with accept_local (fib_validate_source).
        savedAcceptLocal = Sysctl.read(Self.acceptLocalPath)
        if savedAcceptLocal != "1" && !Sysctl.write(Self.acceptLocalPath, "1") {
            log("cannot set net.ipv4.conf.lo.accept_local=1: local clients of virtual services will not be served")
        }
        running.store(true, ordering: .releasing)
        for (i, (worker, m)) in workers.enumerated() {
            let parts = WorkerParts(worker: worker, monitor: m)
            guard let t = PlatformThread.start(name: "lvsd-dp\(i)", { [self] in run(i, parts.worker, parts.monitor) })
            else {
                stop()
                throw DataPlaneError(.thread, "cannot start the worker thread")
            }
            threads.append(t)
        }
        if guardActive || firewallMarks != nil, let w = try? WakeDescriptor() {
            reconcileWake = w
            reconcileThread = PlatformThread.start(name: "lvsd-reconcile") { [self] in
                while running.load(ordering: .acquiring) {
                    if Readiness.wait([w.descriptor], timeoutMilliseconds: -1) != 0 { w.drain() }
                    if running.load(ordering: .acquiring) { reconcile() }
                }
            }
        }
        // Control requests are run by the workers between batches from now on.
        let firstWake = wakes[0]
        owner.controlQueue?.startServing(wake: { firstWake.signal() })
        // The statistics file is formatted and written on a thread of its own: the workers only
        // copy counters (no allocation on the packet threads).
        if configuration.statisticsFile != nil, let stop = try? WakeDescriptor() {
            statisticsStop = stop
            statisticsThread = PlatformThread.start(name: "lvsd-stats") { [self] in
                // Every second until `stop` signals (the last write is `stop()`'s own).
                while Readiness.wait([stop.descriptor], timeoutMilliseconds: 1000) == 0 { writeStatistics() }
            }
        }
        for st in plan.status { log(Self.describe(st)) }
        let attached = mailbox.withLock { $0.attachedInterfaces }
        log(
            "data plane attached to \(attached.joined(separator: ", ")) (\(workers.count) worker\(workers.count == 1 ? "" : "s")\(registry != nil ? ", XDP fast path on" : ""))"
        )
    }

    /// One log line for an interface: its mode and why.
    static func describe(_ s: InterfaceStatus) -> String {
        switch s.mode {
        case .xdpNative, .xdpGeneric:
            let how = s.mode == .xdpNative ? "native" : "generic"
            return
                "\(s.name): XDP (\(how)) + AF_XDP, fast path \(s.fastPathEgress ? "may transmit here" : "does not transmit here")"
                + (s.note.isEmpty ? "" : ": \(s.note)")
        case .afPacket:
            return "\(s.name): AF_PACKET + nftables guard" + (s.note.isEmpty ? "" : " (\(s.note))")
        }
    }

    /// Stops the workers, removes the guard table and detaches XDP.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        accepting.store(false, ordering: .releasing)
        for w in wakes { w.signal() }
        for t in threads { t.join() }
        threads = []
        // Control work queued meanwhile runs here; later requests take the lock themselves.
        owner.controlQueue?.stopServing(runLeft: { run in owner.withIPVSAsWorker { _ in run() } })
        reconcileWake?.signal()
        reconcileThread?.join()
        reconcileThread = nil
        if let registry { owner.withIPVS { registry.detach(from: $0) } }
        statisticsStop?.signal()
        statisticsThread?.join()
        statisticsThread = nil
        guardLock.withLock { _ in
            localAddressGuard?.stop()
            localAddressGuard = nil
            firewallMarks?.stop()
            firewallMarks = nil
        }
        if guardActive {
            guardLock.withLock { g in
                do { try g.table?.remove() } catch { log("nftables guard removal: \(error)") }
                g.table = nil
                g.applied = nil
            }
        }
        let final = statistics
        closeBackend()
        if let saved = savedAcceptLocal, saved != "1" { _ = Sysctl.write(Self.acceptLocalPath, saved) }
        writeStatistics(final)
    }

    func closeBackend() {
        backend?.close()
        backend = nil
    }

    /// The latest statistics (published by the workers every 100 ms), summed over the workers,
    /// with each interface's mode and the XDP program's counters.
    public var statistics: DataPlaneStatistics {
        // Summed under the lock, nothing kept: the workers' buffers stay unshared (their
        // in-place publication never copies) and no per-worker copy is made.
        var s = DataPlaneStatistics()
        published.withLock { all in
            var fast: FlowRegistry.Counts?
            for w in all {
                s.add(w)
                if fast == nil || w.fastPath.installed > fast!.installed { fast = w.fastPath }
            }
            s.fastPath = fast ?? .init()
            s.workers = all.count
        }
        s.interfaces = mailbox.withLock { $0.interfaces }
        s.controlJobs = owner.controlQueue?.jobsRun ?? 0
        if let b = backend { s.xdp = b.counters().map { NamedCounter(name: $0.name, value: $0.value) } }
        return s
    }

    /// Each worker's own counters (as published every 100 ms), in worker order.
    public var workerStatistics: [DataPlaneStatistics] { published.withLock { $0.map { $0.copied() } } }

    /// True if `a` is an address of this host (for IPVS's "Local" forwarding).
    public func isLocalAddress(_ a: IPAddress) -> Bool { mailbox.withLock { $0.localAddresses.contains(a) } }

    /// The interfaces the data plane handles now.
    public var attachedInterfaces: [String] { mailbox.withLock { $0.attachedInterfaces } }

    /// Call after the service table changed (without the director's lock held): updates the
    /// XDP steering and the guard, and starts resolving the new real servers' next hops.
    public func servicesChanged() {
        guard accepting.load(ordering: .acquiring) else { return }
        let services = reconcile()
        var destinations = Set<IPAddress>()
        for s in services { for r in s.realServers { destinations.insert(r.spec.endpoint.address) } }
        mailbox.withLock { $0.pendingDestinations = Array(destinations) }
        revalidation.add(1, ordering: .releasing)
        wakeWorkers()
    }

    /// Recomputes what is steered (XDP), guarded (nftables) and delivered locally, and applies it.
    /// A guard failure is logged (`logFailure`) and kept in the guard state.
    @discardableResult
    func reconcile(logFailure: Bool = true) -> [VirtualServiceEntry] {
        // One reconcile at a time, from reading the inputs to applying: a slower concurrent one
        // cannot apply a table older than the last one.
        guardLock.withLock { g in
            let services = listServices()
            let (interfaces, served, passive) = mailbox.withLock {
                ($0.guardedInterfaces ?? $0.attachedInterfaces, $0.attachedInterfaces, $0.passiveForGuard)
            }
            let steering = SteeringSet(services: services, passive: passive)
            warnIfStrictReversePathFilter(services)
            mailbox.withLock {
                if $0.guardedSources != steering.replySources {
                    $0.guardedSources = steering.replySources
                    $0.guardedGeneration &+= 1
                }
            }
            if let backend {
                do { try backend.applySteering(steering) } catch { log("XDP steering not applied: \(error)") }
            }
            if let lag = localAddressGuard {
                do {
                    try lag.update(localAddresses: Set(services.flatMap(\.localAddresses)))
                } catch {
                    log("local-address guard not applied: \(error)")
                }
            }
            if let fm = firewallMarks {
                do {
                    try fm.update(services: services, interfaces: served)
                } catch {
                    log("firewall-mark table not applied: \(error)")
                }
            } else if !firewallMarksWarned, services.contains(where: { $0.spec.key.firewallMark != 0 }) {
                firewallMarksWarned = true
                log("firewall-mark services are configured but cannot be served: no nfnetlink_log intake")
            }
            guard guardActive else { return services }
            let rules = NFTablesGuard.rules(for: services, passive: passive)
            let table = NFTablesGuard.table(interfaces: interfaces, rules: rules, owner: Self.guardOwner)
            guard g.applied != table, let socket = g.table else { return services }
            do {
                try socket.update(from: g.applied, to: table)
                g.applied = table
                g.failure = nil
            } catch {
                // Kept off: the next change retries the whole table.
                if logFailure { log("nftables guard not applied: \(error)") }
                g.applied = nil
                g.failure = "\(error)"
            }
            return services
        }
    }
}

/// A worker and its netlink monitor, handed to the worker's thread (which alone uses them).
struct WorkerParts: @unchecked Sendable {
    let worker: DataPlaneWorker
    let monitor: NetlinkMonitor
}
