// lvs-realserver --tun: IPIP / GUE / GRE decapsulation in user space, into the local stack through a TUN device.
import CLVSLinux
import Glibc
import LVSCore
import LVSPlatform

/// Receives tunnelled packets addressed to this host and hands the inner packets to the local
/// stack, for kernels without the `ipip` / `ip6_tunnel` / `fou` / `ip_gre` modules.
///
/// ```
///  director ──[outer DIR → RS, proto 4/41 | UDP GUE | proto 47 GRE][client → VIP ...]──▶ RS NIC
///      AF_PACKET socket (sees the frame before the IP layer) ──strip outer──▶ write(tun) ──▶ stack: VIP on lo
///      nf_tables `inet swiftlvs-realserver` (netlink, owned by the daemon) drops the outer packet,
///      so the kernel sends no ICMP protocol/port unreachable for it
/// ```
/// It runs as a daemon (pid file in the per-namespace state directory); `stop` ends it, which
/// removes the TUN device and the table (the daemon's netlink socket owns it).
public struct TunnelDecapsulator {
    public var guePort: UInt16?
    /// Also GRE (protocol 47, RFC 2784/2890).
    public var gre: Bool
    public var stateDirectory: String
    /// Outer sources accepted (`--from`); empty accepts any (the kernel's tunl0 does).
    public var directors: [IPAddress]
    public static let deviceName = "lvstun0"
    public static let tableName = "swiftlvs-realserver"

    public init(guePort: UInt16?, gre: Bool = false, stateDirectory: String, directors: [IPAddress] = []) {
        self.guePort = guePort
        self.gre = gre
        self.stateDirectory = stateDirectory
        self.directors = directors
    }

    /// Which tunnelled packets are delivered: from these outer sources (empty: any), with an
    /// inner destination among these VIPs (empty: none).
    public struct Filter: Sendable {
        public var directors: Set<IPAddress>
        public var vips: Set<IPAddress>
        public init(directors: Set<IPAddress>, vips: Set<IPAddress>) {
            self.directors = directors
            self.vips = vips
        }
    }

    var pidFile: String { stateDirectory + "/tun.pid" }

    /// The running daemon's pid, if any.
    public var runningPID: Int32? {
        guard let lines = RealServerSetup.readLines(pidFile), let pid = Int32(lines.first ?? ""), pid > 0 else {
            return nil
        }
        return kill(pid, 0) == 0 ? pid : nil
    }

