// The data plane's workers: interface modes and ports at start, the worker loop, passive VIPs, statistics file.
import CLVSLinux
import Glibc
import LVSCore
import LVSPacket
import LVSPlatform
import Synchronization

extension DataPlane {
    /// What `start` decided for the interfaces.
    struct InterfacePlan {
        var status: [InterfaceStatus] = []
        /// XDP interfaces' receive queues (one AF_XDP socket each).
        var queues: [(interface: Int32, name: String, queue: UInt32)] = []
        /// Interfaces served by AF_PACKET (lo always).
        var afPacketIndexes: [Int32] = []
        var afPacketNames: [String] = []
        /// True if XDP serves some interface.
        var backendUsed = false
    }

    /// The attached interfaces: every non-loopback interface that is not a bridge/bond port (or
    /// the `--interface` names), and `lo`.
    func attachedLinks(_ tables: KernelTables) -> [KernelLink] {
        tables.links.values.filter { l in
            if l.isLoopback { return true }
            if let names = configuration.interfaces { return names.contains(l.name) }
            return l.master == 0
        }.sorted { $0.index < $1.index }
    }

    /// Chooses each interface's mode: XDP where the program attaches (native; generic too with
    /// `--data-plane xdp`), AF_PACKET elsewhere and on `lo`; probes where the fast path may
    /// transmit.
    func planInterfaces(_ tables: KernelTables) throws(DataPlaneError) -> InterfacePlan {
        var plan = InterfacePlan()
        let links = attachedLinks(tables)
        let wantXDP = configuration.mode != .afPacket
        var why = configuration.mode == .afPacket ? "--data-plane af-packet" : ""
        if wantXDP {
            if let make = configuration.makeXDP {
                do {
                    backend = try make()
                } catch {
                    if configuration.mode == .xdp { throw DataPlaneError(.xdp, "--data-plane xdp: \(error)") }
                    why = "XDP not available: \(error)"
                    log("\(why); AF_PACKET and the nftables guard on every interface")
                }
            } else if configuration.mode == .xdp {
                throw DataPlaneError(.xdp, "--data-plane xdp: this lvsd was built without XDP")
            }
        }
        var capable = Set<Int32>()
        var xdpIngress = Set<Int32>()
        for l in links {
            if l.isLoopback || backend == nil {
                plan.afPacketIndexes.append(l.index)
                plan.afPacketNames.append(l.name)
                plan.status.append(
                    InterfaceStatus(
                        name: l.name, index: l.index, mode: .afPacket, fastPathEgress: false,
                        note: l.isLoopback && backend != nil ? "local clients on the director" : why))
                continue
            }
            let mode: InterfaceMode
            do {
                mode = try backend!.attach(interface: l.index, name: l.name, allowGeneric: configuration.mode == .xdp)
            } catch {
                if configuration.mode == .xdp {
                    closeBackend()
                    throw DataPlaneError(.xdp, "--data-plane xdp: \(l.name): \(error)")
                }
                plan.afPacketIndexes.append(l.index)
                plan.afPacketNames.append(l.name)
                plan.status.append(
                    InterfaceStatus(
                        name: l.name, index: l.index, mode: .afPacket, fastPathEgress: false,
                        note: "XDP not attached: \(error)"))
                continue
            }
            xdpIngress.insert(l.index)
            for q in 0..<backend!.queueCount(interface: l.name) {
                plan.queues.append((l.index, l.name, UInt32(q)))
            }
            var egress = false
            var note = ""
            if !configuration.fastPath {
                note = "fast path off (LVSD_FAST_PATH=0)"
            } else if mode == .xdpGeneric {
                note = "generic mode: the fast path does not transmit into it"
            } else {
                let (ok, text) = backend!.probeTransmit(interface: l.index, name: l.name)
                egress = ok
                note = text
                if ok {
                    do { try backend!.allowTransmit(interface: l.index) } catch {
                        egress = false
                        note = "DEVMAP: \(error)"
                    }
                }
            }
            if egress { capable.insert(l.index) }
            plan.status.append(
                InterfaceStatus(name: l.name, index: l.index, mode: mode, fastPathEgress: egress, note: note))
        }
        if backend != nil && xdpIngress.isEmpty {
            closeBackend()
        }
        plan.backendUsed = backend != nil
        if let backend, configuration.fastPath {
            let r = FlowRegistry(flows: backend)
            r.setInterfaces(egress: capable, ingress: xdpIngress)
            registry = r
        }
        return plan
    }

