// The seeds' keepalived.conf files, unchanged: the typed configuration, IPVS specs and -t codes.
import KeepalivedConfig
import LVSCore
import Testing

/// `ipvsadm -Ln` service and destination lines (ipvsadm.c print_service_entry / list_dest
/// formats) for a configured table, with zero counters, trailing blanks trimmed.
func ipvsadmListing(_ table: [VirtualServiceEntry]) -> [String] {
    func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
    var out: [String] = []
    for service in table {
        let spec = service.spec
        var line: String
        switch spec.key {
        case .endpoint(let proto, let endpoint): line = "\(proto)  \(endpoint) \(spec.scheduler)"
        case .firewallMark(let mark, _): line = "FWM  \(mark) \(spec.scheduler)"
        }
        if spec.isPersistent { line += " persistent \(spec.persistenceTimeout)" }
        out.append(line)
        for rs in service.realServers.sorted(by: { $0.spec.endpoint < $1.spec.endpoint }) {
            let dest =
                "  -> " + pad(rs.spec.endpoint.description, 28) + " " + pad(rs.spec.forwarding.listingName, 7) + " "
                + pad(String(rs.spec.weight), 6) + " " + pad("0", 10) + " " + "0"
            out.append(dest)
        }
    }
    return out
}

@Suite("Seed 000: DR director with TCP_CHECK, NBSP indentation")
struct Seed000Tests {
    let result = KeepalivedConfigLoader.check(text: SeedConfigs.seed000Master)

    @Test("Parses with no errors: only a note about the pasted no-break spaces (-t exit 0)")
    func clean() {
        #expect(
            messages(result) == [
                "keepalived.conf:2: non-ASCII space characters (such as U+00A0 or U+3000) read as spaces"
            ])
        #expect(result.exitCode == .ok)
    }

    @Test("vrrp_instance VI_1: MASTER on eth0, VRID 51, priority 100, PASS 1111, VIP 192.168.0.110/32")
    func vrrp() throws {
        let v = try #require(result.configuration.vrrpInstance(named: "VI_1"))
        #expect(v.state == .master)
        #expect(v.interface == "eth0")
        #expect(v.virtualRouterID == 51)
        #expect(v.priority == 100)
        #expect(v.advertInterval == .seconds(1))
        #expect(v.authentication?.type == .pass)
        #expect(v.authentication?.password == Array("1111".utf8))
        #expect(v.virtualIPAddresses.map(\.address) == [IPAddress("192.168.0.110")!])
        #expect(v.virtualIPAddresses.first?.prefixLength == 32)
        #expect(v.location == SourceLocation(file: "keepalived.conf", line: 1))
    }

    @Test("virtual_server: wlc, DR, persistence 60, TCP; nb_get_retry 3 is the checker's retry")
    func virtualServer() throws {
        let vs = try #require(result.configuration.virtualServers.first)
        #expect(vs.address == .endpoint(IPAddress("192.168.0.110")!, port: 80))
        #expect(vs.scheduler == "wlc")
        #expect(vs.forwarding == .route)
        #expect(vs.persistenceTimeout == 60)
        #expect(vs.transportProtocol == .tcp)
        #expect(vs.delayLoop == .seconds(6))
        #expect(vs.realServers.map(\.endpoint.description) == ["192.168.0.112:80", "192.168.0.113:80"])
        #expect(vs.realServers.map(\.weight) == [100, 100])
        for rs in vs.realServers {
            let checker = try #require(rs.checkers.first)
            #expect(checker.kind == .tcp)
            #expect(checker.retry == 3)
            #expect(checker.connection.connectTimeout == .seconds(10))
            #expect(checker.effective.destination == Endpoint(rs.address, 80))
            #expect(checker.effective.retry == 3)
            #expect(checker.effective.delayBeforeRetry == .seconds(3))
            #expect(checker.effective.connectTimeout == .seconds(10))
            #expect(checker.effective.delayLoop == .seconds(6))
            #expect(checker.effective.warmup == .seconds(6))
        }
    }

    @Test("IPVS: TCP 192.168.0.110:80 wlc persistent 60, two Route servers of weight 100")
    func ipvs() throws {
        let ipvs = result.ipvs
        #expect(ipvs.services.count == 1)
        let s = try #require(ipvs.services.first)
        #expect(
            s.spec
                == VirtualServiceSpec(
                    key: .endpoint(.tcp, Endpoint(IPAddress("192.168.0.110")!, 80)), scheduler: "wlc",
                    flags: .persistent,
                    persistenceTimeout: 60))
        #expect(s.spec.netmask == 0xFFFF_FFFF)
        #expect(
            s.realServers == [
                RealServerSpec(endpoint: Endpoint(IPAddress("192.168.0.112")!, 80), forwarding: .route, weight: 100),
                RealServerSpec(endpoint: Endpoint(IPAddress("192.168.0.113")!, 80), forwarding: .route, weight: 100),
            ])
        #expect(
            ipvsadmListing(ipvs.initialTable) == [
                "TCP  192.168.0.110:80 wlc persistent 60",
                "  -> 192.168.0.112:80             Route   100    0          0",
                "  -> 192.168.0.113:80             Route   100    0          0",
            ])
    }

    @Test("The backup director's edit (state BACKUP, priority 90) reads as the tutorial says")
    func backupEdit() throws {
        let backup = SeedConfigs.seed000Master.replacingFirst("state MASTER", with: "state BACKUP")
            .replacingFirst("priority 100", with: "priority 90")
        let v = try #require(KeepalivedConfigLoader.check(text: backup).configuration.vrrpInstances.first)
        #expect(v.state == .backup)
        #expect(v.priority == 90)
    }
}

