// Which VRRP virtual addresses this lvsd owns now (instance MASTER), for the data plane's passive VIPs.
import LVSCore
import LVSVRRP
import Synchronization

/// Follows the states of lvsd's VRRP instances and tells observers which virtual addresses are
/// owned (some instance holding them is MASTER) and which are passive (managed by an instance
/// of this lvsd, none of them MASTER).
///
/// SwiftLVS deviation from the kernel, for seed 001's "director and real server on the same two
/// boxes": a virtual service whose address is passive is not intercepted; its traffic goes to
/// the local stack, so a BACKUP box serves what the MASTER forwards to it as a plain real server
/// instead of scheduling it again (the loop the seed reports with the kernel's IPVS). Addresses of
/// no VRRP instance are never passive.
///
/// ```
///  configure / reload ─▶ instances' VIPs ─┐
///  VRRP transitions ──▶ instance states ──┴▶ Snapshot(managed, owned) ─changed─▶ observers
/// ```
public final class VRRPAddressOwnership: @unchecked Sendable {
    /// The addresses at one moment.
    public struct Snapshot: Equatable, Sendable {
        /// Every virtual address of a VRRP instance (`virtual_ipaddress` and `_excluded`).
        public var managed: Set<IPAddress>
        /// Those of an instance in MASTER state.
        public var owned: Set<IPAddress>
        /// Managed but not owned: their virtual services are left to the local stack.
        public var passive: Set<IPAddress> { managed.subtracting(owned) }

        public init(managed: Set<IPAddress> = [], owned: Set<IPAddress> = []) {
            self.managed = managed
            self.owned = owned
        }
    }

    private let lock = Mutex(())
    /// Serializes observer calls, so they see the snapshots in order.
    private let notifyLock = Mutex(())
    private var addresses: [String: Set<IPAddress>] = [:]
    private var states: [String: VRRPState] = [:]
    private var observers: [@Sendable (Snapshot) -> Void] = []
    private var lastNotified: Snapshot?

    public init() {}

    /// The snapshot now.
    public var current: Snapshot { lock.withLock { _ in snapshotLocked() } }

    /// Registers `observer`; it is called at once with the current snapshot, then on every change.
    public func addObserver(_ observer: @escaping @Sendable (Snapshot) -> Void) {
        notifyLock.withLock { _ in
            let s = lock.withLock { _ in
                observers.append(observer)
                return snapshotLocked()
            }
            observer(s)
        }
    }

    /// The instances of the configuration in force (start or reload); states of instances with
    /// the same name are kept.
    public func configure(_ instances: [VRRPInstanceConfig]) {
        lock.withLock { _ in
            addresses = [:]
            for i in instances { addresses[i.name] = Set(i.allInstalledAddresses.map(\.address)) }
        }
        publish()
    }

    /// An instance changed state (`VRRPService`'s `onTransition`).
    public func update(instance: String, state: VRRPState) {
        lock.withLock { _ in states[instance] = state }
        publish()
    }

    /// Every instance's state at once (after a reload, which may rename instances).
    public func replaceStates(_ newStates: [String: VRRPState]) {
        lock.withLock { _ in states = newStates }
        publish()
    }

    private func snapshotLocked() -> Snapshot {
        var s = Snapshot()
        for (name, vips) in addresses {
            s.managed.formUnion(vips)
            if states[name] == .master { s.owned.formUnion(vips) }
        }
        return s
    }

    private func publish() {
        notifyLock.withLock { _ in
            let (s, list) = lock.withLock { _ in (snapshotLocked(), observers) }
            guard s != lastNotified else { return }
            lastNotified = s
            for o in list { o(s) }
        }
    }
}
