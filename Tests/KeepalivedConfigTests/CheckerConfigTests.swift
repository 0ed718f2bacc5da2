// Checker blocks: each kind's options, keepalived's defaults and the VS → RS → checker cascade.
import KeepalivedConfig
import LVSCore
import Testing

/// The checkers of the first real server of a config whose real server body is `rs`.
private func checkers(_ rs: String, vs: String = "") -> (checkers: [HealthChecker], result: ConfigCheckResult) {
    let r = check(virtualServer("lb_algo rr\nlb_kind DR\nprotocol TCP\n\(vs)\nreal_server 10.0.1.1 80 {\n\(rs)\n}"))
    return (r.configuration.virtualServers.first?.realServers.first?.checkers ?? [], r)
}

@Suite("Checker defaults (keepalived check_api.c, check_data.c)")
struct CheckerDefaultTests {
    @Test("K:keepalived.conf(5): retry defaults to 1, DNS_CHECK 3, MISC_CHECK 0")
    func retryDefaults() {
        let c = checkers(
            "TCP_CHECK {\n}\nHTTP_GET {\n url {\n  path /\n }\n}\nDNS_CHECK {\n}\nMISC_CHECK {\n misc_path /bin/true\n}"
        ).checkers
        #expect(c.map(\.kind.keyword) == ["TCP_CHECK", "HTTP_GET", "DNS_CHECK", "MISC_CHECK"])
        #expect(c.map(\.effective.retry) == [1, 1, 3, 0])
    }

    @Test("K:keepalived.conf(5): delay_before_retry defaults to 1 s, HTTP_GET/SSL_GET 3 s, DNS_CHECK delay_loop")
    func delayBeforeRetryDefaults() {
        let c = checkers("TCP_CHECK {\n}\nSSL_GET {\n url {\n  path /\n }\n}\nDNS_CHECK {\n}", vs: "delay_loop 20")
            .checkers
        #expect(c.map(\.effective.delayBeforeRetry) == [.seconds(1), .seconds(3), .seconds(20)])
    }

    @Test(
        "K:keepalived.conf(5): delay_loop 60 s, connect_timeout 5 s, warmup = delay_loop; destination = the real server"
    )
    func otherDefaults() throws {
        let c = try #require(checkers("TCP_CHECK {\n}").checkers.first)
        #expect(c.effective.delayLoop == .seconds(60))
        #expect(c.effective.connectTimeout == .seconds(5))
        #expect(c.effective.warmup == .seconds(60))
        #expect(c.effective.destination == Endpoint(IPAddress("10.0.1.1")!, 80))
        #expect(c.effective.source == nil)
        #expect(!c.effective.alpha)
    }

    @Test("K:keepalived.conf(5): settings cascade from virtual server to real server to checker")
    func cascade() {
        let vs = "retry 5\ndelay_loop 10\nconnect_timeout 7\ndelay_before_retry 2\nwarmup 0\nalpha"
        let text = virtualServer(
            "lb_algo rr\nlb_kind DR\nprotocol TCP\n\(vs)\n"
                + "real_server 10.0.1.1 80 {\n TCP_CHECK {\n }\n}\n"
                + "real_server 10.0.1.2 80 {\n retry 2\n connect_timeout 3\n alpha off\n TCP_CHECK {\n }\n TCP_CHECK {\n  retry 4\n  connect_timeout 1.5\n  delay_loop 30\n }\n}"
        )
        let rs = check(text).configuration.virtualServers.first!.realServers
        let fromVS = rs[0].checkers[0].effective
        #expect(fromVS.retry == 5)
        #expect(fromVS.delayLoop == .seconds(10))
        #expect(fromVS.connectTimeout == .seconds(7))
        #expect(fromVS.delayBeforeRetry == .seconds(2))
        #expect(fromVS.warmup == .seconds(0))
        #expect(fromVS.alpha)
        let fromRS = rs[1].checkers[0].effective
        #expect(fromRS.retry == 2)
        #expect(fromRS.connectTimeout == .seconds(3))
        #expect(!fromRS.alpha)
        let own = rs[1].checkers[1].effective
        #expect(own.retry == 4)
        #expect(own.connectTimeout == TimerValue(microseconds: 1_500_000))
        #expect(own.delayLoop == .seconds(30))
        #expect(own.warmup == .seconds(0))
    }

