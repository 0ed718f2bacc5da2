// ipvsadm --synproxy and keepalived syn_proxy (lvsd extensions): parsed, listed, saved, restored.
import IPVSAdmKit
import KeepalivedConfig
import LVSControl
import LVSCore
import Testing

@Suite("SYN proxy option")
struct SynProxyOptionTests {
    @Test("ipvsadm -A/-E --synproxy: listed 'synproxy', saved '--synproxy', restored; refused for UDP and on -a")
    func ipvsadmOption() {
        let d = InProcessDirector()
        #expect(ipvsadm(words("-A -t 10.0.0.1:80 -s rr --synproxy"), backend: d).status == 0)
        #expect(ipvsadm(words("-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m"), backend: d).status == 0)
        let list = ipvsadm(words("-Ln"), backend: d).stdout
        #expect(list.contains("TCP  10.0.0.1:80 rr synproxy\n"))
        let saved = ipvsadm(words("-Sn"), backend: d).stdout
        #expect(saved.contains("-A -t 10.0.0.1:80 -s rr --synproxy\n"))
        let other = InProcessDirector()
        #expect(ipvsadm(words("-R"), backend: other, stdin: saved).status == 0)
        #expect(ipvsadm(words("-Ln"), backend: other).stdout == list)
        #expect(ipvsadm(words("-E -t 10.0.0.1:80 -s rr"), backend: d).status == 0)
        #expect(!ipvsadm(words("-Ln"), backend: d).stdout.contains("synproxy"))
        #expect(ipvsadm(words("-A -u 10.0.0.1:53 -s rr --synproxy"), backend: d).status != 0)
        let illegal = ipvsadm(words("-a -t 10.0.0.1:80 -r 10.0.0.3:80 -m --synproxy"), backend: d)
        #expect(illegal.status == 2 && illegal.stderr.contains("synproxy"))
    }

    @Test("keepalived.conf syn_proxy sets the flag; on a UDP service it is reset with a warning")
    func keepalivedKeyword() {
        let text = """
            virtual_server 10.0.0.1 80 {
                lb_algo rr
                lb_kind NAT
                protocol TCP
                syn_proxy
                real_server 10.0.0.2 80 {
                }
            }
            virtual_server 10.0.0.1 53 {
                lb_algo rr
                protocol UDP
                syn_proxy
                real_server 10.0.0.2 53 {
                }
            }
            """
        let r = KeepalivedConfigLoader.check(text: text)
        let specs = r.configuration.ipvsConfiguration().services.map(\.spec)
        #expect(specs.first { $0.key.port == 80 }?.flags.contains(.synProxy) == true)
        #expect(specs.first { $0.key.port == 53 }?.flags.contains(.synProxy) == false)
        #expect(r.diagnostics.contains { $0.description.contains("syn_proxy requires TCP") })
        #expect(!r.diagnostics.contains { $0.severity >= .error })
    }
}
