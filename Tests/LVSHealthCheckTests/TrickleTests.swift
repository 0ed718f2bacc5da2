// Review finding 11: a server that trickles its reply cannot keep a check from being judged, and a
// long header is not rescanned from its start on every chunk.
import Foundation
import Glibc
import LVSCore
import LVSHealthCheckLinux
import Testing

@Suite("health-check deadlines (finding 11)")
struct TrickleTests {
    /// Answers with a header that never ends, one byte every 50 ms.
    static func trickler() -> LocalTCPServer {
        LocalTCPServer { c, _ in
            _ = LocalTCPServer.readRequest(c)
            LocalTCPServer.send(c, "HTTP/1.0 200 OK\r\n")
            for _ in 0..<200 {
                usleep(50_000)
                guard Glibc.send(c, "X", 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
            }
        }
    }

    @Test("HTTP_GET: a reply trickled byte by byte fails at connect_timeout, not when the server stops")
    func trickle() {
        let server = Self.trickler()
        defer { server.stop() }
        let start = ContinuousClock.now
        let o = LinuxHealthProbe.runBlocking(
            request("HTTP_GET {\nurl {\npath /\n}\n}", port: server.port, timeout: .seconds(1)))
        let took = ContinuousClock.now - start
        #expect(!o.success)
        #expect(o.timedOut)
        #expect(took < .seconds(3), "took \(took)")
    }

    @Test("the header end is found by scanning each byte once, however the reply is chunked")
    func incrementalHeaderEnd() throws {
        var chunks: [[UInt8]] = Array(repeating: Array("a".utf8), count: 5000)
        chunks.append(Array("\r".utf8))
        chunks.append(Array("\n\r".utf8))
        chunks.append(Array("\nbody".utf8))
        var i = 0
        let reply = try HTTPCheckTesting.parse {
            defer { i += 1 }
            return i < chunks.count ? chunks[i] : []
        }
        #expect(reply?.bodyBytes == 4)
        // Each byte looked at about once (a terminator straddling chunks costs 3 more per chunk),
        // not 5000²/2 times.
        #expect(reply?.scannedBytes ?? .max <= 5004 + 3 * chunks.count)
    }
}
