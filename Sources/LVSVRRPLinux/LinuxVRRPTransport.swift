// VRRP over Linux raw sockets: IPv4 (IP_HDRINCL, multicast 224.0.0.18) and IPv6 (recvmsg with hop limit).
import CLVSLinux
import Glibc
import LVSCore
import LVSPlatform
import LVSVRRP
import Synchronization

/// A raw IP protocol 112 socket on one interface.
///
/// IPv4: we build the IP header ourselves (TOS 0xC0, TTL 255 or `unicast_ttl`, our source
/// address) with IP_HDRINCL; multicast goes out through IP_MULTICAST_IF with loopback off; the
/// socket joins 224.0.0.18 (IP_ADD_MEMBERSHIP by index) and is bound to the device; received
/// datagrams include the IP header, whose TTL the receive checks read.
///
/// IPv6: a plain AF_INET6 raw socket (no IPV6_V6ONLY, which Linux refuses on raw sockets) with
/// IPV6_CHECKSUM at offset 6 so the kernel fills and verifies the pseudo-header checksum,
/// IPV6_MULTICAST_HOPS 255, IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO read through our own recvmsg.
public final class LinuxVRRPTransport: VRRPTransport, @unchecked Sendable {
    public let key: VRRPTransportKey
    public let packets: AsyncStream<ReceivedVRRPPacket>
    private let continuation: AsyncStream<ReceivedVRRPPacket>.Continuation
    private let fd: Int32
    private let ifindex: Int32
    private let reader = Mutex<DescriptorWatcher?>(nil)

    // Linux option numbers (glibc hides some behind _GNU_SOURCE).
    static let ipMulticastAll: Int32 = 49
    static let ipv6Checksum: Int32 = 7
    static let ipv6MulticastHops: Int32 = 18
    static let ipv6MulticastLoop: Int32 = 19
    static let ipv6MulticastIf: Int32 = 17
    static let ipv6RecvPktInfo: Int32 = 49
    static let ipv6RecvHopLimit: Int32 = 51

