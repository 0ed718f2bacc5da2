// The nftables guard: a netdev ingress table that keeps the kernel from answering service traffic.
import Glibc
import LVSCore
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

    /// The nft rule text. Reply rules do not apply on `lo`: the data plane hands the replies
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

/// Builds and applies the guard table.
///
/// ```
///  table netdev swiftlvs
///    chain ingress  (hook ingress devices = { attached…, lo } priority -500)
///      iifname "lo" @ll,48,48 MARKER accept    frames for a local real server (LocalNodeDelivery)
///      ip daddr VIP tcp dport 80 drop          each virtual service (not passive VIPs)
///      ip daddr VIP ip frag-off & 0x1fff != 0  later fragments to a VIP
///      ip saddr RS tcp sport 8080 drop         each NAT / FULLNAT real server (replies)
/// ```
/// AF_PACKET taps run before the ingress hook, so the data plane still receives every dropped
/// frame. Rules are replaced in one `nft -f` transaction whenever the service table or the set of
/// attached interfaces changes; the table of a killed lvsd is replaced the same way at start.
public enum NFTablesGuard {
    public static let tableName = "swiftlvs"

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

    /// The `nft -f` script that replaces the table atomically (creating it first makes the delete
    /// succeed whether or not a table was there).
    public static func script(interfaces: [String], rules: [GuardRule], owner: String? = nil) -> String {
        var s = "table netdev \(tableName)\ndelete table netdev \(tableName)\ntable netdev \(tableName) {\n"
        if let owner { s += "  comment \"\(owner)\"\n" }
        if !interfaces.isEmpty {
            let devs = interfaces.map { "\"\($0)\"" }.joined(separator: ", ")
            s += "  chain ingress {\n    type filter hook ingress devices = { \(devs) } priority -500; policy accept;\n"
            if interfaces.contains("lo") { s += "    \(LocalNodeDelivery.guardAcceptRule)\n" }
            var fragmentVIPs = Set<IPAddress>()
            for r in rules {
                s += "    \(r.nft)\n"
                if r.side == .destination && r.address.family == .inet { fragmentVIPs.insert(r.address) }
            }
            for v in fragmentVIPs.sorted() { s += "    ip daddr \(v) ip frag-off & 0x1fff != 0 drop\n" }
            s += "  }\n"
        }
        s += "}\n"
        return s
    }

    /// The script that removes the table (and nothing else).
    public static var removalScript: String {
        "table netdev \(tableName)\ndelete table netdev \(tableName)\n"
    }

    /// Runs `nft -f` on `script`; returns nil on success or nft's error output.
    public static func apply(_ script: String) -> String? {
        var path = Array("/tmp/swiftlvs-nft-XXXXXX".utf8CString)
        let fd = mkstemp(&path)
        guard fd >= 0 else { return "mkstemp: \(errorText(errno))" }
        let file = String(decoding: path.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(file) }
        let bytes = Array(script.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let r = Subprocess.run([Subprocess.find("nft") ?? "/usr/sbin/nft", "-f", file])
        return r.status == 0 ? nil : (r.output.isEmpty ? "nft exited with status \(r.status)" : r.output)
    }
}