    @Test("K:check_api.c: connect_ip, connect_port, bindto, bind_port, bind_if, fwmark")
    func connectionOptions() throws {
        let c = try #require(
            checkers(
                "TCP_CHECK {\n connect_ip 10.9.9.9\n connect_port 8080\n bindto 10.0.0.2\n bind_port 40000\n bind_if eth1\n fwmark 3\n}"
            ).checkers.first)
        #expect(c.effective.destination == Endpoint(IPAddress("10.9.9.9")!, 8080))
        #expect(c.effective.source == Endpoint(IPAddress("10.0.0.2")!, 40000))
        #expect(c.connection.bindInterface == "eth1")
        #expect(c.connection.firewallMark == 3)
    }

    @Test("K:check_api.c check_conn_opts: an IPv6 link-local destination needs bind_if")
    func linkLocal() {
        let (c, r) = checkers("TCP_CHECK {\n connect_ip fe80::1\n}\nTCP_CHECK {\n connect_ip fe80::1\n bind_if eth0\n}")
        #expect(c.count == 1)
        #expect(
            messages(r, atLeast: .error) == [
                "keepalived.conf:7: checker link-local address fe80::1 requires a bind_if - ignoring the checker"
            ])
    }
}

@Suite("Checker kinds")
struct CheckerKindTests {
    @Test("K:check_http.c: HTTP_GET url { path, digest, status_code ranges, virtualhost }, http_protocol, enable_sni")
    func httpGet() throws {
        let body = """
            HTTP_GET {
              url {
                path /health
                digest 9B3A0C85A887A256D6939DA88AABD8CD
                status_code 200-299 301 404
                virtualhost www.example.com
              }
              url {
                path /
              }
              virtualhost default.example.com
              http_protocol 1.1
              enable_sni
              connect_port 8080
            }
            """
        let c = try #require(checkers(body).checkers.first)
        guard case .http(let http) = c.kind else {
            Issue.record("not HTTP_GET")
            return
        }
        #expect(http.urls.count == 2)
        #expect(http.urls[0].path == "/health")
        #expect(http.urls[0].digest == "9b3a0c85a887a256d6939da88aabd8cd")
        #expect(http.urls[0].statusCodes == [200...299, 301...301, 404...404])
        #expect(http.urls[0].accepts(statusCode: 301) && !http.urls[0].accepts(statusCode: 302))
        #expect(http.urls[0].virtualhost == "www.example.com")
        #expect(http.urls[1].statusCodes == [200...299])
        #expect(http.virtualhost == "default.example.com")
        #expect(http.httpProtocol == .http11)
        #expect(http.enableSNI)
        #expect(c.effective.destination.port == 8080)
    }

