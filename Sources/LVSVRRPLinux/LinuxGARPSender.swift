// Gratuitous ARP / unsolicited NA over an AF_PACKET socket, and the interface monitor over rtnetlink.
import CLVSLinux
import Glibc
import LVSCore
import LVSPacket
import LVSPlatform
import LVSVRRP
import Synchronization

/// Sends LVSPacket's `NeighborFrames` (gratuitous ARP, unsolicited NA from the interface's
/// link-local address) with an AF_PACKET raw socket. Interface indexes, MACs, link-local sources
/// and the IPv6 forwarding flag are read when it is created (in the namespace of the creating
/// thread) and refreshed by `refresh()`.
public final class LinuxGARPSender: GARPSender, @unchecked Sendable {
    private struct Interfaces {
        var links: [String: RTNetlinkLink] = [:]
        var linkLocal: [Int32: IPv6Address] = [:]
        var forwarding: [String: Bool] = [:]
    }

    private let fd: Int32
    private let netlink: RTNetlinkSocket
    private let interfaces = Mutex(Interfaces())

    public init() throws(VRRPError) {
        let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw VRRPError.system("socket(AF_PACKET)") }
        fd = s
        do { netlink = try RTNetlinkSocket() } catch { throw VRRPError(error) }
        try refresh()
    }

    deinit { Glibc.close(fd) }

    /// Re-reads interfaces and their link-local addresses.
    public func refresh() throws(VRRPError) {
        let (l, a) = try Self.interfaces(netlink)
        var fw: [String: Bool] = [:]
        for link in l {
            guard let name = link.name else { continue }
            if let s = Sysctl.read("/proc/sys/net/ipv6/conf/\(name)/forwarding") { fw[name] = s == "1" }
        }
        var next = Interfaces(forwarding: fw)
        for link in l { if let name = link.name, next.links[name] == nil { next.links[name] = link } }
        for x in a {
            if case .v6(let v) = x.address, v.isLinkLocal, next.linkLocal[x.index] == nil {
                next.linkLocal[x.index] = v
            }
        }
        interfaces.withLock { $0 = next }
    }

    /// Every interface and address of the socket's namespace.
    static func interfaces(_ netlink: RTNetlinkSocket) throws(VRRPError) -> ([RTNetlinkLink], [RTNetlinkAddress]) {
        do { return (try netlink.links(), try netlink.addresses()) } catch { throw VRRPError(error) }
    }

    public func announce(_ address: VirtualIPAddress, interface: String, count: Int) throws(VRRPError) {
        let (link, ll, router) = interfaces.withLock { i in
            let link = i.links[interface]
            return (link, link.flatMap { i.linkLocal[$0.index] }, i.forwarding[interface] ?? false)
        }
        guard let link, let mac = link.mac else {
            throw VRRPError(.noSuchInterface, "cannot send gratuitous ARP on \(interface): no such Ethernet interface")
        }
        let frame: [UInt8]
        switch address.address {
        case .v4(let a): frame = NeighborFrames.frame { NeighborFrames.gratuitousARP(address: a, mac: mac, into: $0) }
        case .v6(let a):
            guard let ll else {
                throw VRRPError(.socket, "no link-local address on \(interface) for neighbour adverts")
            }
            frame = NeighborFrames.frame {
                NeighborFrames.unsolicitedNeighborAdvertisement(
                    address: a, mac: mac, router: router, source: ll, into: $0)
            }
        }
        for _ in 0..<max(0, count) {
            let n = frame.withUnsafeBytes { clvs_vrrp_packet_send(fd, link.index, $0.baseAddress, $0.count) }
            if n < 0 { throw VRRPError.system("gratuitous ARP on \(interface)") }
        }
    }
}

/// Link states and addresses from rtnetlink, with RTMGRP_LINK notifications as changes.
public final class NetlinkInterfaceMonitor: InterfaceMonitor, @unchecked Sendable {
    private struct Interfaces {
        var state: [String: Bool] = [:]
        var addresses: [RTNetlinkAddress] = []
        var names: [Int32: String] = [:]
    }

    private let query: RTNetlinkSocket
    private let events: RTNetlinkSocket
    private let interfaces = Mutex(Interfaces())
    public let changes: AsyncStream<(String, Bool)>
    private let continuation: AsyncStream<(String, Bool)>.Continuation
    private let reader = Mutex<DescriptorWatcher?>(nil)

    /// Opens both sockets in the calling thread's network namespace and reads the current state.
    public init() throws(VRRPError) {
        do {
            query = try RTNetlinkSocket()
            events = try RTNetlinkSocket(groups: [.link])
        } catch {
            throw VRRPError(error)
        }
        (changes, continuation) = AsyncStream.makeStream()
        try refresh()
        let ev = events
        let watcher: DescriptorWatcher
        do {
            watcher = try DescriptorWatcher(descriptor: events.descriptor, name: "vrrp-linkmon") { [weak self] in
                guard let self, let infos = try? ev.receiveLinkChanges() else { return }
                for l in infos { self.update(l) }
            }
        } catch {
            throw VRRPError(error)
        }
        reader.withLock { $0 = watcher }
    }

    private func update(_ l: RTNetlinkLink) {
        guard let name = l.name else { return }
        let old = interfaces.withLock { i in
            defer {
                i.state[name] = l.isRunning
                i.names[l.index] = name
            }
            return i.state[name]
        }
        if old != l.isRunning { continuation.yield((name, l.isRunning)) }
    }

    /// Re-reads links and addresses.
    public func refresh() throws(VRRPError) {
        let (l, a) = try LinuxGARPSender.interfaces(query)
        interfaces.withLock { i in
            for x in l {
                guard let name = x.name else { continue }
                i.state[name] = x.isRunning
                i.names[x.index] = name
            }
            i.addresses = a
        }
    }

    public func isUp(_ interface: String) -> Bool? { interfaces.withLock { $0.state[interface] } }

    public func primaryAddress(of interface: String, family: AddressFamily) -> IPAddress? {
        try? refresh()
        return interfaces.withLock { i in
            guard let idx = i.names.first(where: { $0.value == interface })?.key else { return nil }
            let mine = i.addresses.filter { $0.index == idx && $0.address.family == family }
            if family == .inet6 {
                return mine.first { $0.address.v6?.isLinkLocal == true }?.address ?? mine.first?.address
            }
            return mine.first { $0.label == interface || $0.label == nil }?.address ?? mine.first?.address
        }
    }

    public func close() {
        reader.withLock { r in
            r?.stop()
            r = nil
        }
        continuation.finish()
    }
}
