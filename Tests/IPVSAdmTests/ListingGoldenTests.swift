// Golden listings: expected text written from ipvsadm 1.31's printf layouts (and the seeds' screens).
import IPVSAdmKit
import LVSControl
import LVSCore
import Testing

/// Every expected line below is derived by hand from the printf format quoted next to it
/// (ipvsadm.c print_title / print_service_entry / print_largenum / print_conn), not from our output.
@Suite("ipvsadm listings, byte for byte")
struct ListingGoldenTests {
    // "IP Virtual Server version %d.%d.%d (size=%d)\n" + print_title's default two lines.
    static let header =
        "IP Virtual Server version 1.2.1 (size=4096)\n" + "Prot LocalAddress:Port Scheduler Flags\n"
        + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"

    @Test("seed 003: an empty table lists the version header and the two title lines")
    func emptyTable() {
        let b = StaticBackend()
        let r = ipvsadm(["-Ln"], backend: b)
        #expect(r.status == 0)
        #expect(r.stdout == Self.header)
        #expect(r.stderr == "")
        // No arguments at all lists too (main: argc == 1 → list_all).
        #expect(ipvsadm([], backend: b).stdout == Self.header)
    }

    @Test("seed 003 §2.2: TCP 192.168.0.240:80 rr persistent 20 with two Route servers, trailing pads kept")
    func seed003PersistentDR() {
        let b = StaticBackend()
        b.services = [
            VirtualServiceEntry(
                spec: VirtualServiceSpec(
                    key: tcp("192.168.0.240", 80), scheduler: "rr", flags: .persistent, persistenceTimeout: 20),
                // Kernel list order is newest first; ipvsadm sorts for display.
                realServers: [server("192.168.0.224", 80), server("192.168.0.223", 80)])
        ]
        let r = ipvsadm(["-L", "-n"], backend: b)
        // "%s %s" svc_name, sched + " persistent %u"; "  -> %-28s %-7s %-6d %-10u %-10u\n".
        #expect(
            r.stdout == Self.header + "TCP  192.168.0.240:80 rr persistent 20\n"
                + "  -> 192.168.0.223:80             Route   1      0          0         \n"
                + "  -> 192.168.0.224:80             Route   1      0          0         \n")
    }

    @Test("seed 000 lvs_nat.sh: rr over two Masq servers; wrr weights 1 and 2")
    func seed000NAT() {
        let b = StaticBackend()
        b.services = [
            VirtualServiceEntry(
                spec: VirtualServiceSpec(key: tcp("192.168.1.109", 80), scheduler: "wrr"),
                realServers: [
                    server("192.168.0.113", 80, .masquerade, weight: 2, active: 3, inactive: 17),
                    server("192.168.0.112", 80, .masquerade, weight: 1, active: 12345, inactive: 4_294_967_295),
                ])
        ]
        #expect(
            ipvsadm(["-ln"], backend: b).stdout == Self.header + "TCP  192.168.1.109:80 wrr\n"
                + "  -> 192.168.0.112:80             Masq    1      12345      4294967295\n"
                + "  -> 192.168.0.113:80             Masq    2      3          17        \n")
    }

    static func statsService() -> VirtualServiceEntry {
        VirtualServiceEntry(
            spec: VirtualServiceSpec(key: tcp("10.0.0.1", 80), scheduler: "wlc"),
            realServers: [
                server(
                    "192.168.1.2", 80, .masquerade,
                    counters: IPVSCounters(
                        connections: 5_000_000_000_000, inPackets: 100_000_000, outPackets: 999_999_999,
                        inBytes: 99_999_999_999_999, outBytes: 100_000_000_000_000),
                    rates: IPVSRates(cps: 3, inPPS: 123_456_789, outPPS: 7, inBPS: 250_000_000, outBPS: 12))
            ],
            counters: IPVSCounters(
                connections: 12, inPackets: 123_456_789, outPackets: 99_999_999, inBytes: 12_345_678_901,
                outBytes: 123_456_789_012_345),
            rates: IPVSRates(cps: 1, inPPS: 22, outPPS: 333, inBPS: 4444, outBPS: 100_000_000))
    }

    @Test("--stats: %-33s then print_largenum: %9llu below 1e8, K below 1e9, M below 1e11, G below 1e14, else T")
    func statsScaling() {
        let b = StaticBackend()
        b.services = [Self.statsService()]
        let r = ipvsadm(["-L", "-n", "--stats"], backend: b)
        // print_title: "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n"
        let title =
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            + "  -> RemoteAddress:Port\n"
        // 12 → "       12"; 123456789 → "  123456K"; 99999999 → " 99999999"; 12345678901 → "   12345M";
        // 123456789012345 → "     123T".
        let svc = "TCP  10.0.0.1:80                        12  123456K 99999999   12345M     123T\n"
        // 5e12 → "    5000G"; 1e8 → "  100000K"; 999999999 → "  999999K"; 99999999999999 → "   99999G";
        // 1e14 → "      100T".
        let dst = "  -> 192.168.1.2:80                  5000G  100000K  999999K   99999G     100T\n"
        #expect(r.stdout == "IP Virtual Server version 1.2.1 (size=4096)\n" + title + svc + dst)
    }

    @Test("--stats --exact: every number in full, width 9 or its length + 1")
    func statsExact() {
        let b = StaticBackend()
        b.services = [Self.statsService()]
        let r = ipvsadm(["-L", "-n", "--stats", "--exact"], backend: b)
        let svc = "TCP  10.0.0.1:80                        12 123456789 99999999 12345678901 123456789012345\n"
        let dst =
            "  -> 192.168.1.2:80               5000000000000 100000000 999999999 99999999999999 100000000000000\n"
        #expect(r.stdout.hasSuffix(svc + dst))
    }

    @Test("--rate: services through print_largenum, servers' CPS/InPPS/OutPPS as %8llu then two largenums")
    func rates() {
        let b = StaticBackend()
        b.services = [Self.statsService()]
        let r = ipvsadm(["-Ln", "--rate"], backend: b)
        let title =
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
            + "  -> RemoteAddress:Port\n"
        let svc = "TCP  10.0.0.1:80                         1       22      333     4444  100000K\n"
        // "  -> %-28s %8llu %8llu %8llu": 123456789 overflows its 8 columns unchanged.
        let dst = "  -> 192.168.1.2:80                      3 123456789        7  250000K       12\n"
        #expect(r.stdout == "IP Virtual Server version 1.2.1 (size=4096)\n" + title + svc + dst)
    }

    @Test("--thresholds and --persistent-conn: their own titles, the normal service line")
    func thresholdsAndPersistent() {
        let b = StaticBackend()
        b.services = [
            VirtualServiceEntry(
                spec: VirtualServiceSpec(
                    key: tcp("10.0.0.1", 80), scheduler: "lc", flags: .persistent, persistenceTimeout: 360),
                realServers: [
                    server("192.168.1.2", 80, weight: 3, active: 4, inactive: 5, persistent: 6, upper: 100, lower: 80)
                ])
        ]
        // "%-33s %-10s %-10s %-10s %-10s\n" and "  -> %-28s %-10u %-10u %-10u %-10u\n"
        #expect(
            ipvsadm(["-L", "-n", "--thresholds"], backend: b).stdout
                == "IP Virtual Server version 1.2.1 (size=4096)\n"
                + "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
                + "  -> RemoteAddress:Port\n" + "TCP  10.0.0.1:80 lc persistent 360\n"
                + "  -> 192.168.1.2:80               100        80         4          5         \n")
        // "%-33s %-9s %-11s %-10s %-10s\n" and "  -> %-28s %-9u %-11u %-10u %-10u\n"
        #expect(
            ipvsadm(["-L", "-n", "--persistent-conn"], backend: b).stdout
                == "IP Virtual Server version 1.2.1 (size=4096)\n"
                + "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n"
                + "  -> RemoteAddress:Port\n" + "TCP  10.0.0.1:80 lc persistent 360\n"
                + "  -> 192.168.1.2:80               3         6           4          5         \n")
    }

    @Test("--tun-info: TunnelInfo column ipip / gue:PORT:FLAGS / gre:FLAGS / n/a")
    func tunnelInfo() {
        let b = StaticBackend()
        b.services = [
            VirtualServiceEntry(
                spec: VirtualServiceSpec(key: tcp("10.0.0.1", 80), scheduler: "rr"),
                realServers: [
                    server("192.168.1.5", 80, .masquerade),
                    server("192.168.1.4", 80, .tunnel(TunnelSpec(type: .gre, flags: .checksum))),
                    server("192.168.1.3", 80, .tunnel(TunnelSpec(type: .gue, port: 6080, flags: []))),
                    server("192.168.1.2", 80, .tunnel(TunnelSpec())),
                ])
        ]
        // "  -> %-28s %-7s %-13s %-6d %-10u %-10u\n"
        #expect(
            ipvsadm(["-Ln", "--tun-info"], backend: b).stdout
                == "IP Virtual Server version 1.2.1 (size=4096)\n" + "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
                + "TCP  10.0.0.1:80 rr\n"
                + "  -> 192.168.1.2:80               Tunnel  ipip          1      0          0         \n"
                + "  -> 192.168.1.3:80               Tunnel  gue:6080:-c   1      0          0         \n"
                + "  -> 192.168.1.4:80               Tunnel  gre:+c        1      0          0         \n"
                + "  -> 192.168.1.5:80               Masq    n/a           1      0          0         \n")
    }

    static func mixedTable() -> [VirtualServiceEntry] {
        [
            VirtualServiceEntry(spec: VirtualServiceSpec(key: .firewallMark(2, .inet6), scheduler: "wlc")),
            VirtualServiceEntry(
                spec: VirtualServiceSpec(
                    key: .firewallMark(1, .inet), scheduler: "rr", flags: .persistent, persistenceTimeout: 300,
                    netmask: 0xFFFF_FF00),
                realServers: [server("192.168.1.7", 0, .masquerade, weight: 5)]),
            VirtualServiceEntry(
                spec: VirtualServiceSpec(
                    key: udp("2001:db8::1", 53), scheduler: "sh", flags: [.onePacket, .scheduler1, .scheduler2]),
                realServers: [server("2001:db8::10", 53, .masquerade)]),
            VirtualServiceEntry(
                spec: VirtualServiceSpec(
                    key: tcp("2001:db8::2", 80), scheduler: "wlc", flags: .persistent, persistenceTimeout: 60,
                    netmask: 64)),
            VirtualServiceEntry(
                spec: VirtualServiceSpec(
                    key: udp("10.0.0.1", 5060), scheduler: "wlc", flags: .persistent, persistenceTimeout: 360,
                    persistenceEngine: "sip")),
            VirtualServiceEntry(
                spec: VirtualServiceSpec(key: tcp("10.0.0.1", 80), scheduler: "wlc"),
                realServers: [
                    server("192.168.1.6", 80, .local),
                    server("192.168.1.5", 80, .tunnel(TunnelSpec(type: .gre))),
                    server("192.168.1.4", 80, .tunnel(TunnelSpec(type: .gue, port: 6080, flags: .checksum)), weight: 2),
                    server("192.168.1.3", 80, .tunnel(TunnelSpec())),
                    server("192.168.1.2", 8080, .masquerade),
                ]),
        ]
    }

    @Test("fwmark, IPv6, masks, pe, ops and scheduler flags; sorted by fwmark, family, protocol, address, port")
    func mixedListing() {
        let b = StaticBackend()
        b.services = Self.mixedTable()
        #expect(
            ipvsadm(["-L", "-n"], backend: b).stdout
                == Self.header + "TCP  10.0.0.1:80 wlc\n"
                + "  -> 192.168.1.2:8080             Masq    1      0          0         \n"
                + "  -> 192.168.1.3:80               Tunnel  1      0          0         \n"
                + "  -> 192.168.1.4:80               Tunnel  2      0          0         \n"
                + "  -> 192.168.1.5:80               Tunnel  1      0          0         \n"
                + "  -> 192.168.1.6:80               Local   1      0          0         \n"
                + "UDP  10.0.0.1:5060 wlc persistent 360 pe sip\n"
                + "TCP  [2001:db8::2]:80 wlc persistent 60 mask 64\n"
                + "UDP  [2001:db8::1]:53 sh (sh-fallback,sh-port) ops\n"
                + "  -> [2001:db8::10]:53            Masq    1      0          0         \n"
                + "FWM  1 rr persistent 300 mask 255.255.255.0\n"
                + "  -> 192.168.1.7:0                Masq    5      0          0         \n" + "FWM  2 IPv6 wlc\n")
    }

    @Test("-S -n: rule format, no header; Local saved as -g; tunnels with --tun-type; IPv6 fwmark as -f N -6")
    func saveFormat() {
        let b = StaticBackend()
        b.services = Self.mixedTable()
        let r = ipvsadm(["-S", "-n"], backend: b)
        #expect(r.status == 0)
        #expect(
            r.stdout == "-A -t 10.0.0.1:80 -s wlc\n" + "-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 1\n"
                + "-a -t 10.0.0.1:80 -r 192.168.1.3:80 -i -w 1 --tun-type ipip\n"
                + "-a -t 10.0.0.1:80 -r 192.168.1.4:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum\n"
                + "-a -t 10.0.0.1:80 -r 192.168.1.5:80 -i -w 1 --tun-type gre --tun-nocsum\n"
                + "-a -t 10.0.0.1:80 -r 192.168.1.6:80 -g -w 1\n" + "-A -u 10.0.0.1:5060 -s wlc -p 360 --pe sip\n"
                + "-A -t [2001:db8::2]:80 -s wlc -p 60 -M 64\n"
                + "-A -u [2001:db8::1]:53 -s sh -o -b sh-fallback,sh-port\n"
                + "-a -u [2001:db8::1]:53 -r [2001:db8::10]:53 -m -w 1\n" + "-A -f 1 -s rr -p 300 -M 255.255.255.0\n"
                + "-a -f 1 -r 192.168.1.7:0 -m -w 5\n" + "-A -f 2 -6 -s wlc\n")
    }

    @Test("ipvs_cmp_services subtracts addresses into an int: 10.0.0.1 sorts after 192.168.0.1 as on real ipvsadm")
    func wrappingSortOrder() {
        let b = StaticBackend()
        b.services = [
            VirtualServiceEntry(
                spec: VirtualServiceSpec(key: tcp("10.0.0.1", 80), scheduler: "rr"),
                // 0x0A000002 − 0xAC100001 and 0x0A000002 − 0xC0A80001 are positive as int:
                // glibc's merge sort yields 172.16.0.1, 192.168.0.1, 10.0.0.2.
                realServers: [server("10.0.0.2", 80), server("192.168.0.1", 80), server("172.16.0.1", 80)]),
            VirtualServiceEntry(spec: VirtualServiceSpec(key: tcp("192.168.0.1", 80), scheduler: "rr")),
        ]
        #expect(
            ipvsadm(["-Ln"], backend: b).stdout
                == Self.header + "TCP  192.168.0.1:80 rr\n" + "TCP  10.0.0.1:80 rr\n"
                + "  -> 172.16.0.1:80                Route   1      0          0         \n"
                + "  -> 192.168.0.1:80               Route   1      0          0         \n"
                + "  -> 10.0.0.2:80                  Route   1      0          0         \n")
        // --nosort keeps the director's order: services as added, servers newest first.
        #expect(
            ipvsadm(["-Ln", "--nosort"], backend: b).stdout
                == Self.header + "TCP  10.0.0.1:80 rr\n"
                + "  -> 10.0.0.2:80                  Route   1      0          0         \n"
                + "  -> 192.168.0.1:80               Route   1      0          0         \n"
                + "  -> 172.16.0.1:80                Route   1      0          0         \n"
                + "TCP  192.168.0.1:80 rr\n")
    }

    @Test("-L -t VIP:PORT lists one service without the version header; unknown → No such service, exit 1")
    func oneService() {
        let b = StaticBackend()
        b.services = Self.mixedTable()
        let r = ipvsadm(["-L", "-n", "-t", "10.0.0.1:5060"], backend: b)
        #expect(r.status == 1)
        #expect(r.stderr == "No such service\n")
        let u = ipvsadm(["-L", "-n", "-u", "10.0.0.1:5060"], backend: b)
        #expect(u.status == 0)
        #expect(
            u.stdout == "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
                + "UDP  10.0.0.1:5060 wlc persistent 360 pe sip\n")
    }

    @Test("without -n names come from the resolver; %-28s server names cut at 28, service names at 33")
    func resolvedNames() {
        let b = StaticBackend()
        b.services = [
            VirtualServiceEntry(
                spec: VirtualServiceSpec(key: tcp("192.168.0.240", 80), scheduler: "rr"),
                realServers: [server("192.168.0.223", 80), server("192.168.0.224", 8080)])
        ]
        let names = TableResolver(
            hostNames: [
                v4("192.168.0.240"): "a-very-long-virtual-service-name.example.com",
                v4("192.168.0.223"): "rs1.example.com",
                v4("192.168.0.224"): "real-server-number-two.example.com",
            ],
            serviceNames: [80: "http"])
        let r = ipvsadm(["-L"], backend: b, resolver: names)
        #expect(
            r.stdout == Self.header + "TCP  a-very-long-virtual-service- rr\n"
                + "  -> rs1.example.com:http         Route   1      0          0         \n"
                + "  -> real-server-number-two.examp Route   1      0          0         \n")
        // -S without -n resolves names too (ipvsadm-save), untruncated.
        #expect(
            ipvsadm(["-S"], backend: b, resolver: names).stdout
                == "-A -t a-very-long-virtual-service-name.example.com:http -s rr\n"
                + "-a -t a-very-long-virtual-service-name.example.com:http -r rs1.example.com:http -g -w 1\n"
                + "-a -t a-very-long-virtual-service-name.example.com:http -r real-server-number-two.example.com:8080 -g -w 1\n"
        )
    }

    @Test("-Lnc: '%-3s %-6s %-11s %-18s %-18s %s', expiry %02d:%02d with minutes uncapped (seed 003 rows)")
    func connections() {
        let b = StaticBackend()
        b.connections = [
            ConnectionEntry(
                protocolName: "TCP", client: ep("192.168.0.220", 59805), virtual: ep("192.168.0.240", 80),
                destination: ep("192.168.0.224", 80), state: "FIN_WAIT", expiresInSeconds: 101),
            ConnectionEntry(
                protocolName: "TCP", client: ep("10.0.0.5", 51234), virtual: ep("10.0.0.1", 80),
                destination: ep("192.168.1.2", 80), state: "ESTABLISHED", expiresInSeconds: 898),
            ConnectionEntry(
                protocolName: "UDP", client: ep("2001:db8::5", 5353), virtual: ep("2001:db8::1", 53),
                destination: ep("2001:db8::10", 53), state: "UDP", expiresInSeconds: 6000),
            ConnectionEntry(
                protocolName: "IP", client: ep("10.0.0.5", 0), virtual: ep("0.0.0.1", 0),
                destination: ep("192.168.1.2", 0), state: "NONE", expiresInSeconds: 59, isTemplate: true),
        ]
        let r = ipvsadm(["-Lnc"], backend: b)
        #expect(
            r.stdout == "IPVS connection entries\n"
                + "pro expire state       source             virtual            destination\n"
                + "TCP 01:41  FIN_WAIT    192.168.0.220:59805 192.168.0.240:80   192.168.0.224:80\n"
                + "TCP 14:58  ESTABLISHED 10.0.0.5:51234     10.0.0.1:80        192.168.1.2:80\n"
                + "UDP 100:00 UDP         [2001:db8::5]:5353 [2001:db8::1]:53   [2001:db8::10]:53\n"
                + "IP  00:59  NONE        10.0.0.5:0         0.0.0.1:0          192.168.1.2:0\n")
    }

    @Test("-Lnc --persistent-conn: pe name / pe_data columns only on rows that carry them")
    func connectionsWithPersistenceEngine() {
        let b = StaticBackend()
        b.connections = [
            ConnectionEntry(
                protocolName: "UDP", client: ep("10.0.0.9", 5060), virtual: ep("10.0.0.1", 5060),
                destination: ep("192.168.1.2", 5060), state: "UDP", expiresInSeconds: 300, isTemplate: true,
                persistenceEngine: "sip", persistenceEngineData: "1234@host"),
            ConnectionEntry(
                protocolName: "TCP", client: ep("10.0.0.5", 1), virtual: ep("10.0.0.1", 80),
                destination: ep("192.168.1.2", 80), state: "SYN_RECV", expiresInSeconds: 60),
        ]
        // header "pro expire %-11s %-18s %-18s %-18s %-16s %s\n"; row "… %-18s %-16s %-18s %s\n".
        #expect(
            ipvsadm(["-L", "-n", "-c", "--persistent-conn"], backend: b).stdout
                == "IPVS connection entries\n"
                + "pro expire state       source             virtual            destination        pe name          pe_data\n"
                + "UDP 05:00  UDP         10.0.0.9:5060      10.0.0.1:5060      192.168.1.2:5060 sip                1234@host\n"
                + "TCP 01:00  SYN_RECV    10.0.0.5:1         10.0.0.1:80        192.168.1.2:80\n")
    }

    @Test("--timeout prints 'Timeout (tcp tcpfin udp): %d %d %d'; --daemon one line per running daemon")
    func timeoutAndDaemon() {
        let b = StaticBackend()
        #expect(ipvsadm(["-L", "--timeout"], backend: b).stdout == "Timeout (tcp tcpfin udp): 900 120 300\n")
        #expect(ipvsadm(["-L", "--daemon"], backend: b).stdout == "")
        b.daemons = [
            SyncDaemonSpec(role: .backup, multicastInterface: "eth1", syncID: 9),
            SyncDaemonSpec(
                role: .master, multicastInterface: "eth0", syncID: 0, maxLength: 1472, group: v4("224.0.0.81"),
                port: 8848, ttl: 1),
        ]
        #expect(
            ipvsadm(["-L", "--daemon"], backend: b).stdout
                == "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
                + "backup sync daemon (mcast=eth1, syncid=9)\n")
    }

    @Test("size= shows the director's connection table size")
    func tableSize() {
        let b = StaticBackend()
        b.info = IPVSInfo(connectionTableSize: 1 << 20)
        #expect(ipvsadm(["-Ln"], backend: b).stdout.hasPrefix("IP Virtual Server version 1.2.1 (size=1048576)\n"))
    }
}
