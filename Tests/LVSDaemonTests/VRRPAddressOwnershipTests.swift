// Which VRRP addresses lvsd owns (MASTER) and which are passive: the tracker and the daemon feeding it.
import Foundation
import KeepalivedConfig
import LVSCore
import LVSDaemon
import LVSTestSupport
import LVSVRRP
import Testing

/// Snapshots an observer received, with what was installed when each arrived.
final class OwnershipLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(VRRPAddressOwnership.Snapshot, [String])] = []
    func add(_ s: VRRPAddressOwnership.Snapshot, installed: [String] = []) {
        lock.withLock { list.append((s, installed)) }
    }
    var snapshots: [VRRPAddressOwnership.Snapshot] { lock.withLock { list.map(\.0) } }
    var entries: [(VRRPAddressOwnership.Snapshot, [String])] { lock.withLock { list } }
}

private func instances(_ text: String) -> [VRRPInstanceConfig] {
    VRRPSetup(configuration: KeepalivedConfigLoader.check(text: text).configuration, hostName: "h").instances
}

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

/// seed 001's instance (VIP 192.168.0.239) and a second one with two VIPs, one shared.
private let twoInstances = """
    vrrp_instance VI_1 {
        state MASTER
        interface eth0
        virtual_router_id 51
        priority 100
        virtual_ipaddress {
            192.168.0.239
        }
    }
    vrrp_instance VI_2 {
        state BACKUP
        interface eth0
        virtual_router_id 52
        priority 99
        virtual_ipaddress {
            192.168.0.240
            192.168.0.239
        }
        virtual_ipaddress_excluded {
            192.168.0.241
        }
    }
    """

@Suite("VRRP address ownership (SwiftLVS deviation: a VRRP backup's virtual services are left to the local stack)")
struct VRRPAddressOwnershipTests {
    @Test(
        "every virtual_ipaddress (and _excluded) is passive until its instance is MASTER; an address shared by two instances is owned while either is MASTER"
    )
    func tracker() {
        let o = VRRPAddressOwnership()
        let log = OwnershipLog()
        o.configure(instances(twoInstances))
        o.addObserver { log.add($0) }
        let all: Set<IPAddress> = [ip("192.168.0.239"), ip("192.168.0.240"), ip("192.168.0.241")]
        #expect(log.snapshots == [VRRPAddressOwnership.Snapshot(managed: all, owned: [])])
        #expect(o.current.passive == all)
        o.update(instance: "VI_1", state: .backup)
        #expect(log.snapshots.count == 1, "no change, no call")
        o.update(instance: "VI_1", state: .master)
        #expect(o.current.owned == [ip("192.168.0.239")])
        #expect(o.current.passive == [ip("192.168.0.240"), ip("192.168.0.241")])
        o.update(instance: "VI_2", state: .master)
        #expect(o.current.passive.isEmpty)
        o.update(instance: "VI_1", state: .fault)
        #expect(o.current.owned == all, "192.168.0.239 still owned through VI_2")
        o.update(instance: "VI_2", state: .stop)
        #expect(o.current.passive == all)
        // Start, VI_1 MASTER, VI_2 MASTER, VI_2 STOP (VI_1 FAULT changed no address).
        #expect(log.snapshots.count == 4)
    }

    @Test(
        "reload: states are kept by name, replaced wholesale from the service's snapshot; a removed instance's addresses are no longer managed"
    )
    func reload() {
        let o = VRRPAddressOwnership()
        o.configure(instances(twoInstances))
        o.update(instance: "VI_1", state: .master)
        o.configure(Array(instances(twoInstances).prefix(1)))
        #expect(
            o.current == VRRPAddressOwnership.Snapshot(managed: [ip("192.168.0.239")], owned: [ip("192.168.0.239")]))
        o.replaceStates(["VI_1": .backup])
        #expect(o.current.passive == [ip("192.168.0.239")])
        o.configure([])
        #expect(o.current.passive.isEmpty && o.current.managed.isEmpty)
    }

    @Test("the daemon: passive at start, owned on MASTER before the VIP is installed, passive again on stop")
    func daemonFollowsTransitions() async throws {
        let f = VRRPDaemonTests.Fakes()
        let daemon = VRRPDaemon(hostName: "h", makeAdapters: f.factory(), executor: f.vt.executor)
        let log = OwnershipLog()
        let captured = CapturedLog()
        daemon.configure(
            KeepalivedConfigLoader.check(
                text: """
                    vrrp_instance VI_1 {
                        state MASTER
                        interface eth0
                        virtual_router_id 55
                        priority 150
                        version 3
                        advert_int 0.1
                        virtual_ipaddress {
                            192.168.0.240
                        }
                    }
                    """
            ).configuration, logger: captured.logger)
        daemon.ownership.addObserver { log.add($0, installed: f.addresses.installed.sorted()) }
        let vip: Set<IPAddress> = [ip("192.168.0.240")]
        #expect(log.snapshots.map(\.passive) == [vip])
        let task = Task(executorPreference: f.vt.executor) { await daemon.run(logger: captured.logger) }
        _ = await f.vt.run(limit: .seconds(3)) { !f.addresses.installed.isEmpty }
        #expect(f.addresses.installed == ["eth0 192.168.0.240/32"], "\(captured.all)")
        let owned = log.entries.first { $0.0.owned == vip }
        #expect(owned != nil)
        #expect(owned?.1 == [], "interception starts before the VIP is added")
        task.cancel()
        await task.value
        #expect(log.snapshots.last?.passive == vip, "STOP: passive again")
    }
}
