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

    /// The guard's set this rule is an element of, and its key: the address, the protocol and
    /// (unless 0) the port, each padded to 4 bytes as the kernel pads a concatenation's parts.
    var element: (set: String, key: [UInt8]) {
        let name = (side == .destination ? "services" : "replies") + (port == 0 ? "_any_port" : "")
        var key = address.bytes + [transport.rawValue, 0, 0, 0]
        if port != 0 { key += [UInt8(port >> 8), UInt8(port & 0xFF), 0, 0] }
        return (name + (address.family == .inet ? "4" : "6"), key)
    }

    /// The element as nft lists it (`192.168.1.109 . tcp . 80`).
    var elementText: String {
        let proto = transport == .tcp ? "tcp" : transport == .udp ? "udp" : "sctp"
        return port == 0 ? "\(address) . \(proto)" : "\(address) . \(proto) . \(port)"
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
///  table netdev swiftlvs                       (owned by lvsd's netlink socket: gone when lvsd is)
///    set services4 / services6                 VIP . protocol . port of each service (not passive VIPs)
///    set services_any_port4 / …6               VIP . protocol of port-0 services
///    set replies4 / replies6 (+ _any_port)     RS . protocol . port of each NAT / FULLNAT real server
///    set vips4 / vips6                         VIPs (later fragments)
///    chain ingress  (hook ingress devices = { attached…, lo } priority -500)
///      iifname "lo" @ll,48,48 MARKER accept                        frames for a local real server
///      ip daddr . meta l4proto . th dport @services4 drop          (and the other sets, one rule each)
///      iifname != "lo" ip saddr . meta l4proto . th sport @replies4 drop
///      ip daddr @vips4 ip frag-off & 8191 != 0 drop
///      ip6 daddr @vips6 frag frag-off != 0 drop
/// ```
/// One hash look-up per rule and packet, whatever the number of services. AF_PACKET taps run
/// before the ingress hook, so the data plane still receives every dropped frame. A change of the
/// service table changes set elements only (one transaction of deletions and additions); a change
/// of the attached interfaces replaces the table (one transaction too); a table left by an older
/// lvsd is replaced the same way at start.
public enum NFTablesGuard {
    public static let tableName = "swiftlvs"
    static let chainName = "ingress"
    static let priority: Int32 = -500

    /// The rules for a service table. Firewall-mark services have no destination rule (their
    /// packets are marked, and taken, after this hook: `FirewallMarkIntake`), nor do services of
    /// a `passive` VIP (left to the local stack: a VRRP backup acting as a real server); their
    /// NAT/FULLNAT servers' reply rules stay.
    public static func rules(for services: [VirtualServiceEntry], passive: Set<IPAddress> = []) -> [GuardRule] {
        var out = Set<GuardRule>()
        for s in services {
            if case .endpoint(let proto, let vip) = s.spec.key, !passive.contains(vip.address) {
                out.insert(GuardRule(side: .destination, transport: proto, address: vip.address, port: vip.port))
            }
            for r in s.replySources {
                guard let proto = TransportProtocol(rawValue: r.protocolNumber) else { continue }
                out.insert(GuardRule(side: .source, transport: proto, address: r.address, port: r.port))
            }
        }
        return out.sorted()
    }

    /// One lookup rule: its set, key type and length, and the rule.
    struct Lookup {
        var set: String
        var keyType: UInt32
        var keyLength: UInt32
        var rule: NFTables.Rule
    }

    // nft's datatypes: ipv4_addr 7, ipv6_addr 8, inet_proto 12, inet_service 13 (a concatenation
    // is t1 << 12 | t2 << 6 | t3).
    static let lookups: [Lookup] = {
        var out: [Lookup] = []
        for v6 in [false, true] {
            let fam = v6 ? "ip6" : "ip"
            let addressType: UInt32 = v6 ? 8 : 7
            let addressLength: UInt32 = v6 ? 16 : 4
            // The protocol and the port go to the 32-bit registers after the address.
            let protoRegister: UInt32 = v6 ? 12 : 9
            for destination in [true, false] {
                let dir = destination ? "daddr" : "saddr"
                let offset: UInt32 = destination ? (v6 ? 24 : 16) : (v6 ? 8 : 12)
                for withPort in [true, false] {
                    var e: [NFTables.Expression] = destination ? [] : notLoopback
                    e += etherType(v6 ? 0x86DD : 0x0800)
                    e += [
                        .payload(.network, offset: offset, length: addressLength),
                        .meta(.l4Protocol, into: protoRegister),
                    ]
                    var text = "\(destination ? "" : "iifname != \"lo\" ")\(fam) \(dir) . meta l4proto"
                    if withPort {
                        e.append(.payload(.transport, offset: destination ? 2 : 0, length: 2, into: protoRegister + 1))
                        text += " . th \(destination ? "dport" : "sport")"
                    }
                    let set =
                        (destination ? "services" : "replies") + (withPort ? "" : "_any_port") + (v6 ? "6" : "4")
                    e += [.lookup(set: set), .verdict(.drop)]
                    out.append(
                        Lookup(
                            set: set, keyType: withPort ? addressType << 12 | 12 << 6 | 13 : addressType << 6 | 12,
                            keyLength: addressLength + (withPort ? 8 : 4),
                            rule: NFTables.Rule(e, text: text + " @\(set) drop")))
                }
            }
        }
        // Destinations first (as the rules were ordered before sets).
        return out.filter { $0.set.hasPrefix("services") } + out.filter { $0.set.hasPrefix("replies") }
    }()

    /// The table for `interfaces` (sorted into the hook's device list) and `rules`; `owner` is
    /// its comment. Without interfaces it has no chain.
    public static func table(interfaces: [String], rules: [GuardRule], owner: String? = nil) -> NFTables.Table {
        var elements: [String: [[UInt8]]] = [:]
        var fragmentVIPs = Set<IPAddress>()
        for rule in rules {
            let (set, key) = rule.element
            elements[set, default: []].append(key)
            if rule.side == .destination { fragmentVIPs.insert(rule.address) }
        }
        let vips = fragmentVIPs.sorted()
        var sets = lookups.map {
            NFTables.LookupSet(
                name: $0.set, keyType: $0.keyType, keyLength: $0.keyLength, elements: elements[$0.set] ?? [])
        }
        sets.append(
            NFTables.LookupSet(
                name: "vips4", keyType: 7, keyLength: 4, elements: vips.filter { $0.family == .inet }.map(\.bytes)))
        sets.append(
            NFTables.LookupSet(
                name: "vips6", keyType: 8, keyLength: 16, elements: vips.filter { $0.family == .inet6 }.map(\.bytes)))
        var chains: [NFTables.Chain] = []
        let devices = interfaces.sorted()
        if !devices.isEmpty {
            var r: [NFTables.Rule] = []
            if devices.contains("lo") { r.append(markerAccept) }
            r += lookups.map(\.rule)
            r += [laterFragments, laterFragments6]
            chains.append(
                NFTables.Chain(name: chainName, hook: .ingress(devices: devices), priority: priority, rules: r))
        }
        return NFTables.Table(
            family: .netdev, name: tableName, comment: owner, ownedBySocket: true, sets: sets, chains: chains)
    }

    /// The table in nft's syntax, as `nft list table netdev swiftlvs` shows it (logs, docs, tests),
    /// elements of each set in the order of `rules`.
    public static func listing(_ table: NFTables.Table, rules: [GuardRule]) -> String {
        var s = "table netdev \(table.name) {\n"
        if let c = table.comment { s += "\tcomment \"\(c)\"\n" }
        var texts: [String: [String]] = [:]
        for r in rules { texts[r.element.set, default: []].append(r.elementText) }
        let vips = Set(rules.filter { $0.side == .destination }.map(\.address)).sorted()
        texts["vips4"] = vips.filter { $0.family == .inet }.map(\.description)
        texts["vips6"] = vips.filter { $0.family == .inet6 }.map(\.description)
        let typeNames: [UInt32: String] = [7: "ipv4_addr", 8: "ipv6_addr", 12: "inet_proto", 13: "inet_service"]
        for set in table.sets {
            var parts: [String] = []
            var t = set.keyType
            while t != 0 {
                parts.insert(typeNames[t & 0x3F] ?? "?", at: 0)
                t >>= 6
            }
            s += "\tset \(set.name) {\n\t\ttype \(parts.joined(separator: " . "))\n"
            if let e = texts[set.name], !e.isEmpty { s += "\t\telements = { \(e.joined(separator: ", ")) }\n" }
            s += "\t}\n"
        }
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

    /// `ip daddr @vips4 ip frag-off & 8191 != 0 drop`.
    static let laterFragments = NFTables.Rule(
        etherType(0x0800) + [
            .payload(.network, offset: 16, length: 4), .lookup(set: "vips4"),
            .payload(.network, offset: 6, length: 2), .mask([0x1F, 0xFF]), .compare(.notEqual, [0, 0]),
            .verdict(.drop),
        ], text: "ip daddr @vips4 ip frag-off & 8191 != 0 drop")

    /// `ip6 daddr @vips6 frag frag-off != 0 drop`: the fragment header's offset field (13 bits
    /// at its bytes 2–3), as nft compiles it.
    static let laterFragments6 = NFTables.Rule(
        etherType(0x86DD) + [
            .payload(.network, offset: 24, length: 16), .lookup(set: "vips6"),
            .ipv6ExtensionHeader(type: 44, offset: 2, length: 2), .mask([0xFF, 0xF8]), .compare(.notEqual, [0, 0]),
            .verdict(.drop),
        ], text: "ip6 daddr @vips6 frag frag-off != 0 drop")

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

    /// Brings the kernel's table from `old` (what was applied last; nil: unknown) to `new` in one
    /// transaction: element changes only when the shape is the same, else a replacement.
    public func update(from old: NFTables.Table?, to new: NFTables.Table) throws(PlatformError) {
        guard let old, old.shape == new.shape else { return try replace(new) }
        var tx = NFTables.Transaction()
        for (before, after) in zip(old.sets, new.sets) where before.elements != after.elements {
            let was = Set(before.elements)
            let now = Set(after.elements)
            let gone = before.elements.filter { !now.contains($0) }
            let added = after.elements.filter { !was.contains($0) }
            if !gone.isEmpty { tx.deleteElements(new.family, table: new.name, set: after.name, gone) }
            if !added.isEmpty { tx.addElements(new.family, table: new.name, set: after.name, added) }
        }
        do { try socket.apply(tx) } catch { throw Self.explained(error) }
    }

    /// Brings the kernel's table from `applied` to `new` (nothing when they are equal); `applied`
    /// follows: `new` once in force, nil (unknown: the next call replaces the table) on a refusal.
    public func apply(_ new: NFTables.Table, over applied: inout NFTables.Table?) throws(PlatformError) {
        guard new != applied else { return }
        do {
            try update(from: applied, to: new)
            applied = new
        } catch {
            applied = nil
            throw error
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
