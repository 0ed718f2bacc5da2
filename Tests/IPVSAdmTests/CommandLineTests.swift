// ipvsadm's command line: what each command sends to the director, and every parse error with its status.
import IPVSAdmKit
import LVSControl
import LVSCore
import Testing

@Suite("ipvsadm commands build the requests ipvsadm 1.31 would send")
struct CommandRequestTests {
    func sent(_ line: String, resolver: any IPVSAdmNameResolver = NumericOnlyResolver()) -> (Run, [ControlRequest]) {
        let b = StaticBackend()
        let r = ipvsadm(words(line), backend: b, resolver: resolver)
        return (r, b.changes)
    }

    @Test("seed 003: -A -t 192.168.0.240:80 -s rr -p 20")
    func addPersistent() {
        let (r, c) = sent("-A -t 192.168.0.240:80 -s rr -p 20")
        #expect(r.status == 0 && r.stdout == "" && r.stderr == "")
        #expect(
            c == [
                .addService(
                    VirtualServiceSpec(
                        key: tcp("192.168.0.240", 80), scheduler: "rr", flags: .persistent, persistenceTimeout: 20))
            ])
    }

    @Test("libipvs.h IPVS_SVC_PERSISTENT_TIMEOUT: -p without a value is 360 s; popt leaves '-s' to the next option")
    func persistentDefault() {
        let spec = VirtualServiceSpec(
            key: tcp("1.2.3.4", 0), scheduler: "rr", flags: .persistent, persistenceTimeout: 360)
        #expect(sent("-A -t 1.2.3.4 -p -s rr").1 == [.addService(spec)])
        #expect(sent("-A -t 1.2.3.4 -s rr -p").1 == [.addService(spec)])
        #expect(sent("-A -t 1.2.3.4 -s rr --persistent").1 == [.addService(spec)])
        #expect(sent("-A -t 1.2.3.4 -s rr -p360").1 == [.addService(spec)])
    }

    @Test("ipvsadm.c DEF_SCHED: -A and -E default to wlc; -E resends the whole service")
    func editDefaults() {
        let (_, c) = sent("-E -t 10.0.0.1:80 -p 60 -M 255.255.255.0")
        #expect(
            c == [
                .editService(
                    VirtualServiceSpec(
                        key: tcp("10.0.0.1", 80), scheduler: "wlc", flags: .persistent, persistenceTimeout: 60,
                        netmask: 0xFFFF_FF00))
            ])
    }

    @Test("option spellings: clusters, attached values, --long=value, long names")
    func spellings() {
        let want: [ControlRequest] = [.addService(VirtualServiceSpec(key: tcp("1.2.3.4", 80), scheduler: "rr"))]
        #expect(sent("-At 1.2.3.4:80 -s rr").1 == want)
        #expect(sent("-A -t1.2.3.4:80 -srr").1 == want)
        #expect(sent("--add-service --tcp-service=1.2.3.4:80 --scheduler rr").1 == want)
        #expect(sent("-A -t=1.2.3.4:80 -s=rr").1 == want)
    }

    @Test("-r without a port takes the service port; -g and -i force it (ipvsadm.c), -m and fwmark keep it")
    func realServerPorts() {
        let k = tcp("192.168.0.240", 80)
        #expect(
            sent("-a -t 192.168.0.240:80 -r 192.168.0.223 -g -w 1").1 == [
                .addRealServer(RealServerSpec(endpoint: ep("192.168.0.223", 80)), k)
            ])
        #expect(
            sent("-a -t 192.168.0.240:80 -r 192.168.0.223:8080 -g").1 == [
                .addRealServer(RealServerSpec(endpoint: ep("192.168.0.223", 80)), k)
            ])
        #expect(
            sent("-a -t 192.168.0.240:80 -r 192.168.0.223:8080 -m -w 3 -x 100 -y 50").1 == [
                .addRealServer(
                    RealServerSpec(
                        endpoint: ep("192.168.0.223", 8080), forwarding: .masquerade, weight: 3, upperThreshold: 100,
                        lowerThreshold: 50), k)
            ])
        #expect(
            sent("-a -f 7 -r 10.0.0.2:8080 -g").1 == [
                .addRealServer(RealServerSpec(endpoint: ep("10.0.0.2", 8080)), .firewallMark(7, .inet))
            ])
        #expect(sent("-d -t 192.168.0.240:80 -r 192.168.0.223").1 == [.deleteRealServer(ep("192.168.0.223", 80), k)])
        #expect(
            sent("-e -t 192.168.0.240:80 -r 192.168.0.223 -w 0").1 == [
                .editRealServer(RealServerSpec(endpoint: ep("192.168.0.223", 80), weight: 0), k)
            ])
    }

    @Test("tunnel options: --tun-type gue --tun-port --tun-csum, gre --tun-remcsum is refused, SwiftLVS --fullnat")
    func tunnels() {
        let k = tcp("10.0.0.1", 80)
        #expect(
            sent("-a -t 10.0.0.1:80 -r 192.168.1.2 -i --tun-type gue --tun-port 6080 --tun-csum").1 == [
                .addRealServer(
                    RealServerSpec(
                        endpoint: ep("192.168.1.2", 80),
                        forwarding: .tunnel(TunnelSpec(type: .gue, port: 6080, flags: .checksum))), k)
            ])
        #expect(
            sent("-a -t 10.0.0.1:80 -r 192.168.1.2:8080 --fullnat").1 == [
                .addRealServer(RealServerSpec(endpoint: ep("192.168.1.2", 8080), forwarding: .fullNAT), k)
            ])
        // A tunnel may lead to another address family.
        #expect(
            sent("-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -i").1 == [
                .addRealServer(RealServerSpec(endpoint: ep("2001:db8::2", 80), forwarding: .tunnel(TunnelSpec())), k)
            ])
    }

    @Test("fwmark -6, IPv6 [addr]:port, bare IPv6 address, IPv6 -M prefix, UDP ops and sh flags")
    func addressForms() {
        #expect(
            sent("-A -f 1 -6 -s rr").1 == [
                .addService(VirtualServiceSpec(key: .firewallMark(1, .inet6), scheduler: "rr"))
            ])
        #expect(
            sent("-A -u [2001:db8::1]:53 -s sh -b sh-fallback,sh-port -o").1 == [
                .addService(
                    VirtualServiceSpec(
                        key: udp("2001:db8::1", 53), scheduler: "sh", flags: [.onePacket, .scheduler1, .scheduler2]))
            ])
        #expect(
            sent("-A -t 2001:db8::1 -p 30 -M 64").1 == [
                .addService(
                    VirtualServiceSpec(
                        key: tcp("2001:db8::1", 0), scheduler: "wlc", flags: .persistent, persistenceTimeout: 30,
                        netmask: 64))
            ])
        #expect(
            sent("-A --sctp-service 10.0.0.1:5000").1 == [
                .addService(VirtualServiceSpec(key: .endpoint(.sctp, ep("10.0.0.1", 5000))))
            ])
    }

    @Test("glibc inet_aton forms and names: 10.1 is 10.0.0.1, 0x7f.1 is 127.0.0.1, host and service names resolve")
    func namesAndShorthands() {
        #expect(sent("-A -t 10.1:80").1 == [.addService(VirtualServiceSpec(key: tcp("10.0.0.1", 80)))])
        #expect(sent("-A -t 0x7f.1:80").1 == [.addService(VirtualServiceSpec(key: tcp("127.0.0.1", 80)))])
        let names = TableResolver(hosts: ["www.example.com": IPv4Address(192, 168, 0, 240)], services: ["http": 80])
        #expect(
            sent("-A -t www.example.com:http -s rr", resolver: names).1 == [
                .addService(VirtualServiceSpec(key: tcp("192.168.0.240", 80), scheduler: "rr"))
            ])
    }

    @Test("--set, -C, -D, -Z with and without a service, sync daemons (default mcast interface eth0)")
    func otherCommands() {
        #expect(sent("--set 30 5 60").1 == [.setTimeouts(IPVSTimeouts(tcp: 30, tcpFin: 5, udp: 60))])
        #expect(sent("-C").1 == [.flush])
        #expect(sent("--clear").1 == [.flush])
        #expect(sent("-D -t 192.168.0.240:80").1 == [.deleteService(tcp("192.168.0.240", 80))])
        #expect(sent("-Z").1 == [.zero(nil)])
        #expect(sent("-Z -f 3").1 == [.zero(.firewallMark(3, .inet))])
        #expect(
            sent("--start-daemon master").1 == [
                .startSyncDaemon(SyncDaemonSpec(role: .master, multicastInterface: "eth0"))
            ])
        #expect(
            sent(
                "--start-daemon backup --mcast-interface eth1 --syncid 7 --sync-maxlen 1400 --mcast-group 239.1.1.1 --mcast-port 9000 --mcast-ttl 3"
            ).1
                == [
                    .startSyncDaemon(
                        SyncDaemonSpec(
                            role: .backup, multicastInterface: "eth1", syncID: 7, maxLength: 1400,
                            group: v4("239.1.1.1"), port: 9000, ttl: 3))
                ])
        #expect(sent("--stop-daemon backup").1 == [.stopSyncDaemon(.backup)])
    }
}

