// Platform: the sync daemons' multicast UDP sockets (IPv4 and IPv6 groups), as the kernel's
// make_send_sock / make_receive_sock set them up.
import CLVSLinux
import Glibc
import LVSCore
import Synchronization

/// A sync daemon's view of the network: datagrams out to the group, datagrams in from it.
public protocol SyncChannel: AnyObject, Sendable {
    /// Sends one datagram to the group; false when the socket refused it (counted by the caller).
    func send(_ datagram: [UInt8]) -> Bool
    /// The next received datagram (copied into `buffer`), without waiting: its full length (which
    /// may exceed the buffer: it was cut), or nil when none is waiting.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int?
    /// Waits until a datagram may be waiting, the channel is woken, or `milliseconds` pass.
    func wait(milliseconds: Int32)
    /// Makes `wait` return now (to stop the daemon).
    func wake()
    func close()
}

/// The kernel's sockets for one daemon:
///
/// ```
///  send:    UDP, IP_MULTICAST_IF = interface, loop off, TTL, PMTU discovery off,
///           bound to the interface's address (IPv4), sendto group:port
///  receive: UDP, SO_REUSEADDR, bound to the interface (SO_BINDTODEVICE) and to group:port,
///           joined to the group on the interface
/// ```
public final class MulticastSyncChannel: SyncChannel, @unchecked Sendable {
    private let sendFD: Int32
    private let destination: IPAddress
    private let destinationPort: UInt16
    private let receiveFD: Int32
    /// Signalled by `wake()`; `wait` polls it beside the receiving socket.
    private let wakeup: WakeDescriptor
    private let lock = Mutex(())
    private var closed = false

    static let ipMulticastAll: Int32 = 49
    static let ipv6MulticastIf: Int32 = 17
    static let ipv6MulticastHops: Int32 = 18
    static let ipv6MulticastLoop: Int32 = 19
    static let ipMTUDiscover: Int32 = 10
    static let ipv6MTUDiscover: Int32 = 23

    /// Opens the sockets of a daemon with `spec`'s interface, group, port and TTL (defaults
    /// already filled in). `receiveBuffer` sizes SO_RCVBUF (bulk resyncs arrive in bursts).
    public init(spec: SyncDaemonSpec, receiveBuffer: Int = 8 << 20) throws(IPVSError) {
        let ifindex = Int32(bitPattern: if_nametoindex(spec.multicastInterface))
        guard ifindex != 0 else { throw IPVSError(.noSuchDevice) }
        let group = spec.group ?? .v4(IPv4Address(224, 0, 0, 81))
        let port = spec.port == 0 ? 8848 : spec.port
        let ttl = Int32(spec.ttl == 0 ? 1 : spec.ttl)
        var fds: [Int32] = []
        func fail(_ what: String) -> IPVSError {
            let e = errno
            for fd in fds { Glibc.close(fd) }
            return Self.error(e, what)
        }
        let domain = group.family == .inet ? AF_INET : AF_INET6
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)

        // Sending socket.
        let s = socket(domain, type, Int32(IPPROTO_UDP))
        guard s >= 0 else { throw fail("socket") }
        fds.append(s)
        if group.family == .inet {
            guard clvs_vrrp_ip4_multicast_if(s, ifindex) == 0 else { throw fail("IP_MULTICAST_IF") }
            guard Self.setInt(s, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, 0),
                Self.setInt(s, Int32(IPPROTO_IP), IP_MULTICAST_TTL, ttl),
                Self.setInt(s, Int32(IPPROTO_IP), Self.ipMTUDiscover, 0)  // IP_PMTUDISC_DONT
            else { throw fail("IP multicast options") }
            // bind_mcastif_addr: the interface's address as the source.
            if let local = Self.interfaceAddress(spec.multicastInterface) {
                var sa = SocketAddress.ipv4(local, port: 0)
                let r = withUnsafePointer(to: &sa) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard r == 0 else { throw fail("bind to the address of \(spec.multicastInterface)") }
            }
        } else {
            guard Self.setInt(s, Int32(IPPROTO_IPV6), Self.ipv6MulticastIf, ifindex),
                Self.setInt(s, Int32(IPPROTO_IPV6), Self.ipv6MulticastLoop, 0),
                Self.setInt(s, Int32(IPPROTO_IPV6), Self.ipv6MulticastHops, ttl),
                Self.setInt(s, Int32(IPPROTO_IPV6), Self.ipv6MTUDiscover, 0)
            else { throw fail("IPv6 multicast options") }
        }
        _ = clvs_dp_force_sndbuf(s, 4 << 20)
        // Not connected (the kernel connects): a daemon started while its link is down (a VRRP
        // instance in FAULT) must still run, and send once the link is back.

