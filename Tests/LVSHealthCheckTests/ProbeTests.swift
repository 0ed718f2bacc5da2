// Probes against real servers started on 127.0.0.1 by the test: TCP, HTTP, MISC, DNS, SMTP, UDP, PING.
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheckLinux
import Testing

/// The first checker of the first real server of a configuration whose real server block
/// holds `checker`.
func parsedChecker(_ checker: String) -> HealthChecker {
    let text = """
        virtual_server 10.0.0.1 80 {
            lb_algo rr
            lb_kind NAT
            protocol TCP
            real_server 127.0.0.1 80 {
                \(checker)
            }
        }
        """
    return KeepalivedConfigLoader.check(text: text).configuration.virtualServers[0].realServers[0].checkers[0]
}

func request(_ checker: String, port: UInt16, timeout: Duration = .seconds(2), url: Int? = 0, host: String? = nil)
    -> ProbeRequest
{
    let c = parsedChecker(checker)
    var r = ProbeRequest(
        checker: c, destination: Endpoint(IPAddress("127.0.0.1")!, port), source: nil, timeout: timeout)
    if case .http(let h) = c.kind, let i = url, i < h.urls.count { r.url = h.urls[i] }
    if case .ssl(let h) = c.kind, let i = url, i < h.urls.count { r.url = h.urls[i] }
    r.virtualHost = host
    return r
}

@Suite("MD5 (RFC 1321 test suite)")
struct MD5Tests {
    @Test(
        "RFC 1321 §A.5 test vectors",
        arguments: [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a"
            ),
        ])
    func vectors(input: String, digest: String) {
        #expect(MD5.hex(Array(input.utf8)) == digest)
    }

    @Test("Streaming in pieces gives the same digest")
    func streaming() {
        let data = Array((0..<1000).map { UInt8($0 & 0xFF) })
        var m = MD5()
        m.update(data[0..<3])
        m.update(data[3..<64])
        m.update(data[64...])
        #expect(m.hexDigest() == MD5.hex(data))
    }
}

@Suite("Probes against local servers")
struct ProbeTests {
    @Test("TCP_CHECK: a listening port passes; a closed one fails with connection refused")
    func tcp() {
        let server = LocalTCPServer { _, _ in }
        defer { server.stop() }
        #expect(LinuxHealthProbe.runBlocking(request("TCP_CHECK {\n}", port: server.port)).success)
        let closed = LinuxHealthProbe.runBlocking(request("TCP_CHECK {\n}", port: closedLocalPort()))
        #expect(!closed.success)
        #expect(closed.detail.contains("Connection refused"))
    }

