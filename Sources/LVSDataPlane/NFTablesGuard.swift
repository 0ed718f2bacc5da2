// The nftables guard: a netdev ingress table that keeps the kernel from answering service traffic.
import Glibc
import LVSCore
import LVSPacket
import LVSPlatform

/// One drop rule of the guard.
public struct GuardRule: Hashable, Sendable, Comparable {
    /// Which end of the packet is matched.
    public enum Side: Hashable, Sendable, Comparable {
        /// Client → virtual service traffic: `daddr VIP dport PORT`.
        case destination
        /// Real server → client replies of NAT and FULLNAT connections: `saddr RS sport PORT`.
        case source
    }
    public var side: Side
    public var transport: TransportProtocol
    public var address: IPAddress
    /// 0 = every port of the protocol.
    public var port: UInt16

    public init(side: Side, transport: TransportProtocol, address: IPAddress, port: UInt16) {
        self.side = side
        self.transport = transport
        self.address = address
        self.port = port
    }

    public static func < (a: GuardRule, b: GuardRule) -> Bool {
        (a.side, a.address, a.transport.rawValue, a.port) < (b.side, b.address, b.transport.rawValue, b.port)
    }

    /// The rule in nft's words. Reply rules do not apply on `lo`: the data plane hands the replies
    /// that are not IPVS's (the director's own connections to a real server, health checks)
    /// back to the local stack there.
    public var nft: String {
        let fam = address.family == .inet ? "ip" : "ip6"
        let dir = side == .destination ? "daddr" : "saddr"
        let proto = transport == .tcp ? "tcp" : transport == .udp ? "udp" : "sctp"
        let portDir = side == .destination ? "dport" : "sport"
        let onlyOutside = side == .source ? "iifname != \"lo\" " : ""
        if port == 0 { return "\(onlyOutside)\(fam) \(dir) \(address) meta l4proto \(proto) drop" }
        return "\(onlyOutside)\(fam) \(dir) \(address) \(proto) \(portDir) \(port) drop"
    }

    /// The rule as nf_tables expressions, as nft compiles `nft` (in a netdev table every
    /// network match depends on `meta protocol`, every port on `meta l4proto`).
    public var nftRule: NFTables.Rule {
        var e: [NFTables.Expression] = []
        if side == .source { e += NFTablesGuard.notLoopback }
        let v4 = address.family == .inet
        e += NFTablesGuard.etherType(v4 ? 0x0800 : 0x86DD)
        let offset: UInt32 = v4 ? (side == .destination ? 16 : 12) : (side == .destination ? 24 : 8)
        e += [.payload(.network, offset: offset, length: v4 ? 4 : 16), .compare(.equal, address.bytes)]
        e += [.meta(.l4Protocol), .compare(.equal, [transport.rawValue])]
        if port != 0 {
            e += [
                .payload(.transport, offset: side == .destination ? 2 : 0, length: 2),
                .compare(.equal, [UInt8(port >> 8), UInt8(port & 0xFF)]),
            ]
        }
        return NFTables.Rule(e + [.verdict(.drop)], text: nft)
    }

    /// The matching key of a reply rule: protocol number, address, port (0 = any).
    public var sourceKey: GuardedSource? {
        side == .source ? GuardedSource(protocolNumber: transport.rawValue, address: address, port: port) : nil
    }
}

/// A real server endpoint whose replies the guard drops on the outside interfaces.
public struct GuardedSource: Hashable, Sendable {
    public var protocolNumber: UInt8
    public var address: IPAddress
    public var port: UInt16
    public init(protocolNumber: UInt8, address: IPAddress, port: UInt16) {
        self.protocolNumber = protocolNumber
        self.address = address
        self.port = port
    }
}