@Suite("Seed 001: config split across blog code blocks, comments without '#'")
struct Seed001Tests {
    let result = KeepalivedConfigLoader.check(text: SeedConfigs.seed001)

    @Test(
        "K:parser.c: the unclosed virtual_server is reported like keepalived's missing '}' (exit 4); text after MASTER/100 is ignored"
    )
    func diagnostics() {
        #expect(
            messages(result) == [
                "keepalived.conf:16: extra words after 'state' ignored: '---A机器为MASTER,B机器为BACKUP,请注意机器上修改'",
                "keepalived.conf:19: extra words after 'priority' ignored: '---主机A 100, 备机B 99, 请主机机器上修改'",
                "keepalived.conf:30: 'virtual_server' block is not closed: missing '}' at end of configuration",
            ])
        #expect(result.exitCode == .errors)
        #expect(result.canRun)
    }

    @Test("global_defs: three notification e-mails, sender, SMTP server (port 25), timeout 30, router_id")
    func globalDefs() {
        let g = result.configuration.globalDefs
        #expect(g.notificationEmails == ["acassen@firewall.loc", "failover@firewall.loc", "sysadmin@firewall.loc"])
        #expect(g.notificationEmailFrom == "Alexandre.Cassen@firewall.loc")
        #expect(g.smtpServer == SMTPServer(host: "172.0.0.1", port: 25))
        #expect(g.smtpConnectTimeout == .seconds(30))
        #expect(g.routerID == "LVS_SUNINGPOSINF_PRD")
    }

    @Test("The real servers after the unclosed virtual_server belong to it: rr, DR, persistent 50 on port 8898")
    func ipvs() throws {
        let v = try #require(result.configuration.vrrpInstances.first)
        #expect(v.state == .master)
        #expect(v.priority == 100)
        #expect(
            ipvsadmListing(result.ipvs.initialTable) == [
                "TCP  192.168.0.239:8898 rr persistent 50",
                "  -> 192.168.0.236:8898           Route   1      0          0",
                "  -> 192.168.0.238:8898           Route   1      0          0",
            ])
        let checkers = result.configuration.virtualServers.first?.realServers.flatMap(\.checkers) ?? []
        #expect(checkers.map(\.effective.destination.port) == [8898, 8898])
        #expect(checkers.map(\.effective.retry) == [3, 3])
    }
}

@Suite("Seed 002: nginx + vrrp_script, comments glued to values")
struct Seed002Tests {
    let master = KeepalivedConfigLoader.check(text: SeedConfigs.seed002Master)
    let backup = KeepalivedConfigLoader.check(text: SeedConfigs.seed002Backup)

    @Test("K:vrrp_parser.c: 'virtual_router_id 121# ...' and 'state BACKUP#...' read as 121 and BACKUP")
    func gluedComments() {
        #expect(master.configuration.vrrpInstances.first?.virtualRouterID == 121)
        #expect(backup.configuration.vrrpInstances.first?.state == .backup)
    }

