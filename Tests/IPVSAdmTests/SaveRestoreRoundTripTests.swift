// ipvsadm -S -n | ipvsadm -C; ipvsadm -R restores an identical table; real-world save files load.
import IPVSAdmKit
import LVSControl
import LVSCore
import Testing

@Suite("-S / -R round trip")
struct SaveRestoreRoundTripTests {
    /// A table using every feature -S can express.
    static let rules = """
        ipvsadm -A -t 10.0.0.1:80 -s wlc
        ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 3
        ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.3 -i -w 2
        ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.4 -i --tun-type gue --tun-port 6080 --tun-remcsum
        ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.5 -i --tun-type gre --tun-csum -w 0
        ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.6 -g -w 65535
        ipvsadm -A -t 10.0.0.1:443 -s sh -b sh-fallback,sh-port -p 1800 -M 255.255.255.0
        ipvsadm -a -t 10.0.0.1:443 -r 192.168.1.2 -g
        ipvsadm -A -u 10.0.0.1:53 -s rr -o
        ipvsadm -a -u 10.0.0.1:53 -r 192.168.1.2:5353 -m
        ipvsadm -A -u 10.0.0.1:5060 -s wlc -p --pe sip
        ipvsadm -A --sctp-service 10.0.0.1:3868 -s lc
        ipvsadm -A -t 10.0.0.1 -s mh -b mh-port -p 60
        ipvsadm -A -f 7 -s wrr -p 120
        ipvsadm -a -f 7 -r 192.168.1.7 -m -w 5
        ipvsadm -A -f 8 -6 -s lblc
        ipvsadm -a -f 8 -6 -r [2001:db8::20]:80 -g
        ipvsadm -A -t [2001:db8::1]:80 -s sed -p 300 -M 64
        ipvsadm -a -t [2001:db8::1]:80 -r [2001:db8::10]:8080 -m -w 7
        ipvsadm -a -t [2001:db8::1]:80 -r 192.168.1.9 -i
        ipvsadm -A -t 192.168.0.1:80 -s fo
        ipvsadm -A -t 172.16.0.1:80 -s ovf
        ipvsadm -A -t 10.0.0.2:80 -s nq
        ipvsadm -A -t 10.0.0.3:80 -s dh
        ipvsadm -A -t 10.0.0.4:80 -s lblcr
        ipvsadm -A -t 10.0.0.5:80 -s twos
        """

    @Test("ipvsadm -S -n | ipvsadm -C; ipvsadm -R: -S, -Ln and --tun-info listings are identical")
    func roundTrip() {
        let d = InProcessDirector()
        let runs = runScript(Self.rules, on: d)
        for (i, r) in runs.enumerated() {
            #expect(r.status == 0 && r.stderr.isEmpty, "rule \(i + 1): [\(r.stderr)] \(r.status)")
        }
        let saved = ipvsadm(["-S", "-n"], backend: d)
        let listing = ipvsadm(["-L", "-n"], backend: d).stdout
        let tunnels = ipvsadm(["-L", "-n", "--tun-info"], backend: d).stdout
        #expect(saved.stdout.split(separator: "\n").count == 26)

        #expect(ipvsadm(["-C"], backend: d).status == 0)
        #expect(ipvsadm(["-S", "-n"], backend: d).stdout == "")
        let restore = ipvsadm(["-R"], backend: d, stdin: saved.stdout)
        #expect(restore.status == 0)
        #expect(restore.stderr == "")
        #expect(ipvsadm(["-S", "-n"], backend: d).stdout == saved.stdout)
        #expect(ipvsadm(["-L", "-n"], backend: d).stdout == listing)
        #expect(ipvsadm(["-L", "-n", "--tun-info"], backend: d).stdout == tunnels)
    }

    @Test("ipvsadm-save never wrote -x/-y (print_service_entry): thresholds do not survive a round trip, as on ipvsadm")
    func thresholdsAreNotSaved() {
        let d = InProcessDirector()
        runScript(
            """
            ipvsadm -A -t 10.0.0.1:80
            ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -x 100 -y 10
            """, on: d)
        #expect(
            ipvsadm(["-S", "-n"], backend: d).stdout
                == "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n")
    }

    @Test("real-world save files: RHEL /etc/sysconfig/ipvsadm with names, CRLF, 'ipvsadm' prefixes, blank lines")
    func realWorldFiles() {
        let d = InProcessDirector()
        let names = TableResolver(
            hosts: ["lb.example.com": IPv4Address(10, 1, 1, 100), "web1": IPv4Address(10, 1, 1, 11)],
            services: ["http": 80, "https": 443, "domain": 53])
        let file =
            "-A -t lb.example.com:http -s wlc -p 300\r\n" + "-a -t lb.example.com:http -r web1:http -g -w 1\r\n"
            + "\r\n"
            + "ipvsadm -A -u 10.1.1.100:domain -s rr\n"
            + "ipvsadm -a -u 10.1.1.100:domain -r 10.1.1.11:domain -m -w 100\n"
            + "-A -f 10 -s wrr -p 120 -M 255.255.255.0\n" + "-a -f 10 -r 10.1.1.12:0 -g -w 5\n"
            + "-A -t 10.1.1.100:https -s sh -b sh-port\n"
        let r = ipvsadm(["-R"], backend: d, stdin: file, resolver: names)
        #expect(r.status == 0)
        #expect(r.stderr == "")
        #expect(
            ipvsadm(["-S", "-n"], backend: d).stdout
                == "-A -t 10.1.1.100:80 -s wlc -p 300\n" + "-a -t 10.1.1.100:80 -r 10.1.1.11:80 -g -w 1\n"
                + "-A -t 10.1.1.100:443 -s sh -b sh-port\n" + "-A -u 10.1.1.100:53 -s rr\n"
                + "-a -u 10.1.1.100:53 -r 10.1.1.11:53 -m -w 100\n" + "-A -f 10 -s wrr -p 120 -M 255.255.255.0\n"
                + "-a -f 10 -r 10.1.1.12:0 -g -w 5\n")
    }

    @Test("a client that is neither root nor lvsd's user may list but gets ipvsadm's EPERM text for changes")
    func permission() {
        let d = InProcessDirector()
        runScript("ipvsadm -A -t 10.0.0.1:80", on: d)
        d.mayChangeState = false
        let r = ipvsadm(["-C"], backend: d)
        #expect(r.status == 255)
        #expect(r.stderr == "Permission denied (you must be root)\n")
        #expect(ipvsadm(["-Ln"], backend: d).stdout.contains("TCP  10.0.0.1:80 wlc\n"))
    }
}
