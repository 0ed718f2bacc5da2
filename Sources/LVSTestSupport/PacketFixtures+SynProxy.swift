// SYN proxy fixtures: {description, input frame, step, expected frame, verdict}, built with the
// packet builder independently of the transforms, and their runner.
import LVSCore
import LVSPacket

/// One step of the SYN proxy applied to a frame.
public enum SynProxyStep: Sendable {
    /// `SynProxy.answerSYN` with our TSval, MSS and window scale.
    case answerSYN(timestamp: UInt32, mss: UInt16, windowScale: UInt8)
    /// `SynProxy.checkACK` then `SynProxy.serverSYN`.
    case serverSYN
    /// `SynProxy.ackForServer` with a window.
    case ackForServer(window: UInt16)
    /// `SynProxy.translateInbound` / `translateOutbound`.
    case translateIn(SynProxyConnection)
    case translateOut(SynProxyConnection)
}

/// One row of the SYN proxy fixture table. `expected` nil: the step must refuse the frame.
public struct SynProxyFixture: Sendable {
    public var name: String
    public var input: [UInt8]
    public var step: SynProxyStep
    public var expected: [UInt8]?
}

extension PacketFixtures {
    /// The cookie keys and minute every fixture uses.
    public static let synKeys = SynCookieKeys(k0: 1, k1: 2, k2: 3, k3: 4)
    public static let synMinute: UInt32 = 1000

    static let spClient = Endpoint(IPAddress("203.0.113.7")!, 40000)
    static let spVIP = Endpoint(IPAddress("192.168.1.109")!, 80)
    static let spServer = Endpoint(IPAddress("192.168.0.112")!, 8080)
    static let spClient6 = Endpoint(IPAddress("2001:db8::7")!, 40000)
    static let spVIP6 = Endpoint(IPAddress("2001:db8:1::109")!, 80)

    static func tcpFrame(
        _ from: Endpoint, _ to: Endpoint, seq: UInt32, ack: UInt32, flags: UInt8, window: UInt16 = 65535,
        options: [UInt8] = [], payload: [UInt8] = [], ttl: UInt8 = 64, srcMAC: MACAddress = Macs.client,
        dstMAC: MACAddress = Macs.director, df: Bool = true
    ) -> [UInt8] {
        let seg = PacketBuilder.tcp(
            src: from.address, dst: to.address, sport: from.port, dport: to.port, seq: seq, ack: ack, flags: flags,
            window: window, options: options, payload: payload)
        switch (from.address, to.address) {
        case (.v4(let s), .v4(let d)):
            let ip = PacketBuilder.ipv4(src: s, dst: d, proto: 6, payload: seg, ttl: ttl, id: 0, dontFragment: df)
            return PacketBuilder.ethernet(dst: dstMAC, src: srcMAC, etherType: 0x0800, payload: ip)
        case (.v6(let s), .v6(let d)):
            let ip = PacketBuilder.ipv6(src: s, dst: d, nextHeader: 6, payload: seg, hopLimit: ttl)
            return PacketBuilder.ethernet(dst: dstMAC, src: srcMAC, etherType: 0x86DD, payload: ip)
        default:
            return []
        }
    }

    static func be32(_ v: UInt32) -> [UInt8] { PacketBuilder.be32(v) }
    static func mssOption(_ v: UInt16) -> [UInt8] { [2, 4] + PacketBuilder.be16(v) }
    /// The SYN/ACK the director answers a client's SYN with (from the VIP, director → client MACs).
    static func synACK(_ from: Endpoint, _ to: Endpoint, seq: UInt32, ack: UInt32, options: [UInt8]) -> [UInt8] {
        tcpFrame(
            from, to, seq: seq, ack: ack, flags: 0x12, options: options, srcMAC: Macs.director, dstMAC: Macs.client)
    }

    static func tsOption(_ val: UInt32, _ ecr: UInt32) -> [UInt8] { [8, 10] + be32(val) + be32(ecr) }

    static func cookie(_ c: Endpoint, _ v: Endpoint, isn: UInt32, _ o: SynProxyOptions) -> UInt32 {
        SynCookie.make(
            keys: synKeys, source: c.address, destination: v.address, sourcePort: c.port, destinationPort: v.port,
            clientISN: isn, minute: synMinute, options: o)
    }

