// HTTP_GET / SSL_GET: a small HTTP/1.0 / 1.1 client over a socket or TLS; status codes, MD5 digest.
import CLVSTLS
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheck

/// HTTP_GET and SSL_GET for one URL, as keepalived's check_http.c: sends
/// `GET path HTTP/1.x` with `User-Agent: KeepAliveClient`, `Connection: close` for `1.0C` and
/// `1.1`, and `Host:` the virtualhost (or the destination address and port), reads the reply to
/// the end, then checks the status code against `status_code` (default 200-299), the MD5 of
/// the body against `digest`, and `regex`.
enum HTTPCheck {
    /// The request keepalived sends (`request_template` / `request_template_ipv6`).
    static func request(path: String, version: HTTPProtocolVersion, host: String?, destination: Endpoint) -> String {
        let minor = version == .http11 ? 1 : 0
        let connection = version == .http10 ? "" : "Connection: close\r\n"
        let hostHeader: String
        if let host {
            hostHeader = host
        } else if case .v6 = destination.address {
            hostHeader = "[\(destination.address)]:\(destination.port)"
        } else {
            hostHeader = "\(destination.address):\(destination.port)"
        }
        return "GET \(path) HTTP/1.\(minor)\r\nUser-Agent: KeepAliveClient\r\n\(connection)Host: \(hostHeader)\r\n\r\n"
    }

    /// A parsed reply: status code, Content-Length, and the MD5 and text of the body.
    struct Reply {
        var status: Int
        var contentLength: Int?
        var bodyDigest: String
        var body: [UInt8]
    }

    /// Reads a whole reply from `read` (which returns an empty array at the end). The header's
    /// end is looked for only in bytes not scanned before (`scanned` counts the bytes looked at).
    static func parse(_ read: () throws(ProbeSocketError) -> [UInt8]) throws(ProbeSocketError) -> Reply? {
        var scanned = 0
        return try parse(read, scanned: &scanned)
    }

    static func parse(_ read: () throws(ProbeSocketError) -> [UInt8], scanned: inout Int) throws(ProbeSocketError)
        -> Reply?
    {
        var searchFrom = 0
        var head: [UInt8] = []
        var bodyStart: Int?
        var md5 = MD5()
        var body: [UInt8] = []
        var contentLength: Int?
        var status = 0
        var received = 0
        while true {
            let chunk = try read()
            if chunk.isEmpty { break }
            if bodyStart == nil {
                head += chunk
                let found = headerEnd(head, from: searchFrom, scanned: &scanned)
                // A terminator may straddle chunks: the next scan starts 3 bytes back.
                searchFrom = max(0, head.count - 3)
                if let end = found {
                    bodyStart = end
                    let headerText = String(decoding: head[..<end], as: UTF8.self)
                    status = statusCode(headerText)
                    contentLength = contentLengthHeader(headerText)
                    let rest = Array(head[end...])
                    head = Array(head[..<end])
                    feed(rest, md5: &md5, body: &body, received: &received, limit: contentLength)
                } else if head.count > 1 << 20 {
                    throw ProbeSocketError(message: "HTTP header too long")
                }
            } else {
                feed(chunk, md5: &md5, body: &body, received: &received, limit: contentLength)
            }
            if received > 64 << 20 { throw ProbeSocketError(message: "HTTP reply too long") }
        }
        guard bodyStart != nil else {
            return head.isEmpty
                ? nil
                : Reply(
                    status: statusCode(String(decoding: head, as: UTF8.self)), contentLength: nil,
                    bodyDigest: MD5().hexDigest(), body: [])
        }
        return Reply(status: status, contentLength: contentLength, bodyDigest: md5.hexDigest(), body: body)
    }

    static func feed(_ bytes: [UInt8], md5: inout MD5, body: inout [UInt8], received: inout Int, limit: Int?) {
        var slice = bytes[...]
        if let limit {
            let room = max(0, limit - received)
            slice = slice.prefix(room)
        }
        md5.update(slice)
        if body.count < 1 << 20 { body += slice.prefix((1 << 20) - body.count) }
        received += bytes.count
    }

    /// The offset just past the blank line ending the header (`\r\n\r\n` or `\n\n`), looking
    /// from `from` on.
    static func headerEnd(_ b: [UInt8], from: Int = 0) -> Int? {
        var scanned = 0
        return headerEnd(b, from: from, scanned: &scanned)
    }