/// Builds the guard table and applies it through nf_tables netlink (no `nft` program).
///
/// ```
///  table netdev swiftlvs                 (owned by lvsd's netlink socket: gone when lvsd is)
///    chain ingress  (hook ingress devices = { attached…, lo } priority -500)
///      iifname "lo" @ll,48,48 MARKER accept    frames for a local real server (LocalNodeDelivery)
///      ip daddr VIP tcp dport 80 drop          each virtual service (not passive VIPs)
///      ip saddr RS tcp sport 8080 drop         each NAT / FULLNAT real server (replies, not on lo)
///      ip daddr VIP ip frag-off & 8191 != 0    later fragments to a VIP
/// ```
/// AF_PACKET taps run before the ingress hook, so the data plane still receives every dropped
/// frame. The table is replaced in one transaction whenever the service table or the set of
/// attached interfaces changes; a table left by an older lvsd is replaced the same way at start.
public enum NFTablesGuard {
    public static let tableName = "swiftlvs"
    static let chainName = "ingress"
    static let priority: Int32 = -500

    /// The rules for a service table. Firewall-mark services get none (the data plane does not
    /// handle them), nor do services of a `passive` VIP (left to the local stack: a VRRP backup
    /// acting as a real server); their NAT/FULLNAT servers' reply rules stay.
    public static func rules(for services: [VirtualServiceEntry], passive: Set<IPAddress> = []) -> [GuardRule] {
        var out = Set<GuardRule>()
        for s in services {
            guard case .endpoint(let proto, let vip) = s.spec.key else { continue }
            if !passive.contains(vip.address) {
                out.insert(GuardRule(side: .destination, transport: proto, address: vip.address, port: vip.port))
            }
            for rs in s.realServers where rs.spec.forwarding.repliesPassThroughDirector {
                // A real server port of 0 means "the port the client asked for".
                let port = rs.spec.endpoint.port != 0 ? rs.spec.endpoint.port : vip.port
                out.insert(
                    GuardRule(side: .source, transport: proto, address: rs.spec.endpoint.address, port: port))
            }
        }
        return out.sorted()
    }

    /// The table for `interfaces` (sorted into the hook's device list) and `rules`; `owner` is
    /// its comment. Without interfaces it has no chain.
    public static func table(interfaces: [String], rules: [GuardRule], owner: String? = nil) -> NFTables.Table {
        var chains: [NFTables.Chain] = []
        let devices = interfaces.sorted()
        if !devices.isEmpty {
            var r: [NFTables.Rule] = []
            if devices.contains("lo") { r.append(markerAccept) }
            var fragmentVIPs = Set<IPAddress>()
            for rule in rules {
                r.append(rule.nftRule)
                if rule.side == .destination && rule.address.family == .inet { fragmentVIPs.insert(rule.address) }
            }
            for v in fragmentVIPs.sorted() { r.append(laterFragments(to: v)) }
            chains.append(
                NFTables.Chain(name: chainName, hook: .ingress(devices: devices), priority: priority, rules: r))
        }
        return NFTables.Table(
            family: .netdev, name: tableName, comment: owner, ownedBySocket: true, chains: chains)
    }

    /// The table in nft's syntax, as `nft list table netdev swiftlvs` shows it (logs, docs, tests).
    public static func listing(_ table: NFTables.Table) -> String {
        var s = "table netdev \(table.name) {\n"
        if let c = table.comment { s += "\tcomment \"\(c)\"\n" }
        for chain in table.chains {
            guard case .ingress(let devices) = chain.hook else { continue }
            s += "\tchain \(chain.name) {\n"
            s += "\t\ttype filter hook ingress devices = { \(devices.joined(separator: ", ")) } "
            s += "priority \(chain.priority); policy accept;\n"
            for r in chain.rules { s += "\t\t\(r.text)\n" }
            s += "\t}\n"
        }
        return s + "}\n"
    }

