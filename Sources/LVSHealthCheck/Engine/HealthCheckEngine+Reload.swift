// Shutdown (clear_services) and reload (clear_diff_services + migrate_checkers) of the engine.
import KeepalivedConfig
import LVSCore

extension HealthCheckEngine {
    // MARK: stop

    /// Stops (keepalived `clear_services()`): with `lvs_flush_on_stop` the table is flushed,
    /// otherwise each virtual server's sorry and real servers are removed, then the service.
    /// Notify scripts, FIFO lines and alerts of the servers going down are sent only for
    /// virtual servers with `omega`.
    public mutating func stop(now: Timestamp) -> [HealthCheckAction] {
        guard started, !stopped else { return [] }
        stopped = true
        if configuration.globalDefs.lvsFlushOnStop == .all {
            emit(.ipvs(.flush))
            for v in virtualServers.indices { updateVSNotifies(v, stopping: true) }
        } else {
            for v in virtualServers.indices { clearService(v, stopping: true) }
        }
        for v in virtualServers.indices {
            for r in virtualServers[v].realServers.indices {
                for c in virtualServers[v].realServers[r].checkers.indices {
                    virtualServers[v].realServers[r].checkers[c].nextRun = nil
                }
            }
        }
        return flushActions()
    }

    /// `update_vs_notifies`: at shutdown, or when the quorum is gone, the quorum-down notifies.
    mutating func updateVSNotifies(_ v: Int, stopping: Bool) {
        let vs = virtualServers[v]
        let threshold = Int64(vs.config.quorum) - Int64(vs.config.hysteresis)
        let weightSum = vs.liveWeight
        if stopping || (vs.quorumUp && (weightSum == 0 || weightSum < threshold)) {
            virtualServers[v].quorumUp = false
            virtualServerNotifies(v, initial: false, threshold: threshold, weightSum: weightSum, stopping: stopping)
        }
    }

    /// `clear_service_vs`: removes a virtual server from IPVS.
    mutating func clearService(_ v: Int, stopping: Bool) {
        if configuration.globalDefs.lvsFlushOnStop == nil || !stopping {
            if let sorry = virtualServers[v].sorry, sorry.set {
                ipvs(.delete, v, .sorry, force: true)
                virtualServers[v].sorry?.alive = false
            }
            for r in virtualServers[v].realServers.indices { clearRealServer(v, r, stopping: stopping) }
            updateVSNotifies(v, stopping: stopping)
        } else {
            updateVSNotifies(v, stopping: stopping)
            virtualServers[v].sorry?.alive = false
        }
        for key in virtualServers[v].keys { emit(.ipvs(.deleteService(key))) }
        virtualServers[v].alive = false
    }

    /// `clear_service_rs`: removes one real server (even an inhibited one).
    mutating func clearRealServer(_ v: Int, _ r: Int, stopping: Bool) {
        let d = virtualServers[v].realServers[r]
        if d.set || stopping {
            let inhibited = d.inhibit && !d.alive ? "(inhibited) " : ""
            log(
                "\(stopping ? "Shutting down" : "Removing") \(inhibited)service \(formatRS(v, r)) from VS \(formatVS(v))"
            )
        }
        guard d.set else { return }
        ipvs(.delete, v, .real(r), force: true)
        guard d.alive else { return }
        virtualServers[v].realServers[r].alive = false
        if !virtualServers[v].config.omega && stopping { return }
        realServerNotifies(v, r, stopping: stopping)
        if d.smtpAlert {
            realServerMail(v, r, state: "DOWN", body: stopping ? "=> Shutting down <=" : "=> Removing <=")
        }
    }

    // MARK: reload

