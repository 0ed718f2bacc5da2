// Real server and quorum state: keepalived's ipwrapper.c rules, emitting IPVS and notify actions.
import KeepalivedConfig
import LVSCore

/// A destination of a virtual server: one of its real servers, or its sorry server.
enum DestinationRef: Equatable {
    case real(Int)
    case sorry
}

/// The IPVS verbs keepalived's `ipvs_cmd()` takes for a destination.
enum DestinationCommand {
    case add
    case delete
    case edit
}

extension HealthCheckEngine {
    // MARK: formatting (keepalived FMT_VS / FMT_RS)

    /// `[192.168.0.110]:tcp:80`, `FWM 1`, `[group]:0`.
    func formatVS(_ v: Int) -> String { virtualServers[v].config.displayName }

    /// `[192.168.0.112]:tcp:80`: the real server with the virtual server's protocol.
    func formatRS(_ v: Int, _ r: Int) -> String { formatDestination(v, virtualServers[v].realServers[r].endpoint) }

    func formatDestination(_ v: Int, _ e: Endpoint) -> String {
        let p = virtualServers[v].config.transportProtocol.map { $0.description.lowercased() } ?? "none"
        return "[\(e.address)]:\(p):\(e.port)"
    }

    func destination(_ v: Int, _ ref: DestinationRef) -> Destination {
        switch ref {
        case .real(let r): return virtualServers[v].realServers[r]
        case .sorry: return virtualServers[v].sorry!
        }
    }

    mutating func setDestination(_ v: Int, _ ref: DestinationRef, _ d: Destination) {
        switch ref {
        case .real(let r): virtualServers[v].realServers[r] = d
        case .sorry: virtualServers[v].sorry = d
        }
    }

    // MARK: IPVS (ipvs_cmd)

    /// keepalived's `ipvs_cmd()` for a destination: deleting an inhibited server sets its
    /// weight to 0 instead; adding an inhibited server that is listed sets its weight back;
    /// adding an inhibited server with failed checkers lists it at weight 0. `force` deletes even
    /// an inhibited server (shutdown, removal from the configuration).
    mutating func ipvs(_ cmd: DestinationCommand, _ v: Int, _ ref: DestinationRef, force: Bool = false) {
        var d = destination(v, ref)
        let keys = virtualServers[v].keys
        var weight = realWeight(d.effectiveWeight)
        var verb = cmd
        if cmd == .delete && d.inhibit && !force {
            weight = 0
            verb = .edit
        } else if cmd == .add && d.inhibit && d.set {
            verb = .edit
        } else if cmd == .add && !d.set {
            d.set = true
            if d.inhibit && d.failedCheckers > 0 { weight = 0 }
        } else if cmd == .delete && d.set {
            d.set = false
        }
        setDestination(v, ref, d)
        for (i, key) in keys.enumerated() where i < d.specs.count {
            var spec = d.specs[i]
            spec.weight = weight
            switch verb {
            case .add: emit(.ipvs(.addRealServer(spec, service: key)))
            case .edit: emit(.ipvs(.editRealServer(spec, service: key)))
            case .delete: emit(.ipvs(.deleteRealServer(spec.endpoint, service: key)))
            }
        }
    }

    // MARK: start-up of one virtual server (init_service_vs)

    mutating func initService(_ v: Int) {
        if !virtualServers[v].alive {
            for spec in virtualServers[v].services { emit(.ipvs(.addService(spec))) }
            virtualServers[v].alive = true
        }
        for r in virtualServers[v].realServers.indices {
            let d = virtualServers[v].realServers[r]
            if d.reloaded {
                // A server kept over a reload keeps its state: a failed one is not re-added.
                if d.effectiveWeight != d.previousEffectiveWeight {
                    let w = d.effectiveWeight
                    virtualServers[v].realServers[r].effectiveWeight = d.previousEffectiveWeight
                    updateWeight(w, v, r, updateQuorum: false)
                }
                continue
            }
            // Alpha mode: a server with failed checkers is not added unless inhibited (then at 0).
            if (d.failedCheckers == 0 && !d.alive) || (d.inhibit && !d.set) {
                ipvs(.add, v, .real(r))
                if d.failedCheckers == 0 {
                    virtualServers[v].realServers[r].alive = true
                    if rsInitNotifies { realServerNotifies(v, r, stopping: false) }
                }
            }
        }
        updateQuorumState(v, initial: true)
        if var sorry = virtualServers[v].sorry, sorry.inhibit, !sorry.set {
            // sorry_server_inhibit: listed at weight 0 while the quorum holds.
            sorry.failedCheckers = 1
            virtualServers[v].sorry = sorry
            ipvs(.add, v, .sorry)
            virtualServers[v].sorry?.failedCheckers = 0
        }
    }