    /// The SYN proxy table.
    public static var synProxy: [SynProxyFixture] {
        let linuxSYN = mssOption(1460) + [4, 2] + tsOption(111, 0) + [1, 3, 3, 7]
        let full = SynProxyOptions(mss: 1460, windowScale: 7, sack: true, timestamps: true)
        let c1 = cookie(spClient, spVIP, isn: 5000, full)
        let bare = SynProxyOptions(mss: 536, windowScale: nil, sack: false, timestamps: false)
        let c2 = cookie(spClient, spVIP, isn: 7, bare)
        let c6 = cookie(spClient6, spVIP6, isn: 9, bare)
        let established = SynProxyConnection(
            phase: .established, sequenceDelta: 0x1000, timestampDelta: 50, clientShift: 7, directorShift: 7,
            serverShift: 9, serverScaling: true, timestamps: true)
        // A server that answered without window scaling reads the client's windows unscaled.
        var unscaledServer = established
        unscaledServer.serverShift = 0
        unscaledServer.serverScaling = false
        return [
            SynProxyFixture(
                name:
                    "SYN (Linux options: MSS 1460, SACK, TS, WS 7) → SYN/ACK back: seq = cookie, ack = ISN+1, MSS, SACK, TS echo, WS 7",
                input: tcpFrame(spClient, spVIP, seq: 5000, ack: 0, flags: 0x02, options: linuxSYN),
                step: .answerSYN(timestamp: 77, mss: 1460, windowScale: 7),
                expected: synACK(
                    spVIP, spClient, seq: c1, ack: 5001,
                    options: mssOption(1460) + [4, 2] + tsOption(77, 111) + [1, 3, 3, 7])),
            SynProxyFixture(
                name: "SYN without options → SYN/ACK with MSS 536 and nothing else (RFC 9293 default MSS)",
                input: tcpFrame(spClient, spVIP, seq: 7, ack: 0, flags: 0x02),
                step: .answerSYN(timestamp: 77, mss: 1460, windowScale: 7),
                expected: synACK(spVIP, spClient, seq: c2, ack: 8, options: mssOption(536))),
            SynProxyFixture(
                name: "IPv6 SYN → SYN/ACK (hop limit 64)",
                input: tcpFrame(spClient6, spVIP6, seq: 9, ack: 0, flags: 0x02),
                step: .answerSYN(timestamp: 77, mss: 1440, windowScale: 7),
                expected: synACK(spVIP6, spClient6, seq: c6, ack: 10, options: mssOption(536))),
            SynProxyFixture(
                name: "SYN+ACK from a client is not a SYN: refused",
                input: tcpFrame(spClient, spVIP, seq: 7, ack: 1, flags: 0x12),
                step: .answerSYN(timestamp: 77, mss: 1460, windowScale: 7), expected: nil),
            SynProxyFixture(
                name:
                    "ACK of a valid cookie → SYN to the server: seq = client ISN, the client's options (TSval its latest)",
                input: tcpFrame(
                    spClient, spVIP, seq: 5001, ack: c1 &+ 1, flags: 0x10, window: 502,
                    options: [1, 1] + tsOption(112, 77)),
                step: .serverSYN,
                expected: tcpFrame(
                    spClient, spVIP, seq: 5000, ack: 0, flags: 0x02, window: 1024,
                    options: mssOption(1460) + [4, 2] + tsOption(112, 0) + [1, 3, 3, 7])),
            SynProxyFixture(
                name: "ACK of a cookie off by one: refused (forged)",
                input: tcpFrame(spClient, spVIP, seq: 5001, ack: c1 &+ 2, flags: 0x10),
                step: .serverSYN, expected: nil),
            SynProxyFixture(
                name: "ACK from another client port with a valid-looking cookie: refused (the hash covers the 4-tuple)",
                input: tcpFrame(Endpoint(spClient.address, 40001), spVIP, seq: 5001, ack: c1 &+ 1, flags: 0x10),
                step: .serverSYN, expected: nil),
            SynProxyFixture(
                name: "server SYN/ACK → ACK back to the server: seq = its ack, ack = its ISN+1, TSval/TSecr swapped",
                input: tcpFrame(
                    spServer, spClient, seq: 900, ack: 5001, flags: 0x12,
                    options: mssOption(1460) + [4, 2] + tsOption(4000, 112) + [1, 3, 3, 9], srcMAC: Macs.server,
                    dstMAC: Macs.directorInside),
                step: .ackForServer(window: 502),
                expected: tcpFrame(
                    spClient, spServer, seq: 5001, ack: 901, flags: 0x10, window: 502,
                    options: [1, 1] + tsOption(112, 4000),
                    srcMAC: Macs.directorInside, dstMAC: Macs.server)),
            SynProxyFixture(
                name:
                    "client → server: ack + Δ, SACK blocks + Δ, TSecr + Δts; a server without scaling reads the window ×2^7",
                input: tcpFrame(
                    spClient, spVIP, seq: 6000, ack: 100, flags: 0x10, window: 400,
                    options: [1, 1] + tsOption(120, 200) + [1, 1, 5, 10] + be32(150) + be32(160)),
                step: .translateIn(unscaledServer),
                expected: tcpFrame(
                    spClient, spVIP, seq: 6000, ack: 0x1000 + 100, flags: 0x10, window: 51200,
                    options: [1, 1] + tsOption(120, 250) + [1, 1, 5, 10] + be32(0x1000 + 150) + be32(0x1000 + 160))),
            SynProxyFixture(
                name:
                    "client → server with scaling on both sides: the window passes unchanged (the server reads it ×2^7 too)",
                input: tcpFrame(spClient, spVIP, seq: 6000, ack: 100, flags: 0x10, window: 400),
                step: .translateIn(established),
                expected: tcpFrame(spClient, spVIP, seq: 6000, ack: 0x1000 + 100, flags: 0x10, window: 400)),
            SynProxyFixture(
                name: "server → client: seq − Δ, TSval − Δts; window from the server's scale 9 to ours 7",
                input: tcpFrame(
                    spServer, spClient, seq: 0x1000 + 500, ack: 6000, flags: 0x18, window: 100,
                    options: [1, 1] + tsOption(250, 120), payload: Array("hello".utf8)),
                step: .translateOut(established),
                expected: tcpFrame(
                    spServer, spClient, seq: 500, ack: 6000, flags: 0x18, window: 400,
                    options: [1, 1] + tsOption(200, 120), payload: Array("hello".utf8))),
        ]
    }

