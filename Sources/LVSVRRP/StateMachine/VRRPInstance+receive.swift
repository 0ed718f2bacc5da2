// Receiving adverts: the BACKUP and MASTER rules of keepalived's vrrp_state_backup / vrrp_state_master_rx.
import LVSCore

extension VRRPInstance {
    mutating func receive(_ packet: ReceivedVRRPPacket, now: Timestamp, into out: inout [VRRPAction]) {
        guard state != .stop else { return }
        switch VRRPReceiveCheck.check(packet, config: config) {
        case .dropped(let why):
            // At most one line a second: a flood of bad adverts must not flood the log.
            if let t = dropLogAllowedAt, now < t {
                suppressedDropLogs += 1
                return
            }
            if suppressedDropLogs > 0 {
                out.append(.log("(\(name)) \(suppressedDropLogs) more received adverts dropped (messages suppressed)"))
                suppressedDropLogs = 0
            }
            out.append(.log(why.logLine(instance: name)))
            dropLogAllowedAt = now + Self.dropLogGap
        case .accepted(let advert):
            switch state {
            case .backup: backupReceived(advert, from: packet.source, now: now, into: &out)
            case .master: masterReceived(advert, from: packet.source, now: now, into: &out)
            default: break  // INIT and FAULT ignore adverts
            }
        }
    }

    /// Gap between dropped-advert log lines.
    static let dropLogGap: Duration = .seconds(1)
    /// Least gap between adverts sent at once in answer to received ones.
    static let immediateAdvertGap: Duration = .milliseconds(100)

    /// The shortest master interval a backup adopts: its own, or 100 ms if that is shorter
    /// (a peer advertising 10 ms would otherwise make every backup time out within 30 ms).
    var intervalFloor: Duration { min(config.advertInterval, .milliseconds(100)) }

    /// True (and noted) when an immediate answer may be sent now.
    mutating func mayAnswerAtOnce(_ now: Timestamp) -> Bool {
        if let last = lastImmediateAdvert, now < last + Self.immediateAdvertGap { return false }
        lastImmediateAdvert = now
        return true
    }

    /// v3: adopt the master's advertised interval (RFC 5798 §6.4.2), no shorter than
    /// `intervalFloor`.
    mutating func adoptInterval(_ advert: VRRPAdvert, fromHigherMaster: Bool, into out: inout [VRRPAction]) {
        guard config.effectiveVersion == .v3 else { return }
        let theirs = max(advert.intervalDuration, intervalFloor)
        guard theirs != masterAdvertInterval, theirs > .zero else { return }
        let ms = { (d: Duration) in Int(d / .milliseconds(1)) }
        if fromHigherMaster {
            out.append(
                .log(
                    "(\(name)) advertisement interval updated from \(ms(masterAdvertInterval)) to \(ms(theirs)) milli-sec from higher priority master"
                ))
        } else {
            out.append(
                .log(
                    "(\(name)) advertisement interval updated to \(ms(theirs)) milli-sec from \(ms(masterAdvertInterval)) milli-sec"
                ))
        }
        masterAdvertInterval = theirs
    }

    /// BACKUP: priority 0 → down timer = skew; accept (reset the down timer) when nopreempt, or
    /// the advert's priority ≥ ours, or a preempt_delay has not run out; otherwise discard.
    mutating func backupReceived(_ a: VRRPAdvert, from source: IPAddress, now: Timestamp, into out: inout [VRRPAction])
    {
        if a.priority == 0 {
            out.append(.log("(\(name)) Backup received priority 0 advertisement"))
            downDeadline = now + skewTime
            return
        }
        let delayRunning = config.preemptDelay > .zero && (preemptUntil == nil || preemptUntil! > now)
        let held = preemptionHeldUntil.map { $0 > now } ?? false
        if config.nopreempt || a.priority >= effectivePriority || delayRunning || held {
            adoptInterval(a, fromHigherMaster: false, into: &out)
            masterAddress = source
            masterPriority = a.priority
            if config.preemptDelay > .zero {
                if a.priority >= effectivePriority {
                    if preemptUntil != nil {
                        out.append(.log("(\(name)) stop preempt delay"))
                        preemptUntil = nil
                    }
                } else if preemptUntil == nil {
                    let secs = config.preemptDelay.components.seconds
                    out.append(.log("(\(name)) start preempt delay(\(secs))"))
                    preemptUntil = now + config.preemptDelay
                }
            }
            downDeadline = now + masterDownInterval
        } else {
            out.append(.log("(\(name)) received lower priority (\(a.priority)) advert from \(source) - discarding"))
            masterAddress = source
        }
    }