@Suite("ipvsadm parse errors: ipvsadm 1.31's messages and exit statuses")
struct ParseErrorTests {
    func run(_ args: [String]) -> Run {
        let b = StaticBackend()
        let r = ipvsadm(args, backend: b)
        #expect(b.changes.isEmpty, "a rejected command must not reach the director")
        return r
    }

    func fails(_ line: String, _ message: String, status: Int32 = 2, sourceLocation: SourceLocation = #_sourceLocation)
    {
        let r = run(words(line))
        #expect(r.status == status, "\(line)", sourceLocation: sourceLocation)
        #expect(r.stderr == message + "\n", "\(line)", sourceLocation: sourceLocation)
        #expect(r.stdout == "", sourceLocation: sourceLocation)
    }

    @Test("fail(2, …) messages of parse_options and process_options")
    func failMessages() {
        fails("-A -t 80", "illegal virtual server address[:port] specified")
        fails("-A -t [::1]", "illegal virtual server address[:port] specified")
        fails("-A -t 1.2.3.4:65536", "illegal virtual server address[:port] specified")
        fails("-A -t no.such.host:80", "illegal virtual server address[:port] specified")
        fails("-a -t 1.2.3.4:80 -r 300.1.1.1", "illegal real server address[:port] specified")
        fails("-A -t 1.2.3.4", "Zero port specified for non-persistent service")
        fails("-A -t 1.2.3.4:80 -o", "One-Packet Scheduling is only for UDP virtual services")
        fails("-A -s rr", "You need to supply the 'service-address' option for the 'add-service' command")
        fails("-A -t 1.2.3.4:80 -w 1", "Illegal 'weight' option with the 'add-service' command")
        fails("-a -t 1.2.3.4:80", "You need to supply the 'real-server' option for the 'add-server' command")
        fails("-C -n", "Illegal 'numeric' option with the 'flush' command")
        fails("-A -t 1.2.3.4:80 -u 1.2.3.4:80", "multiple 'service-address' options specified")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -g -m", "multiple 'forwarding-method' options specified")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -w 65536", "illegal weight specified")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -w -1", "illegal weight specified")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -x x", "illegal u_threshold specified")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -y 2147483648", "illegal l_threshold specified")
        fails("-A -t 1.2.3.4:80 -p 0", "invalid timeout value `0' specified")
        fails("-A -t 1.2.3.4:80 -p 2678401", "invalid timeout value `2678401' specified")
        fails("--set 30 5", "--set option requires 3 timeout values")
        fails("--set 30 5 60 7", "unexpected argument 7")
        fails("--set 30 x 60", "invalid timeout value `x' specified")
        fails("-C foo", "unexpected argument foo")
        fails("-R /etc/sysconfig/ipvsadm", "unexpected argument /etc/sysconfig/ipvsadm")
        fails("-A -f 0", "invalid fwmark value `0' specified")
        fails("-A -f 4294967296", "invalid fwmark value `4294967296' specified")
        fails("-A -t 1.2.3.4:80 -p -M 300.0.0.0", "illegal virtual server persistent mask specified")
        fails("-A -t [2001:db8::1]:80 -p -M 129", "illegal ipv6 netmask specified")
        fails("-A -t 1.2.3.4:80 -s rr -b sh-port", "incompatible scheduler flag `sh-port'")
        fails("-A -t 1.2.3.4:80 -s mh -b mh-port,bogus", "invalid scheduler flag `bogus'")
        fails(
            "-a -t 1.2.3.4:80 -r [2001:db8::2]:80 -m", "Different address family is allowed only for tunneling servers")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -m --tun-type gue", "Tunnel options conflict with forward method")
        fails(
            "-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-type gue",
            "You need to supply the 'tun-port' option for the 'gue' tunnel type")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-port 9", "Illegal 'tun-port' option with the 'ipip' tunnel type")
        fails(
            "-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-type gue --tun-port 9 --tun-nocsum --tun-csum",
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type")
        fails("-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-type vxlan", "illegal tunnel type specified")
        fails(
            "-L -t 1.2.3.4:80 -c",
            "The option 'service-address' conflicts with the 'connection' option in the 'list' command")
        fails("-L --timeout --stats", "options conflicts in the list command")
        fails("-L --daemon --persistent-conn", "options conflicts in the list command")
        fails("--start-daemon primary", "illegal start-daemon parameter specified")
        fails("--stop-daemon primary", "illegal start_daemon specified")
        fails("--start-daemon master --syncid 256", "illegal syncid specified")
        fails("--start-daemon master --mcast-group 10.0.0.1", "invalid IPv4 mcast-group `10.0.0.1'")
        fails("--start-daemon master --mcast-group 2001:db8::1", "invalid IPv6 mcast-group `2001:db8::1'")
        fails("--start-daemon master --sync-maxlen 65508", "illegal sync-maxlen specified")
        // ipvsadm prints "-6 used before -f\n" through fail(), which adds another newline.
        fails("-A -6 -f 1", "-6 used before -f\n")
    }

