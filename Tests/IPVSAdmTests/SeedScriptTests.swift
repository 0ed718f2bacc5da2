// The seeds' ipvsadm lines, run against a real IPVS table, give the listings the seeds show.
import IPVSAdmKit
import LVSControl
import LVSCore
import LVSTestSupport
import Testing

@Suite("seed scripts against the IPVS table")
struct SeedScriptTests {
    static let header =
        "IP Virtual Server version 1.2.1 (size=4096)\n" + "Prot LocalAddress:Port Scheduler Flags\n"
        + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"

    @Test("seed 000 lvs_nat.sh: '$IPVSADM –C' (EN DASH) fails with the hint and clears nothing; rr over two Masq")
    func lvsNat() {
        let d = InProcessDirector()
        // The script as shipped, with the EN DASH of the original (ipvsadm lines only).
        let script = """
            /sbin/ipvsadm \u{2013}C
            /sbin/ipvsadm -A -t 192.168.1.109:80 -s rr
            /sbin/ipvsadm -a -t 192.168.1.109:80 -r 192.168.0.112:80 -m
            /sbin/ipvsadm -a -t 192.168.1.109:80 -r 192.168.0.113:80 -m
            """
        let runs = runScript(script, on: d)
        #expect(runs.map(\.status) == [255, 0, 0, 0])
        #expect(runs[0].stderr == "Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information.\n")
        #expect(
            ipvsadm(["-ln"], backend: d).stdout
                == Self.header + "TCP  192.168.1.109:80 rr\n"
                + "  -> 192.168.0.112:80             Masq    1      0          0         \n"
                + "  -> 192.168.0.113:80             Masq    1      0          0         \n")

        // Running the script a second time: the –C line still clears nothing, so -A now fails.
        let again = runScript(script, on: d)
        #expect(again.map(\.status) == [255, 255, 255, 255])
        #expect(again[1].stderr == "Service already exists\n")
        #expect(again[2].stderr == "Destination already exists\n")

