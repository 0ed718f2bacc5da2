// virtual_server / real_server / virtual_server_group → typed config and IPVS specs.
import KeepalivedConfig
import LVSCore
import Testing

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

@Suite("virtual_server defaults and corrections (keepalived check_data.c validate_check_config)")
struct VirtualServerDefaultTests {
    @Test("No lb_algo, lb_kind, protocol: wlc, NAT and UDP, each with a warning (exit 4)")
    func defaults() throws {
        let r = check(virtualServer("real_server 10.0.1.1 8080 {\n}"))
        #expect(
            messages(r) == [
                "keepalived.conf:1: virtual server [10.0.0.1]:none:80: no protocol set - defaulting to UDP",
                "keepalived.conf:1: virtual server [10.0.0.1]:udp:80: no scheduler set, setting default 'wlc'",
                "keepalived.conf:1: virtual server [10.0.0.1]:udp:80: no forwarding method set, setting default NAT",
            ])
        #expect(r.exitCode == .errors)
        let vs = try #require(r.configuration.virtualServers.first)
        #expect(vs.scheduler == "wlc")
        #expect(vs.forwarding == .masquerade)
        #expect(vs.transportProtocol == .udp)
        #expect(vs.delayLoop == .seconds(60))
        #expect(vs.connectTimeout == .seconds(5))
        #expect(vs.quorum == 1)
        #expect(vs.hysteresis == 0)
        #expect(vs.realServers.first?.weight == 1)
        #expect(vs.realServers.first?.port == 8080)
        #expect(r.ipvs.services.first?.spec == VirtualServiceSpec(key: .endpoint(.udp, Endpoint(ip("10.0.0.1"), 80))))
        #expect(r.ipvs.services.first?.realServers.first?.forwarding == .masquerade)
    }

    @Test("K:check_data.c: a virtual server with no real servers is dropped, with an error")
    func noRealServers() {
        let r = check(virtualServer("lb_algo rr\nlb_kind DR\nprotocol TCP"))
        #expect(messages(r) == ["keepalived.conf:1: virtual server [10.0.0.1]:tcp:80 has no real servers - ignoring"])
        #expect(r.configuration.virtualServers.isEmpty)
        #expect(r.ipvs.services.isEmpty)
    }

    @Test("K:check_data.c: DR and TUN real servers take the virtual port; NAT ones keep theirs")
    func ports() throws {
        let body = """
            lb_algo rr
            lb_kind DR
            protocol TCP
            real_server 10.0.1.1 8080 {
            }
            real_server 10.0.1.2 {
            }
            real_server 10.0.1.3 8080 {
              lvs_method NAT
            }
            real_server 10.0.1.4 {
              lvs_method NAT
            }
            """
        let r = check(virtualServer(body))
        #expect(
            messages(r) == [
                "keepalived.conf:5: virtual server [10.0.0.1]:tcp:80 and real server 10.0.1.1:8080 ports don't match - resetting to 80"
            ])
        let rs = try #require(r.ipvs.services.first?.realServers)
        #expect(rs.map(\.endpoint.description) == ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:8080", "10.0.1.4:80"])
        #expect(rs.map(\.forwarding) == [.route, .route, .masquerade, .masquerade])
        #expect(r.configuration.virtualServers.first?.realServers.first?.configuredPort == 8080)
    }

    @Test("K:check_parser.c: lb_kind TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]")
    func tunnels() {
        func forwarding(_ kind: String) -> ForwardingMethod? {
            check(virtualServer("lb_algo rr\nlb_kind \(kind)\nprotocol TCP\nreal_server 10.0.1.1 80 {\n}"))
                .ipvs.services.first?.realServers.first?.forwarding
        }
        #expect(forwarding("TUN") == .tunnel(TunnelSpec()))
        #expect(forwarding("TUN type ipip") == .tunnel(TunnelSpec(type: .ipip)))
        #expect(
            forwarding("TUN type gue port 6080 csum") == .tunnel(TunnelSpec(type: .gue, port: 6080, flags: .checksum)))
        #expect(
            forwarding("TUN type gue port 6080 remcsum")
                == .tunnel(TunnelSpec(type: .gue, port: 6080, flags: .remoteChecksum)))
        #expect(forwarding("TUN type gre csum") == .tunnel(TunnelSpec(type: .gre, flags: .checksum)))
        let bad = check(virtualServer("lb_algo rr\nlb_kind TUN type gue\nprotocol TCP\nreal_server 10.0.1.1 80 {\n}"))
        #expect(
            messages(bad, atLeast: .error) == [
                "keepalived.conf:3: gue tunnels require a port, and other tunnels cannot have one"
            ])
        let ipipCsum = check(
            virtualServer("lb_algo rr\nlb_kind TUN type ipip csum\nprotocol TCP\nreal_server 10.0.1.1 80 {\n}"))
        #expect(
            messages(ipipCsum, atLeast: .error) == ["keepalived.conf:3: ipip tunnels do not support checksum options"])
    }

    @Test("K:check_parser.c pto_handler: bare persistence_timeout means 360; granularity becomes the netmask")
    func persistence() throws {
        let r = check(
            virtualServer(
                "lb_algo rr\nlb_kind DR\nprotocol TCP\npersistence_timeout\npersistence_granularity 255.255.255.0\nreal_server 10.0.1.1 80 {\n}"
            ))
        let spec = try #require(r.ipvs.services.first?.spec)
        #expect(spec.isPersistent)
        #expect(spec.persistenceTimeout == 360)
        #expect(spec.netmask == 0xFFFF_FF00)
        let granularityOnly = check(
            virtualServer(
                "lb_algo rr\nlb_kind DR\nprotocol TCP\npersistence_granularity 255.255.0.0\nreal_server 10.0.1.1 80 {\n}"
            ))
        #expect(granularityOnly.ipvs.services.first?.spec.persistenceTimeout == 360)
        #expect(granularityOnly.ipvs.services.first?.spec.netmask == 0xFFFF_0000)
        let v6 = check(
            virtualServer(
                "lb_algo sh\nlb_kind DR\nprotocol TCP\npersistence_timeout 50\npersistence_granularity 64\nreal_server 2001:db8::2 80 {\n}",
                header: "2001:db8::1 80"))
        #expect(v6.ipvs.services.first?.spec.key == .endpoint(.tcp, Endpoint(ip("2001:db8::1"), 80)))
        #expect(v6.ipvs.services.first?.spec.netmask == 64)
    }

    @Test("K:check_data.c: a port-0 service is only valid when persistent; keepalived makes it persistent")
    func zeroPort() {
        let r = check(
            virtualServer("lb_algo rr\nlb_kind DR\nprotocol TCP\nreal_server 10.0.1.1 {\n}", header: "10.0.0.1"))
        #expect(
            messages(r) == [
                "keepalived.conf:1: virtual server [10.0.0.1]:tcp:0: zero port only valid for persistent services - setting persistence"
            ])
        #expect(r.ipvs.services.first?.spec.persistenceTimeout == 360)
    }

    @Test("K:check_parser.c lbflags: ops (UDP only), flag-1..3, sh-port/sh-fallback for sh only")
    func flags() throws {
        let udp = check(
            virtualServer(
                "lb_algo sh\nlb_kind DR\nprotocol UDP\nops\nsh-port\nsh-fallback\nflag-3\nreal_server 10.0.1.1 53 {\n}",
                header: "10.0.0.1 53"))
        #expect(messages(udp).isEmpty)
        #expect(udp.ipvs.services.first?.spec.flags == [.onePacket, .scheduler1, .scheduler2, .scheduler3])
        let tcp = check(
            virtualServer("lb_algo rr\nlb_kind DR\nprotocol TCP\nops\nmh-port\nreal_server 10.0.1.1 80 {\n}"))
        #expect(
            messages(tcp) == [
                "keepalived.conf:5: virtual server [10.0.0.1]:tcp:80: one packet scheduling requires UDP - resetting",
                "keepalived.conf:6: 'mh-port' only applies to the mh scheduler - ignoring",
            ])
        #expect(tcp.ipvs.services.first?.spec.flags == [])
    }

    @Test("K:check_parser.c: lb_algo must name a kernel scheduler; protocol is case-insensitive")
    func schedulerAndProtocol() {
        let r = check(virtualServer("lb_algo roundrobin\nlb_kind DR\nprotocol sctp\nreal_server 10.0.1.1 80 {\n}"))
        #expect(
            messages(r) == [
                "keepalived.conf:1: virtual server [10.0.0.1]:sctp:80: no scheduler set, setting default 'wlc'",
                "keepalived.conf:2: invalid lvs scheduler 'roundrobin' - ignoring",
            ])
        #expect(r.ipvs.services.first?.spec.key == .endpoint(.sctp, Endpoint(ip("10.0.0.1"), 80)))
        for s in ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos"] {
            #expect(
                check(virtualServer("lb_algo \(s)\nlb_kind DR\nprotocol TCP\nreal_server 10.0.1.1 80 {\n}")).ipvs
                    .services.first?.spec.scheduler == s)
        }
    }

    @Test("K:check_data.c: quorum is capped at the total weight, hysteresis at quorum - 1")
    func quorum() throws {
        let r = check(
            virtualServer(
                "lb_algo rr\nlb_kind DR\nprotocol TCP\nquorum 10\nhysteresis 5\nreal_server 10.0.1.1 80 {\n weight 2\n}\nreal_server 10.0.1.2 80 {\n}"
            ))
        #expect(
            messages(r) == [
                "keepalived.conf:5: quorum 10 for [10.0.0.1]:tcp:80 exceeds the total weight of its real servers 3, reducing quorum to 3",
                "keepalived.conf:6: virtual server [10.0.0.1]:tcp:80: hysteresis 5 >= quorum 3; setting hysteresis to 2",
            ])
        let vs = try #require(r.configuration.virtualServers.first)
        #expect(vs.quorum == 3)
        #expect(vs.hysteresis == 2)
    }

    @Test("K:check_data.c: the virtual server's 'weight' is its real servers' default weight")
    func defaultWeight() {
        let r = check(
            virtualServer(
                "lb_algo rr\nlb_kind DR\nprotocol TCP\nweight 5\nreal_server 10.0.1.1 80 {\n}\nreal_server 10.0.1.2 80 {\n weight 0\n}"
            ))
        #expect(r.ipvs.services.first?.realServers.map(\.weight) == [5, 0])
    }

    @Test("real_server: uthreshold/lthreshold, notify_up/notify_down with user, inhibit_on_failure cascade")
    func realServerOptions() throws {
        let body = """
            lb_algo wlc
            lb_kind NAT
            protocol TCP
            inhibit_on_failure
            real_server 10.0.1.1 8080 {
              uthreshold 100
              lthreshold 10
              notify_up "/usr/local/bin/rs.sh up 'web 1'" nobody :nogroup
              notify_down /usr/local/bin/rs-down.sh
            }
            real_server 10.0.1.2 8080 {
              inhibit_on_failure off
            }
            """
        let r = check(virtualServer(body))
        let vs = try #require(r.configuration.virtualServers.first)
        let rs = vs.realServers[0]
        #expect(rs.upperThreshold == 100 && rs.lowerThreshold == 10)
        #expect(rs.notifyUp?.arguments == ["/usr/local/bin/rs.sh", "up", "web 1"])
        #expect(rs.notifyUp?.user == "nobody")
        #expect(rs.notifyUp?.group == "nogroup")
        #expect(rs.notifyDown?.program == "/usr/local/bin/rs-down.sh")
        #expect(vs.realServers.map(\.inhibitOnFailure) == [true, false])
        let spec = try #require(r.ipvs.services.first?.realServers.first)
        #expect(spec.upperThreshold == 100)
        #expect(spec.lowerThreshold == 10)
    }

    @Test("K:check_data.c: real servers of the wrong family are skipped unless tunnelled; duplicates removed")
    func familyAndDuplicates() {
        let body = """
            lb_algo rr
            lb_kind DR
            protocol TCP
            real_server 2001:db8::5 80 {
            }
            real_server 2001:db8::6 80 {
              lvs_method TUN
            }
            real_server 10.0.1.1 80 {
            }
            real_server 10.0.1.1 80 {
            }
            """
        let r = check(virtualServer(body))
        #expect(
            messages(r) == [
                "keepalived.conf:5: address family of virtual server [10.0.0.1]:tcp:80 and real server 2001:db8::5 don't match - skipping the real server",
                "keepalived.conf:12: virtual server [10.0.0.1]:tcp:80: real server 10.0.1.1:80 is duplicated - removing the second",
            ])
        #expect(r.ipvs.services.first?.realServers.map(\.endpoint.description) == ["[2001:db8::6]:80", "10.0.1.1:80"])
    }
}

