// The VRRP state machine stepped by hand: timers, startup, BACKUP and MASTER receive rules, GARP, FAULT, STOP.
import LVSCore
import LVSVRRP
import Testing

@Suite("VRRP timers and startup (keepalived vrrp_init_state, RFC 3768/5798 §6)")
struct TimerAndStartupTests {
    @Test("RFC 3768 §6.1: v2 skew (256−100)/256 s = 0.609375 s is NOT scaled by advert_int: master down 3×2 s + skew")
    func v2Skew() {
        let i = VRRPInstance(config: config { $0.advertInterval = .seconds(2) }, sourceAddress: ip("192.168.0.1"))
        #expect(i.skewTime == .microseconds(609_375))
        #expect(i.masterDownInterval == .microseconds(6_609_375))
    }

    @Test("RFC 5798 §6.1: v3 skew (256−100)×0.5 s/256 = 0.304687 s (truncated to µs); master down 1.804687 s")
    func v3Skew() {
        let i = VRRPInstance(
            config: config(version: .v3) { $0.advertInterval = .milliseconds(500) }, sourceAddress: ip("192.168.0.1"))
        #expect(i.skewTime == .microseconds(304_687))
        #expect(i.masterDownInterval == .microseconds(1_804_687))
        #expect(i.skew(units: 1) == .microseconds(1953))
    }

    @Test("keepalived down_timer_adverts: master down = N × interval + skew")
    func downTimerAdverts() {
        let i = VRRPInstance(config: config { $0.downTimerAdverts = 5 }, sourceAddress: ip("192.168.0.1"))
        #expect(i.masterDownInterval == .microseconds(5_609_375))
    }

    @Test("vrrp_init_state: state BACKUP → 'Entering BACKUP STATE (init)', notify_backup, timer at master down")
    func startBackup() {
        var i = VRRPInstance(
            config: config { $0.notify = VRRPNotifyScripts(backup: "/bin/nb arg") }, sourceAddress: ip("192.168.0.1"))
        let a = i.handle(.start, now: at(10))
        #expect(i.state == .backup)
        #expect(a.logs == ["(VI_1) Entering BACKUP STATE (init)"])
        #expect(a.notifies == [VRRPNotifyInvocation(kind: .backup, command: "/bin/nb arg")])
        #expect(a.notifies[0].argv == ["/bin/nb", "arg"])
        #expect(a.timer == at(10) + .microseconds(3_609_375))
        #expect(a.adverts.isEmpty)
    }

    @Test("vrrp_init_state: state MASTER with priority 100 waits advert_int + minimum skew (1/256 s)")
    func startWantMaster() {
        var i = VRRPInstance(config: config(state: .master), sourceAddress: ip("192.168.0.1"))
        let a = i.handle(.start, now: at(0))
        #expect(i.state == .backup)
        #expect(a.timer == at(0) + .microseconds(1_003_906))
        let b = i.handle(.timer, now: a.timer!)
        #expect(i.state == .master && b.states == [.master])
    }

    @Test("vrrp_init_state: priority 255 (address owner) with state MASTER is MASTER at once")
    func startOwner() {
        var i = VRRPInstance(config: config(priority: 255, state: nil), sourceAddress: ip("192.168.0.1"))
        let a = i.handle(.start, now: at(0))
        #expect(i.state == .master)
        #expect(a.adverts == [255])
    }