    /// Starts the daemon unless it runs already; returns the line to print.
    public func start() throws(RealServerSetup.Failure) -> String {
        if let pid = runningPID { return "tunnel decapsulation already running (pid \(pid))" }
        let sock = clvs_dp_packet_socket(0x0003)
        guard sock >= 0 else { throw .init("cannot open a packet socket: \(errorText(errno))") }
        // Blocking receive for the daemon loop.
        _ = fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK)
        _ = clvs_dp_set_ignore_outgoing(sock)
        var name = Array(Self.deviceName.utf8CString)
        name += [CChar](repeating: 0, count: 16)
        let tun = clvs_tun_open(&name, name.count)
        guard tun >= 0 else {
            let e = errno
            close(sock)
            throw .init("cannot create TUN device \(Self.deviceName) (/dev/net/tun): \(errorText(e))")
        }
        let dev = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ip = Subprocess.find("ip") ?? "/usr/sbin/ip"
        let up = Subprocess.run([ip, "link", "set", dev, "up"])
        guard up.status == 0 else {
            close(tun)
            close(sock)
            throw .init("cannot bring \(dev) up: \(up.output.trimmedLine)")
        }
        // Inner packets come from clients that are not reached through the TUN device.
        Sysctl.write("/proc/sys/net/ipv4/conf/\(dev)/rp_filter", "0")
        // The table lives as long as this socket, which only the daemon keeps.
        let table: NFTablesGuardTable
        do {
            table = try NFTablesGuardTable()
            try table.replace(guardTable)
        } catch {
            close(tun)
            close(sock)
            throw .init("cannot install the nftables table inet \(Self.tableName): \(error)")
        }
        // The child closes its end once its pid file is written (or dies): the parent's end reads EOF.
        let written: (read: Int32, write: Int32)
        switch Pipe.closeOnExec() {
        case .success(let p): written = p
        case .failure(let e):
            close(tun)
            close(sock)
            throw .init(e.message)
        }
        let pid = fork()
        if pid < 0 {
            close(tun)
            close(sock)
            close(written.read)
            close(written.write)
            throw .init("fork: \(errorText(errno))")
        }
        if pid > 0 {
            close(tun)
            close(sock)
            close(written.write)
            table.close()
            // Wait (bounded) for the child's pid file so a following `stop` finds it.
            _ = Readiness.wait([written.read], timeoutMilliseconds: 1000)
            close(written.read)
            let from =
                directors.isEmpty
                ? "from any director (restrict with --from DIRECTOR)"
                : "from \(directors.map(\.description).joined(separator: " ")) only"
            return "tunnel decapsulation started on \(dev) (pid \(pid)), \(from)"
        }
        setsid()
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 0)
            dup2(null, 1)
            dup2(null, 2)
            if null > 2 { close(null) }
        }
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        close(written.read)
        RealServerSetup.writeLines(pidFile, ["\(getpid())"])
        close(written.write)
        withExtendedLifetime(table) {
            Self.loop(
                socket: sock, tun: tun, guePort: guePort, gre: gre, directors: Set(directors),
                stateDirectory: stateDirectory)
        }
        exit(0)
    }

    /// Stops the daemon and removes the table; returns a line to print, or nil if nothing ran.
    public func stop() -> String? {
        var line: String?
        if let pid = runningPID {
            // Opened before the signal, so it is this daemon's end that is waited for (for 2 s).
            let end = ProcessDescriptor(pid)
            kill(pid, SIGTERM)
            _ = end.waitForEnd(timeout: .seconds(2))
            line = "tunnel decapsulation stopped (pid \(pid))"
        }
        unlink(pidFile)
        // The daemon's table went with it; a table of an older lvs-realserver (not owned) goes here.
        for family in [NFTables.Family.inet, .ipv4] {
            try? NFTablesGuardTable().remove(family: family, name: Self.tableName)
        }
        return line
    }

    /// `table inet swiftlvs-realserver`: the outer packets dropped in prerouting.
    var guardTable: NFTables.Table {
        func l4(_ p: UInt8, _ name: String) -> NFTables.Rule {
            NFTables.Rule(
                [.meta(.l4Protocol), .compare(.equal, [p]), .verdict(.drop)], text: "meta l4proto \(name) drop")
        }
        var rules = [l4(4, "ipencap"), l4(41, "ipv6")]
        if gre { rules.append(l4(47, "gre")) }
        if let p = guePort {
            rules.append(
                NFTables.Rule(
                    [
                        .meta(.l4Protocol), .compare(.equal, [17]), .payload(.transport, offset: 2, length: 2),
                        .compare(.equal, [UInt8(p >> 8), UInt8(p & 0xFF)]), .verdict(.drop),
                    ], text: "udp dport \(p) drop"))
        }
        return NFTables.Table(
            family: .inet, name: Self.tableName, ownedBySocket: true,
            chains: [NFTables.Chain(name: "prerouting", hook: .prerouting, priority: -300, rules: rules)])
    }

    /// `innerPacket`, then the filter: the outer source must be a listed director (if any are
    /// listed) and the inner destination one of the VIPs; nil otherwise.
    public static func innerPacket(
        _ p: UnsafeRawPointer, _ n: Int, guePort: UInt16?, gre: Bool = false, filter: Filter
    ) -> Range<Int>? {
        guard let r = innerPacket(p, n, guePort: guePort, gre: gre) else { return nil }
        let et = Int(p.load(fromByteOffset: 12, as: UInt8.self)) << 8 | Int(p.load(fromByteOffset: 13, as: UInt8.self))
        if !filter.directors.isEmpty {
            let outer = et == 0x0800 ? address(p + 14 + 12, v6: false) : address(p + 14 + 8, v6: true)
            guard filter.directors.contains(outer) else { return nil }
        }
        let v6 = p.load(fromByteOffset: r.lowerBound, as: UInt8.self) >> 4 == 6
        let inner = v6 ? address(p + r.lowerBound + 24, v6: true) : address(p + r.lowerBound + 16, v6: false)
        return filter.vips.contains(inner) ? r : nil
    }

    static func address(_ p: UnsafeRawPointer, v6: Bool) -> IPAddress {
        var b = [UInt8](repeating: 0, count: v6 ? 16 : 4)
        for i in 0..<b.count { b[i] = p.load(fromByteOffset: i, as: UInt8.self) }
        return v6 ? .v6(IPv6Address(bytes: b, at: 0)) : .v4(IPv4Address(bytes: b, at: 0))
    }

    /// Where the inner packet of a tunnelled frame starts and ends, or nil if the frame is not
    /// a tunnel packet for this host: IPv4 or IPv6 outer; ipip (4), 6in4 / ip6ip6 (41), GUE
    /// version 0 on `guePort`, or with `gre` GRE (RFC 2784 with RFC 2890's key and sequence
    /// number) carrying IPv4 or IPv6, its checksum verified when present.
    public static func innerPacket(_ p: UnsafeRawPointer, _ n: Int, guePort: UInt16?, gre: Bool = false) -> Range<Int>?
    {
        guard n >= 14 else { return nil }
        let et =
            UInt16(p.load(fromByteOffset: 12, as: UInt8.self)) << 8 | UInt16(p.load(fromByteOffset: 13, as: UInt8.self))
        func be16(_ o: Int) -> Int {
            Int(p.load(fromByteOffset: o, as: UInt8.self)) << 8 | Int(p.load(fromByteOffset: o + 1, as: UInt8.self))
        }
        let l3 = 14
        var l4: Int
        var proto: UInt8
        var end: Int
        if et == 0x0800 {
            guard n >= l3 + 20 else { return nil }
            let ihl = Int(p.load(fromByteOffset: l3, as: UInt8.self) & 0xF) * 4
            guard ihl >= 20, be16(l3 + 6) & 0x3FFF == 0 else { return nil }  // no outer fragments
            end = l3 + be16(l3 + 2)
            l4 = l3 + ihl
            proto = p.load(fromByteOffset: l3 + 9, as: UInt8.self)
        } else if et == 0x86DD {
            guard n >= l3 + 40 else { return nil }
            end = l3 + 40 + be16(l3 + 4)
            l4 = l3 + 40
            proto = p.load(fromByteOffset: l3 + 6, as: UInt8.self)
        } else {
            return nil
        }
        guard end <= n, l4 < end else { return nil }
        if proto == 17, let port = guePort {
            guard l4 + 12 <= end, be16(l4 + 2) == Int(port) else { return nil }
            let g = p.load(fromByteOffset: l4 + 8, as: UInt8.self)
            let inner = p.load(fromByteOffset: l4 + 9, as: UInt8.self)
            guard g >> 6 == 0, g & 0x20 == 0, inner == 4 || inner == 41 else { return nil }
            l4 += 12 + Int(g & 0x1F) * 4
            proto = inner
        } else if proto == 47 && gre {
            guard l4 + 4 <= end else { return nil }
            let flags = be16(l4)
            // C (0x8000), K (0x2000), S (0x1000) only; version 0 (RFC 2784 §2.5, RFC 2890).
            guard flags & ~0xB000 == 0 else { return nil }
            let header =
                4 + (flags & 0x8000 != 0 ? 4 : 0) + (flags & 0x2000 != 0 ? 4 : 0) + (flags & 0x1000 != 0 ? 4 : 0)
            guard l4 + header <= end else { return nil }
            if flags & 0x8000 != 0 && onesComplementSum(p + l4, end - l4) != 0xFFFF { return nil }
            switch be16(l4 + 2) {
            case 0x0800: proto = 4
            case 0x86DD: proto = 41
            default: return nil
            }
            l4 += header
        }
        guard proto == 4 || proto == 41, l4 + 20 <= end else { return nil }
        let version = p.load(fromByteOffset: l4, as: UInt8.self) >> 4
        guard (proto == 4 && version == 4) || (proto == 41 && version == 6) else { return nil }
        return l4..<end
    }

    /// The 16-bit ones' complement sum of `count` bytes (0xFFFF for data whose checksum is right).
    static func onesComplementSum(_ p: UnsafeRawPointer, _ count: Int) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < count {
            sum &+=
                UInt32(p.load(fromByteOffset: i, as: UInt8.self)) << 8
                | UInt32(p.load(fromByteOffset: i + 1, as: UInt8.self))
            i += 2
        }
        if i < count { sum &+= UInt32(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return UInt16(sum)
    }

    /// The daemon's loop: receive, filter, strip, write to the TUN device. The VIPs are re-read
    /// from the state directory every second (a later `start`/`stop` changes them).
    static func loop(
        socket: Int32, tun: Int32, guePort: UInt16?, gre: Bool, directors: Set<IPAddress>, stateDirectory: String
    ) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536 + 64, alignment: 16)
        var ifindex: Int32 = 0
        var pkttype: Int32 = 0
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var filter = Filter(directors: directors, vips: currentVIPs(stateDirectory))
        var readAt = MonotonicClock.nanoseconds()
        while true {
            let now = MonotonicClock.nanoseconds()
            if now &- readAt > 1_000_000_000 {
                filter.vips = currentVIPs(stateDirectory)
                readAt = now
            }
            let n = clvs_dp_recv_frame(socket, buffer, 65536, &ifindex, &pkttype)
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            guard pkttype == 0, let r = innerPacket(buffer, n, guePort: guePort, gre: gre, filter: filter) else {
                continue
            }
            _ = write(tun, buffer + r.lowerBound, r.count)
        }
    }

    /// The VIPs `start` recorded (`VIP device` lines of the state directory's `vips`).
    static func currentVIPs(_ stateDirectory: String) -> Set<IPAddress> {
        Set(
            (RealServerSetup.readLines(stateDirectory + "/vips") ?? []).compactMap {
                IPAddress(String($0.split(separator: " ").first ?? ""))
            })
    }
}
