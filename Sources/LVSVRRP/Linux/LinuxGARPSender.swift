// Gratuitous ARP / unsolicited NA over an AF_PACKET socket, and the interface monitor over rtnetlink.
import CLVSLinux
import Foundation
import Glibc
import LVSCore

/// Sends the frames of `GratuitousFrames` with an AF_PACKET raw socket. Interface indexes, MACs,
/// link-local sources and the IPv6 forwarding flag are read when it is created (in the
/// namespace of the creating thread) and refreshed by `refresh()`.
public final class LinuxGARPSender: GARPSender, @unchecked Sendable {
    private let fd: Int32
    private let netlink: RTNetlink
    private let lock = NSLock()
    private var links: [String: LinkInfo] = [:]
    private var linkLocal: [Int32: IPv6Address] = [:]
    private var forwarding: [String: Bool] = [:]

    public init() throws(VRRPError) {
        let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw Sock.error("socket(AF_PACKET)") }
        fd = s
        netlink = try RTNetlink()
        try refresh()
    }

    deinit { Glibc.close(fd) }

    /// Re-reads interfaces and their link-local addresses.
    public func refresh() throws(VRRPError) {
        let l = try netlink.links()
        let a = try netlink.addresses()
        var fw: [String: Bool] = [:]
        for link in l {
            let path = "/proc/sys/net/ipv6/conf/\(link.name)/forwarding"
            if let s = try? String(contentsOfFile: path, encoding: .utf8) {
                fw[link.name] = s.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
            }
        }
        lock.lock()
        defer { lock.unlock() }
        links = Dictionary(l.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        linkLocal = [:]
        for x in a {
            if case .v6(let v) = x.address, v.isLinkLocal, linkLocal[x.index] == nil { linkLocal[x.index] = v }
        }
        forwarding = fw
    }

    public func announce(_ address: VirtualIPAddress, interface: String, count: Int) throws(VRRPError) {
        lock.lock()
        let link = links[interface]
        let ll = link.flatMap { linkLocal[$0.index] }
        let router = forwarding[interface] ?? false
        lock.unlock()
        guard let link, let mac = link.mac else {
            throw VRRPError(.noSuchInterface, "cannot send gratuitous ARP on \(interface): no such Ethernet interface")
        }
        let frame: [UInt8]
        switch address.address {
        case .v4(let a): frame = GratuitousFrames.gratuitousARP(address: a, mac: mac)
        case .v6(let a):
            guard let ll else {
                throw VRRPError(.socket, "no link-local address on \(interface) for neighbour adverts")
            }
            frame = GratuitousFrames.unsolicitedNA(target: a, source: ll, mac: mac, router: router)
        }
        for _ in 0..<max(0, count) {
            let n = frame.withUnsafeBytes { clvs_vrrp_packet_send(fd, link.index, $0.baseAddress, $0.count) }
            if n < 0 { throw Sock.error("gratuitous ARP on \(interface)") }
        }
    }
}

/// Link states and addresses from rtnetlink, with RTMGRP_LINK notifications as changes.
public final class NetlinkInterfaceMonitor: InterfaceMonitor, @unchecked Sendable {
    private let query: RTNetlink
    private let events: RTNetlink
    private let lock = NSLock()
    private var state: [String: Bool] = [:]
    private var addrs: [InterfaceAddress] = []
    private var names: [Int32: String] = [:]
    public let changes: AsyncStream<(String, Bool)>
    private let continuation: AsyncStream<(String, Bool)>.Continuation
    private var reader: ReaderThread?

    /// Opens both sockets in the calling thread's network namespace and reads the current state.
    public init() throws(VRRPError) {
        query = try RTNetlink()
        events = try RTNetlink(groups: 1)
        (changes, continuation) = AsyncStream.makeStream()
        try refresh()
        let ev = events
        reader = ReaderThread(fd: events.fd, name: "vrrp-linkmon") { [weak self] in
            guard let self, let infos = try? ev.receiveLinkChanges() else { return }
            for l in infos { self.update(l) }
        }
    }

    private func update(_ l: LinkInfo) {
        lock.lock()
        let old = state[l.name]
        state[l.name] = l.isUp
        names[l.index] = l.name
        lock.unlock()
        if old != l.isUp { continuation.yield((l.name, l.isUp)) }
    }

    /// Re-reads links and addresses.
    public func refresh() throws(VRRPError) {
        let l = try query.links()
        let a = try query.addresses()
        lock.lock()
        defer { lock.unlock() }
        for x in l {
            state[x.name] = x.isUp
            names[x.index] = x.name
        }
        addrs = a
    }

    public func isUp(_ interface: String) -> Bool? {
        lock.lock()
        defer { lock.unlock() }
        return state[interface]
    }

    public func primaryAddress(of interface: String, family: AddressFamily) -> IPAddress? {
        try? refresh()
        lock.lock()
        defer { lock.unlock() }
        guard let idx = names.first(where: { $0.value == interface })?.key else { return nil }
        let mine = addrs.filter { $0.index == idx && $0.address.family == family }
        if family == .inet6 {
            return mine.first { $0.address.v6?.isLinkLocal == true }?.address ?? mine.first?.address
        }
        return mine.first { $0.label == interface || $0.label == nil }?.address ?? mine.first?.address
    }

    public func close() {
        reader?.stop()
        reader = nil
        continuation.finish()
    }
}
