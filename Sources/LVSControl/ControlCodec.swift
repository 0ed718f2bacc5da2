// Encoding and decoding of whole frames: headers, request batches, result batches and rejections.
import LVSCore

/// A decoded frame header.
public struct ControlFrameHeader: Hashable, Sendable {
    public var version: UInt16
    public var kind: ControlFrameKind
    public var bodyLength: Int
}

/// Turns requests and results into frames and back. Decoding never traps: any malformed input
/// throws `ControlProtocolError`.
public enum ControlCodec {
    // MARK: header

    /// Parses and checks the 12-byte header; `maxBody` bounds the announced body length.
    public static func decodeHeader(_ bytes: [UInt8], maxBody: Int) throws(ControlProtocolError) -> ControlFrameHeader {
        guard bytes.count >= ControlProtocol.headerSize else {
            throw ControlProtocolError(.malformed, "truncated frame header")
        }
        guard Array(bytes[0..<4]) == ControlProtocol.magic else {
            throw ControlProtocolError(.badMagic, "not an lvsd control frame")
        }
        var r = ControlByteReader(bytes, from: 4)
        let version = try r.u16()
        let rawKind = try r.u16()
        let length = Int(try r.u32())
        guard version == ControlProtocol.version else {
            throw ControlProtocolError(
                .unsupportedVersion,
                "control protocol version \(version) is not supported (this side speaks \(ControlProtocol.version))")
        }
        guard let kind = ControlFrameKind(rawValue: rawKind) else {
            throw ControlProtocolError(.malformed, "bad frame kind \(rawKind)")
        }
        guard length <= maxBody else {
            throw ControlProtocolError(.tooLarge, "frame body of \(length) bytes exceeds the limit of \(maxBody)")
        }
        return ControlFrameHeader(version: version, kind: kind, bodyLength: length)
    }

    /// A frame of `kind` whose body `body` writes. A body larger than `maxBody` (default: what a
    /// client accepts, 512 MiB, far below the 4 GiB the length field holds) is replaced by a
    /// `tooLarge` rejection: no response can overflow the header or trap.
    static func frame(
        _ kind: ControlFrameKind, maxBody: Int = ControlProtocol.maxResponseBody,
        body: (inout ControlByteWriter) -> Void
    ) -> [UInt8] {
        var w = ControlByteWriter(reservingCapacity: 1024)
        writeHeader(kind, into: &w)
        body(&w)
        return finish(w, maxBody: maxBody)
    }

    /// Starts a frame: the 12 header bytes with a zero length.
    public static func writeHeader(_ kind: ControlFrameKind, into w: inout ControlByteWriter) {
        for b in ControlProtocol.magic { w.u8(b) }
        w.u16(ControlProtocol.version)
        w.u16(kind.rawValue)
        w.u32(0)
    }

    /// Ends a frame begun with `writeHeader`: patches its length, or gives a `tooLarge` rejection
    /// when the body exceeds `maxBody` (or what a u32 holds).
    public static func finish(_ w: ControlByteWriter, maxBody: Int = ControlProtocol.maxResponseBody) -> [UInt8] {
        let length = w.count - ControlProtocol.headerSize
        guard length <= maxBody, length <= Int(UInt32.max) else {
            return encodeRejectionFrame(
                ControlProtocolError(.tooLarge, "response of \(length) bytes exceeds the limit of \(maxBody)"))
        }
        var out = w
        out.patchU32(UInt32(length), at: 8)
        return out.bytes
    }

    // MARK: requests

    /// A request frame carrying `requests` in order.
    public static func encodeRequestFrame(_ requests: [ControlRequest]) -> [UInt8] {
        frame(.request) { w in w.list(requests) { w, r in encode(r, into: &w) } }
    }

