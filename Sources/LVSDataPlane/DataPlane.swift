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
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// The director's packet path on Linux: one worker thread reading an AF_PACKET ring.
///
/// ```
///  control (ipvsadm) ──lock──▶ IPVS ◀──lock once per batch── worker thread ◀── AF_PACKET ring
///        │ servicesChanged()                                   │  ▲ rtnetlink events
///        ▼                                                     ▼  │
///  nf_tables netlink (guard table)                      sendmmsg  kernel tables
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
        /// Whether to install the nftables guard (through nf_tables netlink). Without it the
        /// kernel answers service traffic itself: only for tests of the worker alone.
        public var installGuard = true
        public var port = AFPacketPort.Configuration()
        public init() {}
    }

    let owner: IPVSOwner
    let listServices: @Sendable () -> [VirtualServiceEntry]
    let configuration: Configuration
    let log: @Sendable (String) -> Void

    // Shared between the worker and control threads.
    private let running = Atomic<Bool>(false)
    /// Set once the guard can be reconciled (before the first reconcile in `start`).
    private let accepting = Atomic<Bool>(false)
    private let published = Mutex(DataPlaneStatistics())
    private let mailbox = Mutex(WorkerMailbox())
    private let guardLock = Mutex(GuardState())
    private var thread: PlatformThread?
    private var statisticsThread: PlatformThread?
    /// Wakes the worker from poll(2) (a change to pick up, or stop).
    private var wake: WakeDescriptor?
    /// Signalled by the worker when it applied a new passive set.
    private let passiveApplied = try? WakeDescriptor()
    /// Wakes the statistics thread to stop.
    private var statisticsStop: WakeDescriptor?
    /// `net.ipv4.conf.lo.accept_local` before start (restored by `stop`).
    private var savedAcceptLocal: String?
    static let acceptLocalPath = "/proc/sys/net/ipv4/conf/lo/accept_local"

    /// What the control threads and the worker hand each other (under `mailbox`): the worker
    /// publishes what it attached to and the local addresses; the control side posts destinations
    /// to resolve, the guarded sources and the passive VIPs.
    struct WorkerMailbox {
        var attachedInterfaces: [String] = []
        var localAddresses: Set<IPAddress> = []
        var pendingDestinations: [IPAddress] = []
        var guardError: String?
        var guardedSources: Set<GuardedSource> = []
        var guardedGeneration: UInt64 = 0
        /// Passive VIPs as the worker and the guard see them (they differ during a change).
        var passiveForWorker: Set<IPAddress> = []
        var passiveForGuard: Set<IPAddress> = []
        var passiveGeneration: UInt64 = 0
        /// The passive generation the worker applied last.
        var passiveApplied: UInt64 = 0
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

    /// Opens the ring and netlink, reads the kernel tables, installs the guard and starts the
    /// worker thread.
    public func start() throws(DataPlaneError) {
        let port: AFPacketPort
        do {
            port = try AFPacketPort(configuration: configuration.port)
        } catch {
            throw DataPlaneError(.packetRing, "cannot open the packet ring: \(error)")
        }
        let monitor: NetlinkMonitor
        do {
            monitor = try NetlinkMonitor()
        } catch {
            throw DataPlaneError(.netlink, "cannot open rtnetlink: \(errorText(error.errno))")
        }
        let worker = DataPlaneWorker(port: port, owner: owner)
        worker.interfaceNames = configuration.interfaces
        monitor.dump(into: &worker.tables)
        if let names = configuration.interfaces {
            let known = Set(worker.tables.links.values.map(\.name))
            for n in names where !known.contains(n) {
                throw DataPlaneError(.noSuchInterface, "--interface \(n): no such interface")
            }
        }
        worker.resolveNeighbor = { [monitor] key in monitor.resolve(key) }
        publishTables(worker)
        do {
            wake = try WakeDescriptor()
        } catch {
            throw DataPlaneError(.wakeDescriptor, "eventfd: \(errorText(error.errno))")
        }
        // From here on a change of the service table is applied (servicesChanged); the first
        // reconcile below covers every change made before.
        accepting.store(true, ordering: .releasing)
        if configuration.installGuard {
            // Without the guard the kernel would answer every client with a RST: no data plane.
            do {
                let table = try NFTablesGuardTable()
                guardLock.withLock { $0.table = table }
            } catch {
                accepting.store(false, ordering: .releasing)
                throw DataPlaneError(.guardTable, "cannot install the nftables guard: \(error)")
            }
            reconcileGuard(logFailure: false)
            let failure = guardLock.withLock { g -> String? in
                guard let f = g.failure else { return nil }
                g.table?.close()
                g.table = nil
                return f
            }
            if let failure {
                accepting.store(false, ordering: .releasing)
                throw DataPlaneError(.guardTable, "cannot install the nftables guard: \(failure)")
            }
            if guardLock.withLock({ $0.table?.ownerUnsupported == true }) {
                log(
                    "nftables guard: this kernel has no table owners (Linux < 5.12): a killed lvsd leaves its table until the next start"
                )
            }
        }
        // Replies to local clients are handed to the stack on `lo` with a local source address
        // (the VIP): the kernel takes such a packet only with accept_local (fib_validate_source).
        savedAcceptLocal = Sysctl.read(Self.acceptLocalPath)
        if savedAcceptLocal != "1" && !Sysctl.write(Self.acceptLocalPath, "1") {
            log("cannot set net.ipv4.conf.lo.accept_local=1: local clients of virtual services will not be served")
        }
        running.store(true, ordering: .releasing)
        guard let t = PlatformThread.start(name: "lvsd-dp0", { [self] in run(worker, port, monitor) }) else {
            running.store(false, ordering: .releasing)
            throw DataPlaneError(.thread, "cannot start the worker thread")
        }
        // The statistics file is formatted and written on a thread of its own: the worker only
        // copies counters (no allocation on the packet thread).
        if configuration.statisticsFile != nil, let stop = try? WakeDescriptor() {
            statisticsStop = stop
            statisticsThread = PlatformThread.start(name: "lvsd-stats") { [self] in
                // Every second until `stop` signals (the last write is `stop()`'s own).
                while Readiness.wait([stop.descriptor], timeoutMilliseconds: 1000) == 0 { writeStatistics() }
            }
        }
        thread = t
        let attached = mailbox.withLock { $0.attachedInterfaces }
        log("data plane attached to \(attached.joined(separator: ", "))")
    }

    /// Stops the worker and removes the guard table.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        accepting.store(false, ordering: .releasing)
        wake?.signal()
        thread?.join()
        thread = nil
        statisticsStop?.signal()
        statisticsThread?.join()
        statisticsThread = nil
        if configuration.installGuard {
            guardLock.withLock { g in
                do { try g.table?.remove() } catch { log("nftables guard removal: \(error)") }
                g.table = nil
                g.applied = nil
            }
        }
        if let saved = savedAcceptLocal, saved != "1" { _ = Sysctl.write(Self.acceptLocalPath, saved) }
        writeStatistics()
    }

    /// The latest statistics (published by the worker every 100 ms).
    public var statistics: DataPlaneStatistics { published.withLock { $0.copied() } }

    /// True if `a` is an address of this host (for IPVS's "Local" forwarding).
    public func isLocalAddress(_ a: IPAddress) -> Bool { mailbox.withLock { $0.localAddresses.contains(a) } }

    /// The interfaces the data plane handles now.
    public var attachedInterfaces: [String] { mailbox.withLock { $0.attachedInterfaces } }

    /// Call after the service table changed (without the director's lock held): updates the
    /// guard and starts resolving the new real servers' next hops.
    public func servicesChanged() {
        guard accepting.load(ordering: .acquiring) else { return }
        let services = configuration.installGuard ? reconcileGuard() : listServices()
        var destinations = Set<IPAddress>()
        for s in services { for r in s.realServers { destinations.insert(r.spec.endpoint.address) } }
        mailbox.withLock { $0.pendingDestinations = Array(destinations) }
        wakeWorker()
    }

    /// Recomputes the guard and applies it if it changed; returns the services it read. A
    /// failure is logged (`logFailure`) and kept in the guard state.
    @discardableResult
    func reconcileGuard(logFailure: Bool = true) -> [VirtualServiceEntry] {
        // One reconcile at a time, from reading the inputs to applying: a slower concurrent one
        // cannot apply a script older than the last one.
        guardLock.withLock { g in
            let services = listServices()
            let (interfaces, passive) = mailbox.withLock { ($0.attachedInterfaces, $0.passiveForGuard) }
            let rules = NFTablesGuard.rules(for: services, passive: passive)
            warnIfStrictReversePathFilter(services)
            let sources = Set(rules.compactMap(\.sourceKey))
            mailbox.withLock {
                if $0.guardedSources != sources {
                    $0.guardedSources = sources
                    $0.guardedGeneration &+= 1
                }
            }
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

    /// Makes the services of `addresses` passive: neither intercepted by the worker nor guarded,
    /// so the local stack serves them (a VRRP backup acting as a real server). Every other VIP is
    /// intercepted. Returns when the change is in force (the worker has it and the guard was
    /// applied). A change goes through a middle step (the worker passes the VIPs of the old and
    /// the new set, the guard still drops for every VIP not in both): for a moment a changing
    /// VIP's packets are dropped, but no packet is handled by both lvsd and the kernel.
    public func setPassiveAddresses(_ addresses: Set<IPAddress>) {
        let (old, live) = mailbox.withLock { s -> (Set<IPAddress>, Bool) in
            defer { s.passive = addresses }
            return (s.passive, accepting.load(ordering: .acquiring))
        }
        guard old != addresses else { return }
        guard live else {
            // Not running: in force from the start.
            mailbox.withLock {
                $0.passiveForWorker = addresses
                $0.passiveForGuard = addresses
                $0.passiveGeneration &+= 1
            }
            return
        }
        for (worker, guardSet) in [(old.union(addresses), old.intersection(addresses)), (addresses, addresses)] {
            let target = mailbox.withLock { s -> UInt64 in
                s.passiveForWorker = worker
                s.passiveForGuard = guardSet
                s.passiveGeneration &+= 1
                return s.passiveGeneration
            }
            wakeWorker()
            // The worker picks the set up within one batch and signals `passiveApplied`; waited
            // for at most 200 ms.
            let deadline = MonotonicClock.nanoseconds() &+ 200_000_000
            while !mailbox.withLock({ $0.passiveApplied == target }) && running.load(ordering: .acquiring) {
                let now = MonotonicClock.nanoseconds()
                guard now < deadline, let applied = passiveApplied else { break }
                let ms = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
                if Readiness.wait([applied.descriptor], timeoutMilliseconds: ms) != 0 { applied.drain() }
            }
            if configuration.installGuard { reconcileGuard() }
        }
    }

    private func wakeWorker() { wake?.signal() }

    /// With strict reverse-path filtering (`rp_filter` 1 on `all` or `lo`) the kernel drops a
    /// client's packet handed to it on `lo` for a local real server: said once.
    private func warnIfStrictReversePathFilter(_ services: [VirtualServiceEntry]) {
        let local = services.contains { s in s.realServers.contains { isLocalAddress($0.spec.endpoint.address) } }
        guard local, !mailbox.withLock({ $0.rpFilterWarned }) else { return }
        let all = Sysctl.read("/proc/sys/net/ipv4/conf/all/rp_filter") ?? "0"
        let lo = Sysctl.read("/proc/sys/net/ipv4/conf/lo/rp_filter") ?? "0"
        guard all == "1" || lo == "1" else { return }
        mailbox.withLock { $0.rpFilterWarned = true }
        log(
            "net.ipv4.conf.all/lo.rp_filter is 1 (strict): a real server on this director's own address will not "
                + "receive its packets; set it to 0 or 2")
    }

    private func publishTables(_ worker: DataPlaneWorker) {
        let names = worker.attachedInterfaceNames
        let local = worker.tables.localAddresses
        mailbox.withLock {
            $0.attachedInterfaces = names
            $0.localAddresses = local
        }
    }

    private func run(_ worker: DataPlaneWorker, _ port: AFPacketPort, _ monitor: NetlinkMonitor) {
        var lastPublish: UInt64 = 0
        var generation = worker.tables.layoutGeneration
        var guardedGeneration: UInt64 = 0
        let wakeDescriptor = wake?.descriptor ?? -1
        var busy = false
        while running.load(ordering: .acquiring) {
            if monitor.poll(into: &worker.tables) || monitor.needsResync {
                if monitor.needsResync { monitor.dump(into: &worker.tables) }
            }
            if worker.tables.layoutGeneration != generation {
                generation = worker.tables.layoutGeneration
                let before = mailbox.withLock { $0.attachedInterfaces }
                publishTables(worker)
                if configuration.installGuard && before != mailbox.withLock({ $0.attachedInterfaces }) {
                    reconcileGuard()
                }
            }
            let (pending, guarded, passive) = mailbox.withLock {
                s -> ([IPAddress], Set<GuardedSource>?, Set<IPAddress>?) in
                defer { s.pendingDestinations = [] }
                let g = s.guardedGeneration != guardedGeneration ? s.guardedSources : nil
                guardedGeneration = s.guardedGeneration
                let p = s.passiveApplied != s.passiveGeneration ? s.passiveForWorker : nil
                s.passiveApplied = s.passiveGeneration
                return (s.pendingDestinations, g, p)
            }
            if let guarded { worker.guardedSources = guarded }
            if let passive {
                worker.passiveAddresses = passive
                passiveApplied?.signal()
            }
            let now = Timestamp(nanoseconds: MonotonicClock.nanoseconds())
            if !pending.isEmpty { worker.prepare(destinations: pending, now: now) }
            let n = worker.runOnce(now: now)
            if n == 0 && !spinForFrames(port, busy: busy) {
                let ready = clvs_dp_poll3(port.pollDescriptor, monitor.descriptor, wakeDescriptor, 20)
                if ready & 4 != 0 { wake?.drain() }
            }
            busy = n > 0
            let t = now.nanoseconds
            if t &- lastPublish > 100_000_000 {
                lastPublish = t
                published.withLock { worker.publishStatistics(into: &$0) }
            }
        }
        published.withLock { worker.publishStatistics(into: &$0) }
    }

    /// Right after a batch (`busy`), watches the ring for up to `spinNanoseconds` before the
    /// worker sleeps in poll(): under load the next frame is microseconds away, and a wake-up per
    /// frame (a V2 ring signals every frame) costs more than the wait. True if a frame came.
    private func spinForFrames(_ port: AFPacketPort, busy: Bool) -> Bool {
        guard busy, configuration.spinNanoseconds > 0 else { return false }
        let deadline = MonotonicClock.nanoseconds() &+ configuration.spinNanoseconds
        repeat {
            if port.framesWaiting { return true }
        } while MonotonicClock.nanoseconds() < deadline
        return false
    }

    /// Writes the statistics file atomically: a fresh `mkstemp` file renamed over it (never a
    /// predictable `.tmp` name another user could have linked elsewhere).
    func writeStatistics() {
        guard let path = configuration.statisticsFile else { return }
        SafeFiles.replace(path, with: Array(statistics.text.utf8))
    }
}
