// The ipvsadm verbs: add/edit/delete services and real servers, flush, zero, timeouts, daemons.

extension IPVS {
    /// `IP_VS_SCHEDNAME_MAXLEN`: names this long or longer are refused with EINVAL.
    static let schedulerNameLimit = 16

    /// Persistence engines the table knows (`--pe`).
    static let persistenceEngines: Set<String> = ["sip"]

    /// Checks what the kernel checks on add and edit of a service (`ip_vs_add_service`,
    /// `ip_vs_edit_service`), returning the scheduler class (nil for "none").
    private func validate(_ spec: VirtualServiceSpec) throws(IPVSError) -> Scheduler.Type? {
        if spec.scheduler.utf8.count >= Self.schedulerNameLimit { throw IPVSError(.invalidArgument) }
        var schedulerClass: Scheduler.Type? = nil
        if spec.scheduler != "none" {
            guard let c = SchedulerRegistry.named(spec.scheduler) else {
                throw IPVSError(.schedulerNotFound, detail: "scheduler \(spec.scheduler)")
            }
            schedulerClass = c
        }
        if let pe = spec.persistenceEngine, !pe.isEmpty, !Self.persistenceEngines.contains(pe) {
            throw IPVSError(.schedulerNotFound, detail: "persistence engine \(pe)")
        }
        if spec.key.family == .inet6 && !(1...128).contains(spec.netmask) {
            throw IPVSError(.invalidArgument, detail: "IPv6 prefix length \(spec.netmask)")
        }
        if spec.flags.contains(.synProxy) {
            guard case .endpoint(.tcp, _) = spec.key else {
                throw IPVSError(.invalidArgument, detail: "the SYN proxy needs a TCP service")
            }
        }
        return schedulerClass
    }

    /// `ipvsadm -A`: adds a virtual service.
    public func addService(_ spec: VirtualServiceSpec) throws(IPVSError) {
        if serviceByKey[spec.key] != nil { throw IPVSError(.serviceExists) }
        let schedulerClass = try validate(spec)
        var stored = spec
        stored.flags.remove(.hashed)
        let slot: Int32
        if let s = freeServiceSlots.popLast() {
            slot = s
        } else {
            slot = Int32(serviceSlots.count)
            serviceSlots.append(nil)
        }
        nextServiceSerial &+= 1
        let svc = VirtualServiceRuntime(
            slot: slot, serial: nextServiceSerial, spec: stored, shTableBits: configuration.shTableBits,
            mhTableIndex: configuration.mhTableIndex, sysctls: sysctls)
        resetServiceStats(slot)
        svc.scheduler = schedulerClass.map { $0.init(service: svc, store: store) }
        serviceSlots[Int(slot)] = svc
        serviceOrder.append(slot)
        serviceByKey[spec.key] = slot
    }

    /// `ipvsadm -E`: edits a service. A changed scheduler starts fresh; the same scheduler keeps
    /// its state (`ip_vs_edit_service`).
    public func editService(_ spec: VirtualServiceSpec) throws(IPVSError) {
        guard let slot = serviceByKey[spec.key] else { throw IPVSError(.noSuchService) }
        let schedulerClass = try validate(spec)
        let svc = service(slot: slot)
        let oldName = svc.spec.scheduler
        var stored = spec
        stored.flags.remove(.hashed)
        svc.spec = stored
        if oldName != spec.scheduler {
            svc.scheduler = schedulerClass.map { $0.init(service: svc, store: store) }
        }
    }

    /// `ipvsadm -D`: deletes a service. Its real servers leave the list but live on while
    /// connections use them.
    public func deleteService(_ key: ServiceKey) throws(IPVSError) {
        guard let slot = serviceByKey[key] else { throw IPVSError(.noSuchService) }
        removeService(slot)
        expireNodestConnections()
    }

    private func removeService(_ slot: Int32) {
        let svc = service(slot: slot)
        for d in svc.members { store.unlist(d) }
        svc.members = []
        svc.scheduler = nil
        serviceByKey[svc.spec.key] = nil
        serviceOrder.removeAll { $0 == slot }
        serviceSlots[Int(slot)] = nil
        freeServiceSlots.append(slot)
    }

    /// `ipvsadm -C`: deletes every service.
    public func flush() {
        for slot in serviceOrder { removeService(slot) }
        expireNodestConnections()
    }

