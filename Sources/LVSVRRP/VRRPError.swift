// Errors of the VRRP module: configuration problems, malformed packets and failed system calls.

import LVSCore

/// A VRRP failure. `code` says what kind; `message` is the line to log or show.
public typealias VRRPError = CodedError<VRRPErrorCode>

/// The kinds of VRRP failure (`VRRPError.Code`).
public enum VRRPErrorCode: String, Hashable, Sendable {
    /// A configuration value keepalived would also refuse.
    case invalidConfig
    /// `auth_type AH` (IPsec AH, RFC 2402) is not implemented.
    case authAHUnsupported
    /// A packet too short or otherwise not a VRRP message.
    case malformedPacket
    /// A socket call failed.
    case socket
    /// An rtnetlink request was refused.
    case netlink
    /// An interface named in the configuration does not exist.
    case noSuchInterface
    /// A script could not be started.
    case script
}