    @Test("vrrp_script chk_nginx: script, interval 2, weight -20; tracked by VI_1")
    func script() throws {
        let s = try #require(master.configuration.vrrpScript(named: "chk_nginx"))
        #expect(s.script?.arguments == ["/etc/keepalived/nginx_check.sh"])
        #expect(s.interval == .seconds(2))
        #expect(s.effectiveTimeout == .seconds(2))
        #expect(s.weight == -20)
        #expect(s.rise == 1 && s.fall == 1)
        #expect(master.configuration.vrrpInstances.first?.tracking.scripts.map(\.name) == ["chk_nginx"])
    }

    @Test("K:vrrp.c: nopreempt with state MASTER is cleared with a warning (exit 4); the backup keeps it")
    func nopreempt() throws {
        let m = try #require(master.configuration.vrrpInstances.first)
        #expect(!m.nopreempt)
        #expect(
            messages(master, atLeast: .warning) == [
                "keepalived.conf:13: (VI_1) nopreempt will not work with initial state MASTER - clearing"
            ])
        #expect(master.exitCode == .errors)
        let b = try #require(backup.configuration.vrrpInstances.first)
        #expect(b.nopreempt)
        #expect(b.multicastSourceIP == IPAddress("192.168.159.130"))
        #expect(m.multicastSourceIP == IPAddress("192.168.159.129"))
    }

    @Test("K:keepalived -t: a script run as root without enable_script_security gives exit 5")
    func scriptSecurity() {
        #expect(
            messages(backup) == [
                "keepalived.conf:2: scripts would run as root but enable_script_security is not set (first: '/etc/keepalived/nginx_check.sh')"
            ])
        #expect(backup.exitCode == .scriptSecurity)
        #expect(backup.canRun)
        let secured = KeepalivedConfigLoader.check(
            text: "global_defs {\n enable_script_security\n script_user nobody\n}\n" + SeedConfigs.seed002Backup)
        #expect(secured.exitCode == .ok)
    }

    @Test("No virtual_server: the IPVS table stays empty")
    func noIPVS() {
        #expect(master.ipvs.services.isEmpty)
    }
}

@Suite("Seed 003: yunjisuan LVS + keepalived, VIP with dev and label, nat_mask")
struct Seed003Tests {
    @Test("Section 3.5 master and backup: clean (exit 0), VIP 192.168.0.240/24 dev eth0 label eth0:240")
    func vrrpOnly() throws {
        for (text, router, state, priority) in [
            (SeedConfigs.seed003MasterVRRP, "LVS01", VRRPInitialState.master, UInt8(150)),
            (SeedConfigs.seed003BackupVRRP, "LVS02", .backup, 100),
        ] {
            let r = KeepalivedConfigLoader.check(text: text)
            #expect(r.diagnostics.isEmpty)
            #expect(r.exitCode == .ok)
            let g = r.configuration.globalDefs
            #expect(g.notificationEmails == ["215379068@qq.com"])
            #expect(g.notificationEmailFrom == "yunjisuan")
            #expect(g.smtpServer?.host == "127.0.0.1")
            #expect(g.routerID == router)
            let v = try #require(r.configuration.vrrpInstances.first)
            #expect(v.state == state)
            #expect(v.priority == priority)
            #expect(v.virtualRouterID == 55)
            let vip = try #require(v.virtualIPAddresses.first)
            #expect(vip.address == IPAddress("192.168.0.240"))
            #expect(vip.prefixLength == 24)
            #expect(vip.device == "eth0")
            #expect(vip.label == "eth0:240")
        }
    }

    @Test("Section 3.9: 'ipvsadm -Ln' shows the seed's own listing (TCP 192.168.0.240:80 rr, two Route servers)")
    func fullListing() {
        let r = KeepalivedConfigLoader.check(text: SeedConfigs.seed003Full)
        #expect(
            messages(r) == [
                "keepalived.conf:32: 'nat_mask' is obsolete (it only ever applied to LVS on Linux 2.2) and is ignored"
            ])
        #expect(r.exitCode == .ok)
        // The seed's output after "/etc/init.d/keepalived start; ipvsadm -Ln" (seed 003, lines 1009-1011).
        #expect(
            ipvsadmListing(r.ipvs.initialTable) == [
                "TCP  192.168.0.240:80 rr",
                "  -> 192.168.0.223:80             Route   1      0          0",
                "  -> 192.168.0.224:80             Route   1      0          0",
            ])
        let checker = r.configuration.virtualServers.first?.realServers.first?.checkers.first
        #expect(checker?.effective.connectTimeout == .seconds(8))
        #expect(checker?.effective.retry == 3)
        #expect(r.configuration.virtualServers.first?.persistenceTimeout == nil)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
