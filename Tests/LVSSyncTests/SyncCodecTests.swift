// The sync wire format against fixtures built from the kernel's layouts, tshark's decoding, and bad input.
import Foundation
import LVSCore
import LVSSync
import LVSTestSupport
import Testing

@Suite struct SyncCodecTests {
    func encode(_ f: SyncFixture, key: SyncKey? = nil) -> [[UInt8]] {
        var b = SyncMessageBuilder(syncID: f.syncID, maximumLength: 1472, version: f.version, key: key)
        var out: [[UInt8]] = []
        for c in f.connections {
            if let m = b.append(c, version: f.version, now: .zero) { out.append(m) }
        }
        if let m = b.finish() { out.append(m) }
        return out
    }

    func decode(_ bytes: [UInt8], syncID: UInt8 = 0, key: SyncKey? = nil, maximumLength: Int = 0) -> Result<
        SyncDatagram, SyncError
    > {
        bytes.withUnsafeBytes { SyncDecoder(syncID: syncID, key: key, maximumLength: maximumLength).decode($0) }
    }

    @Test(
        "K:ip_vs_sync.c layouts: each fixture encodes to the kernel's bytes and decodes back (flags masked by IP_VS_CONN_F_BACKUP_MASK, SYNC set)",
        arguments: SyncFixtures.all.map(\.name))
    func fixture(_ name: String) throws {
        let f = SyncFixtures.all.first { $0.name == name }!
        let messages = encode(f)
        #expect(
            messages == [f.bytes], "\(messages.map { $0.map { String(format: "%02x", $0) }.joined(separator: " ") })")
        guard case .success(.connections(let m)) = decode(f.bytes) else {
            Issue.record("\(decode(f.bytes))")
            return
        }
        #expect(m.version == f.version && m.syncID == f.syncID)
        #expect(m.connections == (f.decoded ?? f.connections.map(\.asReceived)))
    }

    /// tshark 4.0's IPVS dissector reads entries at fixed 36-byte steps (it does not skip options)
    /// and takes type 2 for IPv6, where the kernel sets bit 0 (`STYPE_F_INET6`): the fixtures with
    /// options or IPv6 are checked against the kernel's layouts only.
    static let tsharkFixtures = [0, 1, 4]

    @Test("Debian's tshark decodes the option-free fixtures (v1 and v0) as IPVS sync messages with the same fields")
    func tsharkAgrees() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/text2pcap")
        else { return }
        let dir = NSTemporaryDirectory() + "swiftlvs-sync-tshark-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // One UDP datagram per fixture, to port 8848 (tshark's IPVS dissector port).
        var dump = ""
        for f in Self.tsharkFixtures.map({ SyncFixtures.all[$0] }) {
            dump += "000000 " + f.bytes.map { String(format: "%02x", $0) }.joined(separator: " ") + "\n"
        }
        try dump.write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        try run(["/usr/bin/text2pcap", "-q", "-u", "40000,8848", dir + "/in.txt", dir + "/sync.pcap"])
        let out = try run([
            "/usr/bin/tshark", "-r", dir + "/sync.pcap", "-T", "fields", "-E", "separator=;", "-e", "ipvs.syncid",
            "-e", "ipvs.conncount", "-e", "ipvs.cport", "-e", "ipvs.vport", "-e", "ipvs.caddr", "-e", "ipvs.daddr",
            "-e", "ipvs.caddr6", "-e", "ipvs.timeout", "-e", "ipvs.fwmark",
        ])
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == Self.tsharkFixtures.count, "\(out)")
        guard lines.count == 3 else { return }
        // Fixture 1: syncid 7, one entry 10.0.0.5:51234 → 192.168.0.240:80 → .223, timeout 900.
        #expect(lines[0].hasPrefix("7;1;51234;80;10.0.0.5;192.168.0.223;;900"), "\(lines[0])")
        #expect(lines[1].contains("10.0.0.5,10.0.0.5") && lines[1].contains("900,360"), "\(lines[1])")
        #expect(lines[2].hasPrefix("3;2;51234,0;80,80;10.0.0.5,10.0.0.5"), "\(lines[2])")
    }

    @discardableResult
    func run(_ argv: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("K:ip_vs_sync_conn: a message is full at sync_maxlen (1472: 40 IPv4 entries), the next entry starts another")
    func messageSize() {
        var b = SyncMessageBuilder(syncID: 1, maximumLength: 1472)
        var messages: [[UInt8]] = []
        for i in 0..<41 {
            var c = SyncFixtures.established
            c.clientPort = UInt16(1000 + i)
            if let m = b.append(c, version: 1, now: .zero) { messages.append(m) }
        }
        #expect(messages.count == 1)
        #expect(messages[0].count == 8 + 40 * 36 && messages[0][4] == 40)
        #expect(b.count == 1)
        // A first entry larger than sync_maxlen still gets a message of its own.
        var small = SyncMessageBuilder(syncID: 1, maximumLength: 20)
        #expect(small.append(SyncFixtures.udp6, version: 1, now: .zero) == nil)
        #expect(small.finish()?.count == 8 + 72)
        // SwiftLVS: at most 255 entries, whatever sync_maxlen (the count is one byte).
        var big = SyncMessageBuilder(syncID: 1, maximumLength: 65507)
        var first: [UInt8]? = nil
        for i in 0..<256 {
            var c = SyncFixtures.established
            c.clientPort = UInt16(i)
            if let m = big.append(c, version: 1, now: .zero) { first = m }
        }
        #expect(first?[4] == 255)
    }

    @Test("K:ip_vs_sync_conn: switching sync_version sends the buffer of the other version first; v0 skips IPv6")
    func versionSwitch() {
        var b = SyncMessageBuilder(syncID: 1, maximumLength: 1472)
        #expect(b.append(SyncFixtures.established, version: 1, now: .zero) == nil)
        let sent = b.append(SyncFixtures.established, version: 0, now: .zero)
        #expect(sent?.count == 44 && sent?[5] == 1)
        #expect(b.append(SyncFixtures.udp6, version: 0, now: .zero) == nil)
        #expect(
            b.finish() == [1, 1, 0, 28]
                + SyncFixture.bytes("00 06 c8 22 00 50 00 50 0a 00 00 05 c0 a8 00 f0 c0 a8 00 df 00 83 00 01"))
    }

    /// Bad input, each with the reason it is dropped for (K:ip_vs_process_message's checks).
    static let bad: [(String, String, SyncError.Code)] = [
        ("empty", "", .headerTooShort),
        ("three bytes", "00 00 00", .headerTooShort),
        ("size larger than the datagram", "00 00 00 30 01 01 00 00", .sizeMismatch),
        ("size smaller than the datagram", "00 00 00 04 00 01 00 00", .sizeMismatch),
        ("v1: count 1, no entry", "00 00 00 08 01 01 00 00", .truncatedEntry),
        ("v1: count 2, one entry", "00 00 00 2c 02 01 00 00" + Self.entry, .truncatedEntry),
        (
            "v1: entry size past the end", "00 00 00 2c 01 01 00 00 00 06 00 30" + Self.entry.dropFirst(12),
            .entryBeyondMessage
        ),
        ("v1: entry version 1", "00 00 00 2c 01 01 00 00 00 06 10 24" + Self.entry.dropFirst(12), .unknownEntryVersion),
        ("v1: entry type 2", "00 00 00 2c 01 01 00 00 02 06 00 24" + Self.entry.dropFirst(12), .unknownEntryType),
        ("v1: entry size below 36", "00 00 00 2c 01 01 00 00 00 06 00 20" + Self.entry.dropFirst(12), .truncatedEntry),
        (
            "v1: IPv6 type in a 36-byte entry", "00 00 00 2c 01 01 00 00 01 06 00 24" + Self.entry.dropFirst(12),
            .truncatedEntry
        ),
        (
            "v1: option header cut", "00 00 00 30 01 01 00 00 00 06 00 25" + Self.entry.dropFirst(12) + "01 00 00 00",
            .badOption
        ),
        (
            "v1: option of length 0", "00 00 00 30 01 01 00 00 00 06 00 26" + Self.entry.dropFirst(12) + "02 00 00 00",
            .badOption
        ),
        (
            "v1: option past the entry",
            "00 00 00 30 01 01 00 00 00 06 00 28" + Self.entry.dropFirst(12) + "02 05 00 00", .badOption
        ),
        (
            "v1: sequence option of 4 bytes",
            "00 00 00 34 01 01 00 00 00 06 00 2a" + Self.entry.dropFirst(12) + "01 04 00 00 00 00 00 00", .badOption
        ),
        (
            "v1: engine name of 17 bytes",
            "00 00 00 40 01 01 00 00 00 06 00 37" + Self.entry.dropFirst(12) + "03 11"
                + String(repeating: " 41", count: 17) + " 00", .badOption
        ),
        (
            "v1: engine data twice",
            "00 00 00 34 01 01 00 00 00 06 00 2c" + Self.entry.dropFirst(12) + "02 01 41 02 01 42 00 00", .badOption
        ),
        (
            "v0: count 2, one entry",
            "02 00 00 1c 00 06 c8 22 00 50 00 50 0a 00 00 05 c0 a8 00 f0 c0 a8 00 df 00 83 00 01", .truncatedEntry
        ),
        (
            "v0: sequence flags without the sequence bytes",
            "01 00 00 1c 00 06 c8 22 00 50 00 50 0a 00 00 05 c0 a8 00 f0 c0 a8 00 df 06 83 00 01", .truncatedEntry
        ),
    ]
    static let entry =
        " 00 06 00 24 00 00 00 83 00 01 c8 22 00 50 00 50 00 00 00 00 00 00 03 84 0a 00 00 05 c0 a8 00 f0 c0 a8 00 df"

    @Test(
        "Bad input: truncated, inconsistent sizes, counts past the end, unknown versions and types, bad options → dropped with a reason, never a trap",
        arguments: bad.indices)
    func badInput(_ i: Int) {
        let (name, hex, code) = Self.bad[i]
        let r = decode(SyncFixture.bytes(hex))
        guard case .failure(let e) = r else {
            Issue.record("\(name): \(r)")
            return
        }
        #expect(e.code == code, "\(name): \(e)")
    }

    @Test(
        "K:ip_vs_process_message: a backup with sync id 0 accepts every id; with another id it drops them; longer than sync_maxlen → oversized"
    )
    func syncIDFilter() {
        let m = SyncFixtures.all[0].bytes  // syncid 7
        if case .success = decode(m, syncID: 0) {} else { Issue.record("id 0 must accept") }
        if case .success = decode(m, syncID: 7) {} else { Issue.record("id 7 must accept") }
        if case .failure(let e) = decode(m, syncID: 8) { #expect(e.code == .wrongSyncID) } else { Issue.record("id 8") }
        if case .failure(let e) = decode(m, maximumLength: 40) {
            #expect(e.code == .oversized)
        } else {
            Issue.record("len")
        }
    }

    @Test(
        "K:ip_vs_proc_sync_conn: an unknown mandatory option skips its entry only; an unknown optional one (bit 7) is ignored"
    )
    func unknownOptions() {
        let mandatory = SyncFixture.bytes(
            "00 00 00 54 02 01 00 00 00 06 00 28" + Self.entry.dropFirst(12) + "09 02 00 00" + Self.entry)
        guard case .success(.connections(let m)) = decode(mandatory) else {
            Issue.record("\(decode(mandatory))")
            return
        }
        #expect(m.connections.count == 1 && m.skippedEntries == 1)
        let optional = SyncFixture.bytes(
            "00 00 00 30 01 01 00 00 00 06 00 28" + Self.entry.dropFirst(12) + "89 02 00 00")
        guard case .success(.connections(let o)) = decode(optional) else {
            Issue.record("\(decode(optional))")
            return
        }
        #expect(o.connections == [SyncFixtures.established.asReceived] && o.skippedEntries == 0)
    }

    @Test(
        "K:ip_vs_sync.c: entries after the announced count (a SwiftLVS trailer) are ignored, as the kernel ignores them"
    )
    func trailingBytesIgnored() {
        var key = SyncKey(Array("s3cret".utf8))
        let signed = encode(SyncFixtures.all[1], key: key)[0]
        #expect(signed.count == SyncFixtures.all[1].bytes.count + SyncTrailer.size)
        // Without a key: decoded like the kernel, trailer ignored.
        guard case .success(.connections(let m)) = decode(signed) else {
            Issue.record("\(decode(signed))")
            return
        }
        #expect(m.connections.count == 2)
        // With the key: accepted and the trailer read; another key or no trailer: unauthenticated.
        guard case .success(.connections(let a)) = decode(signed, key: key) else {
            Issue.record("signed")
            return
        }
        #expect(a.trailer != nil && a.connections.count == 2)
        key = SyncKey(Array("other".utf8))
        if case .failure(let e) = decode(signed, key: key) {
            #expect(e.code == .unauthenticated)
        } else {
            Issue.record("k")
        }
        if case .failure(let e) = decode(SyncFixtures.all[1].bytes, key: key) {
            #expect(e.code == .unauthenticated)
        } else {
            Issue.record("unsigned")
        }
        // One flipped bit anywhere: unauthenticated.
        var flipped = signed
        flipped[20] ^= 1
        if case .failure(let e) = decode(flipped, key: SyncKey(Array("s3cret".utf8))) {
            #expect(e.code == .unauthenticated)
        } else {
            Issue.record("flipped")
        }
    }

    @Test("HMAC-SHA-256 matches RFC 4231 test case 2")
    func hmacVector() {
        let key = SyncKey(Array("Jefe".utf8))
        let mac = Array("what do ya want for nothing?".utf8).withUnsafeBytes { key.authenticate($0) }
        #expect(
            mac.map { String(format: "%02x", $0) }.joined()
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("Control messages (bulk resync): kernels read them as version 0 with no entries; SwiftLVS decodes them")
    func controlMessages() {
        let req = SyncControlMessage(kind: .bulkRequest, syncID: 5, nonce: 0xDEAD_BEEF).encode()
        #expect(req.count == 20 && req[0] == 0 && req[4] == 0 && req[5] != 1)
        guard case .success(.control(let c, _)) = decode(req) else {
            Issue.record("\(decode(req))")
            return
        }
        #expect(c == SyncControlMessage(kind: .bulkRequest, syncID: 5, nonce: 0xDEAD_BEEF))
        var bad = req
        bad[8] = 9
        if case .failure(let e) = decode(bad) { #expect(e.code == .badControl) } else { Issue.record("kind 9") }
    }

    @Test("Fuzz smoke: 200 000 random and mutated datagrams decode or drop, never trap")
    func fuzzSmoke() {
        var rng = SystemRandomNumberGenerator()
        let seeds = SyncFixtures.all.map(\.bytes)
        let key = SyncKey([1, 2, 3])
        for i in 0..<200_000 {
            var m: [UInt8]
            if i % 2 == 0 {
                m = seeds[i % seeds.count]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let j = Int.random(in: 0..<m.count, using: &rng)
                    m[j] = UInt8.random(in: 0...255, using: &rng)
                }
                if i % 6 == 0 { m = Array(m.prefix(Int.random(in: 0...m.count, using: &rng))) }
                // Keep the size field consistent half of the time so deeper checks run.
                if i % 4 == 0 && m.count >= 4 {
                    m[2] = UInt8(m.count >> 8)
                    m[3] = UInt8(m.count & 0xFF)
                }
            } else {
                m = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            _ = decode(m)
            _ = decode(m, syncID: 3, key: key)
        }
    }
}