    @Test("popt 1.19: only the first option may be a command; a later one is 'invalid option', not 'multiple commands'")
    func secondCommand() {
        fails("-A -t 1.2.3.4:80 -D", "invalid option `-D'")
        fails("-L -h", "invalid option `-h'")
    }

    @Test("popt errors after the command: '<arg>: <popt message>' and status 255")
    func poptErrors() {
        fails("-A -t", "-t: missing argument", status: 255)
        fails("-L --bogus", "--bogus: unknown option", status: 255)
        fails("-Lq", "-Lq: unknown option", status: 255)
        fails("-L --numeric=yes", "--numeric=yes: option does not take an argument", status: 255)
    }

    @Test("no command first → \"Try `ipvsadm -h' or 'ipvsadm --help' for more information.\" and 255")
    func tryHelp() {
        let hint = "Try `ipvsadm -h' or 'ipvsadm --help' for more information."
        fails("-n -L", hint, status: 255)
        fails("--bogus", hint, status: 255)
        fails("list", hint, status: 255)
        fails("-t 1.2.3.4:80", hint, status: 255)
    }

    @Test("seed 000 lvs_nat.sh '$IPVSADM –C' (EN DASH): popt sees a non-option, so ipvsadm prints the hint, exit 255")
    func enDash() {
        let b = StaticBackend()
        let r = ipvsadm(["\u{2013}C"], backend: b, program: "/sbin/ipvsadm")
        #expect(r.status == 255)
        #expect(r.stderr == "Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information.\n")
        #expect(b.received.isEmpty, "the table is not cleared")
    }

