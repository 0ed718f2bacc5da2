// SwiftLVS's FULLNAT extensions: --fullnat real servers and DPVS-style local-address commands.
import IPVSAdmKit
import LVSControl
import LVSCore
import Testing

@Suite("FULLNAT extensions (not in ipvsadm 1.31)")
struct FullNATExtensionTests {
    @Test("--fullnat lists as FullNat and saves as --fullnat; -P/-Q -z manage the local-address pool")
    func fullNAT() {
        let d = InProcessDirector()
        let runs = runScript(
            """
            ipvsadm -A -t 10.0.0.1:80 -s rr
            ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.2:8080 --fullnat -w 2
            ipvsadm --add-laddr -t 10.0.0.1:80 -z 192.168.100.200 -F dpdk0
            ipvsadm -P -t 10.0.0.1:80 -z 192.168.100.201
            """, on: d)
        #expect(runs.allSatisfy { $0.status == 0 && $0.stderr.isEmpty })
        #expect(
            ipvsadm(["-Ln"], backend: d).stdout.hasSuffix(
                "TCP  10.0.0.1:80 rr\n" + "  -> 192.168.1.2:8080             FullNat 2      0          0         \n"))
        #expect(
            ipvsadm(["-G", "-t", "10.0.0.1:80", "-n"], backend: d).stdout
                == "VIP:VPORT            TOTAL    SNAT_IP\n" + "10.0.0.1:80          2       \n"
                + "                              192.168.100.200\n" + "                              192.168.100.201\n")
        let saved = ipvsadm(["-S", "-n"], backend: d).stdout
        #expect(
            saved == "-A -t 10.0.0.1:80 -s rr\n" + "-a -t 10.0.0.1:80 -r 192.168.1.2:8080 --fullnat -w 2\n"
                + "-P -t 10.0.0.1:80 -z 192.168.100.200\n" + "-P -t 10.0.0.1:80 -z 192.168.100.201\n")
        // Round trip.
        #expect(ipvsadm(["-C"], backend: d).status == 0)
        #expect(ipvsadm(["-R"], backend: d, stdin: saved).status == 0)
        #expect(ipvsadm(["-S", "-n"], backend: d).stdout == saved)
        // Refusals.
        let dup = ipvsadm(words("-P -t 10.0.0.1:80 -z 192.168.100.200"), backend: d)
        #expect(dup.status == 255 && dup.stderr == "Local address already exists\n")
        let missing = ipvsadm(words("-Q -t 10.0.0.1:80 -z 192.168.100.9"), backend: d)
        #expect(missing.status == 255 && missing.stderr == "No such local address\n")
        #expect(ipvsadm(words("-Q -t 10.0.0.1:80 -z 192.168.100.200"), backend: d).status == 0)
        let none = ipvsadm(words("-G -t 10.0.0.9:80"), backend: d)
        #expect(none.status == 1 && none.stderr == "No such service\n")
    }

    @Test("the extension options are illegal with mainline commands, and -z is compulsory for -P")
    func legality() {
        let b = StaticBackend()
        #expect(
            ipvsadm(words("-A -t 10.0.0.1:80 -z 1.2.3.4"), backend: b).stderr
                == "Illegal 'laddr' option with the 'add-service' command\n")
        #expect(
            ipvsadm(words("-P -t 10.0.0.1:80"), backend: b).stderr
                == "You need to supply the 'laddr' option for the 'add-laddr' command\n")
        #expect(ipvsadm(words("-P -t 10.0.0.1:80 -z nope"), backend: b).stderr == "illegal local address specified\n")
        #expect(b.changes.isEmpty)
    }
}
