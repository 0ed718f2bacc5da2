// Firewall-mark services: the kernel logs marked packets to lvsd (nfnetlink_log) and drops its own copy.
import CLVSLinux
import Glibc
import LVSCore
import LVSPlatform

/// A mark exists only inside the kernel: the operator's rules (`iptables -t mangle … -j MARK`,
/// `nft … meta mark set`) set it after the frame has passed the AF_PACKET tap and the XDP program.
/// So, as the kernel's IPVS takes a marked packet in LOCAL_IN (`ip_vs_remote_request4`, priority
/// NF_IP_PRI_NAT_SRC − 1 = 99), lvsd's table takes it there and logs it whole to lvsd's group;
/// the kernel's copy is dropped (the local stack does not answer it).
///
/// ```
///  client ─▶ eth0 ─▶ (tap / XDP: not a VIP:port service) ─▶ mangle: mark 1 ─▶ routing: local
///     ─▶ inet swiftlvs-fwmark input (priority 99): meta nfproto ipv4 meta mark 1 log group G drop
///     ─▶ nfnetlink_log ─▶ FirewallMarkPort (worker 0) ─▶ IPVS: service FWM 1 ─▶ real server
/// ```
/// Packets of a connection made this way keep coming through the log (the AF_PACKET tap's copy
/// of them is ignored: `DataPlaneWorker.handle`), unless the XDP fast path carries the flow.
/// Replies of NAT real servers come back like any other service's (guard, steering).
public final class FirewallMarkIntake: @unchecked Sendable {
    public static let tableName = "swiftlvs-fwmark"
    /// The first nfnetlink_log group tried ("LV"); the next ones if it is taken.
    public static let firstGroup: UInt16 = 0x4C56
    static let priority: Int32 = 99

    public let socket: NFLogSocket
    private let table: NFTablesGuardTable
    private var applied: NFTables.Table?

    /// Binds a free log group and opens the table's socket; the table comes with `update`.
    /// True when the kernel has no table owners (before Linux 5.12): a killed lvsd then leaves
    /// the table, and marked packets are dropped with no one to log them to until it restarts.
    public var ownerUnsupported: Bool { table.ownerUnsupported }

    public init() throws(PlatformError) {
        var lastError = PlatformError(.nftables, "no nfnetlink_log group free", errno: EBUSY)
        var bound: NFLogSocket?
        for g in Self.firstGroup..<(Self.firstGroup + 8) {
            do {
                bound = try NFLogSocket(group: g)
                break
            } catch {
                lastError = error
                // Another socket holds the group: EPERM (EBUSY for this socket binding twice).
                if error.errno != EPERM && error.errno != EBUSY { break }
            }
        }
        guard let bound else { throw lastError }
        socket = bound
        table = try NFTablesGuardTable()
    }

    /// The table for these marks (IPv4 and IPv6 services apart: a mark of an IPv4 service
    /// leaves IPv6 packets to the kernel). One rule a mark, compared in host order as `meta mark`
    /// loads it, so that `nft list` shows the mark as the operator wrote it. Only what IPVS can
    /// take is logged: TCP, UDP and SCTP, arriving on an interface lvsd serves; a marked ping or
    /// a packet from another interface stays the kernel's.
    public static func table(
        marks4: Set<UInt32>, marks6: Set<UInt32>, group: UInt16, interfaces: [String]
    ) -> NFTables.Table {
        func rules(_ marks: Set<UInt32>, _ nfproto: UInt8, _ name: String) -> [NFTables.Rule] {
            marks.sorted().map { m in
                NFTables.Rule(
                    [
                        .meta(.nfproto), .compare(.equal, [nfproto]), .meta(.inputInterfaceName),
                        .lookup(set: "interfaces"), .meta(.l4Protocol), .lookup(set: "protocols"), .meta(.mark),
                        .compare(.equal, withUnsafeBytes(of: m) { Array($0) }), .log(group: group), .verdict(.drop),
                    ],
                    text:
                        "meta nfproto \(name) iifname @interfaces meta l4proto @protocols meta mark \(m) log group \(group) drop"
                )
            }
        }
        let names = interfaces.sorted().map {
            Array($0.utf8.prefix(15)) + [UInt8](repeating: 0, count: 16 - min($0.utf8.count, 15))
        }
        return NFTables.Table(
            family: .inet, name: tableName, comment: "swiftlvs lvsd pid \(getpid())", ownedBySocket: true,
            sets: [
                // nft's datatypes ifname (41, 16 bytes NUL-padded) and inet_proto (12).
                NFTables.LookupSet(
                    name: "interfaces", keyType: 41, keyLength: 16, elements: names, hostByteOrder: true),
                NFTables.LookupSet(
                    name: "protocols", keyType: 12, keyLength: 1,
                    elements: TransportProtocol.allCases.map { [$0.rawValue] }),
            ],
            chains: [
                NFTables.Chain(
                    name: "input", hook: .input, priority: priority,
                    rules: rules(marks4, 2, "ipv4") + rules(marks6, 10, "ipv6"))
            ])
    }

