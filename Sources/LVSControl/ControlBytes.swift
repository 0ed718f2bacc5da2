// Big-endian byte writer and a bounds-checked reader: the only way the codec touches bytes.

/// Appends big-endian fields to a byte array.
public struct ControlByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    public mutating func u64(_ v: UInt64) {
        u32(UInt32(v >> 32))
        u32(UInt32(truncatingIfNeeded: v))
    }

    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    /// A string as `u16 length` + UTF-8 bytes (truncated to `ControlProtocol.maxStringLength` bytes
    /// at a character boundary).
    public mutating func string(_ s: String) {
        var utf8 = Array(s.utf8)
        if utf8.count > ControlProtocol.maxStringLength {
            var cut = ControlProtocol.maxStringLength
            while cut > 0 && (utf8[cut] & 0xC0) == 0x80 { cut -= 1 }
            utf8.removeSubrange(cut...)
        }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func optionalString(_ s: String?) {
        if let s {
            u8(1)
            string(s)
        } else {
            u8(0)
        }
    }

    /// A list as `u32 count` followed by each item as `item` writes it.
    public mutating func list<C: Collection>(_ items: C, _ item: (inout ControlByteWriter, C.Element) -> Void) {
        u32(UInt32(truncatingIfNeeded: items.count))
        for x in items { item(&self, x) }
    }

    /// Overwrites 4 bytes at `offset` with a big-endian value (for length fields written last).
    public mutating func patchU32(_ v: UInt32, at offset: Int) {
        bytes[offset] = UInt8(v >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: v)
    }
}

/// Reads big-endian fields from a byte buffer; every read checks bounds and throws
/// `ControlProtocolError.malformed` instead of trapping.
public struct ControlByteReader {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline var index: Int
    @usableFromInline let end: Int

    public init(_ bytes: [UInt8], from start: Int = 0) {
        self.bytes = bytes
        index = min(max(start, 0), bytes.count)
        end = bytes.count
    }

    /// Bytes not read yet.
    @inlinable public var remaining: Int { end - index }

    @usableFromInline static func truncated(_ what: String) -> ControlProtocolError {
        ControlProtocolError(.malformed, "truncated \(what)")
    }

    public mutating func u8(_ what: String = "byte") throws(ControlProtocolError) -> UInt8 {
        guard remaining >= 1 else { throw Self.truncated(what) }
        defer { index += 1 }
        return bytes[index]
    }

    public mutating func u16(_ what: String = "u16") throws(ControlProtocolError) -> UInt16 {
        guard remaining >= 2 else { throw Self.truncated(what) }
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    public mutating func u32(_ what: String = "u32") throws(ControlProtocolError) -> UInt32 {
        guard remaining >= 4 else { throw Self.truncated(what) }
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8
            | UInt32(bytes[index + 3])
    }

    public mutating func u64(_ what: String = "u64") throws(ControlProtocolError) -> UInt64 {
        let hi = try u32(what)
        let lo = try u32(what)
        return UInt64(hi) << 32 | UInt64(lo)
    }

    public mutating func bool(_ what: String = "flag") throws(ControlProtocolError) -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let v: throw ControlProtocolError(.malformed, "bad \(what) flag \(v)")
        }
    }

    public mutating func string(_ what: String = "string") throws(ControlProtocolError) -> String {
        let n = Int(try u16(what))
        guard n <= ControlProtocol.maxStringLength else {
            throw ControlProtocolError(.malformed, "\(what) longer than \(ControlProtocol.maxStringLength) bytes")
        }
        guard remaining >= n else { throw Self.truncated(what) }
        let slice = bytes[index..<(index + n)]
        index += n
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw ControlProtocolError(.malformed, "\(what) is not valid UTF-8")
        }
        return s
    }

    public mutating func optionalString(_ what: String = "string") throws(ControlProtocolError) -> String? {
        try bool(what) ? try string(what) : nil
    }

    /// Reads an element count and checks it can fit in the remaining bytes (each element takes
    /// at least `minimumElementSize` bytes), so a forged count never causes a huge allocation.
    public mutating func count(_ what: String, minimumElementSize: Int, limit: Int = Int(UInt32.max))
        throws(ControlProtocolError) -> Int
    {
        let n = Int(try u32("\(what) count"))
        guard n <= limit, n * max(minimumElementSize, 1) <= remaining else {
            throw ControlProtocolError(.malformed, "\(what) count \(n) does not fit the frame")
        }
        return n
    }

    /// A list written by `ControlByteWriter.list`: a checked `count`, then each item as `item`
    /// reads it.
    public mutating func list<T>(
        _ what: String, minimumElementSize: Int, limit: Int = Int(UInt32.max),
        _ item: (inout ControlByteReader) throws(ControlProtocolError) -> T
    ) throws(ControlProtocolError) -> [T] {
        let n = try count(what, minimumElementSize: minimumElementSize, limit: limit)
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try item(&self)) }
        return out
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(ControlProtocolError) {
        guard remaining == 0 else { throw ControlProtocolError(.malformed, "\(remaining) trailing bytes") }
    }
}
