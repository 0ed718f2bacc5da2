// The nftables guard's rules and script, and rtnetlink messages into the kernel tables.
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSPlatform
import Testing

@Suite("nftables guard rules")
struct GuardTests {
    func entry(_ key: ServiceKey, _ servers: [(String, ForwardingMethod)]) -> VirtualServiceEntry {
        VirtualServiceEntry(
            spec: VirtualServiceSpec(key: key, scheduler: "rr"),
            realServers: servers.map {
                RealServerEntry(
                    spec: RealServerSpec(endpoint: Endpoint($0.0), forwarding: $0.1), activeConnections: 0,
                    inactiveConnections: 0, persistentConnections: 0, counters: IPVSCounters(), rates: IPVSRates())
            }, counters: IPVSCounters(), rates: IPVSRates(), localAddresses: [])
    }

    @Test(
        "VIP:port drops for every address service; replies of NAT/FULLNAT servers only; a fwmark NAT server without a port: its replies from any port, every protocol"
    )
    func rules() {
        let services = [
            entry(
                .endpoint(.tcp, Endpoint("192.168.1.109:80")),
                [("192.168.0.112:8080", .masquerade), ("192.168.0.113:0", .fullNAT)]),
            entry(.endpoint(.udp, Endpoint("192.168.0.240:53")), [("192.168.0.223:53", .route)]),
            entry(.firewallMark(1, .inet), [("192.168.0.5:0", .masquerade)]),
        ]
        let rules = NFTablesGuard.rules(for: services)
        let table = NFTablesGuard.table(interfaces: ["eth0", "lo"], rules: rules)
        #expect(
            NFTablesGuard.listing(table, rules: rules) == """
                table netdev swiftlvs {
                \tset services4 {
                \t\ttype ipv4_addr . inet_proto . inet_service
                \t\telements = { 192.168.0.240 . udp . 53, 192.168.1.109 . tcp . 80 }
                \t}
                \tset services_any_port4 {
                \t\ttype ipv4_addr . inet_proto
                \t}
                \tset services6 {
                \t\ttype ipv6_addr . inet_proto . inet_service
                \t}
                \tset services_any_port6 {
                \t\ttype ipv6_addr . inet_proto
                \t}
                \tset replies4 {
                \t\ttype ipv4_addr . inet_proto . inet_service
                \t\telements = { 192.168.0.112 . tcp . 8080, 192.168.0.113 . tcp . 80 }
                \t}
                \tset replies_any_port4 {
                \t\ttype ipv4_addr . inet_proto
                \t\telements = { 192.168.0.5 . tcp, 192.168.0.5 . udp, 192.168.0.5 . sctp }
                \t}
                \tset replies6 {
                \t\ttype ipv6_addr . inet_proto . inet_service
                \t}
                \tset replies_any_port6 {
                \t\ttype ipv6_addr . inet_proto
                \t}
                \tset vips4 {
                \t\ttype ipv4_addr
                \t\telements = { 192.168.0.240, 192.168.1.109 }
                \t}
                \tset vips6 {
                \t\ttype ipv6_addr
                \t}
                \tchain ingress {
                \t\ttype filter hook ingress devices = { eth0, lo } priority -500; policy accept;
                \t\tiifname "lo" @ll,48,48 0x2534c560001 accept
                \t\tip daddr . meta l4proto . th dport @services4 drop
                \t\tip daddr . meta l4proto @services_any_port4 drop
                \t\tip6 daddr . meta l4proto . th dport @services6 drop
                \t\tip6 daddr . meta l4proto @services_any_port6 drop
                \t\tiifname != "lo" ip saddr . meta l4proto . th sport @replies4 drop
                \t\tiifname != "lo" ip saddr . meta l4proto @replies_any_port4 drop
                \t\tiifname != "lo" ip6 saddr . meta l4proto . th sport @replies6 drop
                \t\tiifname != "lo" ip6 saddr . meta l4proto @replies_any_port6 drop
                \t\tip daddr @vips4 ip frag-off & 8191 != 0 drop
                \t\tip6 daddr @vips6 frag frag-off != 0 drop
                \t}
                }

                """)
        // The keys: address, protocol, port, each part padded to 4 bytes as the kernel pads them.
        #expect(
            table.sets[0].elements == [
                [192, 168, 0, 240, 17, 0, 0, 0, 0, 53, 0, 0], [192, 168, 1, 109, 6, 0, 0, 0, 0, 80, 0, 0],
            ])
        #expect(table.sets[0].keyLength == 12 && table.sets[0].keyType == 7 << 12 | 12 << 6 | 13)
        #expect(table.ownedBySocket, "a killed lvsd's table goes with its socket")
        #expect(NFTablesGuard.table(interfaces: [], rules: []).chains.isEmpty)
        // Another service table of the same interfaces: the same shape (elements change only).
        let other = NFTablesGuard.table(interfaces: ["eth0", "lo"], rules: Array(rules.dropFirst()))
        #expect(other != table && other.shape == table.shape)
    }

    @Test("port-0 services and IPv6 VIPs: their own sets")
    func portZeroAndIPv6() {
        let r = NFTablesGuard.rules(for: [entry(.endpoint(.tcp, Endpoint("[2001:db8::1]:0")), [])])
        #expect(r.map(\.nft) == ["ip6 daddr 2001:db8::1 meta l4proto tcp drop"])
        let t = NFTablesGuard.table(interfaces: ["eth0"], rules: r)
        let set = t.sets.first { $0.name == "services_any_port6" }
        #expect(set?.elements == [IPAddress("2001:db8::1")!.bytes + [6, 0, 0, 0]] && set?.keyLength == 20)
        #expect(t.sets.allSatisfy { $0.name == "services_any_port6" || $0.name == "vips6" || $0.elements.isEmpty })
        #expect(t.sets.first { $0.name == "vips6" }?.elements == [IPAddress("2001:db8::1")!.bytes])
    }
}

