// The control protocol codec: every request and result round-trips; random bytes never crash it.
import LVSControl
import LVSCore
import Testing

@Suite("control protocol codec")
struct ControlCodecTests {
    static let sampleService = VirtualServiceEntry(
        spec: VirtualServiceSpec(
            key: tcp("10.0.0.1", 80), scheduler: "sh", flags: [.persistent, .scheduler2], persistenceTimeout: 300,
            netmask: 0xFFFF_FF00, persistenceEngine: "sip"),
        realServers: [
            server(
                "192.168.1.2", 80, .tunnel(TunnelSpec(type: .gue, port: 6080, flags: .remoteChecksum)), weight: 7,
                active: 1, inactive: 2, persistent: 3, upper: 4, lower: 5,
                counters: IPVSCounters(connections: 1, inPackets: 2, outPackets: 3, inBytes: 4, outBytes: .max),
                rates: IPVSRates(cps: 5, inPPS: 6, outPPS: 7, inBPS: 8, outBPS: 9)),
            server("2001:db8::2", 8080, .fullNAT, weight: 0),
        ],
        counters: IPVSCounters(connections: 10), rates: IPVSRates(outBPS: 11), localAddresses: [v4("10.9.9.9")])

    static let requests: [ControlRequest] = [
        .getInfo, .listServices, .getService(.firewallMark(7, .inet6)), .getTimeouts, .getSyncDaemons, .listConnections,
        .addService(sampleService.spec), .editService(VirtualServiceSpec(key: .endpoint(.sctp, ep("2001:db8::1", 9)))),
        .deleteService(udp("10.0.0.1", 53)), .flush,
        .addRealServer(
            RealServerSpec(endpoint: ep("1.2.3.4", 0), forwarding: .masquerade, weight: 65535), tcp("1.1.1.1", 1)),
        .editRealServer(RealServerSpec(endpoint: ep("1.2.3.4", 0), forwarding: .local), .firewallMark(1, .inet)),
        .deleteRealServer(ep("1.2.3.4", 80), tcp("1.1.1.1", 80)), .zero(nil), .zero(tcp("1.1.1.1", 80)),
        .setTimeouts(IPVSTimeouts(tcp: 1, tcpFin: 2, udp: 3)),
        .startSyncDaemon(
            SyncDaemonSpec(
                role: .backup, multicastInterface: "eth1", syncID: 200, maxLength: 1400, group: v4("224.0.0.81"),
                port: 8848, ttl: 2)),
        .stopSyncDaemon(.master), .addLocalAddress(v4("10.9.9.9"), tcp("1.1.1.1", 80)),
        .deleteLocalAddress(v4("2001:db8::9"), .firewallMark(3, .inet6)),
    ]

    static let results: [ControlResult] = [
        .ok, .failure(IPVSError(.schedulerNotFound, detail: "scheduler xyz")), .failure(IPVSError(.outOfRange)),
        .info(IPVSInfo(connectionTableSize: 65536, serviceCount: 3)), .services([sampleService, sampleService]),
        .service(sampleService), .timeouts(.defaults),
        .syncDaemons([SyncDaemonSpec(role: .master), SyncDaemonSpec(role: .backup, group: v4("ff02::1"))]),
        .connections([
            ConnectionEntry(
                protocolName: "UDP", client: ep("10.0.0.9", 5060), virtual: ep("10.0.0.1", 5060),
                destination: ep("192.168.1.2", 5060), state: "UDP", expiresInSeconds: 300, isTemplate: true,
                persistenceEngine: "sip", persistenceEngineData: "call-id")
        ]),
    ]

    @Test("every request round-trips through a request frame")
    func requestsRoundTrip() throws {
        let frame = ControlCodec.encodeRequestFrame(Self.requests)
        let h = try ControlCodec.decodeHeader(frame, maxBody: ControlProtocol.maxRequestBody)
        #expect(h.kind == .request && h.version == 1 && h.bodyLength == frame.count - 12)
        #expect(try ControlCodec.decodeRequests(body: Array(frame[12...])) == Self.requests)
    }

    @Test("every result round-trips through a response frame")
    func resultsRoundTrip() throws {
        let frame = ControlCodec.encodeResponseFrame(Self.results)
        #expect(try ControlCodec.decodeHeader(frame, maxBody: 1 << 20).kind == .response)
        #expect(try ControlCodec.decodeResults(body: Array(frame[12...]), expected: Self.results.count) == Self.results)
    }