@Suite("sorry_server, alpha and the initial table")
struct SorryServerTests {
    @Test(
        "K:ipwrapper.c: sorry_server takes the virtual server's method and port; sorry_server_inhibit lists it at weight 0"
    )
    func sorry() throws {
        let body = """
            lb_algo rr
            lb_kind DR
            protocol TCP
            sorry_server 10.0.9.9 8080
            sorry_server_inhibit
            real_server 10.0.1.1 80 {
            }
            """
        let r = check(virtualServer(body))
        let s = try #require(r.ipvs.services.first)
        #expect(s.sorryServer == RealServerSpec(endpoint: Endpoint(ip("10.0.9.9"), 80), forwarding: .route, weight: 1))
        #expect(s.sorryServerInhibit)
        #expect(s.initialRealServers.map(\.weight) == [1, 0])
        let nat = check(
            virtualServer(
                "lb_algo rr\nlb_kind DR\nprotocol TCP\nsorry_server 10.0.9.9 8080\nsorry_server_lvs_method NAT\nreal_server 10.0.1.1 80 {\n}"
            ))
        #expect(nat.ipvs.services.first?.sorryServer?.endpoint.description == "10.0.9.9:8080")
        #expect(nat.ipvs.services.first?.sorryServer?.forwarding == .masquerade)
        let orphan = check(
            virtualServer("lb_algo rr\nlb_kind DR\nprotocol TCP\nsorry_server_inhibit\nreal_server 10.0.1.1 80 {\n}"))
        #expect(
            messages(orphan) == [
                "keepalived.conf:5: sorry_server_inhibit used before or without sorry_server - ignoring"
            ])
    }

    @Test("K:ipwrapper.c init_service_vs: with alpha, real servers start out of the table (inhibited ones at weight 0)")
    func alpha() throws {
        let body = """
            lb_algo rr
            lb_kind DR
            protocol TCP
            alpha
            real_server 10.0.1.1 80 {
            }
            real_server 10.0.1.2 80 {
              inhibit_on_failure
            }
            """
        let s = try #require(check(virtualServer(body)).ipvs.services.first)
        #expect(s.realServers.count == 2)
        #expect(
            s.initialRealServers == [
                RealServerSpec(endpoint: Endpoint(ip("10.0.1.2"), 80), forwarding: .route, weight: 0)
            ])
    }
}