    /// Compares a sender's address with ours (network byte order), as keepalived's vrrp_saddr_cmp.
    func compareWithOurs(_ other: IPAddress) -> Int {
        if other == sourceAddress { return 0 }
        return sourceAddress < other ? 1 : -1
    }

    /// MASTER: priority 0 → advert at once; higher priority (or equal with a greater address) →
    /// BACKUP (one advert first with higher_prio_send_advert); lower → stay, and advert at once
    /// unless lower_prio_no_advert.
    mutating func masterReceived(_ a: VRRPAdvert, from source: IPAddress, now: Timestamp, into out: inout [VRRPAction])
    {
        var cmp = compareWithOurs(source)
        if a.priority == 0 {
            // Answered (and logged) at most every 100 ms.
            guard mayAnswerAtOnce(now) else { return }
            out.append(.log("(\(name)) Master received priority 0 message"))
            out.append(.sendAdvert(priority: effectivePriority))
            return
        }
        if a.priority == effectivePriority {
            if cmp == 0 {
                out.append(
                    .log("(\(name)) WARNING - equal priority advert received from remote host with our IP address."))
            } else if effectivePriority == 255 {
                out.append(
                    .log(
                        "(\(name)) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority"
                    ))
                basePriority = 254
                effectivePriority = 254
                cmp = 1  // the remote owner now wins
            }
        }
        if a.priority < effectivePriority || (a.priority == effectivePriority && cmp < 0) {
            // Answered (logged, advert, GARPs) at most every 100 ms.
            guard mayAnswerAtOnce(now) else { return }
            out.append(
                .log(
                    "(\(name)) Received advert from \(source) with lower priority \(a.priority), ours \(effectivePriority)\(config.lowerPriorityNoAdvert ? "" : ", forcing new election")"
                ))
            if !config.lowerPriorityNoAdvert { out.append(.sendAdvert(priority: effectivePriority)) }
            // Refresh the neighbours' ARP caches: a split brain healing leaves them pointing at
            // whichever master announced last (garp_lower_prio_repeat now and after the delay).
            let addrs = config.allInstalledAddresses
            if config.garpLowerPriorityRepeat > 0 && !addrs.isEmpty {
                out.append(.sendGratuitous(addrs, repeat: config.garpLowerPriorityRepeat))
                if config.garpLowerPriorityDelay > .zero && garpLowerPriorityDeadline == nil {
                    garpLowerPriorityDeadline = now + config.garpLowerPriorityDelay
                }
            }
            return
        }
        if a.priority > effectivePriority || (a.priority == effectivePriority && cmp > 0) {
            if a.priority > effectivePriority {
                out.append(
                    .log(
                        "(\(name)) Master received advert from \(source) with higher priority \(a.priority), ours \(effectivePriority)"
                    ))
            } else {
                out.append(
                    .log(
                        "(\(name)) Master received advert from \(source) with same priority \(a.priority) but higher IP address than ours"
                    ))
            }
            if config.higherPrioritySendAdvert { out.append(.sendAdvert(priority: effectivePriority)) }
            adoptInterval(a, fromHigherMaster: true, into: &out)
            masterAddress = source
            masterPriority = a.priority
            releaseMaster(into: &out)
            preemptUntil = nil
            transition(to: .backup, into: &out)
            downDeadline = now + masterDownInterval
        }
    }
}