    @Test("K:check_http.c: a url without path, or an HTTP_GET without url, is reported and dropped")
    func httpErrors() {
        let (c, r) = checkers("HTTP_GET {\n url {\n  digest 00\n }\n}")
        #expect(c.isEmpty)
        #expect(
            messages(r, atLeast: .error) == [
                "keepalived.conf:7: HTTP_GET has no url - ignoring the checker",
                "keepalived.conf:8: url has no path - ignoring",
                "keepalived.conf:9: digest '00' is not an MD5 digest (32 hex digits)",
            ])
    }

    @Test("K:check_ssl.c: SSL_GET takes sni_name and tls_compliant")
    func sslGet() throws {
        let c = try #require(
            checkers("SSL_GET {\n url {\n  path /\n }\n enable_sni\n sni_name api.example.com\n tls_compliant\n}")
                .checkers.first)
        guard case .ssl(let ssl) = c.kind else {
            Issue.record("not SSL_GET")
            return
        }
        #expect(ssl.sniName == "api.example.com")
        #expect(ssl.enableSNI && ssl.tlsCompliant)
    }

    @Test("K:check_misc.c: MISC_CHECK misc_path (shell-quoted), misc_timeout, misc_dynamic, user")
    func misc() throws {
        let c = try #require(
            checkers(
                #"MISC_CHECK {\n misc_path "/usr/local/bin/check --name 'web 1' \x41"\n misc_timeout 5\n misc_dynamic\n user nobody nogroup\n}"#
                    .replacingEscapedNewlines()
            ).checkers.first)
        guard case .misc(let misc) = c.kind else {
            Issue.record("not MISC_CHECK")
            return
        }
        #expect(misc.script?.arguments == ["/usr/local/bin/check", "--name", "web 1", "A"])
        #expect(misc.script?.user == "nobody")
        #expect(misc.script?.group == "nogroup")
        #expect(misc.timeout == .seconds(5))
        #expect(misc.dynamic)
    }

    @Test("K:check_dns.c: DNS_CHECK type (default SOA) and name (default '.')")
    func dns() {
        let c = checkers(
            "DNS_CHECK {\n}\nDNS_CHECK {\n type aaaa\n name www.example.com\n}\nDNS_CHECK {\n type BOGUS\n}")
        let configs = c.checkers.compactMap { checker -> DNSCheckConfig? in
            if case .dns(let d) = checker.kind { return d }
            return nil
        }
        #expect(configs.map(\.type) == [.soa, .aaaa, .soa])
        #expect(configs.map(\.name) == [".", "www.example.com", "."])
        #expect(
            messages(c.result, atLeast: .error) == ["keepalived.conf:14: unknown DNS check type 'BOGUS' - ignoring"])
    }

    @Test("K:check_smtp.c: SMTP_CHECK helo_name; the deprecated host { } block is still read")
    func smtp() throws {
        let (c, r) = checkers(
            "SMTP_CHECK {\n helo_name mail.example.com\n host {\n  connect_ip 10.0.5.5\n  connect_port 25\n }\n}")
        guard case .smtp(let smtp) = try #require(c.first).kind else {
            Issue.record("not SMTP_CHECK")
            return
        }
        #expect(smtp.heloName == "mail.example.com")
        #expect(smtp.hosts.map(\.connectIP) == [IPAddress("10.0.5.5")])
        #expect(messages(r) == ["keepalived.conf:9: SMTP_CHECK 'host' blocks are deprecated: use one checker per host"])
    }

    @Test("K:keepalived.conf(5): UDP_CHECK payload/require_reply hex ('Ab12f 3 456 546443123'), reply lengths")
    func udp() throws {
        let c = try #require(
            checkers(
                "UDP_CHECK {\n payload Ab12f 3 456 546443123\n require_reply 0aXx\n min_reply_length 2\n max_reply_length 64\n}"
            ).checkers.first)
        guard case .udp(let udp) = c.kind else {
            Issue.record("not UDP_CHECK")
            return
        }
        #expect(udp.payload == [0xAB, 0x12, 0x0F, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03])
        #expect(udp.requireReply)
        #expect(udp.replyPattern == [0x0A, 0x00])
        #expect(udp.replyMask == [0xFF, 0x00])
        #expect(udp.minReplyLength == 2 && udp.maxReplyLength == 64)
    }

    @Test("PING_CHECK, FILE_CHECK and BFD_CHECK are recognised with their options")
    func others() {
        let (c, r) = checkers(
            "PING_CHECK {\n retry 2\n}\nFILE_CHECK {\n track_file f1\n weight -10 reverse\n dynamic\n}\nBFD_CHECK {\n name bfd1\n}"
        )
        #expect(messages(r).isEmpty)
        #expect(c.map(\.kind.keyword) == ["PING_CHECK", "FILE_CHECK", "BFD_CHECK"])
        #expect(c.first?.effective.retry == 2)
        if case .file(let f) = c[1].kind {
            #expect(f.trackFile == "f1" && f.weight == -10 && f.reverse && f.dynamic)
        } else {
            Issue.record("not FILE_CHECK")
        }
        #expect(c[2].kind == .bfd(name: "bfd1"))
    }

    @Test("K:check_parser.c: keywords of one checker are not valid in another (TCP_CHECK has no url)")
    func perKindKeywords() {
        let r = checkers("TCP_CHECK {\n url {\n  path /\n }\n}").result
        #expect(
            messages(r) == ["keepalived.conf:8: unknown keyword 'url' in TCP_CHECK (it belongs in HTTP_GET, SSL_GET)"])
    }
}

extension String {
    /// Turns the two characters `\n` into newlines (for raw-string fixtures).
    func replacingEscapedNewlines() -> String {
        var out = ""
        var i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == "\\" && next < endIndex && self[next] == "n" {
                out.append("\n")
                i = index(after: next)
            } else {
                out.append(self[i])
                i = next
            }
        }
        return out
    }
}
