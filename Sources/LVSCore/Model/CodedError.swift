// An error as a kind and a line: the one shape of the control protocol's, control server's, announcer's and VRRP's errors.

/// An error of a kind (`code`) carrying the line to log or print (`message`, also its
/// `description`).
public struct CodedError<Kind: Hashable & Sendable>: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kinds of failure (`ControlProtocolError.Code.malformed`, `VRRPError.Code.socket`).
    public typealias Code = Kind

    public var code: Code
    /// What exactly was wrong, for logs and for the user.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