    private func validate(_ spec: RealServerSpec, service svc: VirtualServiceRuntime) throws(IPVSError) {
        if spec.weight < 0 { throw IPVSError(.outOfRange, detail: "weight below zero") }
        if spec.lowerThreshold > spec.upperThreshold {
            throw IPVSError(.outOfRange, detail: "lower threshold above upper threshold")
        }
        if case .tunnel(let t) = spec.forwarding, t.type == .gue, t.port == 0 {
            throw IPVSError(.invalidArgument, detail: "GUE tunnel port is zero")
        }
        if spec.endpoint.address.family != svc.spec.key.family {
            if case .tunnel = spec.forwarding {
            } else {
                throw IPVSError(.invalidArgument, detail: "mixed address families need tunnelling")
            }
            // "The synchronization protocol is incompatible with mixed family services".
            if !daemons.isEmpty { throw IPVSError(.invalidArgument, detail: "mixed families with a sync daemon") }
        }
        // `ip_vs_new_dest`: the address must be unicast (or local); IPv6 link-local only if local.
        let a = spec.endpoint.address
        switch a {
        case .v4(let v):
            if v.value >> 24 == 0 || v.value == 0xFFFF_FFFF || v.isMulticast {
                throw IPVSError(.invalidArgument, detail: "address not unicast")
            }
        case .v6(let v):
            let linkLocal = v.high >> 54 == 0x3FA  // fe80::/10
            if v.isMulticast || v == .any || (linkLocal && !isLocalAddress(a)) {
                throw IPVSError(.invalidArgument, detail: "address not unicast")
            }
        }
    }

    /// `ipvsadm -a`: adds a real server at the head of the service's list. A server deleted
    /// earlier but still used by connections is revived with its counters.
    public func addRealServer(_ spec: RealServerSpec, to key: ServiceKey) throws(IPVSError) {
        guard let sslot = serviceByKey[key] else { throw IPVSError(.serviceNotDefined) }
        let svc = service(slot: sslot)
        try validate(spec, service: svc)
        if member(svc, spec.endpoint) != nil { throw IPVSError(.destinationExists) }
        let d: Int32
        if let trashed = store.revive(service: key, endpoint: spec.endpoint) {
            d = trashed
            store.bind(d, serviceSlot: sslot, serviceSerial: svc.serial)
        } else {
            d = store.allocate(spec, serviceSlot: sslot, serviceSerial: svc.serial, serviceKey: key)
        }
        store.setLastWeight(spec.weight, slot: d)  // add: always (`__ip_vs_update_dest`)
        update(d, to: spec)
        svc.members.insert(d, at: 0)
        renumber(svc)
        svc.scheduler?.syncMembers()
        svc.scheduler?.destinationAdded(d)
        bindUnboundSynced()
    }

    /// `ipvsadm -e`: edits a real server in place (weight, forwarding, thresholds).
    public func editRealServer(_ spec: RealServerSpec, in key: ServiceKey) throws(IPVSError) {
        guard let sslot = serviceByKey[key] else { throw IPVSError(.serviceNotDefined) }
        let svc = service(slot: sslot)
        try validate(spec, service: svc)
        guard let d = member(svc, spec.endpoint) else { throw IPVSError(.noSuchDestination) }
        if spec.weight != 0 { store.setLastWeight(spec.weight, slot: d) }
        update(d, to: spec)
        svc.scheduler?.destinationUpdated(d)
    }

    /// `ipvsadm -d`: removes a real server from the list; it lives on for its connections.
    public func deleteRealServer(_ endpoint: Endpoint, from key: ServiceKey) throws(IPVSError) {
        guard let sslot = serviceByKey[key] else { throw IPVSError(.serviceNotDefined) }
        let svc = service(slot: sslot)
        guard let d = member(svc, endpoint) else { throw IPVSError(.noSuchDestination) }
        let p = Int(store.position(d))
        svc.members.remove(at: p)
        store.unlist(d)
        renumber(svc)
        svc.scheduler?.syncMembers()
        svc.scheduler?.destinationRemoved(d, formerPosition: p)
        expireNodestConnections()
    }

    /// `ipvsadm -Z`: zeroes the counters and rates of one service and its servers, or of all and
    /// the table's totals.
    public func zero(_ key: ServiceKey?) throws(IPVSError) {
        if let key {
            guard let slot = serviceByKey[key] else { throw IPVSError(.noSuchService) }
            zeroService(service(slot: slot))
        } else {
            for slot in serviceOrder { zeroService(service(slot: slot)) }
            totalStats.zero()
        }
    }

    private func zeroService(_ svc: VirtualServiceRuntime) {
        for d in svc.members { store.state(d).pointee.stats.zero() }
        serviceStats[Int(svc.slot)].zero()
    }

    /// The timeouts `ipvsadm -L --timeout` shows: TCP ESTABLISHED, TCP FIN_WAIT, UDP.
    public var timeouts: IPVSTimeouts {
        IPVSTimeouts(
            tcp: tcpTimeouts[Int(TCPState.established.rawValue)], tcpFin: tcpTimeouts[Int(TCPState.finWait.rawValue)],
            udp: udpTimeout)
    }