    /// Applies a new configuration (SIGHUP, keepalived `reload_check_thread`): virtual servers
    /// that are gone are removed; kept ones are edited only when their scheduler or persistence
    /// changed, so their connections are untouched; real servers that are gone are removed,
    /// kept ones keep their state and checker results (a failed one is not re-added), new ones
    /// are added as at start-up. Checkers restart with a new warmup.
    public mutating func reload(_ newConfiguration: KeepalivedConfiguration, now: Timestamp) -> [HealthCheckAction] {
        guard started, !stopped else {
            configuration = newConfiguration
            virtualServers = Self.build(newConfiguration)
            return []
        }
        let old = virtualServers
        let oldConfiguration = configuration
        configuration = newConfiguration
        generation += 1
        var fresh = Self.build(newConfiguration)
        // Old virtual servers: removed, or matched and diffed.
        var matched = Set<Int>()
        for (ov, oldVS) in old.enumerated() {
            guard
                let nv = fresh.indices.first(where: {
                    !matched.contains($0) && Self.sameVirtualServer(oldVS, fresh[$0])
                })
            else {
                log("Removing Virtual Server \(oldVS.config.displayName)")
                withOld(old: oldVS, oldConfiguration: oldConfiguration) { $0.clearService(0, stopping: false) }
                continue
            }
            _ = ov
            matched.insert(nv)
            fresh[nv].alive = oldVS.alive
            fresh[nv].quorumUp = oldVS.quorumUp
            fresh[nv].reloaded = true
            diffServices(old: oldVS, new: &fresh[nv])
            diffRealServers(old: oldVS, new: &fresh[nv], oldConfiguration: oldConfiguration)
            diffSorryServer(old: oldVS, new: &fresh[nv])
        }
        virtualServers = fresh
        // New real servers with alpha checkers start down (check_new_rs_state).
        for v in virtualServers.indices {
            for r in virtualServers[v].realServers.indices where !virtualServers[v].realServers[r].reloaded {
                for c in virtualServers[v].realServers[r].checkers.indices
                where virtualServers[v].realServers[r].checkers[c].alpha {
                    var ck = virtualServers[v].realServers[r].checkers[c]
                    setCheckerState(&ck, up: false, in: &virtualServers[v].realServers[r])
                    virtualServers[v].realServers[r].checkers[c] = ck
                    virtualServers[v].realServers[r].alive = false
                }
            }
        }
        for v in virtualServers.indices { initService(v) }
        scheduleAll(now: now)
        return flushActions()
    }

    /// keepalived `vs_iseq`: same group name, or same fwmark and family, or same protocol,
    /// address and port.
    static func sameVirtualServer(_ a: VirtualServerRuntime, _ b: VirtualServerRuntime) -> Bool {
        switch (a.config.address, b.config.address) {
        case (.group(let x), .group(let y)): return x == y
        case (.firewallMark(let x), .firewallMark(let y)): return x == y && a.config.family == b.config.family
        case (.endpoint(let x, let p), .endpoint(let y, let q)):
            return x == y && p == q && a.config.transportProtocol == b.config.transportProtocol
        default: return false
        }
    }

    /// Runs `body` on a one-virtual-server engine holding `old`, collecting its actions (used to
    /// remove a virtual server that is gone from the new configuration).
    mutating func withOld(
        old: VirtualServerRuntime, oldConfiguration: KeepalivedConfiguration, _ body: (inout HealthCheckEngine) -> Void
    ) {
        var e = self
        e.configuration = oldConfiguration
        e.virtualServers = [old]
        e.pending = []
        body(&e)
        pending += e.pending
    }

    /// Scheduler, flags or persistence changed: `ipvsadm -E`. Group entries that are gone are
    /// deleted, new ones added with the listed real servers.
    mutating func diffServices(old: VirtualServerRuntime, new: inout VirtualServerRuntime) {
        for spec in new.services {
            if let o = old.services.first(where: { $0.key == spec.key }) {
                if o != spec { emit(.ipvs(.editService(spec))) }
            } else if new.alive {
                emit(.ipvs(.addService(spec)))
                log("VS [\(spec.key)] added into group")
            }
        }
        for o in old.services where !new.services.contains(where: { $0.key == o.key }) {
            log("VS [\(o.key)] in group no longer exists")
            emit(.ipvs(.deleteService(o.key)))
        }
        // Listed servers of kept real servers go into new group entries (ipvs_group_sync_entry).
        let added = new.services.enumerated().filter { s in !old.services.contains { $0.key == s.element.key } }
        guard !added.isEmpty else { return }
        for o in old.realServers where o.alive || (o.inhibit && o.set) {
            guard let n = new.realServers.first(where: { $0.endpoint == o.endpoint }) else { continue }
            for (i, s) in added where i < n.specs.count {
                var spec = n.specs[i]
                spec.weight = o.inhibit && !o.alive ? 0 : realWeight(o.effectiveWeight)
                emit(.ipvs(.addRealServer(spec, service: s.key)))
            }
        }
    }

