// The control server on a socket of its own: real requests, hostile input, limits, timeouts.
import Foundation
import LVSControl
import LVSCore
import LVSDaemon
import Logging
import Testing

/// A control server for one test: an IPVS table behind a socket in a temporary directory.
final class TestServer {
    let endpoint: ControlEndpoint
    let director: Director
    let server: ControlServer
    let directory: String

    init(limits: ControlServer.Limits = .init(), privilegedUIDs: Set<UInt32>? = nil) throws {
        directory = NSTemporaryDirectory() + "lvsd-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        endpoint = .path(directory + "/control.sock")
        director = Director(model: IPVS())
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = ControlServer(
            endpoint: endpoint, handler: director, logger: logger, limits: limits, privilegedUIDs: privilegedUIDs)
        try server.bind()
        server.start()
    }

    deinit {
        server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A raw connected socket.
    func connect() throws -> Int32 { try ControlSocket.connect(to: endpoint) }
}

/// Reads one frame or reports how the connection ended.
func readReply(_ fd: Int32) -> Result<(ControlFrameHeader, [UInt8]), ControlFrameReadError> {
    do {
        return .success(try ControlSocket.readFrame(fd, maxBody: ControlProtocol.maxResponseBody))
    } catch {
        return .failure(error)
    }
}

@Suite("lvsd control server")
struct ControlServerTests {
    @Test("a client's batch is applied in order and answered in order")
    func serves() throws {
        let t = try TestServer()
        let client = ControlClient(endpoint: t.endpoint)
        let key = ServiceKey.endpoint(.tcp, Endpoint(IPAddress("10.0.0.1")!, 80))
        let results = try client.perform([
            .addService(VirtualServiceSpec(key: key, scheduler: "rr")), .addService(VirtualServiceSpec(key: key)),
            .addRealServer(RealServerSpec(endpoint: Endpoint(IPAddress("10.0.0.2")!, 80)), key), .listServices,
        ])
        #expect(results[0] == .ok)
        #expect(results[1] == .failure(IPVSError(.serviceExists)))
        #expect(results[2] == .ok)
        guard case .services(let list) = results[3] else {
            Issue.record("expected services")
            return
        }
        #expect(list.count == 1 && list[0].realServers.count == 1)
        // The same connection serves the next frame.
        #expect(try client.perform(.getTimeouts) == .timeouts(.defaults))
    }

    @Test("socket file: mode 0666 (anyone may list), removed on shutdown; a second server on it is refused")
    func socketFile() throws {
        let t = try TestServer()
        guard case .path(let p) = t.endpoint else { return }
        let attributes = try FileManager.default.attributesOfItem(atPath: p)
        #expect((attributes[.posixPermissions] as? Int) == 0o666)
        let second = ControlServer(endpoint: t.endpoint, handler: t.director, logger: Logger(label: "x"))
        #expect(throws: ControlServerError.self) { try second.bind() }
        t.server.shutdown()
        #expect(!FileManager.default.fileExists(atPath: p))
    }