@Suite("virtual_server_group and fwmark services")
struct VirtualServerGroupTests {
    @Test("K:check_data.c alloc_vsg_entry: a.b.c.d-e, CIDR, full ranges and fwmark entries expand to services")
    func expansion() throws {
        let text = """
            virtual_server_group web {
              192.168.200.1-3 80
              10.0.0.0/31 443
              10.1.0.254-10.1.1.1 8080
              fwmark 7
            }
            virtual_server group web {
              lb_algo rr
              lb_kind DR
              protocol TCP
              real_server 192.168.201.1 {
              }
            }
            """
        let r = check(text)
        #expect(messages(r).isEmpty)
        let services = r.ipvs.services
        #expect(
            services.map(\.spec.key.description) == [
                "TCP 192.168.200.1:80", "TCP 192.168.200.2:80", "TCP 192.168.200.3:80", "TCP 10.0.0.0:443",
                "TCP 10.0.0.1:443", "TCP 10.1.0.254:8080", "TCP 10.1.0.255:8080", "TCP 10.1.1.0:8080",
                "TCP 10.1.1.1:8080",
                "FWM 7",
            ])
        #expect(
            services.map { $0.realServers.first!.endpoint.port } == [80, 80, 80, 443, 443, 8080, 8080, 8080, 8080, 0])
    }

    @Test("IPv6 group ranges count the last group in hex")
    func ipv6Range() {
        let r = check(
            "virtual_server_group v6 {\n  2001:db8::8-a 80\n}\nvirtual_server group v6 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 2001:db8::100 {\n }\n}\n"
        )
        #expect(
            r.ipvs.services.map(\.spec.key.description) == [
                "TCP [2001:db8::8]:80", "TCP [2001:db8::9]:80", "TCP [2001:db8::a]:80",
            ])
    }

    @Test("K:check_data.c: bad group entries are reported and skipped; an unknown group drops its virtual server")
    func badEntries() {
        let r = check(
            "virtual_server_group g {\n  10.0.0.1/24 80\n  10.0.0.9-3 80\n  10.0.0.20 80\n}\nvirtual_server group nope {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.1.1 80 {\n }\n}\n"
        )
        #expect(
            messages(r) == [
                "keepalived.conf:2: address mask bits not empty - 10.0.0.1/24 - skipping",
                "keepalived.conf:3: address range end is not greater than its start - 10.0.0.9-3 - skipping",
                "keepalived.conf:6: virtual_server_group nope is not defined - ignoring the virtual server",
            ])
        #expect(r.configuration.virtualServerGroups.first?.entries.count == 1)
    }

    @Test("K:check_data.c: fwmark services ignore protocol and real server ports (non-NAT)")
    func fwmark() throws {
        let r = check(
            "virtual_server fwmark 1 {\n lb_algo wlc\n lb_kind DR\n protocol TCP\n real_server 10.0.1.1 80 {\n }\n}\n")
        #expect(
            messages(r) == [
                "keepalived.conf:4: virtual server FWM 1: protocol specified for fwmark - protocol will be ignored",
                "keepalived.conf:5: fwmark virtual server FWM 1, real server 10.0.1.1:80 has a port - clearing",
            ])
        let s = try #require(r.ipvs.services.first)
        #expect(s.spec.key == .firewallMark(1, .inet))
        #expect(s.realServers.first?.endpoint.description == "10.0.1.1:0")
        let v6 = check(
            "virtual_server fwmark 2 {\n ip_family inet6\n lb_algo wlc\n lb_kind TUN\n real_server 10.0.1.1 {\n }\n}\n")
        #expect(v6.ipvs.services.first?.spec.key == .firewallMark(2, .inet6))
    }
}