        // The seed then edits the script to wrr with weights 1 and 2, runs `ipvsadm -C` by hand first.
        #expect(ipvsadm(["-C"], backend: d).status == 0)
        runScript(
            """
            /sbin/ipvsadm \u{2013}C
            /sbin/ipvsadm -A -t 192.168.1.109:80 -s wrr
            /sbin/ipvsadm -a -t 192.168.1.109:80 -r 192.168.0.112:80 -m -w 1
            /sbin/ipvsadm -a -t 192.168.1.109:80 -r 192.168.0.113:80 -m -w 2
            """, on: d)
        #expect(
            ipvsadm(["-ln"], backend: d).stdout
                == Self.header + "TCP  192.168.1.109:80 wrr\n"
                + "  -> 192.168.0.112:80             Masq    1      0          0         \n"
                + "  -> 192.168.0.113:80             Masq    2      0          0         \n")
    }

    @Test("seed 000 lvs_dr.sh: rr then wrr 2:1 over two Route servers")
    func lvsDR() {
        let d = InProcessDirector()
        runScript(
            """
            /sbin/ipvsadm \u{2013}C
            /sbin/ipvsadm -A -t 192.168.0.110:80 -s rr
            /sbin/ipvsadm -a -t 192.168.0.110:80 -r 192.168.0.112:80 -g -w 1
            /sbin/ipvsadm -a -t 192.168.0.110:80 -r 192.168.0.113:80 -g -w 1
            """, on: d)
        #expect(
            ipvsadm(["-ln"], backend: d).stdout
                == Self.header + "TCP  192.168.0.110:80 rr\n"
                + "  -> 192.168.0.112:80             Route   1      0          0         \n"
                + "  -> 192.168.0.113:80             Route   1      0          0         \n")
        #expect(ipvsadm(["-C"], backend: d).status == 0)
        runScript(
            """
            /sbin/ipvsadm \u{2013}C
            /sbin/ipvsadm -A -t 192.168.0.110:80 -s wrr
            /sbin/ipvsadm -a -t 192.168.0.110:80 -r 192.168.0.112:80 -g -w 2
            /sbin/ipvsadm -a -t 192.168.0.110:80 -r 192.168.0.113:80 -g -w 1
            """, on: d)
        #expect(
            ipvsadm(["-ln"], backend: d).stdout
                == Self.header + "TCP  192.168.0.110:80 wrr\n"
                + "  -> 192.168.0.112:80             Route   2      0          0         \n"
                + "  -> 192.168.0.113:80             Route   1      0          0         \n")
    }

    @Test("seed 003 ipvs_server.sh start/stop: --set 30 5 60, rr -p 20, -r without port; listing as the seed prints")
    func ipvsServerScript() {
        let d = InProcessDirector()
        let start = """
            ipvsadm -C
            ipvsadm --set 30 5 60
            ipvsadm -A -t 192.168.0.240:80 -s rr -p 20
            ipvsadm -a -t 192.168.0.240:80 -r 192.168.0.223 -g -w 1
            ipvsadm -a -t 192.168.0.240:80 -r 192.168.0.224 -g -w 1
            """
        #expect(runScript(start, on: d).allSatisfy { $0.status == 0 && $0.stderr.isEmpty })
        // Seed 003 lines 359–365 (`ipvsadm -L -n`), trailing spaces as ipvsadm prints them.
        #expect(
            ipvsadm(["-L", "-n"], backend: d).stdout
                == "IP Virtual Server version 1.2.1 (size=4096)\n" + "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
                + "TCP  192.168.0.240:80 rr persistent 20\n"
                + "  -> 192.168.0.223:80             Route   1      0          0         \n"
                + "  -> 192.168.0.224:80             Route   1      0          0         \n")
        #expect(ipvsadm(["-L", "--timeout"], backend: d).stdout == "Timeout (tcp tcpfin udp): 30 5 60\n")
        // start() runs stop() first when the VIP is up; running start twice leaves the same table.
        runScript("ipvsadm -C\n" + start, on: d)
        #expect(
            ipvsadm(["-Ln"], backend: d).stdout.hasSuffix(
                "192.168.0.224:80             Route   1      0          0         \n"))
        // stop: `ipvsadm -C` → seed 003 lines 998–1001, the empty table.
        runScript("ipvsadm -C", on: d)
        #expect(ipvsadm(["-Ln"], backend: d).stdout == Self.header)
    }

    @Test("seed 003 §3.6 rules typed by hand (non-persistent rr) list as seed lines 1005–1011")
    func handTyped() {
        let d = InProcessDirector()
        runScript(
            """
            ipvsadm -C
            ipvsadm -A -t 192.168.0.240:80 -s rr
            ipvsadm -a -t 192.168.0.240:80 -r 192.168.0.223:80 -g -w 1
            ipvsadm -a -t 192.168.0.240:80 -r 192.168.0.224:80 -g -w 1
            """, on: d)
        #expect(
            ipvsadm(["-Ln"], backend: d).stdout
                == Self.header + "TCP  192.168.0.240:80 rr\n"
                + "  -> 192.168.0.223:80             Route   1      0          0         \n"
                + "  -> 192.168.0.224:80             Route   1      0          0         \n")
    }

    @Test("seed 004: ipvsadm-save (names resolved, :http) > /etc/sysconfig/ipvsadm; -C; restore; same table")
    func saveAndRestore() {
        let d = InProcessDirector()
        let etcServices = TableResolver(services: ["http": 80], serviceNames: [80: "http"])
        runScript(
            """
            ipvsadm -C
            ipvsadm -A -t 192.168.233.100:80 -s rr
            ipvsadm -a -t 192.168.233.100:80 -r 192.168.233.20:80 -g
            ipvsadm -a -t 192.168.233.100:80 -r 192.168.233.30:80 -g
            """, on: d, resolver: etcServices)
        let before = ipvsadm(["-ln"], backend: d).stdout
        #expect(
            before == Self.header + "TCP  192.168.233.100:80 rr\n"
                + "  -> 192.168.233.20:80            Route   1      0          0         \n"
                + "  -> 192.168.233.30:80            Route   1      0          0         \n")
        // ipvsadm-save runs `ipvsadm -S`: without -n, ports become service names.
        let saved = ipvsadm(["-S"], backend: d, resolver: etcServices)
        #expect(
            saved.stdout == "-A -t 192.168.233.100:http -s rr\n"
                + "-a -t 192.168.233.100:http -r 192.168.233.20:http -g -w 1\n"
                + "-a -t 192.168.233.100:http -r 192.168.233.30:http -g -w 1\n")
        // `systemctl restart ipvsadm`: clear, then ipvsadm-restore < /etc/sysconfig/ipvsadm.
        #expect(ipvsadm(["-C"], backend: d).status == 0)
        #expect(ipvsadm(["-ln"], backend: d).stdout == Self.header)
        let restored = ipvsadm(["-R"], backend: d, stdin: saved.stdout, resolver: etcServices)
        #expect(restored.status == 0 && restored.stderr == "")
        #expect(ipvsadm(["-ln"], backend: d).stdout == before)
    }

    @Test("seed 004 '-d -r 192.168.233.20: -t 12.0.0.1:80': an empty port is no port, ipvsadm refuses it (exit 2)")
    func emptyPort() {
        let d = InProcessDirector()
        runScript(
            """
            ipvsadm -A -t 12.0.0.1:80 -s rr
            ipvsadm -a -t 12.0.0.1:80 -r 192.168.233.20:80 -m
            """, on: d)
        let r = ipvsadm(words("-d -r 192.168.233.20: -t 12.0.0.1:80"), backend: d)
        #expect(r.status == 2)
        #expect(r.stderr == "illegal real server address[:port] specified\n")
        #expect(ipvsadm(words("-d -t 12.0.0.1:80 -r 192.168.233.20"), backend: d).status == 0)
        #expect(ipvsadm(words("-D -t 192.168.233.10:80"), backend: d).stderr == "No such service\n")
    }

    @Test("seed 003 -Lnc after traffic: FIN_WAIT rows with mm:ss from the table's timers")
    func connectionListing() {
        let d = InProcessDirector()
        runScript(
            """
            ipvsadm -A -t 192.168.0.240:80 -s rr
            ipvsadm -a -t 192.168.0.240:80 -r 192.168.0.223:80 -g -w 1
            """, on: d)
        let driver = IPVSDriver(d.ipvs, clock: d.clock)
        let client = ep("192.168.0.220", 59805)
        let vip = ep("192.168.0.240", 80)
        driver.tcp(client, vip, .syn)
        driver.tcp(client, vip, .ack)
        driver.tcp(client, vip, [.fin, .ack])
        d.clock.advance(seconds: 19)
        // FIN_WAIT lasts 120 s (K:ip_vs_proto_tcp.c); 19 s later 101 s = 01:41 are left.
        #expect(
            ipvsadm(["-Lnc"], backend: d).stdout
                == "IPVS connection entries\n"
                + "pro expire state       source             virtual            destination\n"
                + "TCP 01:41  FIN_WAIT    192.168.0.220:59805 192.168.0.240:80   192.168.0.223:80\n")
    }
}
