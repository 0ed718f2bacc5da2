// Raw byte access for packet code: unaligned big-endian and native loads/stores on raw pointers.
import LVSCore

extension UnsafeRawPointer {
    /// The byte at offset `o`.
    @inlinable @inline(__always) func u8(_ o: Int) -> UInt8 { load(fromByteOffset: o, as: UInt8.self) }

    /// The big-endian 16-bit field at offset `o`, as a host integer.
    @inlinable @inline(__always) func be16(_ o: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }

    /// The big-endian 32-bit field at offset `o`, as a host integer.
    @inlinable @inline(__always) func be32(_ o: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }

    /// The big-endian 64-bit field at offset `o`, as a host integer.
    @inlinable @inline(__always) func be64(_ o: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }

    /// The 16 bits at offset `o` exactly as they lie in memory (for one's complement sums).
    @inlinable @inline(__always) func raw16(_ o: Int) -> UInt16 { loadUnaligned(fromByteOffset: o, as: UInt16.self) }

    /// The 32 bits at offset `o` exactly as they lie in memory.
    @inlinable @inline(__always) func raw32(_ o: Int) -> UInt32 { loadUnaligned(fromByteOffset: o, as: UInt32.self) }

    /// The 64 bits at offset `o` exactly as they lie in memory.
    @inlinable @inline(__always) func raw64(_ o: Int) -> UInt64 { loadUnaligned(fromByteOffset: o, as: UInt64.self) }
}

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always) func u8(_ o: Int) -> UInt8 { load(fromByteOffset: o, as: UInt8.self) }
    @inlinable @inline(__always) func be16(_ o: Int) -> UInt16 { UnsafeRawPointer(self).be16(o) }
    @inlinable @inline(__always) func be32(_ o: Int) -> UInt32 { UnsafeRawPointer(self).be32(o) }
    @inlinable @inline(__always) func be64(_ o: Int) -> UInt64 { UnsafeRawPointer(self).be64(o) }
    @inlinable @inline(__always) func raw16(_ o: Int) -> UInt16 { UnsafeRawPointer(self).raw16(o) }
    @inlinable @inline(__always) func raw32(_ o: Int) -> UInt32 { UnsafeRawPointer(self).raw32(o) }
    @inlinable @inline(__always) func raw64(_ o: Int) -> UInt64 { UnsafeRawPointer(self).raw64(o) }

    /// Stores one byte at offset `o`.
    @inlinable @inline(__always) func setU8(_ v: UInt8, _ o: Int) { storeBytes(of: v, toByteOffset: o, as: UInt8.self) }

    /// Stores a host integer as a big-endian 16-bit field at offset `o`.
    @inlinable @inline(__always) func setBE16(_ v: UInt16, _ o: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self)
    }

    /// Stores a host integer as a big-endian 32-bit field at offset `o`.
    @inlinable @inline(__always) func setBE32(_ v: UInt32, _ o: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self)
    }

    /// Stores a host integer as a big-endian 64-bit field at offset `o`.
    @inlinable @inline(__always) func setBE64(_ v: UInt64, _ o: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt64.self)
    }

    /// Stores 16 bits exactly as given (the memory image of a native value).
    @inlinable @inline(__always) func setRaw16(_ v: UInt16, _ o: Int) {
        storeBytes(of: v, toByteOffset: o, as: UInt16.self)
    }

    /// Stores 32 bits exactly as given.
    @inlinable @inline(__always) func setRaw32(_ v: UInt32, _ o: Int) {
        storeBytes(of: v, toByteOffset: o, as: UInt32.self)
    }

    /// Stores 64 bits exactly as given.
    @inlinable @inline(__always) func setRaw64(_ v: UInt64, _ o: Int) {
        storeBytes(of: v, toByteOffset: o, as: UInt64.self)
    }
}

/// Loads and stores of IP addresses in their wire form.
@usableFromInline enum WireAddress {
    /// Reads the 4-byte (`v6 == false`) or 16-byte address at offset `o`.
    @inlinable @inline(__always)
    static func load(_ p: UnsafeRawPointer, _ o: Int, v6: Bool) -> IPAddress {
        v6 ? .v6(IPv6Address(high: p.be64(o), low: p.be64(o + 8))) : .v4(IPv4Address(p.be32(o)))
    }

    /// Writes an address at offset `o` (4 or 16 bytes, by its family).
    @inlinable @inline(__always)
    static func store(_ a: IPAddress, _ p: UnsafeMutableRawPointer, _ o: Int) {
        switch a {
        case .v4(let x): p.setBE32(x.value, o)
        case .v6(let x):
            p.setBE64(x.high, o)
            p.setBE64(x.low, o + 8)
        }
    }
}