    /// `iifname "lo" @ll,48,48 MARKER accept`: frames lvsd hands to a local real server.
    static var markerAccept: NFTables.Rule {
        let m = LocalNodeDelivery.markerMAC.value
        let mac = (0..<6).map { UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * $0)) }
        return NFTables.Rule(
            loopback(.equal) + [.payload(.link, offset: 6, length: 6), .compare(.equal, mac), .verdict(.accept)],
            text: LocalNodeDelivery.guardAcceptRule)
    }

    /// `ip daddr VIP ip frag-off & 8191 != 0 drop`.
    static func laterFragments(to vip: IPAddress) -> NFTables.Rule {
        NFTables.Rule(
            etherType(0x0800) + [
                .payload(.network, offset: 16, length: 4), .compare(.equal, vip.bytes),
                .payload(.network, offset: 6, length: 2), .mask([0x1F, 0xFF]), .compare(.notEqual, [0, 0]),
                .verdict(.drop),
            ], text: "ip daddr \(vip) ip frag-off & 8191 != 0 drop")
    }

    /// `meta protocol` (the ethertype) equal to `type`.
    static func etherType(_ type: UInt16) -> [NFTables.Expression] {
        [.meta(.protocol), .compare(.equal, [UInt8(type >> 8), UInt8(type & 0xFF)])]
    }

    /// `iifname "lo"` / `iifname != "lo"` (the name NUL-padded to IFNAMSIZ, as nft compares it).
    static func loopback(_ op: NFTables.Comparison) -> [NFTables.Expression] {
        [.meta(.inputInterfaceName), .compare(op, Array("lo".utf8) + [UInt8](repeating: 0, count: 14))]
    }
    static var notLoopback: [NFTables.Expression] { loopback(.notEqual) }
}

/// The guard table of one lvsd, through its own nf_tables socket: the kernel deletes the table
/// when that socket closes, so a killed lvsd leaves no drop rules behind (NFT_TABLE_F_OWNER).
///
/// ```
///  lvsd ── socket ──▶ table netdev swiftlvs (flags owner)
///     SIGTERM: delete table, close          SIGKILL / crash: the kernel closes the socket → table deleted
/// ```
public final class NFTablesGuardTable: @unchecked Sendable {
    let socket: NFTablesSocket
    /// Set when the kernel refused the owner flag (before Linux 5.12): tables are then plain.
    public private(set) var ownerUnsupported = false

    public init() throws(PlatformError) { socket = try NFTablesSocket() }

    /// Replaces the table (whatever table of that name was there) in one transaction.
    public func replace(_ table: NFTables.Table) throws(PlatformError) {
        var t = table
        if ownerUnsupported { t.ownedBySocket = false }
        var tx = NFTables.Transaction()
        tx.replace(t)
        do {
            try socket.apply(tx)
        } catch {
            guard error.errno == EOPNOTSUPP, t.ownedBySocket else { throw Self.explained(error) }
            // A kernel without table owners: a plain table (a killed lvsd leaves it until the next start).
            ownerUnsupported = true
            try replace(table)
        }
    }

    /// Removes the table (nothing if there is none) and closes the socket.
    public func remove(family: NFTables.Family = .netdev, name: String = NFTablesGuard.tableName) throws(PlatformError)
    {
        defer { socket.close() }
        var tx = NFTables.Transaction()
        tx.ensure(family, name)
        tx.delete(family, name)
        do { try socket.apply(tx) } catch { throw Self.explained(error) }
    }

    /// The table as the kernel has it now (flags, comment), or nil if there is none.
    public func current(family: NFTables.Family = .netdev, name: String = NFTablesGuard.tableName) throws(PlatformError)
        -> NFTables.TableInfo?
    {
        try socket.table(family, name)
    }

    /// Closes the socket: an owned table goes with it.
    public func close() { socket.close() }

    static func explained(_ e: PlatformError) -> PlatformError {
        guard e.errno == EPERM else { return e }
        var e = e
        e.message += " (another lvsd running in this namespace owns the table?)"
        return e
    }
}