@Suite("Global LVS settings")
struct GlobalLVSTests {
    @Test(
        "K:global_parser.c: lvs_timeouts tcp/tcpfin/udp become IPVSTimeouts (0 = unchanged); lvs_flush; lvs_flush_on_stop"
    )
    func timeouts() {
        let r = check("global_defs {\n lvs_timeouts tcp 7200 udp 60\n lvs_flush\n lvs_flush_on_stop VS\n}\n")
        #expect(r.ipvs.timeouts == IPVSTimeouts(tcp: 7200, tcpFin: 0, udp: 60))
        #expect(r.ipvs.flushOnStart)
        #expect(r.ipvs.flushOnStop == .virtualServersOnly)
        let bad = check("global_defs {\n lvs_timeouts tcp\n}\n")
        #expect(messages(bad) == ["keepalived.conf:2: 'lvs_timeouts' is missing a parameter"])
        #expect(bad.exitCode == .errors)
        let unknown = check("global_defs {\n lvs_timeouts tcp 10 sctp 5\n}\n")
        #expect(messages(unknown) == ["keepalived.conf:2: unknown lvs_timeouts option 'sctp'"])
    }

    @Test("K:global_parser.c: lvs_sync_daemon IF [inst] VI id N maxlen N port N ttl N group IP")
    func syncDaemon() throws {
        let r = check("global_defs {\n lvs_sync_daemon eth1 VI_1 id 5 port 8849 ttl 2 group 224.0.0.82\n}\n")
        let s = try #require(r.configuration.globalDefs.lvsSyncDaemon)
        #expect(s.interface == "eth1")
        #expect(s.vrrpInstance == "VI_1")
        #expect(s.syncID == 5)
        #expect(s.port == 8849)
        #expect(s.ttl == 2)
        #expect(s.group == IPAddress("224.0.0.82"))
        #expect(messages(r).isEmpty)
    }

    @Test(
        "SwiftLVS extensions lvs_sync_daemon_auth_key and lvs_sync_daemon_bulk_wait: checked by lvsd -t, errors with file:line"
    )
    func syncDaemonExtensions() throws {
        let r = check(
            "global_defs {\n lvs_sync_daemon eth0 inst VI_1\n lvs_sync_daemon_auth_key \"s3cret key\"\n lvs_sync_daemon_bulk_wait 5\n}\n"
        )
        #expect(messages(r).isEmpty)
        #expect(r.configuration.globalDefs.lvsSyncAuthKey == "s3cret key")
        #expect(r.configuration.globalDefs.lvsSyncBulkWait == 5)
        let bad = check("global_defs {\n lvs_sync_daemon_bulk_wait 61\n}\n")
        #expect(!messages(bad).isEmpty && messages(bad)[0].hasPrefix("keepalived.conf:2:"))
        let missing = check("global_defs {\n lvs_sync_daemon_auth_key\n}\n")
        #expect(!messages(missing).isEmpty && messages(missing)[0].hasPrefix("keepalived.conf:2:"))
    }
}
