// keepalived's SMTP alert: a real SMTP exchange (HELO, MAIL FROM, RCPT TO, DATA, QUIT) with a timeout.
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheck
import LVSPlatform

/// Where alerts go: `smtp_server`, `smtp_helo_name`, `smtp_connect_timeout`,
/// `notification_email_from` and `notification_email`.
public struct SMTPAlertSettings: Hashable, Sendable {
    public var server: SMTPServer
    public var heloName: String
    public var timeout: Duration
    public var from: String
    public var recipients: [String]

    public init(server: SMTPServer, heloName: String, timeout: Duration, from: String, recipients: [String]) {
        self.server = server
        self.heloName = heloName
        self.timeout = timeout
        self.from = from
        self.recipients = recipients
    }

    /// The settings of a configuration, with keepalived's defaults: HELO `localhost`, a 30 s
    /// timeout, sender `keepalived@<host name>`. Nil without a server or recipients.
    public init?(globalDefs g: GlobalDefs, hostName: String) {
        guard let server = g.smtpServer, !g.notificationEmails.isEmpty else { return nil }
        self.init(
            server: server, heloName: g.smtpHeloName ?? "localhost",
            timeout: (g.smtpConnectTimeout ?? .seconds(30)).duration,
            from: g.notificationEmailFrom ?? "keepalived@\(hostName)", recipients: g.notificationEmails)
    }
}

/// Sends one alert per call, blocking the calling thread for at most a few timeouts.
public enum SMTPAlertClient {
    /// The message after DATA: keepalived's headers (`Date`, `From`, `Subject`,
    /// `X-Mailer: Keepalived`, `To`), the body, and the final dot.
    public static func message(_ mail: AlertMail, settings: SMTPAlertSettings, date: String) -> String {
        var body = ""
        for line in mail.body.split(separator: "\n", omittingEmptySubsequences: false) {
            body += (line.hasPrefix(".") ? "." : "") + line + "\r\n"
        }
        return "Date: \(date)\r\nFrom: \(settings.from)\r\nSubject: \(mail.subject)\r\nX-Mailer: Keepalived\r\nTo: "
            + settings.recipients.joined(separator: ", ") + "\r\n\r\n" + body + "\r\n.\r\n"
    }

    /// RFC 822 date in local time, as keepalived's `strftime("%a, %d %b %Y %H:%M:%S %z")`.
    public static func rfc822Date() -> String { LocalTime.now("%a, %d %b %Y %H:%M:%S %z") }

    /// Resolves the server name (or address).
    static func resolve(_ host: String, port: UInt16) -> [Endpoint] {
        if let a = IPAddress(host) { return [Endpoint(a, port)] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &res) == 0 else { return [] }
        defer { freeaddrinfo(res) }
        var out: [Endpoint] = []
        var p = res
        while let ai = p {
            if ai.pointee.ai_family == AF_INET {
                ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    out.append(Endpoint(.v4(IPv4Address(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))), port))
                }
            } else if ai.pointee.ai_family == AF_INET6 {
                ai.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    var t = ""
                    var buf = [CChar](repeating: 0, count: 64)
                    var a = $0.pointee.sin6_addr
                    inet_ntop(AF_INET6, &a, &buf, 64)
                    t = stringFromCBuffer(buf)
                    if let ip = IPAddress(t) { out.append(Endpoint(ip, port)) }
                }
            }
            p = ai.pointee.ai_next
        }
        return out
    }

    /// Reads one reply (skipping `NNN-` continuation lines) and returns its code.
    static func reply(_ s: ProbeSocket, _ buffer: inout [UInt8], _ timeout: Duration) throws(ProbeSocketError) -> Int {
        while true {
            let line = try s.readLine(buffer: &buffer, deadline: ProbeDeadline(after: timeout))
            if line.count >= 4 && Array(line)[3] == "-" { continue }
            return Int(line.prefix(3)) ?? -1
        }
    }

    /// Sends `mail`; returns nil on success, else what went wrong (keepalived's wording).
    public static func send(_ mail: AlertMail, settings: SMTPAlertSettings) -> String? {
        let host = "[\(settings.server.host)]:\(settings.server.port)"
        guard let server = resolve(settings.server.host, port: settings.server.port).first else {
            return "SMTP connection ERROR to \(host)."
        }
        do {
            let s = try ProbeSocket(family: server.address.family, type: Int32(SOCK_STREAM.rawValue), protocol: 0)
            do {
                try s.connect(to: server, deadline: ProbeDeadline(after: settings.timeout))
            } catch {
                return error.timedOut ? "Timeout connecting SMTP server \(host)." : "SMTP connection ERROR to \(host)."
            }
            var buffer: [UInt8] = []
            func step(_ command: String?, expect: Int, _ name: String) throws(ProbeSocketError) -> String? {
                if let command { try s.sendAll(Array(command.utf8), deadline: ProbeDeadline(after: settings.timeout)) }
                let code = try reply(s, &buffer, settings.timeout)
                if code != expect {
                    return "Error processing \(name) cmd on SMTP server \(host). SMTP status code = \(code)"
                }
                return nil
            }
            if let e = try step(nil, expect: 220, "connect") {
                return e.replacingOccurrences(of: "Error processing connect cmd on", with: "Error connecting")
            }
            if let e = try step("HELO \(settings.heloName)\r\n", expect: 250, "HELO") { return e }
            if let e = try step("MAIL FROM:<\(settings.from)>\r\n", expect: 250, "MAIL") { return e }
            for r in settings.recipients {
                if let e = try step("RCPT TO:<\(r)>\r\n", expect: 250, "RCPT") { return e }
            }
            if let e = try step("DATA\r\n", expect: 354, "DATA") { return e }
            if let e = try step(message(mail, settings: settings, date: rfc822Date()), expect: 250, "DOT") { return e }
            try? s.sendAll(Array("QUIT\r\n".utf8), deadline: ProbeDeadline(after: settings.timeout))
            _ = try? reply(s, &buffer, settings.timeout)
            return nil
        } catch {
            return error.timedOut
                ? "Timeout reading data to remote SMTP server \(host)."
                : "Error reading data from remote SMTP server \(host)."
        }
    }
}
