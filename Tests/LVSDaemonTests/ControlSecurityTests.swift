// Review findings 1 and 2: CAP_NET_ADMIN for changes, one listing per frame (streamed, bounded),
// no response that can trap the codec, and a client that refuses an endpoint it cannot trust.
import Foundation
import LVSControl
import LVSCore
import LVSDaemon
import Logging
import Testing

/// A control server with lvsd's default policy (CAP_NET_ADMIN), on a socket file of its own.
final class CapabilityServer {
    let directory: String
    let endpoint: ControlEndpoint
    let director = Director(model: IPVS())
    let server: ControlServer

    init() throws {
        directory = NSTemporaryDirectory() + "lvsd-cap-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        endpoint = .path(directory + "/control.sock")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = ControlServer(endpoint: endpoint, handler: director, logger: logger)
        try server.bind()
        server.start()
    }

    deinit {
        server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Sends `requests` from a child process started under `prefix` (e.g. setpriv dropping a
    /// capability) and decodes lvsd's answer.
    func perform(_ requests: [ControlRequest], under prefix: [String]) throws -> [ControlResult] {
        guard case .path(let path) = endpoint else { throw CocoaError(.fileNoSuchFile) }
        let hex = ControlCodec.encodeRequestFrame(requests).map { String(format: "%02x", $0) }.joined()
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(bytes.fromhex(sys.argv[2]))
            h = b''
            while len(h) < 12: h += s.recv(12 - len(h))
            n = int.from_bytes(h[8:12], 'big'); b = b''
            while len(b) < n: b += s.recv(n - len(b))
            sys.stdout.write((h + b).hex())
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: prefix.isEmpty ? "/usr/bin/python3" : prefix[0])
        p.arguments =
            Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : ["/usr/bin/python3"]) + ["-c", script, path, hex]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        var bytes: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex, let j = text.index(i, offsetBy: 2, limitedBy: text.endIndex) {
            bytes.append(UInt8(text[i..<j], radix: 16) ?? 0)
            i = j
        }
        let header = try ControlCodec.decodeHeader(Array(bytes.prefix(12)), maxBody: .max)
        #expect(header.kind == .response)
        return try ControlCodec.decodeResults(body: Array(bytes.dropFirst(12)), expected: requests.count)
    }
}

@Suite("control security (review findings 1, 2)")
struct ControlSecurityTests {
    let key = ServiceKey.endpoint(.tcp, Endpoint(IPAddress("10.0.0.1")!, 80))

    @Test("K:GENL_ADMIN_PERM: uid 0 without CAP_NET_ADMIN may list but not change; with it, may change")
    func capability() throws {
        guard geteuid() == 0 else { return }  // needs root to drop a capability from a child
        let t = try CapabilityServer()
        let dropped = ["/usr/bin/setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"]
        let add = ControlRequest.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        #expect(try t.perform([add], under: dropped) == [.failure(IPVSError(.permissionDenied))])
        #expect(
            try t.perform([.setKnob(name: "sloppy_tcp", value: "1")], under: dropped) == [
                .failure(IPVSError(.permissionDenied))
            ])
        #expect(try t.perform([.listServices], under: dropped) == [.services([])])
        #expect(try t.perform([add], under: []) == [.ok])
        // A non-root user with CAP_NET_ADMIN (ambient) may change state, as with the kernel.
        let nobodyWithCap = [
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_admin",
            "--ambient-caps=+net_admin",
        ]
        #expect(try t.perform([.deleteService(key)], under: nobodyWithCap) == [.ok])
        #expect(
            try t.perform([add], under: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]) == [
                .failure(IPVSError(.permissionDenied))
            ])
    }

    @Test("CapEff is read from /proc/PID/status")
    func capEffParse() {
        let status = "Name:\tipvsadm\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n"
        #expect(ControlPeerCredentials.effectiveCapabilities(statusText: status) == 0x1ff_ffff_ffff)
        #expect(ControlPeerCredentials.effectiveCapabilities(statusText: "CapEff:\tzz\n") == nil)
        #expect(ControlPeerCredentials.effectiveCapabilities(statusText: "Name: x\n") == nil)
    }

    @Test("finding 1: a frame carrying two listings is rejected; the connection stays usable")
    func oneListingPerFrame() throws {
        let t = try TestServer()
        let fd = try t.connect()
        defer { close(fd) }
        let many = [ControlRequest](repeating: .listConnections, count: 65_536)
        try ControlSocket.writeAll(fd, ControlCodec.encodeRequestFrame(many))
        guard case .success(let (h, body)) = readReply(fd) else {
            Issue.record("no reply")
            return
        }
        #expect(h.kind == .rejection)
        #expect(try ControlCodec.decodeRejection(body: body).code == .malformed)
        try ControlSocket.writeAll(fd, ControlCodec.encodeRequestFrame([.getInfo, .listServices]))
        guard case .success(let (h2, _)) = readReply(fd) else {
            Issue.record("no reply")
            return
        }
        #expect(h2.kind == .response)
    }

    @Test("finding 1: the connection listing is streamed in pieces and complete")
    func streamedListing() throws {
        let ipvs = IPVS()
        try ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        try ipvs.addRealServer(
            RealServerSpec(endpoint: Endpoint(IPAddress("10.0.0.2")!, 80), forwarding: .route), to: key)
        for i in 0..<10_000 {
            _ = ipvs.processInbound(
                PacketFacts(
                    transport: .tcp, source: .v4(IPv4Address(0xAC10_0000 | UInt32(i))), sourcePort: 1000,
                    destination: IPAddress("10.0.0.1")!, destinationPort: 80, tcpFlags: [.syn]),
                now: Timestamp(nanoseconds: 1_000_000_000))
        }
        let director = Director(model: ipvs)
        let frame = director.respond(to: [.getInfo, .listConnections], mayChangeState: false)
        let h = try ControlCodec.decodeHeader(Array(frame.prefix(12)), maxBody: .max)
        #expect(h.kind == .response)
        let results = try ControlCodec.decodeResults(body: Array(frame.dropFirst(12)), expected: 2)
        guard case .connections(let list) = results[1] else {
            Issue.record("no listing")
            return
        }
        #expect(list.count == 10_000)
        #expect(Set(list.map(\.client)).count == 10_000)
    }

    @Test("finding 1: a response beyond the limit becomes a tooLarge rejection instead of trapping")
    func responseBound() throws {
        let big = [ControlResult](repeating: .timeouts(.defaults), count: 1000)
        let frame = ControlCodec.encodeResponseFrame(big, maxBody: 1024)
        let h = try ControlCodec.decodeHeader(Array(frame.prefix(12)), maxBody: .max)
        #expect(h.kind == .rejection)
        #expect(try ControlCodec.decodeRejection(body: Array(frame.dropFirst(12))).code == .tooLarge)
    }

    @Test("finding 2: ipvsadm's client refuses an endpoint owned by a user it does not trust")
    func untrustedEndpoint() throws {
        let t = try TestServer()
        let client = ControlClient(endpoint: t.endpoint)
        client.trustedServerUIDs = [4242]
        #expect(throws: ControlClientError.self) { try client.perform(.getInfo) }
        do {
            _ = try client.perform(.getInfo)
        } catch {
            guard case .untrusted(_, let uid) = error else {
                Issue.record("expected untrusted, got \(error)")
                return
            }
            #expect(uid == geteuid())
        }
        let trusting = ControlClient(endpoint: t.endpoint)
        #expect(try trusting.perform(.getTimeouts) == .timeouts(.defaults))
    }
}