    /// Appends one request's encoding (opcode + fields).
    public static func encode(_ r: ControlRequest, into w: inout ControlByteWriter) {
        w.u8(opcode(r))
        switch r {
        case .getInfo, .listServices, .getTimeouts, .getSyncDaemons, .listConnections, .flush, .getKnobs: break
        case .getService(let k), .deleteService(let k): w.serviceKey(k)
        case .addService(let s), .editService(let s): w.serviceSpec(s)
        case .addRealServer(let s, let k), .editRealServer(let s, let k):
            w.serviceKey(k)
            w.realServerSpec(s)
        case .deleteRealServer(let e, let k):
            w.serviceKey(k)
            w.endpoint(e)
        case .zero(let k):
            if let k {
                w.u8(1)
                w.serviceKey(k)
            } else {
                w.u8(0)
            }
        case .setTimeouts(let t): w.timeouts(t)
        case .startSyncDaemon(let d): w.syncDaemon(d)
        case .stopSyncDaemon(let role): w.role(role)
        case .addLocalAddress(let a, let k), .deleteLocalAddress(let a, let k):
            w.serviceKey(k)
            w.address(a)
        case .setKnob(let name, let value):
            w.string(name)
            w.string(value)
        }
    }

    /// The operation's opcode: 0x01… reads, 0x20… changes.
    static func opcode(_ r: ControlRequest) -> UInt8 {
        switch r {
        case .getInfo: 0x01
        case .listServices: 0x02
        case .getService: 0x03
        case .getTimeouts: 0x04
        case .getSyncDaemons: 0x05
        case .listConnections: 0x06
        case .getKnobs: 0x07
        case .addService: 0x20
        case .editService: 0x21
        case .deleteService: 0x22
        case .flush: 0x23
        case .addRealServer: 0x24
        case .editRealServer: 0x25
        case .deleteRealServer: 0x26
        case .zero: 0x27
        case .setTimeouts: 0x28
        case .startSyncDaemon: 0x29
        case .stopSyncDaemon: 0x2A
        case .addLocalAddress: 0x2B
        case .deleteLocalAddress: 0x2C
        case .setKnob: 0x2D
        }
    }

    /// Decodes a request body (everything after the header).
    public static func decodeRequests(body: [UInt8]) throws(ControlProtocolError) -> [ControlRequest] {
        var r = ControlByteReader(body)
        let out = try r.list("operations", minimumElementSize: 1, limit: ControlProtocol.maxOperationsPerRequest) {
            r throws(ControlProtocolError) in try decodeRequest(&r)
        }
        guard !out.isEmpty else { throw ControlProtocolError(.malformed, "empty request") }
        try r.expectEnd()
        return out
    }

    static func decodeRequest(_ r: inout ControlByteReader) throws(ControlProtocolError) -> ControlRequest {
        switch try r.u8("opcode") {
        case 0x01: return .getInfo
        case 0x02: return .listServices
        case 0x03: return .getService(try r.serviceKey())
        case 0x04: return .getTimeouts
        case 0x05: return .getSyncDaemons
        case 0x06: return .listConnections
        case 0x07: return .getKnobs
        case 0x2D:
            let name = try r.string("knob name")
            return .setKnob(name: name, value: try r.string("knob value"))
        case 0x20: return .addService(try r.serviceSpec())
        case 0x21: return .editService(try r.serviceSpec())
        case 0x22: return .deleteService(try r.serviceKey())
        case 0x23: return .flush
        case 0x24:
            let k = try r.serviceKey()
            return .addRealServer(try r.realServerSpec(), k)
        case 0x25:
            let k = try r.serviceKey()
            return .editRealServer(try r.realServerSpec(), k)
        case 0x26:
            let k = try r.serviceKey()
            return .deleteRealServer(try r.endpoint(), k)
        case 0x27: return .zero(try r.bool("service present") ? try r.serviceKey() : nil)
        case 0x28: return .setTimeouts(try r.timeouts())
        case 0x29: return .startSyncDaemon(try r.syncDaemon())
        case 0x2A: return .stopSyncDaemon(try r.role())
        case 0x2B:
            let k = try r.serviceKey()
            return .addLocalAddress(try r.address(), k)
        case 0x2C:
            let k = try r.serviceKey()
            return .deleteLocalAddress(try r.address(), k)
        case let op: throw ControlProtocolError(.malformed, "unknown opcode 0x\(String(op, radix: 16))")
        }
    }