    /// Opens the socket in the calling thread's network namespace. `ifindex` of the interface
    /// (0 for an unbound unicast socket); `group` is the multicast group to join.
    public init(key: VRRPTransportKey, ifindex: Int32, group: IPAddress) throws(VRRPError) {
        self.key = key
        self.ifindex = ifindex
        (packets, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
        let domain = key.family == .inet ? AF_INET : AF_INET6
        let s = socket(domain, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 112)
        guard s >= 0 else { throw VRRPError.system("socket(raw, 112)") }
        fd = s
        do throws(VRRPError) {
            if let dev = key.interface { try Self.bindToDevice(s, dev) }
            if key.family == .inet {
                try Self.setInt(s, Int32(IPPROTO_IP), IP_HDRINCL, 1, "IP_HDRINCL")
                try Self.setInt(s, Int32(IPPROTO_IP), Self.ipMulticastAll, 0, "IP_MULTICAST_ALL")
                if !key.unicast {
                    guard case .v4(let g) = group else {
                        throw VRRPError(.socket, "IPv4 transport needs an IPv4 group")
                    }
                    if clvs_vrrp_ip4_multicast_if(s, ifindex) != 0 { throw VRRPError.system("IP_MULTICAST_IF") }
                    try Self.setInt(s, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP")
                    try Self.setInt(s, Int32(IPPROTO_IP), IP_MULTICAST_TTL, 255, "IP_MULTICAST_TTL")
                    if clvs_vrrp_ip4_membership(s, g.value.bigEndian, ifindex, 1) != 0 {
                        throw VRRPError.system("IP_ADD_MEMBERSHIP \(g)")
                    }
                }
            } else {
                let v6 = Int32(IPPROTO_IPV6)
                try Self.setInt(s, v6, Self.ipv6Checksum, 6, "IPV6_CHECKSUM")
                try Self.setInt(s, v6, Self.ipv6RecvHopLimit, 1, "IPV6_RECVHOPLIMIT")
                try Self.setInt(s, v6, Self.ipv6RecvPktInfo, 1, "IPV6_RECVPKTINFO")
                if !key.unicast {
                    guard case .v6(let g) = group else {
                        throw VRRPError(.socket, "IPv6 transport needs an IPv6 group")
                    }
                    try Self.setInt(s, v6, Self.ipv6MulticastIf, ifindex, "IPV6_MULTICAST_IF")
                    try Self.setInt(s, v6, Self.ipv6MulticastHops, 255, "IPV6_MULTICAST_HOPS")
                    try Self.setInt(s, v6, Self.ipv6MulticastLoop, 0, "IPV6_MULTICAST_LOOP")
                    let r = g.bytes.withUnsafeBufferPointer { clvs_vrrp_ip6_membership(s, $0.baseAddress, ifindex, 1) }
                    if r != 0 { throw VRRPError.system("IPV6_ADD_MEMBERSHIP \(g)") }
                }
            }
        } catch {
            Glibc.close(s)
            throw error
        }
        let iface = key.interface
        let family = key.family
        let cont = continuation
        let onReadable: @Sendable () -> Void = {
            var buf = [UInt8](repeating: 0, count: 4096)
            if family == .inet {
                var idx: Int32 = 0
                let n = buf.withUnsafeMutableBytes { clvs_vrrp_recv4(s, $0.baseAddress, $0.count, &idx) }
                guard n > 0, let p = VRRPIPv4.parse(Array(buf[0..<n]), interface: iface) else { return }
                cont.yield(p)
            } else {
                var src = [UInt8](repeating: 0, count: 16)
                var dst = [UInt8](repeating: 0, count: 16)
                var hop: Int32 = -1
                var idx: Int32 = 0
                let n = buf.withUnsafeMutableBytes { b in
                    clvs_vrrp_recv6(s, b.baseAddress, b.count, &src, &dst, &hop, &idx)
                }
                guard n > 0 else { return }
                cont.yield(
                    ReceivedVRRPPacket(
                        source: .v6(IPv6Address(bytes: src, at: 0)), destination: .v6(IPv6Address(bytes: dst, at: 0)),
                        hopLimit: hop >= 0 ? Int(hop) : nil, payload: Array(buf[0..<n]), interface: iface))
            }
        }
        do {
            let watcher = try DescriptorWatcher(descriptor: s, name: "vrrp-rx-\(key)", onReadable: onReadable)
            reader.withLock { $0 = watcher }
        } catch {
            Glibc.close(s)
            throw VRRPError(error)
        }
    }

    public func send(_ message: [UInt8], source: IPAddress, destination: IPAddress, ttl: UInt8) throws(VRRPError) {
        let n: Int
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            let dgram = VRRPIPv4.datagram(payload: message, source: s, destination: d, ttl: ttl)
            let flags = d.isMulticast ? Int32(MSG_DONTROUTE) : 0
            n = dgram.withUnsafeBytes { clvs_vrrp_sendto4(fd, $0.baseAddress, $0.count, d.value.bigEndian, flags) }
        case (.v6(let s), .v6(let d)):
            let sb = s.bytes
            let db = d.bytes
            n = message.withUnsafeBytes { m in
                sb.withUnsafeBufferPointer { sp in
                    db.withUnsafeBufferPointer { dp in
                        clvs_vrrp_send6(fd, m.baseAddress, m.count, dp.baseAddress, sp.baseAddress, ifindex, Int32(ttl))
                    }
                }
            }
        default:
            throw VRRPError(.socket, "send: source \(source) and destination \(destination) differ in family")
        }
        if n < 0 { throw VRRPError.system("send advert to \(destination)") }
    }

    public func close() {
        // The watcher's thread has ended when `stop()` returns: the descriptor can go at once.
        let watcher = reader.withLock { r in
            defer { r = nil }
            return r
        }
        guard let watcher else { return }
        watcher.stop()
        continuation.finish()
        Glibc.close(fd)
    }

    private static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ what: String)
        throws(VRRPError)
    {
        do { try SocketOption.setInt(fd, level, name, value, what) } catch { throw VRRPError(error) }
    }

    private static func bindToDevice(_ fd: Int32, _ name: String) throws(VRRPError) {
        do { try SocketOption.bindToDevice(fd, name) } catch { throw VRRPError(error) }
    }
}

extension VRRPError {
    /// A failed socket call with the current errno.
    static func system(_ what: String) -> VRRPError { VRRPError(PlatformError.system(.socket, what)) }
}
