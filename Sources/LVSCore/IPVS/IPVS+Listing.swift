// Listings: services with their real servers, statistics and rates, as ipvsadm reads them.

extension IPVS {
    /// Every service in the order they were added; real servers in kernel list order (newest
    /// first). ipvsadm sorts unless `--nosort`.
    public func services() -> [VirtualServiceEntry] {
        serviceOrder.map { entry(service(slot: $0)) }
    }

    /// The number of services (`services(in:)` lists a range of them, so a big table is listed in
    /// steps between which packets are processed).
    public var serviceCount: Int { serviceOrder.count }

    /// The services at positions `range` of `services()` (clamped to the table).
    public func services(in range: Range<Int>) -> [VirtualServiceEntry] {
        let r = range.clamped(to: 0..<serviceOrder.count)
        return serviceOrder[r].map { entry(service(slot: $0)) }
    }

    /// One service (`ipvsadm -L -t …`).
    public func service(_ key: ServiceKey) throws(IPVSError) -> VirtualServiceEntry {
        guard let slot = serviceByKey[key] else { throw IPVSError(.noSuchService) }
        return entry(service(slot: slot))
    }

    /// The table's total counters and rates (`ipvsadm -L --stats` sums).
    public var totals: (counters: IPVSCounters, rates: IPVSRates) { (totalStats.shown, totalStats.rates) }

    func entry(_ svc: VirtualServiceRuntime) -> VirtualServiceEntry {
        let servers = svc.members.map { d in
            RealServerEntry(
                spec: store.spec(d),
                activeConnections: UInt32(bitPattern: store.activeConnections(d)),
                inactiveConnections: UInt32(bitPattern: store.inactiveConnections(d)),
                persistentConnections: UInt32(bitPattern: store.persistentConnections(d)),
                counters: store.stats(d).shown, rates: store.stats(d).rates)
        }
        let stats = serviceStats[Int(svc.slot)]
        return VirtualServiceEntry(
            spec: svc.spec, realServers: servers, counters: stats.shown, rates: stats.rates,
            localAddresses: svc.localAddresses)
    }
}