    @Test("keepalived: nopreempt is cleared with a warning for priority 255 and for state MASTER")
    func nopreemptCleared() {
        let a = VRRPInstance(config: config(priority: 255) { $0.nopreempt = true }, sourceAddress: ip("10.0.0.1"))
        #expect(!a.config.nopreempt)
        #expect(a.configWarnings == ["(VI_1) nopreempt is incompatible with priority 255 - resetting nopreempt"])
        var b = VRRPInstance(config: config(state: .master) { $0.nopreempt = true }, sourceAddress: ip("10.0.0.1"))
        #expect(!b.config.nopreempt)
        #expect(
            b.handle(.start, now: at(0)).logs.first?.contains("nopreempt will not work with initial state MASTER")
                == true)
        let c = VRRPInstance(config: config { $0.nopreempt = true }, sourceAddress: ip("10.0.0.1"))
        #expect(c.config.nopreempt && c.configWarnings.isEmpty)
    }

    @Test(
        "becoming MASTER: advert first, then VIPs (+ excluded), GARP ×5, notify_master, notify INSTANCE VI_1 MASTER 100"
    )
    func becomeMasterOrder() {
        let vip = VirtualIPAddress(ip("192.168.0.240"))
        let ex = VirtualIPAddress(ip("192.168.0.250"), prefixLength: 24, device: "eth1")
        var i = VRRPInstance(
            config: config {
                $0.excludedVirtualIPAddresses = [ex]
                $0.notify = VRRPNotifyScripts(master: "/nm", generic: "/notify.sh")
            }, sourceAddress: ip("192.168.0.1"))
        let s = i.handle(.start, now: at(0))
        let a = i.handle(.timer, now: s.timer!)
        #expect(
            a.effects == [
                .stateChanged(from: .backup, to: .master), .sendAdvert(priority: 100), .addAddresses([vip, ex]),
                .sendGratuitous([vip, ex], repeat: 5), .notify(VRRPNotifyInvocation(kind: .master, command: "/nm")),
                .notify(
                    VRRPNotifyInvocation(
                        kind: .generic, command: "/notify.sh", arguments: ["INSTANCE", "VI_1", "MASTER", "100"])),
            ])
        #expect(a.logs == ["(VI_1) Receive advertisement timeout", "(VI_1) Entering MASTER STATE"])
        #expect(i.addressesInstalled)
    }

    @Test("RFC 3768 §6.4.3: a master sends an advert every advert_int")
    func masterAdverts() {
        var i = masterInstance(config { $0.garpMasterDelay = .zero })
        let t0 = i.nextDeadline!
        let a = i.handle(.timer, now: t0)
        #expect(a.adverts == [100])
        #expect(a.timer == t0 + .seconds(1))
        #expect(i.handle(.timer, now: t0 + .milliseconds(500)).adverts.isEmpty)  // early wake-up: nothing
    }

    @Test("keepalived: the excluded and wrong-family VIPs are installed but never advertised")
    func excludedNotAdvertised() {
        let c = config {
            $0.virtualIPAddresses.append(VirtualIPAddress(ip("2001:db8::1")))
            $0.excludedVirtualIPAddresses = [VirtualIPAddress(ip("10.9.9.9"))]
        }
        #expect(c.advertisedAddresses.map(\.address) == [ip("192.168.0.240")])
        #expect(c.allInstalledAddresses.map(\.address) == [ip("192.168.0.240"), ip("2001:db8::1"), ip("10.9.9.9")])
    }
}

@Suite("VRRP BACKUP receive rules (keepalived vrrp_state_backup)")
struct BackupRulesTests {
    func backup(_ c: VRRPInstanceConfig) -> VRRPInstance {
        var i = VRRPInstance(config: c, sourceAddress: ip("192.168.0.1"))
        _ = i.handle(.start, now: at(0))
        return i
    }

