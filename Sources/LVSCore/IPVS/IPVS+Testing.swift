// Hooks for tests and benchmarks that drive schedulers with chosen loads.

extension IPVS {
    /// Sets a listed server's connection counts and overload flag directly and tells its
    /// scheduler, as connection events would. For scheduler tests and benchmarks only.
    @_spi(Testing) public func setLoad(slot d: Int32, active: Int32, inactive: Int32, overloaded: Bool) {
        store.setLoad(slot: d, active: active, inactive: inactive)
        notifyLoad(d)
        if store.flags(d).contains(.overload) != overloaded {
            store.setOverloaded(slot: d, overloaded)
            if store.position(d) >= 0, let svc = serviceSlots[Int(store.service(d))] {
                svc.scheduler?.overloadChanged(d)
            }
        }
    }

    /// Asks a service's scheduler for a server without creating a connection. For scheduler tests
    /// and benchmarks only.
    @_spi(Testing) public func pickServer(_ key: ServiceKey, _ request: SchedulingRequest) -> Int32 {
        guard let slot = serviceByKey[key], let scheduler = service(slot: slot).scheduler else { return -1 }
        return scheduler.schedule(request, random: &random)
    }

    /// Asks the scheduler of a service slot for a server (no dictionary lookup). For benchmarks.
    @_spi(Testing) public func pickServer(serviceSlot slot: Int32, _ request: SchedulingRequest) -> Int32 {
        guard let scheduler = service(slot: slot).scheduler else { return -1 }
        return scheduler.schedule(request, random: &random)
    }

    /// Runs the schedulers' periodic work at `now` (lblc/lblcr cleanup).
    @_spi(Testing) public func runSchedulerTimers(now: Timestamp) {
        for slot in serviceOrder { service(slot: slot).scheduler?.periodic(now: now) }
    }
}

extension IPVS {
    /// The bucket or lookup table of a dh, sh or mh service (slots, -1 for empty). For tests.
    @_spi(Testing) public func schedulerTable(_ key: ServiceKey) -> [Int32]? {
        guard let slot = serviceByKey[key] else { return nil }
        switch service(slot: slot).scheduler {
        case let s as MaglevHashingScheduler: return s.lookup
        case let s as SourceHashingScheduler: return s.buckets
        case let s as DestinationHashingScheduler: return s.buckets
        default: return nil
        }
    }

    /// The slot of a listed real server. For tests.
    @_spi(Testing) public func serverSlot(_ endpoint: Endpoint, in key: ServiceKey) -> Int32? {
        guard let slot = serviceByKey[key] else { return nil }
        return member(service(slot: slot), endpoint)
    }
}
