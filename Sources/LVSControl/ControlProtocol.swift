// The lvsd control protocol: frame layout, version, limits and protocol-level errors (docs/control-protocol.md).
import LVSCore

/// Constants of the control protocol spoken between `ipvsadm` and `lvsd`.
///
/// ```
///  offset  size  field
///  0       4     magic "LVSC"
///  4       2     protocol version (big-endian), currently 1
///  6       2     frame kind: 1 request, 2 response, 3 rejection
///  8       4     body length N (big-endian)
///  12      N     body
/// ```
/// A request body is `u32 count` followed by `count` operations; the response carries exactly
/// `count` results in the same order. A rejection replaces the whole response when the frame
/// itself cannot be served (bad magic or version, oversized, malformed).
public enum ControlProtocol {
    /// The four magic bytes "LVSC".
    public static let magic: [UInt8] = [0x4C, 0x56, 0x53, 0x43]
    /// The protocol version this build speaks.
    public static let version: UInt16 = 1
    /// Size of the fixed frame header.
    public static let headerSize = 12
    /// Largest request body the server accepts (clients batch below it).
    public static let maxRequestBody = 4 << 20
    /// Largest number of operations in one request.
    public static let maxOperationsPerRequest = 65_536
    /// Largest response body a client accepts (a 100 000-server listing is about 10 MiB).
    public static let maxResponseBody = 512 << 20
    /// Longest string field (scheduler, persistence engine, interface, state names).
    public static let maxStringLength = 255
}

/// The kind of a frame (header bytes 6–7).
public enum ControlFrameKind: UInt16, Sendable {
    case request = 1
    case response = 2
    case rejection = 3
}

/// Why a frame (or a field in it) could not be decoded or served.
public typealias ControlProtocolError = CodedError<ControlProtocolErrorCode>

/// The kinds of protocol failure.
public enum ControlProtocolErrorCode: UInt16, Hashable, Sendable {
    /// The first four bytes are not "LVSC".
    case badMagic = 1
    /// The peer speaks another protocol version.
    case unsupportedVersion = 2
    /// The body is larger than the receiver accepts.
    case tooLarge = 3
    /// The body does not decode (truncated, bad tag, bad length, invalid UTF-8, trailing bytes).
    case malformed = 4
    /// The server has too many connections open.
    case busy = 5
    /// The frame kind is not the one expected here.
    case unexpectedFrame = 6
}