    /// `clear_diff_rs` + `migrate_checkers`.
    mutating func diffRealServers(
        old: VirtualServerRuntime, new: inout VirtualServerRuntime, oldConfiguration: KeepalivedConfiguration
    ) {
        for (or, o) in old.realServers.enumerated() {
            guard let nr = new.realServers.firstIndex(where: { $0.endpoint == o.endpoint }) else {
                log("service \(formatDestination(old, o.endpoint)) no longer exist")
                withOld(old: old, oldConfiguration: oldConfiguration) { $0.clearRealServer(0, or, stopping: false) }
                continue
            }
            var n = new.realServers[nr]
            n.alive = o.alive
            n.set = o.set
            // A weight changed in the configuration applies (with "Changing weight" in
            // init_service_rs); a weight set by misc_dynamic stays until the script says otherwise.
            if o.effectiveWeight != o.configuredWeight { n.effectiveWeight = o.effectiveWeight }
            n.previousEffectiveWeight = o.effectiveWeight
            n.reloaded = true
            migrateCheckers(oldVS: old, old: o, new: &n)
            new.realServers[nr] = n
            // Forwarding or thresholds changed: edit (a weight change is applied by initService).
            func unweighted(_ specs: [RealServerSpec]) -> [RealServerSpec] {
                specs.map {
                    var x = $0
                    x.weight = 0
                    return x
                }
            }
            if n.alive && n.set && unweighted(n.specs) != unweighted(o.specs) {
                for (i, key) in new.keys.enumerated() where i < n.specs.count {
                    var spec = n.specs[i]
                    spec.weight = realWeight(n.effectiveWeight)
                    emit(.ipvs(.editRealServer(spec, service: key)))
                }
            }
        }
        // Old quorum notifies if the removals lost it.
        let threshold = Int64(old.config.quorum) - Int64(old.config.hysteresis)
        let weightSum = new.liveWeight
        if new.quorumUp && (weightSum == 0 || weightSum < threshold) {
            new.quorumUp = false
            var e = self
            e.virtualServers = [new]
            e.pending = []
            e.virtualServerNotifies(0, initial: false, threshold: threshold, weightSum: weightSum, stopping: false)
            pending += e.pending
        }
    }

    func formatDestination(_ vs: VirtualServerRuntime, _ e: Endpoint) -> String {
        let p = vs.config.transportProtocol.map { $0.description.lowercased() } ?? "none"
        return "[\(e.address)]:\(p):\(e.port)"
    }

    /// Carries each checker's state over to the same checker in the new configuration; new
    /// checkers of a failing server start failed if alpha, and need one failure only.
    func migrateCheckers(oldVS: VirtualServerRuntime, old: Destination, new: inout Destination) {
        let sorryActive = oldVS.sorry?.alive ?? false
        var used = Set<Int>()
        for c in new.checkers.indices {
            guard
                let oc = old.checkers.indices.first(where: {
                    !used.contains($0) && (sorryActive || old.checkers[$0].sameCheck(as: new.checkers[c]))
                })
            else { continue }
            used.insert(oc)
            let o = old.checkers[oc]
            var n = new.checkers[c]
            n.isUp = o.hasRun ? o.isUp : n.isUp
            n.hasRun = o.hasRun
            if !n.isUp {
                n.retryIt = n.retry + 1
            } else if o.retryIt >= n.retry {
                n.retryIt = n.retry
            } else {
                n.retryIt = o.retryIt
            }
            n.lastExitCode = o.lastExitCode
            new.checkers[c] = n
        }
        new.failedCheckers = new.checkers.filter { $0.hasRun && !$0.isUp }.count
        let anyRun = new.checkers.contains { $0.hasRun }
        if new.failedCheckers > 0 || (!new.alive && !anyRun) {
            for c in new.checkers.indices where !new.checkers[c].hasRun {
                if new.checkers[c].alpha {
                    var ck = new.checkers[c]
                    setCheckerState(&ck, up: false, in: &new)
                    new.checkers[c] = ck
                }
                new.checkers[c].retryIt = new.checkers[c].retry
            }
        }
    }

    /// `clear_diff_s_srv`: the sorry server kept, changed or gone.
    mutating func diffSorryServer(old: VirtualServerRuntime, new: inout VirtualServerRuntime) {
        guard var oldSorry = old.sorry else { return }
        if var n = new.sorry, n.endpoint == oldSorry.endpoint {
            n.alive = oldSorry.alive
            n.set = oldSorry.set
            n.reloaded = true
            new.sorry = n
            if oldSorry.inhibit == n.inhibit || oldSorry.alive { return }
        }
        let reinstate = oldSorry.alive && new.sorry == nil
        if oldSorry.inhibit && !oldSorry.alive {
            oldSorry.alive = true
            oldSorry.inhibit = false
        }
        if oldSorry.alive {
            log("Removing sorry server \(formatDestination(old, oldSorry.endpoint)) from VS \(old.config.displayName)")
            for (i, key) in old.keys.enumerated() where i < oldSorry.specs.count {
                emit(.ipvs(.deleteRealServer(oldSorry.specs[i].endpoint, service: key)))
            }
            new.sorry?.set = false
            new.sorry?.alive = false
            if reinstate {
                var e = self
                e.virtualServers = [new]
                e.pending = []
                e.performQuorumState(0, add: true)
                pending += e.pending
                new = e.virtualServers[0]
            }
        }
    }
}
