// The HTTP listener on loopback: status codes, HEAD, request size and time limits, port in use.
import Foundation
import Glibc
import LVSCore
import LVSHTTP
import LVSPlatform
import LVSStatus
import Testing

/// A status source with a fixed snapshot.
struct FixedSource: StatusSource {
    var snapshot: StatusSnapshot
    func snapshot(parts: StatusParts) async -> StatusSnapshot { snapshot }
    var metricsProviders: [any MetricsProvider] {
        [
            ClosureMetricsProvider { w in
                w.family(name: "lvsd_test_extra", .gauge, help: "A provider's family.")
                w.sample(name: "lvsd_test_extra", value: 5)
            }
        ]
    }
}

/// One raw exchange: writes `request` (in `chunks`, `pause` apart), reads until the server closes
/// or `timeout`; returns what came back and whether the server closed the connection.
/// Runs on a thread of its own: a test that blocked a cooperative thread while the server needs one
/// (its responder is async) could starve it when other suites hold the rest of the pool.
func exchange(port: UInt16, _ chunks: [String], pause: Double = 0, timeout: Double = 30) async -> (
    text: String, closed: Bool
) {
    await withCheckedContinuation { c in
        _ = PlatformThread.detach(name: "test-http") {
            c.resume(returning: blockingExchange(port: port, chunks, pause: pause, timeout: timeout))
        }
    }
}

