// Tiny servers on 127.0.0.1 inside the test process: TCP (scripted replies) and UDP.
import Foundation
import Glibc
import LVSCore

/// A TCP listener on 127.0.0.1 with a free port; each connection is handed to `handler` on a
/// thread of its own. Stopped (and its port closed) by `stop()`.
final class LocalTCPServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    private let lock = NSLock()
    private var stopped = false
    private var _requests: [String] = []

    /// What clients sent (the first read of each connection, or what the handler recorded).
    var requests: [String] {
        lock.lock()
        defer { lock.unlock() }
        return _requests
    }

    func record(_ s: String) {
        lock.lock()
        _requests.append(s)
        lock.unlock()
    }

    init(handler: @escaping @Sendable (Int32, LocalTCPServer) -> Void) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        sin.sin_port = 0
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        listen(fd, 64)
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = UInt16(bigEndian: sin.sin_port)
        let listener = fd
        Thread { [self] in
            // The listener is closed here, when accept fails after stop(): closing it in stop()
            // could let another test's socket reuse the number while this thread still uses it.
            defer { close(listener) }
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { break }
                var tv = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                Thread {
                    handler(c, self)
                    close(c)
                }.start()
            }
        }.start()
    }

    func stop() {
        lock.lock()
        if !stopped {
            stopped = true
            shutdown(fd, Int32(SHUT_RDWR))
        }
        lock.unlock()
    }

    deinit { stop() }

    var endpoint: Endpoint { Endpoint(IPAddress("127.0.0.1")!, port) }

    /// Reads until a blank line (an HTTP request head) or `max` bytes.
    static func readRequest(_ c: Int32) -> String {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while data.count < 65536 {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { break }
            data += buf[0..<n]
            if String(decoding: data, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func readLine(_ c: Int32) -> String? {
        var line: [UInt8] = []
        var b: UInt8 = 0
        while recv(c, &b, 1, 0) == 1 {
            if b == 10 { return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .newlines) }
            line.append(b)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }

    static func send(_ c: Int32, _ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { Glibc.send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// An HTTP server answering every request with `status` and `body`.
    static func http(status: Int = 200, body: String) -> LocalTCPServer {
        LocalTCPServer { c, server in
            server.record(readRequest(c))
            send(
                c,
                "HTTP/1.0 \(status) X\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
    }

    /// An SMTP server that records the whole session (a sink, like aiosmtpd's debugging server).
    static func smtp(banner: String = "220 sink ESMTP") -> LocalTCPServer {
        LocalTCPServer { c, server in
            send(c, banner + "\r\n")
            var session = ""
            var inData = false
            while let line = LocalTCPServer.readLine(c) {
                session += line + "\n"
                if inData {
                    if line == "." {
                        inData = false
                        send(c, "250 OK queued\r\n")
                    }
                    continue
                }
                let verb = line.prefix(4).uppercased()
                switch verb {
                case "HELO", "EHLO", "MAIL", "RCPT": send(c, "250 OK\r\n")
                case "DATA":
                    inData = true
                    send(c, "354 End data with <CR><LF>.<CR><LF>\r\n")
                case "QUIT":
                    send(c, "221 Bye\r\n")
                    server.record(session)
                    return
                default: send(c, "500 what\r\n")
                }
            }
            server.record(session)
        }
    }
}

/// A UDP socket on 127.0.0.1 answering each datagram with `reply(datagram)` (nil: silence).
final class LocalUDPServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init(reply: @escaping @Sendable ([UInt8]) -> [UInt8]?) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = UInt16(bigEndian: sin.sin_port)
        let sock = fd
        Thread { [self] in
            defer { close(sock) }
            var buf = [UInt8](repeating: 0, count: 4096)
            while !isStopped {
                var from = sockaddr_storage()
                var flen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(sock, &buf, buf.count, 0, $0, &flen)
                    }
                }
                if n <= 0 || isStopped { break }
                if let r = reply(Array(buf[0..<n])) {
                    _ = withUnsafePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sock, r, r.count, 0, $0, flen) }
                    }
                }
            }
        }.start()
    }

    private let lock = NSLock()
    private var stopped = false
    var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func stop() {
        lock.lock()
        let was = stopped
        stopped = true
        lock.unlock()
        if !was { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    deinit { stop() }
}

/// A port on 127.0.0.1 with nothing listening (bound then closed).
func closedLocalPort(udp: Bool = false) -> UInt16 {
    let fd = socket(AF_INET, udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
    var len = socklen_t(16)
    _ = withUnsafeMutablePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    close(fd)
    return UInt16(bigEndian: sin.sin_port)
}
