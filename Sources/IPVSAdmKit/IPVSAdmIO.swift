// The seams of an ipvsadm run: the director it talks to, and its standard input and outputs.
import LVSControl
import LVSCore

/// What ipvsadm talks to: lvsd over the control socket, or an in-process director in tests.
public protocol IPVSAdmBackend: AnyObject {
    /// Performs `requests` in order and returns one result each. Throws when the director cannot
    /// be reached or the exchange breaks.
    func perform(_ requests: [ControlRequest]) throws(IPVSAdmBackendError) -> [ControlResult]
}

/// The director could not be reached or the exchange broke; ipvsadm prints `message` and exits
/// with `exitStatus`.
public struct IPVSAdmBackendError: Error, Hashable, Sendable {
    public var message: String
    public var exitStatus: Int32

    public init(message: String, exitStatus: Int32 = 1) {
        self.message = message
        self.exitStatus = exitStatus
    }
}

/// Standard output and standard error.
public protocol IPVSAdmOutput: AnyObject {
    func writeOut(_ bytes: [UInt8])
    func writeErr(_ bytes: [UInt8])
}

/// Standard input (read by `-R`).
public protocol IPVSAdmInput: AnyObject {
    /// Up to `maximum` bytes; an empty array at end of input.
    func read(maximum: Int) -> [UInt8]
}

/// Output captured in memory (tests, benchmarks).
public final class CapturedOutput: IPVSAdmOutput {
    public private(set) var out: [UInt8] = []
    public private(set) var err: [UInt8] = []

    public init() {}

    public func writeOut(_ bytes: [UInt8]) { out.append(contentsOf: bytes) }
    public func writeErr(_ bytes: [UInt8]) { err.append(contentsOf: bytes) }

    public var stdout: String { String(decoding: out, as: UTF8.self) }
    public var stderr: String { String(decoding: err, as: UTF8.self) }

    public func reset() {
        out.removeAll()
        err.removeAll()
    }
}

/// Input from a fixed byte string.
public final class BufferInput: IPVSAdmInput {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ text: String) { bytes = Array(text.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }

    public func read(maximum: Int) -> [UInt8] {
        let n = min(maximum, bytes.count - offset)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
}

#if canImport(Glibc)
    import Glibc

    /// ipvsadm's backend: lvsd's control endpoint.
    public final class ControlSocketBackend: IPVSAdmBackend {
        public let client: ControlClient

        public init(endpoint: ControlEndpoint) { client = ControlClient(endpoint: endpoint) }

        public func perform(_ requests: [ControlRequest]) throws(IPVSAdmBackendError) -> [ControlResult] {
            do {
                return try client.perform(requests)
            } catch {
                switch error {
                case .unreachable(let endpoint, let err):
                    // ipvsadm's own prefix when the kernel has no IPVS, then what is really wrong.
                    throw IPVSAdmBackendError(
                        message:
                            "Can't initialize ipvs: lvsd is not running in this network namespace "
                            + "(no control socket at \(endpoint): \(String(cString: strerror(err.errno))))")
                case .untrusted:
                    throw IPVSAdmBackendError(message: "Can't initialize ipvs: \(error)")
                default:
                    throw IPVSAdmBackendError(message: "ipvsadm: \(error)")
                }
            }
        }
    }

    /// The endpoint of this process's environment (`LVSD_CONTROL`, else the default); on a bad value
    /// prints `PROGRAM: LVSD_CONTROL: problem` and exits 1 (ipvsadm, lvs-sysctl).
    public func controlEndpointOrExit(program: String) -> ControlEndpoint {
        var environment: [String: String] = [:]
        if let v = getenv(ControlEndpoint.environmentVariable) {
            environment[ControlEndpoint.environmentVariable] = String(cString: v)
        }
        do {
            return try ControlEndpoint.resolve(environment: environment)
        } catch {
            FileDescriptorOutput().writeErr(
                Array("\(program): \(ControlEndpoint.environmentVariable): \(error)\n".utf8))
            exit(1)
        }
    }

    /// A file descriptor as output (1 and 2).
    public final class FileDescriptorOutput: IPVSAdmOutput {
        let outFD: Int32
        let errFD: Int32

        public init(out: Int32 = 1, err: Int32 = 2) {
            outFD = out
            errFD = err
        }

        static func write(_ fd: Int32, _ bytes: [UInt8]) {
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, bytes.count - off) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                off += n
            }
        }

        public func writeOut(_ bytes: [UInt8]) { Self.write(outFD, bytes) }
        public func writeErr(_ bytes: [UInt8]) { Self.write(errFD, bytes) }
    }

    /// A file descriptor as input (0).
    public final class FileDescriptorInput: IPVSAdmInput {
        let fd: Int32
        public init(fd: Int32 = 0) { self.fd = fd }

        public func read(maximum: Int) -> [UInt8] {
            var buf = [UInt8](repeating: 0, count: maximum)
            while true {
                let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, maximum) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return [] }
                buf.removeSubrange(n...)
                return buf
            }
        }
    }
#endif
