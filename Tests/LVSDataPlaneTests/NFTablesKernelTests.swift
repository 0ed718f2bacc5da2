// nf_tables netlink against the kernel: what lvsd sends is what `nft list` reads back, rule for rule.
import Foundation
import LVSCore
import LVSDataPlane
import LVSPlatform
import LVSTestSupport
import Testing

/// What a thread in a lab namespace opened, handed back once it has been joined.
final class OpenedInNamespace<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// Runs `body` on a thread inside `host`'s network namespace (sockets opened there belong to it).
func inNamespace<T>(_ host: LabHost, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = OpenedInNamespace<T>()
    guard
        let t = PlatformThread.start(
            name: "ns-test",
            {
                box.result = Result { () throws -> T in
                    try NetworkNamespace.enterOnCurrentThread(path: "/run/netns/\(host.namespace)")
                    return try body()
                }
            })
    else { throw LabError("no thread") }
    t.join()
    return try box.result!.get()
}

/// Opens an `NFTablesGuardTable` inside `host`'s namespace.
func guardTable(in host: LabHost) throws -> NFTablesGuardTable {
    try inNamespace(host) { try NFTablesGuardTable() }
}

@Suite(
    "nf_tables netlink against the kernel (root)",
    .enabled(if: LabNetwork.unavailableReason == nil, Comment(rawValue: LabNetwork.unavailableReason ?? "")))
struct NFTablesKernelTests {
    @Test(
        "the guard's table as nft lists it equals NFTablesGuard.listing: every rule's expressions mean its text (IPv4, IPv6, port 0, replies, fragments, the marker)"
    )
    func roundTrip() throws {
        let lab = try LabNetwork("nftrt")
        defer { lab.close() }
        let h = try lab.host("dir")
        let peer = try lab.host("peer")
        try lab.link(h, "eth0", peer, "eth0")
        try lab.link(h, "eth1", peer, "eth1")
        let services = [
            GuardTests().entry(
                .endpoint(.tcp, Endpoint("192.168.1.109:80")),
                [("192.168.0.112:8080", .masquerade), ("192.168.0.113:0", .fullNAT), ("192.168.0.114:80", .route)]),
            GuardTests().entry(.endpoint(.udp, Endpoint("[fd00:1::1]:53")), [("[fd00:2::11]:5353", .masquerade)]),
            GuardTests().entry(.endpoint(.sctp, Endpoint("[2001:db8::1]:0")), []),
            GuardTests().entry(.endpoint(.udp, Endpoint("10.0.0.1:0")), [("10.0.1.1:0", .masquerade)]),
        ]
        let rules = NFTablesGuard.rules(for: services)
        let table = NFTablesGuard.table(interfaces: ["lo", "eth1", "eth0"], rules: rules, owner: "swiftlvs test")
        let socket = try guardTable(in: h)
        try socket.replace(table)
        let listed = try h.run(["/usr/sbin/nft", "list", "table", "netdev", "swiftlvs"]).stdout
        #expect(canonical(listed) == canonical(NFTablesGuard.listing(table, rules: rules)), "\(listed)")
        #expect(listed.contains("ip daddr . meta l4proto . th dport @services4 drop"))
        // A change of the service table changes elements only: the same listing as a table
        // built whole for the new rules.
        let fewer = NFTablesGuard.rules(for: Array(services.dropFirst()))
        let next = NFTablesGuard.table(interfaces: ["lo", "eth1", "eth0"], rules: fewer, owner: "swiftlvs test")
        try socket.update(from: table, to: next)
        let listedNext = try h.run(["/usr/sbin/nft", "list", "table", "netdev", "swiftlvs"]).stdout
        #expect(canonical(listedNext) == canonical(NFTablesGuard.listing(next, rules: fewer)), "\(listedNext)")
        #expect(!listedNext.contains("192.168.1.109"))
        try socket.update(from: next, to: table)
        #expect(
            canonical(try h.run(["/usr/sbin/nft", "list", "table", "netdev", "swiftlvs"]).stdout)
                == canonical(NFTablesGuard.listing(table, rules: rules)))
        // Read back through netlink: owned, with its comment.
        let info = try #require(try socket.current())
        #expect(info.isOwned && info.comment == "swiftlvs test")
        // Replaced in one transaction: a second table is the only one there.
        try socket.replace(NFTablesGuard.table(interfaces: ["eth0"], rules: [], owner: "second"))
        let again = try h.run(["/usr/sbin/nft", "list", "ruleset"]).stdout
        #expect(again.contains("comment \"second\"") && !again.contains("192.168.1.109"))
        // A refused message is named in the error, and nothing of its transaction is applied
        // (an empty comparison value: nft_data_init refuses it with EINVAL).
        var bad = NFTablesGuard.table(interfaces: ["eth0", "lo"], rules: rules)
        bad.chains[0].rules.insert(
            NFTables.Rule([.meta(.l4Protocol), .compare(.equal, []), .verdict(.drop)], text: "meta l4proto bogus"),
            at: 2)
        do {
            try socket.replace(bad)
            Issue.record("the kernel took an empty comparison")
        } catch {
            #expect(
                error.message.hasPrefix("table netdev swiftlvs chain ingress rule: meta l4proto bogus: "), "\(error)")
            #expect(error.errno == EINVAL)
        }
        #expect(try h.run(["/usr/sbin/nft", "list", "ruleset"]).stdout == again)
        // Closing the socket (what the end of the process does) deletes the owned table.
        socket.close()
        #expect(try !h.run(["/usr/sbin/nft", "list", "ruleset"]).stdout.contains("swiftlvs"))
        #expect(try guardTable(in: h).current() == nil)
    }
}

/// A listing in one canonical form: lines trimmed, nft's owner flags, remarks and blank lines
/// left out, wrapped element lists joined and their elements sorted (a hash lists in its order).
func canonical(_ listing: String) -> [String] {
    var lines: [String] = []
    for raw in listing.split(separator: "\n") {
        var t = String(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
        t = t.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "flags owner" { continue }
        if let last = lines.last, last.hasSuffix(",") {
            lines[lines.count - 1] = last + " " + t
        } else {
            lines.append(t)
        }
    }
    return lines.map { line in
        guard let r = line.range(of: "elements = { "), line.hasSuffix(" }") else { return line }
        let items = line[r.upperBound..<line.index(line.endIndex, offsetBy: -2)].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.sorted()
        return "elements = { " + items.joined(separator: ", ") + " }"
    }
}
