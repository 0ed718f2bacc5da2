// Blocking Unix-socket I/O shared by the control client and server: connect, write all, read frames.
#if canImport(Glibc)
    import Glibc

    /// A failed socket operation, with the errno it failed with.
    public struct ControlSocketError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What was being done ("connect", "read", …).
        public var operation: String
        public var errno: Int32
        /// True when the peer closed the connection cleanly (no errno).
        public var closedByPeer: Bool

        public init(_ operation: String, errno: Int32, closedByPeer: Bool = false) {
            self.operation = operation
            self.errno = errno
            self.closedByPeer = closedByPeer
        }

        public var description: String {
            if closedByPeer { return "\(operation): connection closed by peer" }
            return "\(operation): \(String(cString: strerror(errno)))"
        }
    }

    /// Low-level helpers over a connected stream socket descriptor.
    public enum ControlSocket {
        /// Opens a stream socket connected to `endpoint`.
        public static func connect(to endpoint: ControlEndpoint) throws(ControlSocketError) -> Int32 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw ControlSocketError("socket", errno: errno) }
            var rc: Int32 = -1
            repeat {
                rc = endpoint.withSocketAddress { Glibc.connect(fd, $0, $1) }
            } while rc < 0 && errno == EINTR
            if rc < 0 {
                let e = errno
                close(fd)
                throw ControlSocketError("connect", errno: e)
            }
            return fd
        }

        /// Writes every byte (retrying on EINTR and short writes); never raises SIGPIPE.
        public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(ControlSocketError) {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { raw in
                    send(fd, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ControlSocketError("write", errno: errno)
                }
                offset += n
            }
        }

        /// Reads exactly `count` bytes into `buffer` starting at `offset`. Throws `closedByPeer`
        /// on end of file.
        public static func readExactly(_ fd: Int32, into buffer: inout [UInt8], offset: Int, count: Int)
            throws(ControlSocketError)
        {
            var done = 0
            while done < count {
                let n = buffer.withUnsafeMutableBytes { raw in
                    recv(fd, raw.baseAddress! + offset + done, count - done, 0)
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ControlSocketError("read", errno: errno)
                }
                if n == 0 { throw ControlSocketError("read", errno: 0, closedByPeer: true) }
                done += n
            }
        }

        /// Reads one whole frame: header checked against `maxBody`, then the body.
        public static func readFrame(_ fd: Int32, maxBody: Int) throws(ControlFrameReadError) -> (
            ControlFrameHeader, [UInt8]
        ) {
            var header = [UInt8](repeating: 0, count: ControlProtocol.headerSize)
            do {
                try readExactly(fd, into: &header, offset: 0, count: header.count)
            } catch {
                throw .socket(error)
            }
            let h: ControlFrameHeader
            do {
                h = try ControlCodec.decodeHeader(header, maxBody: maxBody)
            } catch {
                throw .protocol(error)
            }
            var body = [UInt8](repeating: 0, count: h.bodyLength)
            do {
                try readExactly(fd, into: &body, offset: 0, count: h.bodyLength)
            } catch {
                throw .socket(error)
            }
            return (h, body)
        }
    }

    /// Reading a frame failed on the socket or in the header.
    public enum ControlFrameReadError: Error, Sendable {
        case socket(ControlSocketError)
        case `protocol`(ControlProtocolError)
    }
#endif
