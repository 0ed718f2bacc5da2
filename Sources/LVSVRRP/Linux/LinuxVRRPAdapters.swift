// The real adapters: raw sockets, rtnetlink, AF_PACKET and child processes, plus a monotonic clock.
import CLVSLinux
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
    /// that hand those sockets to `VRRPService`.
    public static func make(
        for instances: [VRRPInstanceConfig], scripts: any ScriptRunner = ProcessScriptRunner(),
        log: @escaping @Sendable (String) -> Void
    ) throws(VRRPError) -> VRRPAdapters {
        let netlink = try RTNetlink()
        var opened: [VRRPTransportKey: LinuxVRRPTransport] = [:]
        for c in instances {
            let k = VRRPService.key(for: c)
            if opened[k] != nil { continue }
            let idx = try k.interface.map { n throws(VRRPError) in try netlink.index(of: n) } ?? 0
            let group: IPAddress = c.family == .inet ? .v4(c.multicastGroup4) : .v6(c.multicastGroup6)
            opened[k] = try LinuxVRRPTransport(key: k, ifindex: idx, group: group)
        }
        let ready = opened
        return VRRPAdapters(
            openTransport: { k throws(VRRPError) in
                guard let t = ready[k] else { throw VRRPError(.socket, "no VRRP socket was opened for \(k)") }
                return t
            },
            addresses: try NetlinkAddressManager(), garp: try LinuxGARPSender(),
            interfaces: try NetlinkInterfaceMonitor(), scripts: scripts, clock: MonotonicClock(), log: log)
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