    @Test(
        "an advert with priority ≥ ours resets the down timer; equal priority is accepted (no IP tie-break in BACKUP)")
    func acceptHigherOrEqual() {
        let c = config()
        var i = backup(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 100, from: "192.168.0.0")), now: at(2))
        #expect(a.timer == at(2) + .microseconds(3_609_375))
        #expect(i.masterAddress == ip("192.168.0.0") && i.masterPriority == 100)
        let b = i.handle(.packet(advertPacket(for: c, priority: 200)), now: at(4))
        #expect(b.timer == at(4) + .microseconds(3_609_375))
        #expect(i.state == .backup)
    }

    @Test(
        "preempt: a lower-priority advert is discarded ('received lower priority (50) advert ... - discarding'); the timer runs out into MASTER"
    )
    func discardLower() {
        let c = config()
        var i = backup(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(2))
        #expect(a.logs == ["(VI_1) received lower priority (50) advert from 192.168.0.2 - discarding"])
        #expect(a.timer == at(0) + .microseconds(3_609_375))
        _ = i.handle(.timer, now: a.timer!)
        #expect(i.state == .master)
    }

    @Test("nopreempt: a lower-priority master is accepted and we stay BACKUP")
    func nopreempt() {
        let c = config { $0.nopreempt = true }
        var i = backup(c)
        for t in stride(from: 1.0, through: 20, by: 1) {
            let a = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(t))
            #expect(a.timer == at(t) + .microseconds(3_609_375))
            _ = i.handle(.timer, now: at(t + 0.5))
        }
        #expect(i.state == .backup)
    }

    @Test(
        "preempt_delay 5 s: lower adverts are accepted while the delay runs ('start preempt delay(5)'), then discarded")
    func preemptDelay() {
        let c = config { $0.preemptDelay = .seconds(5) }
        var i = backup(c)
        let first = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(1))
        #expect(first.logs == ["(VI_1) start preempt delay(5)"])
        var t = 2.0
        while t < 6 {
            let a = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(t))
            #expect(a.timer == at(t) + .microseconds(3_609_375), "accepted at \(t)")
            t += 1
        }
        let late = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(6.5))
        #expect(late.logs.first?.hasSuffix("- discarding") == true)
        _ = i.handle(.timer, now: late.timer!)
        #expect(i.state == .master)
    }

    @Test("preempt_delay stops when an advert of priority ≥ ours arrives ('stop preempt delay')")
    func preemptDelayStop() {
        let c = config { $0.preemptDelay = .seconds(5) }
        var i = backup(c)
        _ = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(1))
        let a = i.handle(.packet(advertPacket(for: c, priority: 150)), now: at(2))
        #expect(a.logs == ["(VI_1) stop preempt delay"])
    }

    @Test("RFC 3768 §6.4.2: a priority 0 advert sets the down timer to Skew_Time")
    func priorityZero() {
        let c = config()
        var i = backup(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 0)), now: at(2))
        #expect(a.logs == ["(VI_1) Backup received priority 0 advertisement"])
        #expect(a.timer == at(2) + .microseconds(609_375))
    }

    @Test("RFC 5798 §6.4.2: a v3 backup adopts the master's advert interval (2 s): master down 6 s + 2×156/256 s")
    func v3AdoptsInterval() {
        let c = config(version: .v3)
        var i = backup(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 150, interval: 200)), now: at(1))
        #expect(i.masterAdvertInterval == .seconds(2))
        #expect(a.logs == ["(VI_1) advertisement interval updated to 2000 milli-sec from 1000 milli-sec"])
        #expect(a.timer == at(1) + .microseconds(6_000_000 + 1_218_750))
    }

    @Test("keepalived: a v2 backup drops an advert with another interval, so the timer keeps running")
    func v2IntervalDropped() {
        let c = config()
        var i = backup(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 150, interval: 3)), now: at(1))
        #expect(a.logs == ["(VI_1) advertisement interval mismatch mine=1 sec rcv'd=3 sec"])
        #expect(a.timer == at(0) + .microseconds(3_609_375))
    }

    @Test("a dropped advert (bad password) leaves the down timer alone and is logged")
    func droppedDoesNotReset() {
        let c = config { $0.authentication = .pass("secret12") }
        var i = backup(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 200, password: "nope")), now: at(1))
        #expect(a.logs == ["(VI_1) received an invalid passwd!"])
        #expect(a.timer == at(0) + .microseconds(3_609_375))
    }
}