    /// One port per worker: AF_XDP sockets for its share of the XDP queues and an AF_PACKET port
    /// (worker 0 receives on the AF_PACKET interfaces; every worker transmits on the interfaces
    /// it has no socket on). Without XDP: AF_PACKET rings, fanned out by flow hash.
    func openPorts(_ plan: InterfacePlan) throws(DataPlaneError) -> [PacketPort] {
        let wanted = max(1, configuration.workers ?? Int(clvs_affinity_cpus()))
        var ports: [PacketPort] = []
        do {
            guard let backend else {
                for _ in 0..<wanted {
                    var c = configuration.port
                    if wanted > 1 { c.fanoutGroup = Int(getpid() & 0xFFFF) }
                    ports.append(try AFPacketPort(configuration: c))
                }
                return ports
            }
            let count = min(wanted, max(1, plan.queues.count))
            for w in 0..<count {
                let mine = plan.queues.indices.filter { $0 % count == w }.map { plan.queues[$0] }
                var c = configuration.port
                c.onlyInterfaces = plan.afPacketIndexes
                c.receives = w == 0
                let packet = try AFPacketPort(configuration: c)
                let xdp = mine.isEmpty ? nil : try backend.openPort(mine)
                ports.append(WorkerPort(xdp: xdp, xdpInterfaces: Set(mine.map(\.interface)), packet: packet))
            }
            return ports
        } catch let e as PacketPortError {
            closeBackend()
            throw DataPlaneError(.packetRing, "cannot open the packet ring: \(e)")
        } catch {
            closeBackend()
            throw DataPlaneError(
                configuration.mode == .xdp ? .xdp : .packetRing, "cannot open the AF_XDP sockets: \(error)")
        }
    }