    @Test("-h prints version and usage to stdout, -v the version; both exit 0 without contacting lvsd")
    func helpAndVersion() {
        let b = StaticBackend()
        b.unreachable = IPVSAdmBackendError(message: "unreachable")
        let h = ipvsadm(["-h"], backend: b)
        #expect(h.status == 0)
        #expect(
            h.stdout.hasPrefix(
                "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n  ipvsadm -A|E virtual-service")
        )
        #expect(
            h.stdout.contains(
                "  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,\n"))
        #expect(h.stdout.hasSuffix("  --mcast-ttl ttl                     Multicast TTL (default=1)\n"))
        let v = ipvsadm(["--version"], backend: b)
        #expect(v.status == 0 && v.stdout == "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n")
    }
}

@Suite("director refusals: libipvs ipvs_strerror texts, process_options returns -1 (exit 255)")
struct RefusalTests {
    func refused(_ line: String, _ error: IPVSError.Code) -> Run {
        let b = StaticBackend()
        b.results = [.failure(IPVSError(error))]
        return ipvsadm(words(line), backend: b)
    }

    @Test("each refusal prints the message ipvsadm prints for that call and errno")
    func messages() {
        let cases: [(String, IPVSError.Code, String)] = [
            ("-A -t 1.2.3.4:80", .serviceExists, "Service already exists"),
            ("-A -t 1.2.3.4:80 -s nope", .schedulerNotFound, "Scheduler or persistence engine not found"),
            ("-E -t 1.2.3.4:80", .noSuchService, "No such service"),
            ("-D -t 1.2.3.4:80", .noSuchService, "No such service"),
            ("-Z -t 1.2.3.4:80", .noSuchService, "No such service"),
            ("-a -t 1.2.3.4:80 -r 5.6.7.8", .serviceNotDefined, "Service not defined"),
            ("-a -t 1.2.3.4:80 -r 5.6.7.8", .destinationExists, "Destination already exists"),
            ("-e -t 1.2.3.4:80 -r 5.6.7.8", .noSuchDestination, "No such destination"),
            ("-d -t 1.2.3.4:80 -r 5.6.7.8", .noSuchDestination, "No such destination"),
            ("-d -t 1.2.3.4:80 -r 5.6.7.8", .noSuchService, "Service not defined"),
            ("--start-daemon master", .daemonRunning, "Daemon has already run"),
            ("--stop-daemon master", .noDaemon, "No daemon is running"),
            ("-C", .permissionDenied, "Permission denied (you must be root)"),
            (
                "-a -t 1.2.3.4:80 -r 5.6.7.8", .invalidArgument,
                "Invalid operation.  Possibly wrong module version, address not unicast, ..."
            ),
            ("-A -t 1.2.3.4:80", .noMemory, "Memory allocation problem"),
        ]
        for (line, code, message) in cases {
            let r = refused(line, code)
            #expect(r.status == 255, "\(line)")
            #expect(r.stderr == message + "\n", "\(line)")
        }
    }

    @Test("contract 4: with no lvsd, one clear line and exit 1")
    func unreachable() {
        let b = StaticBackend()
        b.unreachable = IPVSAdmBackendError(
            message:
                "Can't initialize ipvs: lvsd is not running in this network namespace (no control socket at @x: Connection refused)"
        )
        for args in [["-Ln"], ["-A", "-t", "1.2.3.4:80"], [], ["-S"]] {
            let r = ipvsadm(args, backend: b)
            #expect(r.status == 1)
            #expect(r.stderr.split(separator: "\n").count == 1)
            #expect(r.stderr.hasPrefix("Can't initialize ipvs: "))
        }
    }
}