    /// `ipvsadm --set tcp tcpfin udp`: a zero field leaves that timeout unchanged.
    public func setTimeouts(_ t: IPVSTimeouts) {
        if t.tcp != 0 { tcpTimeouts[Int(TCPState.established.rawValue)] = t.tcp }
        if t.tcpFin != 0 { tcpTimeouts[Int(TCPState.finWait.rawValue)] = t.tcpFin }
        if t.udp != 0 { udpTimeout = t.udp }
    }

    /// `ipvsadm --start-daemon`: starts a connection-sync daemon (one master and one backup at
    /// most) with the kernel's defaults filled in (`start_sync_thread`): group 224.0.0.81, port
    /// 8848, TTL 1, and a message size of the interface MTU (master: 1500; backup: the MTU within
    /// 1500…65535) minus the IP and UDP headers, or the requested size within 1 (backup: 1024) …
    /// 65535 minus the headers. The daemon's sockets are opened by `syncDaemonLauncher`; a daemon
    /// it cannot start is not recorded.
    public func startSyncDaemon(_ spec: SyncDaemonSpec) throws(IPVSError) {
        // "The synchronization protocol is incompatible with mixed family services".
        if hasMixedFamilyServers { throw IPVSError(.invalidArgument, detail: "mixed families") }
        guard let deviceMTU = interfaceMTU(spec.multicastInterface) else { throw IPVSError(.noSuchDevice) }
        var s = spec
        if s.port == 0 { s.port = 8848 }
        if s.ttl == 0 { s.ttl = 1 }
        if s.group == nil { s.group = .v4(IPv4Address(224, 0, 0, 81)) }
        let headers = s.group?.family == .inet6 ? 48 : 28
        let mtu = s.role == .backup ? min(max(deviceMTU, 1500), 65535) : 1500
        let minimum = s.role == .backup ? 1024 : 1
        s.maxLength =
            s.maxLength != 0
            ? UInt16(clamping: min(max(Int(s.maxLength), minimum), 65535 - headers)) : UInt16(clamping: mtu - headers)
        if daemons.contains(where: { $0.role == spec.role }) { throw IPVSError(.daemonRunning) }
        try syncDaemonLauncher?.start(s)
        daemons.append(s)
        if s.role == .master {
            var q: [SyncConnection] = []
            q.reserveCapacity(syncQueueLimit)
            syncQueue = q
        }
    }

    /// True when some real server's family differs from its service's (tunnelled mixed pools).
    var hasMixedFamilyServers: Bool {
        serviceOrder.contains { slot in
            let svc = service(slot: slot)
            return svc.members.contains { store.endpoint($0).address.family != svc.spec.key.family }
        }
    }

    /// `ipvsadm --stop-daemon`.
    public func stopSyncDaemon(_ role: SyncDaemonSpec.Role) throws(IPVSError) {
        guard daemons.contains(where: { $0.role == role }) else { throw IPVSError(.noDaemon) }
        syncDaemonLauncher?.stop(role)
        daemons.removeAll { $0.role == role }
        if role == .master { syncQueue = nil }
    }

    /// The running sync daemons (`ipvsadm -L --daemon`).
    public var syncDaemons: [SyncDaemonSpec] { daemons }

    /// FULLNAT: adds a local address to a service's pool (DPVS `--add-laddr`).
    public func addLocalAddress(_ address: IPAddress, to key: ServiceKey) throws(IPVSError) {
        guard let slot = serviceByKey[key] else { throw IPVSError(.noSuchService) }
        let svc = service(slot: slot)
        if svc.localAddresses.contains(address) { throw IPVSError(.destinationExists) }
        svc.localAddresses.append(address)
    }

    /// FULLNAT: removes a local address from a service's pool (DPVS `--del-laddr`).
    public func deleteLocalAddress(_ address: IPAddress, from key: ServiceKey) throws(IPVSError) {
        guard let slot = serviceByKey[key] else { throw IPVSError(.noSuchService) }
        let svc = service(slot: slot)
        guard let i = svc.localAddresses.firstIndex(of: address) else { throw IPVSError(.noSuchDestination) }
        svc.localAddresses.remove(at: i)
    }

    // MARK: helpers

    func member(_ svc: VirtualServiceRuntime, _ endpoint: Endpoint) -> Int32? {
        svc.members.first { store.endpoint($0) == endpoint }
    }

    /// Applies a spec as `__ip_vs_update_dest` does: the server becomes available, and its overload
    /// flag clears when the new upper threshold is 0 or above the old one.
    private func update(_ d: Int32, to spec: RealServerSpec) {
        let oldUpper = store.upperThreshold(d)
        store.setSpec(spec, slot: d)
        var f = store.flags(d)
        f.insert(.available)
        if spec.upperThreshold == 0 || spec.upperThreshold > oldUpper { f.remove(.overload) }
        store.setFlags(f, slot: d)
    }

    func renumber(_ svc: VirtualServiceRuntime) {
        for (p, d) in svc.members.enumerated() { store.setPosition(Int32(p), slot: d) }
    }
}
