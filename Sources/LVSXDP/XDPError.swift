// Why an XDP or AF_XDP operation failed: a code, the errno and one line that says what happened.
import Glibc

/// An XDP failure. `code` says which step failed, `errno` the kernel's reason (0 if none), and
/// `message` is one line for lvsd's log (for a verifier refusal: the verifier's last words).
public struct XDPError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The step that failed.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The object could not be opened or a map could not be created.
        public static let open = Code(rawValue: "open")
        /// The verifier refused the program (`verifierLog` has its log's tail).
        public static let verifier = Code(rawValue: "verifier")
        /// Attaching to an interface failed in every mode tried.
        public static let attach = Code(rawValue: "attach")
        /// Detaching failed.
        public static let detach = Code(rawValue: "detach")
        /// A map update, delete or lookup failed.
        public static let map = Code(rawValue: "map")
        /// The flow map is full: the flow stays on the slow path.
        public static let mapFull = Code(rawValue: "map_full")
        /// BPF_PROG_TEST_RUN failed.
        public static let testRun = Code(rawValue: "test_run")
        /// An AF_XDP UMEM or socket could not be set up.
        public static let socket = Code(rawValue: "socket")
        /// No such interface.
        public static let noInterface = Code(rawValue: "no_interface")
    }

    public var code: Code
    /// The errno (positive), or 0.
    public var errno: Int32
    /// One line.
    public var message: String
    /// For `.verifier`: the tail of the verifier's log (several lines).
    public var verifierLog: String

    public init(_ code: Code, errno: Int32 = 0, _ message: String, verifierLog: String = "") {
        self.code = code
        self.errno = errno
        self.message = message
        self.verifierLog = verifierLog
    }

    public var description: String { message }

    /// An error from a negative errno return.
    static func from(_ code: Code, _ result: Int32, _ what: String) -> XDPError {
        let e = result < 0 ? -result : result
        return XDPError(code, errno: e, "\(what): \(errorText(e))")
    }
}

/// `strerror(e)`.
func errorText(_ e: Int32) -> String {
    guard let p = strerror(e) else { return "error \(e)" }
    return String(cString: p)
}