@Suite("VRRP MASTER receive rules (keepalived vrrp_state_master_rx)")
struct MasterRulesTests {
    @Test("priority 0 from another router: send an advert at once and stay MASTER")
    func priorityZero() {
        let c = config()
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 0)), now: at(5))
        #expect(a.adverts == [100] && i.state == .master)
        #expect(a.logs == ["(VI_1) Master received priority 0 message"])
    }

    @Test(
        "higher priority: 'Master received advert ... with higher priority 150, ours 100' → BACKUP, VIPs removed, notify_backup"
    )
    func higher() {
        let c = config { $0.notify = VRRPNotifyScripts(backup: "/nb") }
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 150)), now: at(5))
        #expect(i.state == .backup && !i.addressesInstalled)
        #expect(a.adverts.isEmpty)
        #expect(
            a.effects == [
                .removeAddresses([VirtualIPAddress(ip("192.168.0.240"))]), .stateChanged(from: .master, to: .backup),
                .notify(VRRPNotifyInvocation(kind: .backup, command: "/nb")),
            ])
        #expect(a.logs.first == "(VI_1) Master received advert from 192.168.0.2 with higher priority 150, ours 100")
        #expect(a.timer == at(5) + .microseconds(3_609_375))
    }

    @Test("higher_prio_send_advert: one advert before yielding to the higher-priority master")
    func higherSendsAdvert() {
        let c = config { $0.higherPrioritySendAdvert = true }
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 150)), now: at(5))
        #expect(a.adverts == [100] && i.state == .backup)
        #expect(a.effects.first == .sendAdvert(priority: 100))
    }

    @Test("RFC 3768 §6.4.3: equal priority and a greater primary address wins; a smaller one loses")
    func tieBreak() {
        let c = config()
        var i = masterInstance(c, source: "192.168.0.5")
        let lower = i.handle(.packet(advertPacket(for: c, priority: 100, from: "192.168.0.4")), now: at(5))
        #expect(i.state == .master && lower.adverts == [100])
        let higher = i.handle(.packet(advertPacket(for: c, priority: 100, from: "192.168.0.6")), now: at(6))
        #expect(i.state == .backup)
        #expect(
            higher.logs.first
                == "(VI_1) Master received advert from 192.168.0.6 with same priority 100 but higher IP address than ours"
        )
    }

    @Test("RFC 9568 / keepalived: a lower-priority advert gets an advert at once ('forcing new election')")
    func lowerForcesElection() {
        let c = config()
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(5))
        #expect(a.adverts == [100] && i.state == .master)
        #expect(
            a.logs == ["(VI_1) Received advert from 192.168.0.2 with lower priority 50, ours 100, forcing new election"]
        )
    }

    @Test(
        "K:vrrp_state_master_rx: a lower-priority advert also refreshes ARP caches: garp_lower_prio_repeat now and after garp_lower_prio_delay"
    )
    func lowerRefreshesARP() {
        let c = config()
        var i = masterInstance(c)
        let vip = c.virtualIPAddresses
        let a = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(5))
        #expect(a.effects == [.sendAdvert(priority: 100), .sendGratuitous(vip, repeat: 5)])
        // The second burst 5 s later, at 10 s (the master's own garp_master_delay burst came at 8.61 s).
        var garps: [Timestamp] = []
        var next = a.timer
        while let t = next, t <= at(10.5) {
            let b = i.handle(.timer, now: t)
            if b.effects.contains(.sendGratuitous(vip, repeat: 5)) { garps.append(t) }
            next = b.timer
        }
        #expect(garps == [at(3.609375 + 5), at(10)])
        let none = config { $0.garpLowerPriorityRepeat = 0 }
        var j = masterInstance(none)
        #expect(
            j.handle(.packet(advertPacket(for: none, priority: 50)), now: at(5)).effects == [.sendAdvert(priority: 100)]
        )
    }

    @Test("lower_prio_no_advert: RFC 3768/5798 silence on a lower-priority advert")
    func lowerNoAdvert() {
        let c = config { $0.lowerPriorityNoAdvert = true }
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 50)), now: at(5))
        #expect(a.adverts.isEmpty && i.state == .master)
        #expect(a.logs == ["(VI_1) Received advert from 192.168.0.2 with lower priority 50, ours 100"])
    }

    @Test("keepalived: two address owners (255): ours drops to 254 with a CONFIGURATION ERROR and yields")
    func ownerConflict() {
        let c = config(priority: 255, state: .master)
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 255)), now: at(1))
        #expect(i.basePriority == 254 && i.effectivePriority == 254 && i.state == .backup)
        #expect(a.logs.first?.contains("CONFIGURATION ERROR") == true)
    }

    @Test("v3: a master yielding to a higher-priority master adopts its interval")
    func v3MasterAdopts() {
        let c = config(version: .v3)
        var i = masterInstance(c)
        let a = i.handle(.packet(advertPacket(for: c, priority: 150, interval: 300)), now: at(5))
        #expect(i.masterAdvertInterval == .seconds(3))
        #expect(a.timer == at(5) + .microseconds(9_000_000 + 1_828_125))
    }
}

@Suite("VRRP GARP, FAULT and STOP")
struct GARPFaultStopTests {
    @Test("garp_master_delay 5: a second burst of garp_master_repeat GARPs 5 s after becoming MASTER")
    func secondBurst() {
        var i = VRRPInstance(config: config(), sourceAddress: ip("192.168.0.1"))
        let s = i.handle(.start, now: at(0))
        let t = s.timer!
        _ = i.handle(.timer, now: t)
        var garps: [(Timestamp, Int)] = []
        var now = t
        while now < t + .seconds(7) {
            now = i.nextDeadline!
            for case .sendGratuitous(_, let n) in i.handle(.timer, now: now) { garps.append((now, n)) }
        }
        #expect(garps.map(\.1) == [5])
        #expect(garps.map(\.0) == [t + .seconds(5)])
    }

    @Test(
        "garp_master_delay 0 disables the second burst; garp_master_refresh 3 with refresh_repeat 2 repeats every 3 s")
    func refresh() {
        let c = config {
            $0.garpMasterDelay = .zero
            $0.garpMasterRefresh = .seconds(3)
            $0.garpMasterRefreshRepeat = 2
        }
        var i = VRRPInstance(config: c, sourceAddress: ip("192.168.0.1"))
        let s = i.handle(.start, now: at(0))
        let t = s.timer!
        _ = i.handle(.timer, now: t)
        var bursts: [(Timestamp, Int)] = []
        while true {
            let now = i.nextDeadline!
            if now > t + .seconds(10) { break }
            for case .sendGratuitous(_, let n) in i.handle(.timer, now: now) { bursts.append((now, n)) }
        }
        #expect(bursts.map(\.0) == [t + .seconds(3), t + .seconds(6), t + .seconds(9)])
        #expect(bursts.map(\.1) == [2, 2, 2])
    }