/// An rtnetlink message: header, fixed part, attributes.
func nlmsg(_ type: UInt16, _ fixed: [UInt8], _ attrs: [(UInt16, [UInt8])]) -> [UInt8] {
    var body = fixed
    while body.count % 4 != 0 { body.append(0) }
    for (t, v) in attrs {
        let len = 4 + v.count
        body += [UInt8(len & 0xFF), UInt8(len >> 8), UInt8(t & 0xFF), UInt8(t >> 8)] + v
        while body.count % 4 != 0 { body.append(0) }
    }
    let total = 16 + body.count
    func le32(_ v: Int) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
    return le32(total) + [UInt8(type & 0xFF), UInt8(type >> 8), 0, 0] + le32(1) + le32(0) + body
}

@Suite("rtnetlink into kernel tables")
struct NetlinkTests {
    @Test("links, addresses, routes and neighbours give the egress of a real server; deletions take it away")
    func parse() {
        let link = nlmsg(
            16, [0, 0, 1, 0, 3, 0, 0, 0, 0x43, 0x10, 1, 0, 0, 0, 0, 0],
            [
                (1, [2, 0, 0, 0, 0, 0x0E]), (3, Array("eth0".utf8) + [0]), (4, [0xDC, 0x05, 0, 0]),
            ])
        let addr = nlmsg(20, [2, 24, 0, 0, 3, 0, 0, 0], [(2, [192, 168, 0, 109]), (1, [192, 168, 0, 109])])
        let route = nlmsg(24, [2, 24, 0, 0, 254, 2, 253, 1, 0, 0, 0, 0], [(1, [192, 168, 0, 0]), (4, [3, 0, 0, 0])])
        let gw = nlmsg(24, [2, 0, 0, 0, 254, 2, 0, 1, 0, 0, 0, 0], [(5, [192, 168, 0, 1]), (4, [3, 0, 0, 0])])
        let neigh = nlmsg(
            28, [2, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 1], [(1, [192, 168, 0, 112]), (2, [2, 0, 0, 0, 0, 0x51])])
        var t = KernelTables()
        let all = link + addr + route + gw + neigh
        all.withUnsafeBytes { _ = NetlinkParser.apply($0, to: &t) }
        #expect(t.links[3]?.name == "eth0" && t.links[3]?.mtu == 1500 && t.links[3]?.isUp == true)
        #expect(t.isLocal(IPAddress("192.168.0.109")!))
        guard case .success(let e) = t.egress(to: IPAddress("192.168.0.112")!) else {
            Issue.record("no egress")
            return
        }
        #expect(e.interface == 3 && e.link.destinationMAC == MACAddress(0x02_00_00_00_00_51))
        #expect(e.link.sourceMAC == MACAddress(0x02_00_00_00_00_0E) && e.sourceAddress == IPAddress("192.168.0.109")!)
        // Off-link: the default route's gateway must be resolved.
        #expect(
            t.egress(to: IPAddress("10.9.9.9")!)
                == .failure(.noNeighbor(NeighborKey(interface: 3, address: IPAddress("192.168.0.1")!))))
        let delNeigh = nlmsg(29, [2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1], [(1, [192, 168, 0, 112])])
        delNeigh.withUnsafeBytes { _ = NetlinkParser.apply($0, to: &t) }
        #expect(
            t.egress(to: IPAddress("192.168.0.112")!)
                == .failure(.noNeighbor(NeighborKey(interface: 3, address: IPAddress("192.168.0.112")!))))
    }

    @Test("truncated or lying messages are ignored, never read past the buffer")
    func hostile() {
        var t = KernelTables()
        let good = nlmsg(20, [2, 24, 0, 0, 3, 0, 0, 0], [(2, [192, 168, 0, 109])])
        for cut in 0..<good.count {
            Array(good[0..<cut]).withUnsafeBytes { _ = NetlinkParser.apply($0, to: &t) }
        }
        var lying = good
        lying[24] = 0xFF  // the attribute claims more bytes than the message holds
        lying.withUnsafeBytes { _ = NetlinkParser.apply($0, to: &t) }
        #expect(t.addresses.isEmpty)
    }
}

@Suite("nftables guard ownership")
struct GuardOwnershipTests {
    @Test("the table names its lvsd in a comment (nft's table user data: type 0, length, the string and its NUL)")
    func ownerComment() {
        let table = NFTablesGuard.table(interfaces: ["eth0"], rules: [], owner: "swiftlvs lvsd pid 42")
        #expect(
            NFTablesGuard.listing(table, rules: []).split(separator: "\n")[1] == "\tcomment \"swiftlvs lvsd pid 42\"")
        var tx = NFTables.Transaction()
        tx.add(table)
        let comment = Array("swiftlvs lvsd pid 42".utf8) + [0]
        let userData: [UInt8] = [UInt8(4 + 2 + comment.count), 0, 6, 0, 0, UInt8(comment.count)] + comment
        #expect(tx.items[0].attributes.firstRange(of: userData) != nil)
        // NFTA_TABLE_FLAGS = NFT_TABLE_F_OWNER, big-endian.
        #expect(tx.items[0].attributes.firstRange(of: [8, 0, 2, 0, 0, 0, 0, 2]) != nil)
    }
}