    // MARK: checker → real server (update_svr_checker_state, set_checker_state)

    /// One checker concluded `alive`: the real server goes down when any checker fails and
    /// comes back only when none is failing (`num_failed_checkers`).
    mutating func updateCheckerState(_ v: Int, _ r: Int, _ c: Int, alive: Bool) {
        let ck = virtualServers[v].realServers[r].checkers[c]
        if ck.isUp == alive {
            if !ck.hasRun {
                // First result equal to the initial state: an alpha checker (or a failure)
                // announces the server's state once.
                if ck.alpha || !alive { realServerNotifies(v, r, stopping: false) }
                virtualServers[v].realServers[r].checkers[c].hasRun = true
            }
            return
        }
        virtualServers[v].realServers[r].checkers[c].hasRun = true
        let failed = virtualServers[v].realServers[r].failedCheckers
        if alive {
            if failed <= 1 { performServerState(v, r, alive: true) }
        } else {
            if failed == 0 { performServerState(v, r, alive: false) }
        }
        var c2 = virtualServers[v].realServers[r].checkers[c]
        setCheckerState(&c2, up: alive, in: &virtualServers[v].realServers[r])
        virtualServers[v].realServers[r].checkers[c] = c2
    }

    func setCheckerState(_ ck: inout CheckerRuntime, up: Bool, in rs: inout Destination) {
        if ck.isUp == up { return }
        ck.isUp = up
        if !up {
            rs.failedCheckers += 1
        } else if rs.failedCheckers > 0 {
            rs.failedCheckers -= 1
        }
    }

    /// A real server goes up or down (`perform_svr_state`): IPVS add/delete (or weight for
    /// inhibited servers) unless the sorry server holds the pool, notify scripts, FIFO line,
    /// then the quorum.
    mutating func performServerState(_ v: Int, _ r: Int, alive: Bool) {
        let d = virtualServers[v].realServers[r]
        if d.alive == alive { return }
        let verb = alive ? (d.inhibit ? "Enabling" : "Adding") : (d.inhibit ? "Disabling" : "Removing")
        let prep = d.inhibit ? "of" : alive ? "to" : "from"
        log("\(verb) service \(formatRS(v, r)) \(prep) VS \(formatVS(v))")
        let vs = virtualServers[v]
        if vs.quorumUp || vs.sorry == nil || !(vs.sorry?.alive ?? false) {
            ipvs(alive ? .add : .delete, v, .real(r))
        }
        virtualServers[v].realServers[r].alive = alive
        realServerNotifies(v, r, stopping: false)
        updateQuorumState(v, initial: false)
    }

    /// `misc_dynamic` weight change (`update_svr_wgt`): edits IPVS when the server is listed,
    /// alive and the pool is its own, then re-evaluates the quorum.
    mutating func updateWeight(_ weight: Int64, _ v: Int, _ r: Int, updateQuorum: Bool) {
        let d = virtualServers[v].realServers[r]
        let new = realWeight(weight)
        let old = realWeight(d.effectiveWeight)
        virtualServers[v].realServers[r].effectiveWeight = weight
        guard new != old else { return }
        log(
            "Changing weight from \(old) to \(new) for \(d.alive ? "" : "in")active service \(formatRS(v, r)) of VS \(formatVS(v))"
        )
        let vs = virtualServers[v]
        if d.set && d.alive && (vs.quorumUp || vs.sorry == nil || !(vs.sorry?.alive ?? false)) {
            ipvs(.edit, v, .real(r))
        }
        if updateQuorum { updateQuorumState(v, initial: false) }
    }

    // MARK: quorum (update_quorum_state, perform_quorum_state)

    /// Quorum is gained when the live weight reaches quorum + hysteresis and lost when it falls
    /// below quorum − hysteresis (or to 0). Losing it with a sorry server swaps the live real
    /// servers out and the sorry server in; gaining it swaps back. quorum_up/quorum_down run on
    /// each change; at start-up a down quorum adds the sorry server.
    mutating func updateQuorumState(_ v: Int, initial: Bool) {
        let vs = virtualServers[v]
        let weightSum = vs.liveWeight
        let quorum = Int64(vs.config.quorum)
        let hysteresis = Int64(vs.config.hysteresis)
        let threshold = quorum + (vs.quorumUp ? -1 : 1) * hysteresis
        if !vs.quorumUp && weightSum >= threshold {
            virtualServers[v].quorumUp = true
            log("Gained quorum \(quorum)+\(hysteresis)=\(threshold) <= \(weightSum) for VS \(formatVS(v))")
            if let sorry = vs.sorry, sorry.alive {
                let verb = sorry.inhibit ? "Disabling" : "Removing"
                log("\(verb) sorry server \(formatDestination(v, sorry.endpoint)) from VS \(formatVS(v))")
                ipvs(.delete, v, .sorry)
                virtualServers[v].sorry?.alive = false
                performQuorumState(v, add: true)
            }
            virtualServerNotifies(v, initial: initial, threshold: threshold, weightSum: weightSum, stopping: false)
        } else if (vs.quorumUp && (weightSum == 0 || weightSum < threshold))
            || (initial && !vs.quorumUp && vs.sorry != nil && !(vs.sorry?.alive ?? true))
        {
            virtualServers[v].quorumUp = false
            let what = initial ? "Starting with quorum down" : "Lost quorum"
            log("\(what) \(quorum)-\(hysteresis)=\(threshold) > \(weightSum) for VS \(formatVS(v))")
            if let sorry = vs.sorry, !sorry.alive {
                let verb = sorry.inhibit ? "Enabling" : "Adding"
                log("\(verb) sorry server \(formatDestination(v, sorry.endpoint)) to VS \(formatVS(v))")
                performQuorumState(v, add: false)
                ipvs(.add, v, .sorry)
                virtualServers[v].sorry?.alive = true
            }
            virtualServerNotifies(v, initial: initial, threshold: threshold, weightSum: weightSum, stopping: false)
        }
    }