    static func headerEnd(_ b: [UInt8], from: Int, scanned: inout Int) -> Int? {
        var i = from
        defer { scanned += max(0, i - from) }
        while i + 1 < b.count {
            if b[i] == 10 && b[i + 1] == 10 { return i + 2 }
            if i + 3 < b.count && b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// The status code of `HTTP/1.x NNN reason` (0 when unreadable).
    static func statusCode(_ header: String) -> Int {
        let first = header.split(separator: "\n", maxSplits: 1).first ?? ""
        let parts = first.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return 0 }
        return Int(parts[1].prefix(3)) ?? 0
    }

    static func contentLengthHeader(_ header: String) -> Int? {
        for line in header.split(separator: "\n") {
            let l = line.lowercased()
            if l.hasPrefix("content-length:") {
                return Int(l.dropFirst("content-length:".count).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return nil
    }

    /// Checks a reply against the URL's expectations; nil when it passes.
    static func verdict(_ reply: Reply, url: HTTPCheckURL) -> String? {
        guard reply.status >= 100 && reply.status <= 999, url.accepts(statusCode: UInt16(reply.status)) else {
            return "HTTP status code error to (status \(reply.status))"
        }
        if let digest = url.digest, digest.lowercased() != reply.bodyDigest {
            return "MD5 digest error to (digest \(reply.bodyDigest))"
        }
        if let pattern = url.regex {
            let text = String(decoding: reply.body, as: UTF8.self)
            var options: NSRegularExpression.Options = []
            if url.regexOptions.contains("caseless") { options.insert(.caseInsensitive) }
            if url.regexOptions.contains("multiline") { options.insert(.anchorsMatchLines) }
            if url.regexOptions.contains("dotall") { options.insert(.dotMatchesLineSeparators) }
            guard let re = try? NSRegularExpression(pattern: pattern, options: options) else {
                return "invalid regex '\(pattern)'"
            }
            let ns = text as NSString
            var range = NSRange(location: 0, length: ns.length)
            if let lo = url.regexMinOffset { range.location = min(Int(lo), ns.length) }
            if let hi = url.regexMaxOffset {
                range.length = max(0, min(Int(hi), ns.length) - range.location)
            } else {
                range.length = ns.length - range.location
            }
            let matched = re.firstMatch(in: text, options: [], range: range) != nil
            if matched == url.regexNoMatch { return "Regex match failed" }
        }
        return nil
    }

    static func run(_ r: ProbeRequest, tls: Bool) -> ProbeOutcome {
        guard let url = r.url, let path = url.path else { return .passed }
        let config: HTTPCheckConfig
        switch r.checker.kind {
        case .http(let h), .ssl(let h): config = h
        default: return .failed("not an HTTP checker")
        }
        // One deadline for the whole exchange (connect, request, every read of the reply): a
        // server trickling its reply cannot keep the check from being judged. (keepalived re-arms
        // connect_timeout for each read.)
        let deadline = ProbeDeadline(after: r.timeout)
        do {
            let s = try ProbeSocket.connected(for: r, type: Int32(SOCK_STREAM.rawValue), deadline: deadline)
            let text = request(
                path: path, version: config.httpProtocol, host: r.virtualHost, destination: r.destination)
            let reply: Reply?
            if tls {
                reply = try tlsExchange(
                    s, request: text, sni: config.enableSNI ? (config.sniName ?? r.virtualHost) : nil,
                    timeout: r.timeout, deadline: deadline)
            } else {
                try s.sendAll(Array(text.utf8), deadline: deadline)
                reply = try parse { () throws(ProbeSocketError) -> [UInt8] in
                    try s.receive(max: 16384, deadline: deadline)
                }
            }
            guard let reply else { return .failed("Read, no data received from") }
            if let problem = verdict(reply, url: url) { return .failed(problem) }
            return ProbeOutcome(success: true, detail: "status \(reply.status)")
        } catch {
            return .failed(error.message, timedOut: error.timedOut)
        }
    }

    /// SSL_GET: TLS handshake (SNI with `enable_sni`), then the same request and reply.
    static func tlsExchange(
        _ s: ProbeSocket, request: String, sni: String?, timeout: Duration, deadline: ProbeDeadline
    ) throws(ProbeSocketError) -> Reply? {
        // The shim works on a blocking socket with kernel timeouts.
        let flags = fcntl(s.fd, F_GETFL)
        _ = fcntl(s.fd, F_SETFL, flags & ~O_NONBLOCK)
        let c = timeout.components
        var tv = timeval(tv_sec: Int(c.seconds), tv_usec: Int(c.attoseconds / 1_000_000_000_000))
        setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var err = [CChar](repeating: 0, count: 256)
        let session: OpaquePointer? =
            if let sni { sni.withCString { clvs_tls_connect(s.fd, $0, &err, err.count) } } else {
                clvs_tls_connect(s.fd, nil, &err, err.count)
            }
        guard let session else {
            throw ProbeSocketError(message: stringFromCBuffer(err) + " connecting to server")
        }
        defer { clvs_tls_free(session) }
        let bytes = Array(request.utf8)
        if clvs_tls_write(session, bytes, bytes.count) != 0 {
            throw ProbeSocketError(message: "Cannot send get request to")
        }
        return try parse { () throws(ProbeSocketError) -> [UInt8] in
            // The kernel timeout is what is left of the exchange's deadline.
            let left = Int(deadline.remainingMilliseconds)
            if left <= 0 || deadline.expired { throw ProbeSocketError(message: "Read timeout from", timedOut: true) }
            var rtv = timeval(tv_sec: left / 1000, tv_usec: (left % 1000) * 1000)
            setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 16384)
            let n = clvs_tls_read(session, &buf, buf.count)
            if n < 0 { throw ProbeSocketError(message: "Read error with server", timedOut: errno == EAGAIN) }
            return Array(buf[0..<n])
        }
    }
}

/// HTTP reply parsing for tests: the body size and how many bytes the header search looked at.
public enum HTTPCheckTesting {
    public static func parse(_ read: () -> [UInt8]) throws -> (bodyBytes: Int, scannedBytes: Int)? {
        var scanned = 0
        let reply = try HTTPCheck.parse({ () throws(ProbeSocketError) -> [UInt8] in read() }, scanned: &scanned)
        return reply.map { ($0.body.count, scanned) }
    }
}