    @Test("hostile input: random bytes, bad magic, other versions, forged lengths; the server keeps serving")
    func hostileInput() throws {
        let t = try TestServer()
        var rng = SystemRandomNumberGenerator()
        for round in 0..<60 {
            let fd = try t.connect()
            defer { close(fd) }
            var bytes: [UInt8]
            switch round % 4 {
            case 0:
                bytes = (0..<Int.random(in: 1...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: bytes = ControlProtocol.magic + [0, 1, 0, 1] + [0, 0, 0, 3] + [0xFF, 0xFF, 0xFF]
            case 2: bytes = ControlProtocol.magic + [0, 9, 0, 1, 0, 0, 0, 0]
            default:
                var f = ControlCodec.encodeRequestFrame([.listServices, .getInfo])
                f[12 + Int.random(in: 0..<(f.count - 12), using: &rng)] ^= 0xA5
                bytes = f
            }
            try? ControlSocket.writeAll(fd, bytes)
            shutdown(fd, Int32(SHUT_WR))
            // Whatever comes back is a well-formed frame or the connection ends; never a hang.
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            if case .failure(.protocol(let e)) = readReply(fd) { Issue.record("server sent a bad frame: \(e)") }
        }
        let client = ControlClient(endpoint: t.endpoint)
        #expect(try client.perform(.getInfo) == .info(IPVSInfo()))
    }

    @Test("a malformed body gets a 'malformed' rejection and the connection stays usable")
    func rejection() throws {
        let t = try TestServer()
        let fd = try t.connect()
        defer { close(fd) }
        try ControlSocket.writeAll(fd, ControlProtocol.magic + [0, 1, 0, 1, 0, 0, 0, 5] + [0, 0, 0, 1, 0x7E])
        guard case .success(let (h, body)) = readReply(fd) else {
            Issue.record("no reply")
            return
        }
        #expect(h.kind == .rejection)
        #expect(try ControlCodec.decodeRejection(body: body).code == .malformed)
        try ControlSocket.writeAll(fd, ControlCodec.encodeRequestFrame([.getTimeouts]))
        guard case .success(let (h2, body2)) = readReply(fd) else {
            Issue.record("no reply")
            return
        }
        #expect(h2.kind == .response)
        #expect(try ControlCodec.decodeResults(body: body2, expected: 1) == [.timeouts(.defaults)])
    }

    @Test("an oversized request is refused from its header (tooLarge) without reading the body")
    func oversized() throws {
        let t = try TestServer()
        let fd = try t.connect()
        defer { close(fd) }
        try ControlSocket.writeAll(fd, ControlProtocol.magic + [0, 1, 0, 1, 0x40, 0, 0, 0])
        guard case .success(let (h, body)) = readReply(fd) else {
            Issue.record("no reply")
            return
        }
        #expect(h.kind == .rejection)
        #expect(try ControlCodec.decodeRejection(body: body).code == .tooLarge)
    }

    @Test("a client stalling inside a frame is dropped after the frame timeout")
    func stall() throws {
        var limits = ControlServer.Limits()
        limits.frameTimeout = .milliseconds(200)
        let t = try TestServer(limits: limits)
        let fd = try t.connect()
        defer { close(fd) }
        try ControlSocket.writeAll(fd, Array(ControlCodec.encodeRequestFrame([.getInfo]).prefix(14)))
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard case .failure(.socket(let e)) = readReply(fd) else {
            Issue.record("expected the server to close the connection")
            return
        }
        #expect(e.closedByPeer)
    }

    @Test("beyond maxConnections a client gets a 'busy' rejection")
    func busy() throws {
        var limits = ControlServer.Limits()
        limits.maxConnections = 2
        let t = try TestServer(limits: limits)
        let a = try t.connect()
        let b = try t.connect()
        defer {
            close(a)
            close(b)
        }
        // Make sure both are being served before the third arrives.
        for fd in [a, b] {
            try ControlSocket.writeAll(fd, ControlCodec.encodeRequestFrame([.getInfo]))
            _ = readReply(fd)
        }
        let c = try t.connect()
        defer { close(c) }
        guard case .success(let (h, body)) = readReply(c) else {
            Issue.record("no reply")
            return
        }
        #expect(h.kind == .rejection)
        #expect(try ControlCodec.decodeRejection(body: body).code == .busy)
    }

    @Test("an unprivileged peer may list, is refused changes, idles out fast and cannot take the reserved slots")
    func unprivilegedPeer() throws {
        var limits = ControlServer.Limits()
        limits.maxConnections = 4
        limits.reservedForPrivileged = 2
        limits.unprivilegedIdleTimeout = .milliseconds(300)
        // Nobody we connect as is privileged here (uid 4242 only).
        let t = try TestServer(limits: limits, privilegedUIDs: [4242])
        let client = ControlClient(endpoint: t.endpoint)
        let key = ServiceKey.endpoint(.tcp, Endpoint(IPAddress("10.0.0.1")!, 80))
        #expect(try client.perform(.addService(VirtualServiceSpec(key: key))) == .failure(IPVSError(.permissionDenied)))
        #expect(try client.perform(.listServices) == .services([]))
        client.close()
        // Its server thread notices the close asynchronously: wait (bounded) until its slot is free.
        for _ in 0..<2000 where t.server.connectionCount > 0 { usleep(1000) }

        let a = try t.connect()
        let b = try t.connect()
        defer {
            close(a)
            close(b)
        }
        for fd in [a, b] {
            try ControlSocket.writeAll(fd, ControlCodec.encodeRequestFrame([.getInfo]))
            _ = readReply(fd)
        }
        // Two unprivileged clients hold all unreserved slots: a third is refused.
        let c = try t.connect()
        defer { close(c) }
        guard case .success(let (h, body)) = readReply(c) else {
            Issue.record("no reply")
            return
        }
        #expect(h.kind == .rejection)
        #expect(try ControlCodec.decodeRejection(body: body).code == .busy)
        // Idle unprivileged connections are closed after their short timeout.
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard case .failure(.socket(let e)) = readReply(a) else {
            Issue.record("expected the idle connection to be closed")
            return
        }
        #expect(e.closedByPeer)
    }
}