    /// Adds or removes every live real server of a virtual server.
    mutating func performQuorumState(_ v: Int, add: Bool) {
        let what = add ? "Adding alive servers to" : "Removing alive servers from"
        log("\(what) the pool for VS \(formatVS(v))")
        for r in virtualServers[v].realServers.indices where virtualServers[v].realServers[r].alive {
            ipvs(add ? .add : .delete, v, .real(r))
        }
    }

    // MARK: notifications (do_rs_notifies, do_vs_notifies)

    func scriptUser(_ s: ScriptCommand) -> (String?, String?) {
        if let u = s.user { return (u, s.group) }
        return (configuration.globalDefs.scriptUser, configuration.globalDefs.scriptGroup)
    }

    /// notify_up / notify_down as configured (no extra arguments) and the FIFO line
    /// `RS <rs> <vs> UP|DOWN`. Alerts are sent by the checkers themselves.
    mutating func realServerNotifies(_ v: Int, _ r: Int, stopping: Bool) {
        let d = virtualServers[v].realServers[r]
        if let s = d.alive ? d.notifyUp : d.notifyDown {
            let (u, g) = scriptUser(s)
            emit(
                .runScript(
                    NotifyScript(kind: d.alive ? .notifyUp : .notifyDown, arguments: s.arguments, user: u, group: g)))
        }
        if configuration.globalDefs.lvsNotifyFIFO != nil {
            emit(.writeFIFO("RS \(formatRS(v, r)) \(formatVS(v)) \(d.alive ? "UP" : "DOWN")\n"))
        }
    }

    /// quorum_up / quorum_down, the FIFO line `VS <vs> UP|DOWN` and, with `smtp_alert`, the
    /// virtual server's alert. At shutdown only with `omega`.
    mutating func virtualServerNotifies(_ v: Int, initial: Bool, threshold: Int64, weightSum: Int64, stopping: Bool) {
        let vs = virtualServers[v]
        if stopping && !vs.config.omega { return }
        if let s = vs.quorumUp ? vs.config.quorumUp : vs.config.quorumDown {
            let (u, g) = scriptUser(s)
            emit(
                .runScript(
                    NotifyScript(kind: vs.quorumUp ? .quorumUp : .quorumDown, arguments: s.arguments, user: u, group: g)
                ))
        }
        if configuration.globalDefs.lvsNotifyFIFO != nil {
            emit(.writeFIFO("VS \(formatVS(v)) \(vs.quorumUp ? "UP" : "DOWN")\n"))
        }
        if vs.config.smtpAlert == true {
            let body: String
            if stopping {
                body = "=> Shutting down <="
            } else {
                let what =
                    vs.quorumUp
                    ? (initial ? "Starting with quorum up" : "Gained quorum")
                    : (initial ? "Starting with quorum down" : "Lost quorum")
                body = "=> \(what) \(vs.config.quorum)+\(vs.config.hysteresis)=\(threshold) <= \(weightSum) <="
            }
            mail(subject: "[\(routerID)] Virtualserver \(formatVS(v)) - \(vs.quorumUp ? "UP" : "DOWN")", body: body)
        }
    }

    /// `[router_id] Realserver <rs> of virtual server <vs> - UP|DOWN`.
    mutating func realServerMail(_ v: Int, _ r: Int, state: String, body: String) {
        mail(
            subject: "[\(routerID)] Realserver \(formatRS(v, r)) of virtual server \(formatVS(v)) - \(state)",
            body: body)
    }

    mutating func mail(subject: String, body: String) {
        guard mailEnabled else { return }
        emit(.sendMail(AlertMail(subject: subject, body: body)))
    }
}
