// The real adapters: raw sockets, rtnetlink, AF_PACKET and child processes, plus a monotonic clock.
import CLVSLinux
import Foundation
import Glibc
import LVSCore

/// CLOCK_MONOTONIC as an `LVSClock`.
public struct MonotonicClock: LVSClock {
    public init() {}
    public func now() -> Timestamp { Timestamp(nanoseconds: clvs_monotonic_ns()) }
}

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
        let netlink = try RTNetlink()
        let pool = TransportPool(netlink: netlink)
        for c in instances { try pool.preopen(c) }
        return VRRPAdapters(
            openTransport: { k throws(VRRPError) in try pool.take(k) },
            addresses: try NetlinkAddressManager(), garp: try LinuxGARPSender(),
            interfaces: try NetlinkInterfaceMonitor(), scripts: scripts, clock: MonotonicClock(), log: log)
    }
}

/// Sockets opened ahead (in a chosen namespace) and handed out once each; later requests open
/// new ones.
final class TransportPool: @unchecked Sendable {
    private let netlink: RTNetlink
    private let lock = NSLock()
    private var ready: [VRRPTransportKey: LinuxVRRPTransport] = [:]

    init(netlink: RTNetlink) { self.netlink = netlink }

    func preopen(_ c: VRRPInstanceConfig) throws(VRRPError) {
        let k = VRRPService.key(for: c)
        let present = lock.withLock { ready[k] != nil }
        if present { return }
        let t = try open(k)
        lock.withLock { ready[k] = t }
    }

    func take(_ k: VRRPTransportKey) throws(VRRPError) -> any VRRPTransport {
        if let t = lock.withLock({ ready.removeValue(forKey: k) }) { return t }
        return try open(k)
    }

    private func open(_ k: VRRPTransportKey) throws(VRRPError) -> LinuxVRRPTransport {
        let idx = try k.interface.map { n throws(VRRPError) in try netlink.index(of: n) } ?? 0
        return try LinuxVRRPTransport(key: k, ifindex: idx, group: k.effectiveGroup)
    }
}

/// Entering a network namespace on the current thread (setns(CLONE_NEWNET) is per thread).
public enum NetworkNamespace {
    /// Moves the calling thread into the namespace at `path` (e.g. `/run/netns/NAME`).
    public static func enterOnCurrentThread(path: String) throws(VRRPError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VRRPError(.socket, "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard clvs_vrrp_setns_net(fd) == 0 else {
            throw VRRPError(.socket, "setns \(path): \(String(cString: strerror(errno)))")
        }
    }
}
