// A small JSON writer into bytes (no Foundation): objects, arrays, strings, numbers.

/// Writes JSON text. Commas are placed automatically: each value or key after the first in an
/// object or array gets one.
///
/// ```
///  var j = JSONWriter()
///  j.object { j.key("port"); j.value(80) }     // {"port":80}
/// ```
public struct JSONWriter {
    private let sink: ByteSink
    /// True right after `{`, `[` or a key: the next item takes no comma.
    private var fresh = true

    public init(capacity: Int = 4096) { sink = ByteSink(capacity: capacity) }

    /// The bytes written (a copy).
    public var bytes: [UInt8] { sink.array }
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func comma() {
        if !fresh { sink.byte(0x2C) }
        fresh = false
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        comma()
        sink.byte(0x7B)
        fresh = true
        body(&self)
        sink.byte(0x7D)
        fresh = false
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        comma()
        sink.byte(0x5B)
        fresh = true
        body(&self)
        sink.byte(0x5D)
        fresh = false
    }

    /// An object member's name; its value follows.
    public mutating func key(_ k: String) {
        comma()
        string(k)
        sink.byte(0x3A)
        fresh = true
    }

    public mutating func value(_ s: String) {
        comma()
        string(s)
    }

    public mutating func value(_ v: UInt64) {
        comma()
        appendDecimal(v)
    }

    public mutating func value(_ v: Int) {
        comma()
        if v < 0 { sink.byte(0x2D) }
        appendDecimal(v.magnitude.toUInt64)
    }

    public mutating func value(_ b: Bool) {
        comma()
        sink.bytes(b ? "true" : "false")
    }

    public mutating func value(_ d: Double) {
        comma()
        if !d.isFinite {
            sink.bytes("null")
        } else if d == d.rounded(), abs(d) < 1e15 {
            if d < 0 { sink.byte(0x2D) }
            appendDecimal(UInt64(abs(d)))
        } else {
            sink.bytes(d.description)
        }
    }

    public mutating func null() {
        comma()
        sink.bytes("null")
    }

    /// `"k": v` shorthands.
    public mutating func member(_ k: String, _ v: String) {
        key(k)
        value(v)
    }
    public mutating func member(_ k: String, _ v: UInt64) {
        key(k)
        value(v)
    }
    public mutating func member(_ k: String, _ v: Int) {
        key(k)
        value(v)
    }
    public mutating func member(_ k: String, _ v: Bool) {
        key(k)
        value(v)
    }
    public mutating func member(_ k: String, _ v: Double) {
        key(k)
        value(v)
    }

    private mutating func string(_ s: String) {
        sink.byte(0x22)
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) {
                if let p = u.baseAddress { sink.bytes(p, u.count) }
                return
            }
            for b in u {
                switch b {
                case 0x22: sink.bytes("\\\"")
                case 0x5C: sink.bytes("\\\\")
                case 0x0A: sink.bytes("\\n")
                case 0x0D: sink.bytes("\\r")
                case 0x09: sink.bytes("\\t")
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    sink.bytes([0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                default: sink.byte(b)
                }
            }
        }
        sink.byte(0x22)
    }

    private mutating func appendDecimal(_ v: UInt64) { sink.decimal(v) }
}

extension UInt {
    fileprivate var toUInt64: UInt64 { UInt64(self) }
}
