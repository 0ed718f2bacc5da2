// A small JSON writer into bytes (no Foundation): objects, arrays, strings, numbers.

/// Writes JSON text. Commas are placed automatically: each value or key after the first in an
/// object or array gets one.
///
/// ```
///  var j = JSONWriter()
///  j.object { j.key("port"); j.value(80) }     // {"port":80}
/// ```
public struct JSONWriter {
    fileprivate let sink: ByteSink
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

    /// `{…}`: `body` writes the members.
    public mutating func object(_ body: (inout JSONWriter) -> Void) { enclose(0x7B, body, 0x7D) }

    /// `[…]`: `body` writes the elements.
    public mutating func array(_ body: (inout JSONWriter) -> Void) { enclose(0x5B, body, 0x5D) }

    private mutating func enclose(_ open: UInt8, _ body: (inout JSONWriter) -> Void, _ close: UInt8) {
        comma()
        sink.byte(open)
        fresh = true
        body(&self)
        sink.byte(close)
        fresh = false
    }

    /// An object member's name; its value follows.
    public mutating func key(_ k: String) {
        comma()
        string(k)
        sink.byte(0x3A)
        fresh = true
    }

    /// A string, a number or a boolean.
    public mutating func value(_ v: some JSONScalar) {
        comma()
        v.write(to: &self)
    }

    public mutating func null() {
        comma()
        sink.bytes("null")
    }

    /// `"k": v` shorthand.
    public mutating func member(_ k: String, _ v: some JSONScalar) {
        key(k)
        value(v)
    }

    fileprivate mutating func string(_ s: String) {
        sink.byte(0x22)
        sink.bytes(s, escaping: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) { [sink] b in
            switch b {
            case 0x22: sink.bytes("\\\"")
            case 0x5C: sink.bytes("\\\\")
            case 0x0A: sink.bytes("\\n")
            case 0x0D: sink.bytes("\\r")
            case 0x09: sink.bytes("\\t")
            default:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                sink.bytes([0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            }
        }
        sink.byte(0x22)
    }
}

/// A value `JSONWriter.value` writes: a string, a number or a boolean. Writes itself after the
/// writer placed the comma.
public protocol JSONScalar {
    func write(to j: inout JSONWriter)
}

extension String: JSONScalar {
    public func write(to j: inout JSONWriter) { j.string(self) }
}

extension UInt64: JSONScalar {
    public func write(to j: inout JSONWriter) { j.sink.decimal(self) }
}

extension Int: JSONScalar {
    public func write(to j: inout JSONWriter) {
        if self < 0 { j.sink.byte(0x2D) }
        j.sink.decimal(magnitude.toUInt64)
    }
}

extension Bool: JSONScalar {
    public func write(to j: inout JSONWriter) { j.sink.bytes(self ? "true" : "false") }
}

extension Double: JSONScalar {
    public func write(to j: inout JSONWriter) {
        if !isFinite {
            j.sink.bytes("null")
        } else if self == rounded(), abs(self) < 1e15 {
            if self < 0 { j.sink.byte(0x2D) }
            j.sink.decimal(UInt64(abs(self)))
        } else {
            j.sink.bytes(description)
        }
    }
}

extension UInt {
    fileprivate var toUInt64: UInt64 { UInt64(self) }
}