    @Test("headers: bad magic, other version, oversized body, unknown kind are refused with their codes")
    func headers() {
        var frame = ControlCodec.encodeRequestFrame([.getInfo])
        func code(_ f: [UInt8], max: Int = 1024) -> ControlProtocolError.Code? {
            do {
                _ = try ControlCodec.decodeHeader(f, maxBody: max)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(frame) == nil)
        #expect(code(frame, max: 0) == .tooLarge)
        frame[5] = 2
        #expect(code(frame) == .unsupportedVersion)
        frame[5] = 1
        frame[7] = 9
        #expect(code(frame) == .malformed)
        frame[0] = 0x47
        #expect(code(frame) == .badMagic)
        #expect(code([1, 2, 3]) == .malformed)
    }

    @Test("truncations, trailing bytes, forged counts and unknown tags are malformed, never a crash")
    func malformedBodies() {
        let body = Array(ControlCodec.encodeRequestFrame(Self.requests)[12...])
        for cut in 0..<body.count {
            #expect(throws: ControlProtocolError.self) { try ControlCodec.decodeRequests(body: Array(body[..<cut])) }
        }
        #expect(throws: ControlProtocolError.self) { try ControlCodec.decodeRequests(body: body + [0]) }
        // A forged count of 4 billion operations in a 5-byte body.
        #expect(throws: ControlProtocolError.self) {
            try ControlCodec.decodeRequests(body: [0xFF, 0xFF, 0xFF, 0xFF, 1])
        }
        #expect(throws: ControlProtocolError.self) { try ControlCodec.decodeRequests(body: [0, 0, 0, 1, 0x7F]) }
        #expect(throws: ControlProtocolError.self) { try ControlCodec.decodeRequests(body: [0, 0, 0, 0]) }
        let results = Array(ControlCodec.encodeResponseFrame(Self.results)[12...])
        for cut in stride(from: 0, to: results.count, by: 7) {
            #expect(throws: ControlProtocolError.self) {
                try ControlCodec.decodeResults(body: Array(results[..<cut]), expected: Self.results.count)
            }
        }
    }

    @Test("fuzz: 20 000 random and mutated bodies decode or throw, nothing traps")
    func fuzz() {
        var rng = SplitMix64(seed: 0x5EED_1234)
        let valid = Array(ControlCodec.encodeRequestFrame(Self.requests)[12...])
        let validResults = Array(ControlCodec.encodeResponseFrame(Self.results)[12...])
        var decoded = 0
        for i in 0..<20_000 {
            var body: [UInt8]
            switch i % 3 {
            case 0:
                body = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                body = valid
                for _ in 0..<(1 + Int(rng.next() % 8)) {
                    body[Int(rng.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            default:
                body = validResults
                for _ in 0..<(1 + Int(rng.next() % 8)) {
                    body[Int(rng.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if (try? ControlCodec.decodeRequests(body: body)) != nil { decoded += 1 }
            _ = try? ControlCodec.decodeResults(body: body, expected: Self.results.count)
            _ = try? ControlCodec.decodeRejection(body: body)
            _ = try? ControlCodec.decodeHeader(body, maxBody: 1 << 20)
        }
        #expect(decoded > 0, "some mutations still decode (e.g. a changed port)")
    }

    @Test("endpoints: @name is abstract, anything else a path; LVSD_CONTROL overrides the default")
    func endpoints() throws {
        #expect(ControlEndpoint(parsing: "@lvsd-a") == .abstract("lvsd-a"))
        #expect(ControlEndpoint(parsing: "/run/lvsd.sock") == .path("/run/lvsd.sock"))
        #expect(ControlEndpoint(parsing: "@") == nil)
        #expect(ControlEndpoint(parsing: "") == nil)
        #expect(ControlEndpoint(parsing: String(repeating: "x", count: 108)) == nil)
        #expect(try ControlEndpoint.resolve(environment: [:]) == .abstract("swiftlvs-lvsd"))
        #expect(try ControlEndpoint.resolve(environment: ["LVSD_CONTROL": "/tmp/x"]) == .path("/tmp/x"))
        #expect(try ControlEndpoint.resolve(override: "@y", environment: ["LVSD_CONTROL": "/tmp/x"]) == .abstract("y"))
        #expect(throws: ControlEndpointError.self) { try ControlEndpoint.resolve(environment: ["LVSD_CONTROL": ""]) }
    }
}

/// A small deterministic random generator for the fuzz test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
