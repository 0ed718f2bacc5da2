// ipvsadm -R: config_stream_read's tokenising, restore_table's status, batching and error handling.
import IPVSAdmKit
import LVSControl
import LVSCore
import Testing

@Suite("ipvsadm -R reads ipvsadm-save files as ipvsadm 1.31 does")
struct RestoreTests {
    @Test("config_stream_read: blanks, tabs and CR separate tokens; 'ipvsadm' words and empty lines are skipped")
    func tokenising() {
        let b = StaticBackend()
        let input =
            "-A -t 10.0.0.1:80 -s rr\r\n\n   \n\tipvsadm -a\t-t 10.0.0.1:80   -r 10.0.0.2 -m\n"
            + "/sbin/ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.3 -m"  // no final newline; '/sbin/ipvsadm' is not dropped
        let r = ipvsadm(["-R"], backend: b, stdin: input)
        let k = tcp("10.0.0.1", 80)
        #expect(
            b.changes == [
                .addService(VirtualServiceSpec(key: k, scheduler: "rr")),
                .addRealServer(RealServerSpec(endpoint: ep("10.0.0.2", 80), forwarding: .masquerade), k),
            ])
        // The last line keeps '/sbin/ipvsadm' as a popt leftover: "unexpected argument", fail(2, …).
        #expect(r.status == 2)
        #expect(r.stderr == "unexpected argument /sbin/ipvsadm\n")
    }

    @Test("a refused line prints its message and the restore goes on; the status is the last line's")
    func refusalContinues() {
        let b = StaticBackend()
        b.results = [.ok, .failure(IPVSError(.serviceExists)), .ok]
        let r = ipvsadm(
            ["-R"], backend: b,
            stdin: "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2\n")
        #expect(r.stderr == "Service already exists\n")
        #expect(r.status == 0, "restore_table returns the last line's result")
        #expect(b.changes.count == 3)

        let b2 = StaticBackend()
        b2.results = [.ok, .failure(IPVSError(.destinationExists))]
        let r2 = ipvsadm(["-R"], backend: b2, stdin: "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2\n")
        #expect(r2.status == 255)
        #expect(r2.stderr == "Destination already exists\n")
    }

    @Test("a parse error aborts the restore with status 2 after the lines before it were applied")
    func parseErrorAborts() {
        let b = StaticBackend()
        let r = ipvsadm(
            ["-R"], backend: b,
            stdin: "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w 70000\n-A -t 10.0.0.9:80\n")
        #expect(r.status == 2)
        #expect(r.stderr == "illegal weight specified\n")
        #expect(b.changes == [.addService(VirtualServiceSpec(key: tcp("10.0.0.1", 80)))])
    }

    @Test("a popt error on a line prints '<arg>: <message>' and the restore continues")
    func poptErrorContinues() {
        let b = StaticBackend()
        let r = ipvsadm(["-R"], backend: b, stdin: "-A -t\n-A -t 10.0.0.1:80\n")
        #expect(r.stderr == "-t: missing argument\n")
        #expect(r.status == 0)
        #expect(b.changes.count == 1)
    }

    @Test("comment lines: ipvsadm -R hands '#' to popt as a non-option (hint, 255); ipvsadm-restore drops them")
    func comments() {
        let text = "# saved by ipvsadm-save\n-A -t 10.0.0.1:80 -s rr\n"
        let b = StaticBackend()
        let r = ipvsadm(["-R"], backend: b, stdin: text)
        #expect(r.status == 255)
        #expect(b.changes.isEmpty)

        let b2 = StaticBackend()
        let out = CapturedOutput()
        let adm = IPVSAdm(
            program: "ipvsadm", backend: b2, resolver: NumericOnlyResolver(), output: out,
            input: CommentStrippingInput(BufferInput(text)))
        #expect(adm.run(["-R"]) == 0)
        #expect(b2.changes == [.addService(VirtualServiceSpec(key: tcp("10.0.0.1", 80), scheduler: "rr"))])
    }

    @Test("-R inside a restore is refused (restore_table: reading_stdin → tryhelp_exit)")
    func nestedRestore() {
        let b = StaticBackend()
        let r = ipvsadm(["-R"], backend: b, stdin: "-A -t 10.0.0.1:80\n-R\n-A -t 10.0.0.2:80\n")
        #expect(r.status == 255)
        #expect(b.changes.count == 1)
    }

    @Test("state changes travel in batches; a listing line flushes them first so output keeps its order")
    func batching() {
        let b = StaticBackend()
        var text = ""
        for i in 0..<5 { text += "-A -t 10.0.0.\(i + 1):80\n" }
        text += "-L -n\n-C\n"
        let out = CapturedOutput()
        let adm = IPVSAdm(
            program: "ipvsadm", backend: b, resolver: NumericOnlyResolver(), output: out, input: BufferInput(text))
        adm.restoreBatchSize = 2
        #expect(adm.run(["-R"]) == 0)
        let sizes = b.frames.map(\.count)
        // 5 adds in batches of 2, 2, 1; the listing (info + services); then the flush.
        #expect(sizes == [2, 2, 1, 2, 1])
        #expect(out.stdout.hasPrefix("IP Virtual Server version 1.2.1 (size=4096)\n"))
    }
}
