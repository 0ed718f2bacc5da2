// The real adapters: raw sockets, rtnetlink, AF_PACKET and child processes, on the monotonic clock.
import LVSCore
import LVSPlatform
import LVSVRRP
import Synchronization

/// Builds `VRRPAdapters` on Linux.
public enum LinuxVRRPAdapters {
    /// Opens every socket the given instances need, in the calling thread's network namespace
    /// (so a test can call this on a thread that entered a namespace), and returns adapters
    /// that hand those sockets to `VRRPService`. A socket asked for later (a reload adding an
    /// interface, or reopening one that was closed) is opened then, in the namespace of the
    /// thread that asks: lvsd's own.
    public static func make(
        for instances: [VRRPInstanceConfig], scripts: any ScriptRunner = ProcessScriptRunner(),
        log: @escaping @Sendable (String) -> Void
    ) throws(VRRPError) -> VRRPAdapters {
        let netlink: RTNetlinkSocket
        do { netlink = try RTNetlinkSocket() } catch { throw VRRPError(error) }
        let pool = TransportPool(netlink: netlink)
        for c in instances { try pool.preopen(c) }
        return VRRPAdapters(
            openTransport: { k throws(VRRPError) in try pool.take(k) },
            addresses: try NetlinkVIPInstaller(), garp: try LinuxGARPSender(),
            interfaces: try NetlinkInterfaceMonitor(), scripts: scripts, clock: MonotonicClock(), log: log)
    }
}

/// Sockets opened ahead (in a chosen namespace) and handed out once each; later requests open
/// new ones.
final class TransportPool: @unchecked Sendable {
    private let netlink: RTNetlinkSocket
    private let ready = Mutex<[VRRPTransportKey: LinuxVRRPTransport]>([:])

    init(netlink: RTNetlinkSocket) { self.netlink = netlink }

    func preopen(_ c: VRRPInstanceConfig) throws(VRRPError) {
        let k = VRRPService.key(for: c)
        if ready.withLock({ $0[k] != nil }) { return }
        let t = try open(k)
        ready.withLock { $0[k] = t }
    }

    func take(_ k: VRRPTransportKey) throws(VRRPError) -> any VRRPTransport {
        if let t = ready.withLock({ $0.removeValue(forKey: k) }) { return t }
        return try open(k)
    }

    private func open(_ k: VRRPTransportKey) throws(VRRPError) -> LinuxVRRPTransport {
        var idx: Int32 = 0
        if let n = k.interface {
            do { idx = try netlink.index(of: n) } catch { throw VRRPError(error) }
        }
        return try LinuxVRRPTransport(key: k, ifindex: idx, group: k.effectiveGroup)
    }
}