func blockingExchange(port: UInt16, _ chunks: [String], pause: Double, timeout: Double) -> (text: String, closed: Bool)
{
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_port = port.bigEndian
    sa.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let ok = withUnsafePointer(to: &sa) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard ok == 0 else { return ("connect failed", true) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    for (i, c) in chunks.enumerated() {
        if i > 0 && pause > 0 { usleep(UInt32(pause * 1e6)) }
        _ = Array(c.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buf, buf.count, 0)
        if n > 0 {
            data += buf[0..<n]
            continue
        }
        // A reset (the server closed with our bytes unread) is a close too.
        return (String(decoding: data, as: UTF8.self), n == 0 || errno == ECONNRESET)
    }
}

@Suite("HTTP listener (swift-nio) on loopback", .serialized)
struct HTTPServerTests {
    static func start(_ limits: HTTPServerLimits = .init()) throws -> (HTTPServer, UInt16) {
        let socket = try HTTPListenSocket(HTTPBindAddress(address: IPAddress("127.0.0.1")!, port: 0))
        let server = try HTTPServer(
            socket: socket,
            responder: StatusHTTPResponder(source: FixedSource(snapshot: sampleSnapshot()), registry: nil),
            limits: limits)
        return (server, server.port)
    }

    @Test("GET answers with bodies and lengths; HEAD the same headers without a body; 404; 405 with Allow")
    func statusCodes() async throws {
        let (server, port) = try Self.start()
        defer { server.shutdown() }
        let metrics = await exchange(port: port, ["GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        #expect(metrics.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(
            metrics.text.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n")
                || metrics.text.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(metrics.text.contains("\nnode_ipvs_backend_weight{"))
        #expect(metrics.text.contains("\nlvsd_test_extra 5\n"), "a provider's family is appended")
        let head = await exchange(port: port, ["HEAD /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        let get = await exchange(port: port, ["GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        let headParts = head.text.components(separatedBy: "\r\n\r\n")
        let getParts = get.text.components(separatedBy: "\r\n\r\n")
        #expect(headParts[0] == getParts[0], "HEAD has GET's headers")
        #expect(headParts.count == 2 && headParts[1].isEmpty, "HEAD has no body")
        #expect(getParts[1].hasPrefix("{\"version\":\"0.1\""))
        let notFound = await exchange(port: port, ["GET /wp-admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        #expect(notFound.text.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        let post = await exchange(
            port: port,
            ["POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"])
        #expect(post.text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(post.text.lowercased().contains("\r\nallow: get, head\r\n"))
    }

    @Test("keep-alive: two requests on one connection (the dashboard's polling)")
    func keepAlive() async throws {
        let (server, port) = try Self.start()
        defer { server.shutdown() }
        let r = await exchange(
            port: port,
            [
                "GET /api/v1/vrrp HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/dataplane HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            ])
        #expect(r.text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(r.closed)
    }

    @Test("a request head over the size limit gets 431 and the connection is closed")
    func oversizedHead() async throws {
        var limits = HTTPServerLimits()
        limits.maximumRequestBytes = 4096
        let (server, port) = try Self.start(limits)
        defer { server.shutdown() }
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: " + String(repeating: "a", count: 8000) + "\r\n\r\n"
        let r = await exchange(port: port, [big])
        #expect(r.text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(r.closed)
    }

    @Test("a request that trickles in slower than the request timeout gets 408 and is cut off")
    func slowRequest() async throws {
        var limits = HTTPServerLimits()
        limits.requestTimeout = .milliseconds(300)
        let (server, port) = try Self.start(limits)
        defer { server.shutdown() }
        let start = Date()
        let r = await exchange(port: port, ["GET / HTTP/1.1\r\n", "Host: x\r\n", "X-A: b\r\n"], pause: 0.25)
        #expect(r.text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(r.closed)
        #expect(Date().timeIntervalSince(start) < 4)
    }

    @Test("connections beyond the limit are closed at once; the listener keeps serving")
    func connectionLimit() async throws {
        var limits = HTTPServerLimits()
        limits.maximumConnections = 2
        let (server, port) = try Self.start(limits)
        defer { server.shutdown() }
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<2 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            sa.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            _ = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            held.append(fd)
        }
        usleep(200_000)
        let third = await exchange(port: port, ["GET / HTTP/1.1\r\nHost: x\r\n\r\n"], timeout: 2)
        #expect(third.text.isEmpty && third.closed)
        for fd in held { close(fd) }
        held = []
        // Once the listener has seen the two closes (on a loaded machine that may take a moment),
        // it serves again.
        var again = (text: "", closed: false)
        for _ in 0..<25 {
            usleep(200_000)
            let r = await exchange(
                port: port, ["GET /api/v1/vrrp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], timeout: 3)
            again = (r.text, r.closed)
            if again.text.hasPrefix("HTTP/1.1 200 OK") { break }
        }
        #expect(again.text.hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test("a port in use: one line naming the address and what to do")
    func portInUse() throws {
        let first = try HTTPListenSocket(HTTPBindAddress(address: IPAddress("127.0.0.1")!, port: 0))
        defer { first.close() }
        #expect(throws: HTTPListenError.self) {
            _ = try HTTPListenSocket(HTTPBindAddress(address: IPAddress("127.0.0.1")!, port: first.boundPort))
        }
        do {
            _ = try HTTPListenSocket(HTTPBindAddress(address: IPAddress("127.0.0.1")!, port: first.boundPort))
        } catch {
            #expect(
                error.message
                    == "--http 127.0.0.1:\(first.boundPort): address already in use (another lvsd or exporter listens there; --http ADDR:PORT picks another port, --http off turns the listener off)"
            )
            #expect(!error.message.contains("\n"))
        }
    }

    @Test("--http: loopback by default, off, IPv6 in brackets; non-loopback only with --http-allow-remote")
    func bindAddress() throws {
        #expect(try HTTPBindAddress.check("off", allowRemote: false) == nil)
        #expect(try HTTPBindAddress.check("127.0.0.1:9110", allowRemote: false) == .default)
        #expect(try HTTPBindAddress.check("[::1]:9111", allowRemote: false)?.description == "[::1]:9111")
        #expect(throws: HTTPBindAddressError.self) { try HTTPBindAddress.check("0.0.0.0:9110", allowRemote: false) }
        #expect(try HTTPBindAddress.check("0.0.0.0:9110", allowRemote: true)?.port == 9110)
        #expect(throws: HTTPBindAddressError.self) { try HTTPBindAddress.check("localhost:9110", allowRemote: false) }
        #expect(throws: HTTPBindAddressError.self) { try HTTPBindAddress.check("127.0.0.1", allowRemote: false) }
        #expect(throws: HTTPBindAddressError.self) { try HTTPBindAddress.check("127.0.0.1:0", allowRemote: false) }
    }
}