    /// The marks of the firewall-mark services in `services`, by family.
    public static func marks(of services: [VirtualServiceEntry]) -> (v4: Set<UInt32>, v6: Set<UInt32>) {
        var v4 = Set<UInt32>()
        var v6 = Set<UInt32>()
        for s in services {
            guard case .firewallMark(let m, let family) = s.spec.key else { continue }
            if family == .inet { v4.insert(m) } else { v6.insert(m) }
        }
        return (v4, v6)
    }

    /// Brings the table to the marks of `services` and the interfaces lvsd serves (nothing when
    /// unchanged).
    public func update(services: [VirtualServiceEntry], interfaces: [String]) throws(PlatformError) {
        let (v4, v6) = Self.marks(of: services)
        let t = Self.table(marks4: v4, marks6: v6, group: socket.group, interfaces: interfaces)
        try table.apply(t, over: &applied)
    }

    /// Removes the table and closes the table's socket (the log's closes with worker 0's port).
    public func stop() {
        try? table.remove(family: .inet, name: Self.tableName)
        applied = nil
    }
}

/// Worker 0's port with the logged (marked) packets added to what it receives.
///
/// ```
///  inner port (ring / AF_XDP) ──────────┐
///  nfnetlink_log: [eth from HWHEADER][IP] ┴▶ receive ─▶ worker ─▶ transmit ─▶ inner port
/// ```
/// A logged packet is copied into an arena behind 128 bytes of headroom, with its link header
/// (the kernel's copy of it, or one made of the sender's address); it carries its mark, and its
/// checksum state is unknown (as on AF_XDP).
public final class FirewallMarkPort: PacketPort {
    let inner: PacketPort
    let log: NFLogSocket
    let epoll: Int32
    let arena: UnsafeMutableRawPointer
    static let arenaBytes = 4 << 20
    static let headroom = 128
    var arenaUsed = 0
    /// Logged packets too short or too long to be a frame (in `ringDrops`).
    var malformed: UInt64 = 0

    public init(inner: PacketPort, log: NFLogSocket) {
        self.inner = inner
        self.log = log
        epoll = clvs_epoll_pair(inner.pollDescriptor, log.descriptor)
        arena = .allocate(byteCount: Self.arenaBytes, alignment: 64)
    }

    deinit {
        if epoll >= 0 { close(epoll) }
        arena.deallocate()
    }

    public var pollDescriptor: Int32 { epoll }

    public func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        var n = inner.receive(into: frames, capacity: capacity)
        // Room for the largest logged packet (64 KiB) before each read.
        while n < capacity && arenaUsed + Self.headroom + 14 + 65_536 <= Self.arenaBytes, let p = log.next() {
            guard let payload = p.payload, payload.count >= 20, payload.count <= 65_535 else {
                malformed &+= 1
                continue
            }
            let slot = arena + arenaUsed
            let frame = slot + Self.headroom
            if let h = p.hardwareHeader, h.count == 14 {
                frame.copyMemory(from: h.baseAddress!, byteCount: 14)
            } else {
                // No header: destination zero (rewritten on the way out), source the sender's.
                frame.initializeMemory(as: UInt8.self, repeating: 0, count: 12)
                if let a = p.hardwareAddress, a.count == 6 {
                    (frame + 6).copyMemory(from: a.baseAddress!, byteCount: 6)
                }
            }
            frame.storeBytes(of: p.hardwareProtocol.bigEndian, toByteOffset: 12, as: UInt16.self)
            (frame + 14).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
            let length = 14 + payload.count
            frames[n] = ReceivedFrame(
                buffer: slot, capacity: Self.headroom + length, start: Self.headroom, length: length,
                interface: p.inputInterface, offloadFlags: ReceivedFrame.checksumStateUnknownFlag,
                firewallMark: p.mark)
            arenaUsed += (Self.headroom + length + 63) & ~63
            n += 1
        }
        return n
    }

    public func release() {
        inner.release()
        arenaUsed = 0
    }

    public func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        inner.transmit(frames, count: count)
    }

    /// The inner port's, the log's overruns and malformed logged packets: lost before the worker.
    public var ringDrops: UInt64 { inner.ringDrops &+ log.overruns &+ malformed }
    public var framesWaiting: Bool { inner.framesWaiting || log.hasPending }
    public func isBacklogged(eighths: Int) -> Bool { inner.isBacklogged(eighths: eighths) }
    public func setShedding(_ share: UInt32) { inner.setShedding(share) }
    public var packetRing: AFPacketPort? { inner.packetRing }
}