    /// Makes the services of `addresses` passive: neither intercepted by the workers nor guarded
    /// nor steered, so the local stack serves them (a VRRP backup acting as a real server). Every
    /// other VIP is intercepted. Returns when the change is in force (every worker has it and the
    /// guard and steering were applied). A change goes through a middle step (the workers pass
    /// the VIPs of the old and the new set, the guard still drops — and XDP still steers — every
    /// VIP not in both): for a moment a changing VIP's packets are dropped, but no packet is
    /// handled by both lvsd and the kernel. Flows of a VIP that turns passive are removed.
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
            revalidation.add(1, ordering: .releasing)
            wakeWorkers()
            // The workers pick the set up within one batch and signal `passiveApplied`; waited
            // for at most 200 ms.
            let deadline = MonotonicClock.nanoseconds() &+ 200_000_000
            while !mailbox.withLock({ $0.passiveApplied.allSatisfy { $0 == target } })
                && running.load(ordering: .acquiring)
            {
                let now = MonotonicClock.nanoseconds()
                guard now < deadline, let applied = passiveApplied else { break }
                let ms = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
                if Readiness.wait([applied.descriptor], timeoutMilliseconds: ms) != 0 { applied.drain() }
            }
            reconcile()
        }
    }

    func wakeWorkers() { for w in wakes { w.signal() } }

    /// With strict reverse-path filtering (`rp_filter` 1 on `all` or `lo`) the kernel drops a
    /// client's packet handed to it on `lo` for a local real server: said once.
    func warnIfStrictReversePathFilter(_ services: [VirtualServiceEntry]) {
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

    func publishTables(_ worker: DataPlaneWorker) {
        let names = worker.attachedInterfaceNames
        let local = worker.tables.localAddresses
        mailbox.withLock {
            $0.attachedInterfaces = names
            $0.localAddresses = local
        }
    }

    /// Worker `index`'s loop: kernel table events, what the control side posted, a batch, a
    /// moment of watching the port, then poll(2).
    func run(_ index: Int, _ worker: DataPlaneWorker, _ monitor: NetlinkMonitor) {
        if let nice = configuration.workerNice, !PlatformThread.setNice(nice) {
            log("lvsd-dp\(index): cannot set nice \(nice): \(errorText(errno))")
        }
        let port = worker.port
        var lastPublish: UInt64 = 0
        var layout = worker.tables.layoutGeneration
        var tablesGeneration = worker.tables.generation
        var guardedGeneration: UInt64 = 0
        var passiveSeen: UInt64 = 0
        var revalidationSeen = revalidation.load(ordering: .acquiring)
        let wakeDescriptor = wakes[index].descriptor
        var busy = false
        while running.load(ordering: .acquiring) {
            if monitor.poll(into: &worker.tables) || monitor.needsResync {
                if monitor.needsResync { monitor.dump(into: &worker.tables) }
            }
            if worker.tables.layoutGeneration != layout {
                layout = worker.tables.layoutGeneration
                if index == 0 {
                    let before = mailbox.withLock { $0.attachedInterfaces }
                    adoptLateInterfaces(worker)
                    publishTables(worker)
                    // Not here: reconciling lists the services through the control queue, which
                    // this worker serves. The reconcile thread does it.
                    if before != mailbox.withLock({ $0.attachedInterfaces }) { reconcileWake?.signal() }
                }
            }
            if worker.tables.generation != tablesGeneration {
                // A route, neighbour or link changed: flows may leave by another egress now.
                tablesGeneration = worker.tables.generation
                worker.pendingRevalidation = true
            }
            let r = revalidation.load(ordering: .acquiring)
            if r != revalidationSeen {
                revalidationSeen = r
                worker.pendingRevalidation = true
            }
            let (pending, guarded, passive) = mailbox.withLock {
                s -> ([IPAddress], Set<GuardedSource>?, (Set<IPAddress>, UInt64)?) in
                var p: [IPAddress] = []
                if index == 0 && !s.pendingDestinations.isEmpty {
                    p = s.pendingDestinations
                    s.pendingDestinations = []
                }
                let g = s.guardedGeneration != guardedGeneration ? s.guardedSources : nil
                guardedGeneration = s.guardedGeneration
                let ps = s.passiveGeneration != passiveSeen ? (s.passiveForWorker, s.passiveGeneration) : nil
                return (p, g, ps)
            }
            if let guarded { worker.guardedSources = guarded }
            if let (set, generation) = passive {
                worker.passiveAddresses = set
                passiveSeen = generation
                mailbox.withLock { $0.passiveApplied[index] = generation }
                passiveApplied?.signal()
            }
            let now = Timestamp(nanoseconds: MonotonicClock.nanoseconds())
            if !pending.isEmpty { worker.prepare(destinations: pending, now: now) }
            let n = worker.runOnce(now: now)
            if n == 0 && !spinForFrames(port, busy: busy) {
                let ready = clvs_dp_poll3(port.pollDescriptor, monitor.descriptor, wakeDescriptor, 20)
                if ready & 4 != 0 { wakes[index].drain() }
            }
            busy = n > 0
            let t = now.nanoseconds
            if t &- lastPublish > 100_000_000 {
                lastPublish = t
                published.withLock { worker.publishStatistics(into: &$0[index]) }
            }
        }
        published.withLock { worker.publishStatistics(into: &$0[index]) }
    }

    /// Right after a batch (`busy`), watches the port for up to `spinNanoseconds` before the
    /// worker sleeps in poll(): under load the next frame is microseconds away, and a wake-up per
    /// frame costs more than the wait. True if a frame came.
    func spinForFrames(_ port: PacketPort, busy: Bool) -> Bool {
        guard busy, configuration.spinNanoseconds > 0 else { return false }
        let deadline = MonotonicClock.nanoseconds() &+ configuration.spinNanoseconds
        repeat {
            if port.framesWaiting { return true }
        } while MonotonicClock.nanoseconds() < deadline
        return false
    }

    /// Writes the statistics file atomically: a fresh `mkstemp` file renamed over it (never a
    /// predictable `.tmp` name another user could have linked elsewhere).
    func writeStatistics(_ given: DataPlaneStatistics? = nil) {
        guard let path = configuration.statisticsFile else { return }
        SafeFiles.replace(path, with: Array((given ?? statistics).text.utf8))
    }
}