    // MARK: results

    /// A response frame carrying `results` in order (a `tooLarge` rejection instead when the body
    /// would exceed `maxBody`).
    public static func encodeResponseFrame(_ results: [ControlResult], maxBody: Int = ControlProtocol.maxResponseBody)
        -> [UInt8]
    {
        frame(.response, maxBody: maxBody) { w in w.list(results) { w, r in encode(r, into: &w) } }
    }

    /// Appends one result's encoding (tag + fields).
    public static func encode(_ r: ControlResult, into w: inout ControlByteWriter) {
        w.u8(tag(r))
        switch r {
        case .ok: break
        case .failure(let e): w.ipvsError(e)
        case .info(let i): w.info(i)
        case .services(let list): w.list(list) { w, s in w.serviceEntry(s) }
        case .service(let s): w.serviceEntry(s)
        case .timeouts(let t): w.timeouts(t)
        case .syncDaemons(let list): w.list(list) { w, d in w.syncDaemon(d) }
        case .connections(let list): w.list(list) { w, c in w.connection(c) }
        case .knobs(let list):
            w.list(list) { w, k in
                w.string(k.name)
                w.string(k.value)
            }
        }
    }

    /// The result's tag byte.
    static func tag(_ r: ControlResult) -> UInt8 {
        switch r {
        case .ok: 0
        case .failure: 1
        case .info: 2
        case .services: 3
        case .service: 4
        case .timeouts: 5
        case .syncDaemons: 6
        case .connections: 7
        case .knobs: 8
        }
    }

    /// Decodes a response body into exactly `expected` results.
    public static func decodeResults(body: [UInt8], expected: Int) throws(ControlProtocolError) -> [ControlResult] {
        var r = ControlByteReader(body)
        let n = try r.count("results", minimumElementSize: 1)
        guard n == expected else {
            throw ControlProtocolError(.malformed, "\(n) results for \(expected) operations")
        }
        var out: [ControlResult] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try decodeResult(&r)) }
        try r.expectEnd()
        return out
    }

    static func decodeResult(_ r: inout ControlByteReader) throws(ControlProtocolError) -> ControlResult {
        switch try r.u8("result tag") {
        case 0: return .ok
        case 1: return .failure(try r.ipvsError())
        case 2: return .info(try r.info())
        case 3:
            return .services(
                try r.list("services", minimumElementSize: 100) { r throws(ControlProtocolError) in try r.serviceEntry()
                })
        case 4: return .service(try r.serviceEntry())
        case 5: return .timeouts(try r.timeouts())
        case 6:
            return .syncDaemons(
                try r.list("sync daemons", minimumElementSize: 10) { r throws(ControlProtocolError) in
                    try r.syncDaemon()
                })
        case 7:
            return .connections(
                try r.list("connections", minimumElementSize: 30) { r throws(ControlProtocolError) in try r.connection()
                })
        case 8:
            return .knobs(
                try r.list("knobs", minimumElementSize: 4) { r throws(ControlProtocolError) in
                    let name = try r.string("knob name")
                    return KnobValue(name: name, value: try r.string("knob value"))
                })
        case let t: throw ControlProtocolError(.malformed, "bad result tag \(t)")
        }
    }

    // MARK: rejections

    /// A rejection frame: the whole request could not be served.
    public static func encodeRejectionFrame(_ e: ControlProtocolError) -> [UInt8] {
        frame(.rejection) { w in
            w.u16(e.code.rawValue)
            w.string(e.message)
        }
    }

    /// Decodes a rejection body back into the error it carries.
    public static func decodeRejection(body: [UInt8]) throws(ControlProtocolError) -> ControlProtocolError {
        var r = ControlByteReader(body)
        let raw = try r.u16("rejection code")
        let message = try r.string("rejection message")
        try r.expectEnd()
        return ControlProtocolError(ControlProtocolError.Code(rawValue: raw) ?? .malformed, message)
    }
}