    @Test("TCP_CHECK: bindto sets the source address")
    func tcpBindTo() {
        let server = LocalTCPServer { c, s in
            var sin = sockaddr_in()
            var len = socklen_t(16)
            _ = withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(c, $0, &len) }
            }
            s.record("\(IPv4Address(UInt32(bigEndian: sin.sin_addr.s_addr)))")
        }
        defer { server.stop() }
        var r = request("TCP_CHECK {\n}", port: server.port)
        r.source = Endpoint(IPAddress("127.0.0.7")!, 0)
        #expect(LinuxHealthProbe.runBlocking(r).success)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(server.requests == ["127.0.0.7"])
    }

    @Test("HTTP_GET: keepalived's request; status in range and matching digest pass")
    func httpPass() {
        let body = "rs1 nginx\n"
        let server = LocalTCPServer.http(body: body)
        defer { server.stop() }
        let digest = MD5.hex(Array(body.utf8))
        let r = request("HTTP_GET {\nurl {\npath /index.html\ndigest \(digest)\n}\n}", port: server.port)
        let o = LinuxHealthProbe.runBlocking(r)
        #expect(o.success, "\(o)")
        #expect(
            server.requests.first
                == "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:\(server.port)\r\n\r\n")
    }

    @Test("HTTP_GET: a wrong digest fails")
    func httpWrongDigest() {
        let server = LocalTCPServer.http(body: "rs1 nginx\n")
        defer { server.stop() }
        let o = LinuxHealthProbe.runBlocking(
            request("HTTP_GET {\nurl {\npath /\ndigest 00000000000000000000000000000000\n}\n}", port: server.port))
        #expect(!o.success)
        #expect(o.detail.hasPrefix("MD5 digest error"))
    }

    @Test("HTTP_GET: status 500 fails the default 200-299; status_code 500-503 accepts it")
    func httpStatus() {
        let server = LocalTCPServer.http(status: 500, body: "oops")
        defer { server.stop() }
        let o = LinuxHealthProbe.runBlocking(request("HTTP_GET {\nurl {\npath /\n}\n}", port: server.port))
        #expect(!o.success)
        #expect(o.detail.hasPrefix("HTTP status code error"))
        let ok = LinuxHealthProbe.runBlocking(
            request("HTTP_GET {\nurl {\npath /\nstatus_code 500-503\n}\n}", port: server.port))
        #expect(ok.success)
    }

    @Test("HTTP_GET: virtualhost is the Host header; http_protocol 1.1 sends Connection: close")
    func httpVirtualHost() {
        let server = LocalTCPServer.http(body: "x")
        defer { server.stop() }
        let r = request(
            "HTTP_GET {\nhttp_protocol 1.1\nurl {\npath /health\n}\n}", port: server.port, host: "www.example.org")
        #expect(LinuxHealthProbe.runBlocking(r).success)
        #expect(
            server.requests.first
                == "GET /health HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.org\r\n\r\n"
        )
    }

    @Test("HTTP_GET: a server that closes without a reply fails; regex matches the body")
    func httpEmptyAndRegex() {
        let silent = LocalTCPServer { c, _ in _ = LocalTCPServer.readRequest(c) }
        defer { silent.stop() }
        let o = LinuxHealthProbe.runBlocking(request("HTTP_GET {\nurl {\npath /\n}\n}", port: silent.port))
        #expect(!o.success)
        let server = LocalTCPServer.http(body: "status: healthy\n")
        defer { server.stop() }
        #expect(
            LinuxHealthProbe.runBlocking(
                request("HTTP_GET {\nurl {\npath /\nregex \"heal+thy\"\n}\n}", port: server.port)
            ).success)
        #expect(
            !LinuxHealthProbe.runBlocking(request("HTTP_GET {\nurl {\npath /\nregex \"sick\"\n}\n}", port: server.port))
                .success)
    }

    @Test("MISC_CHECK: the exit status is reported; a script over misc_timeout is killed")
    func misc() {
        let o = LinuxHealthProbe.runBlocking(request("MISC_CHECK {\nmisc_path \"/bin/sh -c 'exit 7'\"\n}", port: 0))
        #expect(o.exitStatus == 7)
        let start = ContinuousClock.now
        let slow = LinuxHealthProbe.runBlocking(
            request("MISC_CHECK {\nmisc_path \"/bin/sleep 30\"\n}", port: 0, timeout: .milliseconds(300)))
        #expect(slow.timedOut && !slow.success && slow.exitStatus == nil)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test("MISC_CHECK: runs as the given user", .enabled(if: getuid() == 0, "needs root to change user"))
    func miscUser() {
        var r = request("MISC_CHECK {\nmisc_path \"/bin/sh -c 'test $(id -u) = 65534'\"\n}", port: 0)
        r.scriptUser = "nobody"
        #expect(LinuxHealthProbe.runBlocking(r).exitStatus == 0)
    }

    @Test("DNS_CHECK: a reply with our id and RCODE 0 passes; an error RCODE or no server fails")
    func dns() {
        let rcode = Box<UInt8>(0)
        let server = LocalUDPServer { q in
            guard q.count >= 12 else { return nil }
            var r = q
            r[2] = 0x81
            r[3] = 0x80 | rcode.value
            return r
        }
        defer { server.stop() }
        #expect(
            LinuxHealthProbe.runBlocking(request("DNS_CHECK {\ntype A\nname example.org\n}", port: server.port)).success
        )
        rcode.value = 3
        let nx = LinuxHealthProbe.runBlocking(request("DNS_CHECK {\nname example.org\n}", port: server.port))
        #expect(!nx.success && nx.detail.contains("rcode = 3"))
        let none = LinuxHealthProbe.runBlocking(request("DNS_CHECK {\n}", port: closedLocalPort(udp: true)))
        #expect(!none.success)
    }

    @Test("DNS query format: id, RD flag, QNAME labels, type and class IN")
    func dnsQuery() {
        let c = parsedChecker("DNS_CHECK {\ntype MX\nname a.example\n}")
        guard case .dns(let d) = c.kind else {
            Issue.record("not DNS")
            return
        }
        #expect(d.type == .mx)
    }

    @Test("SMTP_CHECK: a 220 banner and 250 to HELO pass; a 554 banner fails")
    func smtpCheck() {
        let good = LocalTCPServer.smtp()
        defer { good.stop() }
        #expect(LinuxHealthProbe.runBlocking(request("SMTP_CHECK {\nhelo_name lvs.test\n}", port: good.port)).success)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(good.requests.first == "HELO lvs.test\nQUIT\n")
        let bad = LocalTCPServer.smtp(banner: "554 go away")
        defer { bad.stop() }
        let o = LinuxHealthProbe.runBlocking(request("SMTP_CHECK {\n}", port: bad.port))
        #expect(!o.success && o.detail.contains("Bad greeting banner"))
    }

    @Test("UDP_CHECK: ICMP port unreachable fails; silence passes unless require_reply; a reply must match")
    func udp() {
        let refused = LinuxHealthProbe.runBlocking(request("UDP_CHECK {\n}", port: closedLocalPort(udp: true)))
        #expect(!refused.success)
        let silent = LocalUDPServer { _ in nil }
        defer { silent.stop() }
        #expect(
            LinuxHealthProbe.runBlocking(request("UDP_CHECK {\n}", port: silent.port, timeout: .milliseconds(300)))
                .success)
        #expect(
            !LinuxHealthProbe.runBlocking(
                request("UDP_CHECK {\nrequire_reply\n}", port: silent.port, timeout: .milliseconds(300))
            ).success)
        let echo = LocalUDPServer { _ in Array("pong".utf8) }
        defer { echo.stop() }
        #expect(
            LinuxHealthProbe.runBlocking(
                request("UDP_CHECK {\npayload 70696e67\nrequire_reply 706f6e67\n}", port: echo.port)
            ).success)
        #expect(
            !LinuxHealthProbe.runBlocking(
                request("UDP_CHECK {\npayload 70696e67\nrequire_reply 6e6f7065\n}", port: echo.port)
            ).success)
    }

    @Test("PING_CHECK: 127.0.0.1 answers an ICMP echo")
    func ping() {
        let o = LinuxHealthProbe.runBlocking(request("PING_CHECK {\n}", port: 0))
        #expect(o.success, "\(o)")
    }
}
