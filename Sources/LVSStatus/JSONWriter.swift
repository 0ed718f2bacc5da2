// A small JSON writer into bytes (no Foundation): objects, arrays, strings, numbers.

/// Writes JSON text. Commas are placed automatically: each value or key after the first in an
/// object or array gets one.
///
/// ```
///  var j = JSONWriter()
///  j.object { j.key("port"); j.value(80) }     // {"port":80}
/// ```
public struct JSONWriter {
    public internal(set) var bytes: [UInt8] = []
    /// True right after `{`, `[` or a key: the next item takes no comma.
    private var fresh = true

    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func comma() {
        if !fresh { bytes.append(0x2C) }
        fresh = false
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        comma()
        bytes.append(0x7B)
        fresh = true
        body(&self)
        bytes.append(0x7D)
        fresh = false
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        comma()
        bytes.append(0x5B)
        fresh = true
        body(&self)
        bytes.append(0x5D)
        fresh = false
    }

    /// An object member's name; its value follows.
    public mutating func key(_ k: String) {
        comma()
        string(k)
        bytes.append(0x3A)
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
        if v < 0 { bytes.append(0x2D) }
        appendDecimal(v.magnitude.toUInt64)
    }

    public mutating func value(_ b: Bool) {
        comma()
        bytes.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
    }

    public mutating func value(_ d: Double) {
        comma()
        if !d.isFinite {
            bytes.append(contentsOf: Array("null".utf8))
        } else if d == d.rounded(), abs(d) < 1e15 {
            if d < 0 { bytes.append(0x2D) }
            appendDecimal(UInt64(abs(d)))
        } else {
            bytes.append(contentsOf: Array(d.description.utf8))
        }
    }

    public mutating func null() {
        comma()
        bytes.append(contentsOf: Array("null".utf8))
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
        bytes.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22:
                bytes.append(0x5C)
                bytes.append(0x22)
            case 0x5C:
                bytes.append(0x5C)
                bytes.append(0x5C)
            case 0x0A:
                bytes.append(0x5C)
                bytes.append(0x6E)
            case 0x0D:
                bytes.append(0x5C)
                bytes.append(0x72)
            case 0x09:
                bytes.append(0x5C)
                bytes.append(0x74)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    private mutating func appendDecimal(_ v: UInt64) { LVSStatus.appendDecimal(v, to: &bytes) }
}

extension UInt {
    fileprivate var toUInt64: UInt64 { UInt64(self) }
}
