// The sync protocol's constants and layouts (K:ip_vs_sync.c), and big-endian byte helpers.
//
// Version 1 message (the default)            Version 0 message (sync_version = 0)
//  0      1       2       4        5    6     0        1       2       4
// +------+-------+-------+--------+----+----+ +--------+-------+-------+
// |  0   |syncid | size  |nr_conns| 1  |0 0 | |nr_conns|syncid | size  |  then 24-byte entries
// +------+-------+-------+--------+----+----+ +--------+-------+-------+  (+24 sequence bytes)
//  then entries, each padded to 4 bytes:
// +----+-----+--------+-------+-----+-----+-----+-----+------+-------+-------------+---------+
// |type|proto|ver|size| flags |state|cport|vport|dport|fwmark|timeout|c/v/d address| options |
// +----+-----+--------+-------+-----+-----+-----+-----+------+-------+-------------+---------+
//   1    1      2        4      2     2     2     2     4      4     12 or 48       TLV
// A version 1 message's first byte is 0, so a version 0 receiver reads it as "no connections".

import LVSCore

/// Numbers of the sync protocol.
public enum SyncWire {
    /// 224.0.0.81, the default group (`IP_VS_SYNC_GROUP`).
    public static let defaultGroup = IPAddress.v4(IPv4Address(224, 0, 0, 81))
    /// 8848 (`IP_VS_SYNC_PORT`).
    public static let defaultPort: UInt16 = 8848
    /// `SYNC_PROTO_VER`.
    public static let version1: UInt8 = 1
    /// Header sizes.
    public static let headerSize = 8
    public static let headerSizeV0 = 4
    /// Entry sizes without options.
    public static let entrySizeV4 = 36
    public static let entrySizeV6 = 72
    /// `SIMPLE_CONN_SIZE` and `FULL_CONN_SIZE` of version 0.
    public static let entrySizeV0 = 24
    public static let entrySizeV0Sequence = 48
    /// `SVER_SHIFT`, `SVER_MASK`.
    public static let entryVersionShift: UInt16 = 12
    public static let entrySizeMask: UInt16 = 0x0FFF
    /// `STYPE_F_INET6`.
    public static let typeInet6: UInt8 = 1
    /// Option types (`IPVS_OPT_*`); `optionalBit` marks an option a receiver may skip.
    public static let optionSequence: UInt8 = 1
    public static let optionEngineData: UInt8 = 2
    public static let optionEngineName: UInt8 = 3
    public static let optionalBit: UInt8 = 0x80
    /// SwiftLVS: the FULLNAT local endpoint (address, port), an optional option kernels skip.
    public static let optionLocalEndpoint: UInt8 = 0x80 | 0x20
    /// Size of `struct ip_vs_sync_conn_options` (two `ip_vs_seq`).
    public static let sequenceOptionSize = 24
    /// `IP_VS_PEDATA_MAXLEN`, `IP_VS_PENAME_MAXLEN`.
    public static let engineDataLimit = 255
    public static let engineNameLimit = 16
    /// The longest message (a UDP datagram's payload).
    public static let maximumMessage = 65507
    /// Buffers not full are sent after this long (`IPVS_SYNC_FLUSH_TIME`).
    public static let flushTime: Duration = .seconds(2)
    /// SwiftLVS: at most this many entries per message (the count is one byte).
    public static let entriesPerMessage = 255
}

/// Reads big-endian integers from bytes, bounds already checked by the caller.
@usableFromInline
struct WireReader {
    let base: UnsafeRawBufferPointer

    @inline(__always) @usableFromInline init(_ base: UnsafeRawBufferPointer) { self.base = base }

    @inline(__always) func u8(_ at: Int) -> UInt8 { base[at] }
    @inline(__always) func u16(_ at: Int) -> UInt16 { UInt16(base[at]) << 8 | UInt16(base[at + 1]) }
    @inline(__always) func u32(_ at: Int) -> UInt32 {
        UInt32(base[at]) << 24 | UInt32(base[at + 1]) << 16 | UInt32(base[at + 2]) << 8 | UInt32(base[at + 3])
    }
    /// A 16-byte IPv6 address as four words, or a 4-byte IPv4 one into `w3`.
    @inline(__always) func address(_ at: Int, inet6: Bool) -> RawAddress {
        if !inet6 { return RawAddress(high: 0, low: UInt64(u32(at))) }
        return RawAddress(
            high: UInt64(u32(at)) << 32 | UInt64(u32(at + 4)), low: UInt64(u32(at + 8)) << 32 | UInt64(u32(at + 12)))
    }
}

/// Appends big-endian integers.
extension Array where Element == UInt8 {
    @inline(__always) mutating func put8(_ v: UInt8) { append(v) }
    @inline(__always) mutating func put16(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func put32(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 24))
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func putAddress(_ a: RawAddress, inet6: Bool) {
        if inet6 {
            put32(a.w0)
            put32(a.w1)
            put32(a.w2)
        }
        put32(a.w3)
    }
    @inline(__always) mutating func set16(_ v: UInt16, at i: Int) {
        self[i] = UInt8(truncatingIfNeeded: v >> 8)
        self[i + 1] = UInt8(truncatingIfNeeded: v)
    }
}
