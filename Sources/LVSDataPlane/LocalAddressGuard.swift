// Keeps a dead lvsd's kernel from resetting FULLNAT flows: RSTs and unreachables from local addresses dropped, for a moment past lvsd.
import Glibc
import LVSCore
import LVSPlatform

/// When lvsd dies, the guard (or the XDP steering) that kept the kernel off the real servers'
/// replies to a FULLNAT local address (LIP) dies with it, while the LIP — a VRRP address, so
/// another director can take it over — stays on the box until the address keeper removes it a
/// few milliseconds later. Replies arriving in between reach the kernel, which has no socket for
/// them and answers with a RST: the real server aborts the flow that another director, holding
/// it through connection sync, was about to carry on. This table drops what the kernel would
/// send from a LIP — TCP RSTs and ICMP destination unreachables — and lives a moment longer
/// than lvsd: its netlink socket is inherited by a keeper child that exits `lingerSeconds`
/// after lvsd, when the address keeper has long removed the LIPs.
///
/// ```
///  inet swiftlvs-lip, chain output (hook output, priority 0):
///    ip saddr @lips4 tcp flags rst drop;   ip saddr @lips4 icmp type destination-unreachable drop
///    ip6 saddr @lips6 tcp flags rst drop;  ip6 saddr @lips6 icmpv6 type destination-unreachable drop
///  lvsd ──(netlink socket, owner of the table)──▶ also fd 3 of the keeper: read _; sleep N
///  lvsd dies ─▶ keeper: N s ─▶ exits ─▶ the last descriptor closes ─▶ the kernel deletes the table
/// ```
/// While lvsd runs, the kernel never handles packets to a LIP (lvsd takes them first), so it has
/// nothing to answer; the local stack does not use LIPs for its own connections.
public final class LocalAddressGuard: @unchecked Sendable {
    public static let tableName = "swiftlvs-lip"
    /// How long the table outlives a dead lvsd.
    public static let lingerSeconds = 3

    private let table: NFTablesGuardTable
    private let keeper: KeeperChild?
    /// The table applied last (nil: none or unknown).
    private var applied: NFTables.Table?

    /// Opens the netlink socket and starts the keeper that inherits it; the table is installed
    /// by the first `update`.
    public init() throws(PlatformError) {
        table = try NFTablesGuardTable()
        let fd = table.socket.descriptor
        switch KeeperChild.start(command: "trap '' HUP INT TERM; read _; sleep \(Self.lingerSeconds)", keeping: [fd]) {
        case .success(let k): keeper = k
        case .failure(let e):
            table.socket.close()
            throw e
        }
    }

    /// The table for these local addresses.
    public static func table(localAddresses: Set<IPAddress>) -> NFTables.Table {
        let sorted = localAddresses.sorted()
        let v4 = sorted.filter { $0.family == .inet }.map(\.bytes)
        let v6 = sorted.filter { $0.family == .inet6 }.map(\.bytes)
        func rules(nfproto: UInt8, saddrOffset: UInt32, length: UInt32, set: String, icmp: UInt8, name: String)
            -> [NFTables.Rule]
        {
            let source: [NFTables.Expression] = [
                .meta(.nfproto), .compare(.equal, [nfproto]), .payload(.network, offset: saddrOffset, length: length),
                .lookup(set: set),
            ]
            return [
                NFTables.Rule(
                    source + [
                        .meta(.l4Protocol), .compare(.equal, [6]), .payload(.transport, offset: 13, length: 1),
                        .mask([0x04]), .compare(.notEqual, [0]), .verdict(.drop),
                    ], text: "\(name) saddr @\(set) tcp flags rst drop"),
                NFTables.Rule(
                    source + [
                        .meta(.l4Protocol), .compare(.equal, [icmp]), .payload(.transport, offset: 0, length: 1),
                        .compare(.equal, [icmp == 1 ? 3 : 1]), .verdict(.drop),
                    ],
                    text: "\(name) saddr @\(set) \(icmp == 1 ? "icmp" : "icmpv6") type destination-unreachable drop"),
            ]
        }
        let chain = NFTables.Chain(
            name: "output", hook: .output, priority: 0,
            rules: rules(nfproto: 2, saddrOffset: 12, length: 4, set: "lips4", icmp: 1, name: "ip")
                + rules(nfproto: 10, saddrOffset: 8, length: 16, set: "lips6", icmp: 58, name: "ip6"))
        return NFTables.Table(
            family: .inet, name: tableName, comment: "swiftlvs lvsd pid \(getpid())", ownedBySocket: true,
            sets: [
                NFTables.LookupSet(name: "lips4", keyType: 7, keyLength: 4, elements: v4),
                NFTables.LookupSet(name: "lips6", keyType: 8, keyLength: 16, elements: v6),
            ], chains: [chain])
    }

    /// Brings the table to these local addresses (one transaction; nothing when unchanged).
    public func update(localAddresses: Set<IPAddress>) throws(PlatformError) {
        let t = Self.table(localAddresses: localAddresses)
        try table.apply(t, over: &applied)
    }

    /// A clean stop: the table removed, the socket closed, the keeper let go.
    public func stop() {
        try? table.remove(family: .inet, name: Self.tableName)
        applied = nil
        if let keeper {
            // Its linger is for a dead lvsd; this one removed the table itself.
            kill(keeper.pid, SIGKILL)
            keeper.release()
        }
    }
}