    @Test(
        "FAULT: the tracked primary interface going down makes a master send priority 0, remove its VIPs, run notify_fault"
    )
    func faultFromMaster() {
        let c = config { $0.notify = VRRPNotifyScripts(fault: "/nf", generic: "/n") }
        var i = masterInstance(c)
        let a = i.handle(.interfaceState(name: "eth0", up: false), now: at(9))
        #expect(i.state == .fault)
        #expect(
            a.effects == [
                .sendAdvert(priority: 0), .removeAddresses([VirtualIPAddress(ip("192.168.0.240"))]),
                .stateChanged(from: .master, to: .fault), .notify(VRRPNotifyInvocation(kind: .fault, command: "/nf")),
                .notify(
                    VRRPNotifyInvocation(
                        kind: .generic, command: "/n", arguments: ["INSTANCE", "VI_1", "FAULT", "100"])),
            ])
        #expect(a.logs == ["(VI_1) Entering FAULT STATE"])
        // Adverts are ignored in FAULT.
        #expect(i.handle(.packet(advertPacket(for: c, priority: 0)), now: at(10)).effects.isEmpty)
        let b = i.handle(.interfaceState(name: "eth0", up: true), now: at(11))
        #expect(i.state == .backup && b.logs == ["(VI_1) Entering BACKUP STATE"])
        #expect(b.timer == at(11) + .microseconds(3_609_375))
    }

    @Test(
        "FAULT at start: a tracked interface that is down gives 'Entering FAULT STATE (init)'; dont_track_primary ignores eth0"
    )
    func faultInit() {
        var i = VRRPInstance(config: config(), sourceAddress: ip("192.168.0.1"))
        _ = i.handle(.interfaceState(name: "eth0", up: false), now: at(0))
        let a = i.handle(.start, now: at(0))
        #expect(i.state == .fault && a.logs == ["(VI_1) Entering FAULT STATE (init)"])
        var j = VRRPInstance(config: config { $0.dontTrackPrimary = true }, sourceAddress: ip("192.168.0.1"))
        _ = j.handle(.interfaceState(name: "eth0", up: false), now: at(0))
        _ = j.handle(.start, now: at(0))
        #expect(j.state == .backup)
    }

    @Test("an owner (255, state MASTER) leaving FAULT goes straight back to MASTER")
    func ownerLeavesFault() {
        var i = masterInstance(config(priority: 255, state: .master))
        _ = i.handle(.interfaceState(name: "eth0", up: false), now: at(1))
        #expect(i.state == .fault)
        _ = i.handle(.interfaceState(name: "eth0", up: true), now: at(2))
        #expect(i.state == .master)
    }

    @Test("STOP from MASTER: priority 0 advert, 'sent 0 priority', VIPs removed, notify_stop and notify ... STOP")
    func stopMaster() {
        let c = config { $0.notify = VRRPNotifyScripts(stop: "/ns", generic: "/n") }
        var i = masterInstance(c)
        let a = i.handle(.stop, now: at(9))
        #expect(
            a.effects == [
                .sendAdvert(priority: 0), .removeAddresses([VirtualIPAddress(ip("192.168.0.240"))]),
                .stateChanged(from: .master, to: .stop), .notify(VRRPNotifyInvocation(kind: .stop, command: "/ns")),
                .notify(
                    VRRPNotifyInvocation(kind: .generic, command: "/n", arguments: ["INSTANCE", "VI_1", "STOP", "100"])),
            ])
        #expect(a.logs == ["(VI_1) sent 0 priority", "(VI_1) Entering STOP STATE"])
        #expect(a.timer == nil && i.nextDeadline == nil)
        #expect(i.handle(.packet(advertPacket(for: c, priority: 200)), now: at(10)).isEmpty)
    }

    @Test("STOP from BACKUP sends nothing and removes nothing")
    func stopBackup() {
        var i = VRRPInstance(config: config(), sourceAddress: ip("192.168.0.1"))
        _ = i.handle(.start, now: at(0))
        let a = i.handle(.stop, now: at(1))
        #expect(a.effects == [.stateChanged(from: .backup, to: .stop)])
    }
}