    /// Runs one SYN proxy fixture; nil when the step refused the frame.
    public static func run(_ f: SynProxyFixture) -> [UInt8]? {
        var storage = [UInt8](repeating: 0, count: headroom + max(f.input.count, 200) + 64)
        return storage.withUnsafeMutableBytes { buf -> [UInt8]? in
            buf.baseAddress!.advanced(by: headroom).copyMemory(from: f.input, byteCount: f.input.count)
            var frame = Frame(buffer: buf, start: headroom, length: f.input.count)
            var info = PacketInfo()
            guard PacketParser.parse(frame.bytes, into: &info) == .ip else { return nil }
            switch f.step {
            case .answerSYN(let ts, let mss, let ws):
                guard
                    let n = SynProxy.answerSYN(
                        &frame, info, keys: synKeys, minute: synMinute, timestamp: ts, mss: mss, windowScale: ws)
                else { return nil }
                return Array(UnsafeRawBufferPointer(start: frame.data, count: n))
            case .serverSYN:
                guard let c = SynProxy.checkACK(frame.bytes, info, keys: synKeys, minute: synMinute) else { return nil }
                var out = [UInt8](repeating: 0, count: 256)
                let n = out.withUnsafeMutableBytes {
                    SynProxy.serverSYN(from: frame.bytes, info, c, into: $0.baseAddress!, capacity: 256)
                }
                return n == 0 ? nil : Array(out[0..<n])
            case .ackForServer(let w):
                guard let n = SynProxy.ackForServer(&frame, info, window: w) else { return nil }
                // The caller writes the link header toward the server.
                let p = frame.data
                for (i, b) in (PacketBuilder.mac(Macs.server) + PacketBuilder.mac(Macs.directorInside)).enumerated() {
                    p.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
                }
                return Array(UnsafeRawBufferPointer(start: frame.data, count: n))
            case .translateIn(let c):
                guard SynProxy.translateInbound(&frame, info, c) else { return nil }
                return Array(frame.bytes)
            case .translateOut(let c):
                guard SynProxy.translateOutbound(&frame, info, c) else { return nil }
                return Array(frame.bytes)
            }
        }
    }
}