        // Receiving socket.
        let r = socket(domain, type, Int32(IPPROTO_UDP))
        guard r >= 0 else { throw fail("socket") }
        fds.append(r)
        guard Self.setInt(r, SOL_SOCKET, SO_REUSEADDR, 1) else { throw fail("SO_REUSEADDR") }
        _ = clvs_dp_force_rcvbuf(r, Int32(receiveBuffer))
        let bound = spec.multicastInterface.withCString {
            setsockopt(r, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(strlen($0) + 1))
        }
        guard bound == 0 else { throw fail("SO_BINDTODEVICE \(spec.multicastInterface)") }
        guard Self.bind(r, group, port) else { throw fail("bind to \(group):\(port)") }
        switch group {
        case .v4(let g):
            _ = Self.setInt(r, Int32(IPPROTO_IP), Self.ipMulticastAll, 0)
            guard clvs_vrrp_ip4_membership(r, g.value.bigEndian, ifindex, 1) == 0 else {
                throw fail("join \(group) on \(spec.multicastInterface)")
            }
        case .v6(let g):
            let bytes = g.bytes
            let j = bytes.withUnsafeBufferPointer { clvs_vrrp_ip6_membership(r, $0.baseAddress, ifindex, 1) }
            guard j == 0 else { throw fail("join \(group) on \(spec.multicastInterface)") }
        }
        let wakeup: WakeDescriptor
        do { wakeup = try WakeDescriptor() } catch { throw fail("eventfd") }
        sendFD = s
        receiveFD = r
        destination = group
        destinationPort = port
        self.wakeup = wakeup
    }

    deinit { close() }

    public func send(_ datagram: [UInt8]) -> Bool {
        for _ in 0..<3 {
            let n = datagram.withUnsafeBytes { d in
                SocketAddress.with(destination, port: destinationPort) { sa, len in
                    sendto(sendFD, d.baseAddress, d.count, Int32(MSG_DONTWAIT), sa, len)
                }
            }
            if n == datagram.count { return true }
            if n < 0 && (errno == EAGAIN || errno == ENOBUFS) {
                // The send buffer is full (a bulk answer): wait for room, briefly.
                var p = pollfd(fd: sendFD, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 50)
                continue
            }
            return false
        }
        return false
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let n = recv(receiveFD, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC))
        return n < 0 ? nil : n
    }

    public func wait(milliseconds: Int32) {
        let ready = Readiness.wait([receiveFD, wakeup.descriptor], timeoutMilliseconds: milliseconds)
        if ready & 2 != 0 { wakeup.drain() }
    }

    public func wake() {
        // The eventfd lives as long as the channel: a wake after close() is harmless.
        wakeup.signal()
    }

    public func close() {
        lock.withLock { _ in
            guard !closed else { return }
            closed = true
            Glibc.close(sendFD)
            Glibc.close(receiveFD)
        }
    }

    // MARK: helpers

    static func error(_ e: Int32, _ what: String) -> IPVSError {
        if e == ENODEV { return IPVSError(.noSuchDevice, detail: what) }
        return IPVSError(.systemError, detail: "\(what): \(String(cString: strerror(e)))")
    }

    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var v = value
        return setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    static func bind(_ fd: Int32, _ a: IPAddress, _ port: UInt16) -> Bool {
        SocketAddress.with(a, port: port) { Glibc.bind(fd, $0, $1) == 0 }
    }

    /// The first IPv4 address of an interface (`inet_select_addr`).
    static func interfaceAddress(_ name: String) -> IPv4Address? {
        var list: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var p = list
        while let e = p {
            if let a = e.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET),
                String(cString: e.pointee.ifa_name) == name
            {
                let v = a.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                return IPv4Address(UInt32(bigEndian: v))
            }
            p = e.pointee.ifa_next
        }
        return nil
    }
}
