// SMTP alerts against a local SMTP sink, the lvs_notify_fifo writer, notify scripts, and SSL_GET with SNI.
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheckLinux
import Testing

@Suite("Notifications and SSL_GET")
struct NotifyAndTLSTests {
    @Test(
        "K:smtp.c: a real SMTP exchange: HELO, MAIL FROM, RCPT TO per recipient, DATA with keepalived's headers, QUIT")
    func smtpAlert() {
        let sink = LocalTCPServer.smtp()
        defer { sink.stop() }
        let settings = SMTPAlertSettings(
            server: SMTPServer(host: "127.0.0.1", port: sink.port), heloName: "lvs1", timeout: .seconds(3),
            from: "lvs@example.org", recipients: ["a@example.org", "b@example.org"])
        let mail = AlertMail(
            subject: "[LVS_A] Realserver [10.0.1.1]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN",
            body: "=> TCP CHECK failed on service <=")
        #expect(SMTPAlertClient.send(mail, settings: settings) == nil)
        Thread.sleep(forTimeInterval: 0.1)
        let session = sink.requests.first ?? ""
        let lines = session.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "HELO lvs1")
        #expect(lines[1] == "MAIL FROM:<lvs@example.org>")
        #expect(lines[2] == "RCPT TO:<a@example.org>")
        #expect(lines[3] == "RCPT TO:<b@example.org>")
        #expect(lines[4] == "DATA")
        #expect(lines[5].hasPrefix("Date: "))
        #expect(lines[6] == "From: lvs@example.org")
        #expect(lines[7] == "Subject: [LVS_A] Realserver [10.0.1.1]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN")
        #expect(lines[8] == "X-Mailer: Keepalived")
        #expect(lines[9] == "To: a@example.org, b@example.org")
        #expect(session.contains("\n\n=> TCP CHECK failed on service <=\n"))
        #expect(lines.suffix(2).first == "QUIT")
    }

    @Test("SMTP alert: a server that is not there is reported, within the timeout")
    func smtpAlertNoServer() {
        let settings = SMTPAlertSettings(
            server: SMTPServer(host: "127.0.0.1", port: closedLocalPort()), heloName: "x", timeout: .seconds(2),
            from: "a@b", recipients: ["c@d"])
        let problem = SMTPAlertClient.send(AlertMail(subject: "s", body: "b"), settings: settings)
        #expect(problem?.hasPrefix("SMTP connection ERROR to [127.0.0.1]:") == true)
    }

    @Test("K:global_data.c: smtp defaults: HELO localhost, 30 s timeout, sender keepalived@host")
    func smtpDefaults() {
        var g = GlobalDefs()
        g.smtpServer = SMTPServer(host: "10.0.0.9")
        #expect(SMTPAlertSettings(globalDefs: g, hostName: "dir1") == nil)
        g.notificationEmails = ["ops@x"]
        let s = SMTPAlertSettings(globalDefs: g, hostName: "dir1")
        #expect(s?.heloName == "localhost")
        #expect(s?.timeout == .seconds(30))
        #expect(s?.from == "keepalived@dir1")
        #expect(s?.server.port == 25)
    }

    @Test("SystemNotifier: lvs_notify_fifo lines reach a reader; notify scripts run with their arguments")
    func fifoAndScripts() throws {
        let dir = "/tmp/lvs-hc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        var g = GlobalDefs()
        g.lvsNotifyFIFO = NotifyFIFO(path: "\(dir)/fifo", location: SourceLocation(file: "k", line: 1))
        let notifier = SystemNotifier(globalDefs: g, hostName: "h") { _ in }
        let reader = open("\(dir)/fifo", O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        notifier.writeFIFO("RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n")
        var buf = [UInt8](repeating: 0, count: 256)
        let n = read(reader, &buf, buf.count)
        #expect(String(decoding: buf[0..<max(0, n)], as: UTF8.self) == "RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n")
        notifier.runScript(
            NotifyScript(
                kind: .notifyDown, arguments: ["/bin/sh", "-c", "echo \"$0 $1\" > \(dir)/out", "rs1", "down"],
                user: nil, group: nil))
        var text = ""
        for _ in 0..<100 {
            text = (try? String(contentsOfFile: "\(dir)/out", encoding: .utf8)) ?? ""
            if !text.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(text == "rs1 down\n")
    }

    /// A TLS server in Python (ssl module) on 127.0.0.1 that answers with the SNI name it saw.
    static func pythonTLSServer(dir: String) -> (Process, UInt16)? {
        guard access("/usr/bin/openssl", X_OK) == 0 else { return nil }
        let gen = Process()
        gen.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        gen.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem",
            "-days", "1", "-subj", "/CN=lvs.test",
        ]
        gen.standardError = FileHandle.nullDevice
        gen.standardOutput = FileHandle.nullDevice
        guard (try? gen.run()) != nil else { return nil }
        gen.waitUntilExit()
        let script = """
            import socket, ssl, sys
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain('\(dir)/cert.pem', '\(dir)/key.pem')
            seen = {}
            def cb(sock, name, c):
                seen['n'] = name
            ctx.sni_callback = cb
            s = socket.socket()
            s.bind(('127.0.0.1', 0))
            s.listen(8)
            print(s.getsockname()[1], flush=True)
            while True:
                c, _ = s.accept()
                seen.clear()
                try:
                    t = ctx.wrap_socket(c, server_side=True)
                    req = b''
                    while b'\\r\\n\\r\\n' not in req:
                        d = t.recv(4096)
                        if not d: break
                        req += d
                    body = ('sni=%s' % seen.get('n')).encode()
                    t.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body) + body)
                    t.close()
                except Exception as e:
                    c.close()
            """
        let p = Process()
        let candidates: [String] = ["/usr/bin/python3", "/usr/local/bin/python3"]
        let python = candidates.first { access($0, X_OK) == 0 }
        guard let python else { return nil }
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script]
        let out = Pipe()
        p.standardOutput = out
        guard (try? p.run()) != nil else { return nil }
        let line = String(decoding: out.fileHandleForReading.availableDataLine(), as: UTF8.self)
        guard let port = UInt16(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(p.processIdentifier, SIGKILL)
            return nil
        }
        return (p, port)
    }

    @Test("SSL_GET: TLS to a real TLS server; digest of the body; SNI sent with enable_sni only")
    func sslGet() throws {
        let dir = "/tmp/lvs-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        guard let (server, port) = Self.pythonTLSServer(dir: dir) else {
            Issue.record("python3 with ssl and openssl are needed for the SSL_GET test")
            return
        }
        defer {
            // SIGKILL: the test process may hand its children a blocked SIGTERM.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let noSNI = MD5.hex(Array("sni=None".utf8))
        let o = LinuxHealthProbe.runBlocking(
            request("SSL_GET {\nurl {\npath /\ndigest \(noSNI)\n}\n}", port: port, host: "www.lvs.test"))
        #expect(o.success, "\(o)")
        let withSNI = MD5.hex(Array("sni=www.lvs.test".utf8))
        let s = LinuxHealthProbe.runBlocking(
            request("SSL_GET {\nenable_sni\nurl {\npath /\ndigest \(withSNI)\n}\n}", port: port, host: "www.lvs.test"))
        #expect(s.success, "\(s)")
        let plain = LinuxHealthProbe.runBlocking(
            request("HTTP_GET {\nurl {\npath /\n}\n}", port: port, timeout: .seconds(1)))
        #expect(!plain.success)
    }
}

extension FileHandle {
    /// Reads up to the first newline.
    func availableDataLine() -> Data {
        var out = Data()
        while true {
            let d = readData(ofLength: 1)
            if d.isEmpty || d.first == 10 { return out }
            out.append(d)
        }
    }
}
