// The client side of the control protocol: one connection to lvsd, request batches in, results out.
#if canImport(Glibc)
    import Glibc

    /// Why a control exchange failed (as opposed to an operation being refused, which is a
    /// `ControlResult.failure`).
    public enum ControlClientError: Error, Sendable, CustomStringConvertible {
        /// No lvsd answers at the endpoint.
        case unreachable(ControlEndpoint, ControlSocketError)
        /// The connection broke during the exchange.
        case connectionLost(ControlSocketError)
        /// lvsd rejected the whole request.
        case rejected(ControlProtocolError)
        /// lvsd's answer did not decode.
        case badResponse(ControlProtocolError)
        /// The endpoint belongs to another user than root or this one: it may be an impostor
        /// (anyone can bind the abstract name while lvsd is down), so nothing is sent to it.
        case untrusted(ControlEndpoint, uid: UInt32)

        public var description: String {
            switch self {
            case .unreachable(let e, let err): return "cannot reach lvsd at \(e): \(err)"
            case .connectionLost(let err): return "connection to lvsd lost (\(err))"
            case .rejected(let err): return "lvsd rejected the request: \(err.message)"
            case .badResponse(let err): return "bad response from lvsd: \(err.message)"
            case .untrusted(let e, let uid):
                return "the control socket \(e) belongs to uid \(uid), not root: refusing to use it"
            }
        }
    }

    /// A connection to lvsd's control endpoint, opened on first use and kept for later batches.
    public final class ControlClient {
        public let endpoint: ControlEndpoint
        private var fd: Int32 = -1
        /// The users a server may run as: root and this process's own user (whose server can give
        /// it nothing it could not do itself).
        public var trustedServerUIDs: Set<UInt32>

        public init(endpoint: ControlEndpoint) {
            self.endpoint = endpoint
            trustedServerUIDs = [0, geteuid()]
        }

        deinit {
            if fd >= 0 { Glibc.close(fd) }
        }

        /// Opens the connection now (it is otherwise opened by the first `perform`).
        public func connect() throws(ControlClientError) {
            guard fd < 0 else { return }
            let s: Int32
            do {
                s = try ControlSocket.connect(to: endpoint)
            } catch {
                throw .unreachable(endpoint, error)
            }
            // The server's credentials (SO_PEERCRED of a connected socket are the listener's).
            let uid = ControlPeerCredentials.of(s)?.uid ?? UInt32.max
            guard trustedServerUIDs.contains(uid) else {
                Glibc.close(s)
                throw .untrusted(endpoint, uid: uid)
            }
            fd = s
        }

        /// Closes the connection.
        public func close() {
            if fd >= 0 {
                Glibc.close(fd)
                fd = -1
            }
        }

        /// Sends `requests` as one frame and returns their results in order.
        public func perform(_ requests: [ControlRequest]) throws(ControlClientError) -> [ControlResult] {
            precondition(!requests.isEmpty)
            try connect()
            do {
                try ControlSocket.writeAll(fd, ControlCodec.encodeRequestFrame(requests))
            } catch {
                close()
                throw .connectionLost(error)
            }
            let header: ControlFrameHeader
            let body: [UInt8]
            do {
                (header, body) = try ControlSocket.readFrame(fd, maxBody: ControlProtocol.maxResponseBody)
            } catch {
                close()
                switch error {
                case .socket(let e): throw .connectionLost(e)
                case .protocol(let e): throw .badResponse(e)
                }
            }
            switch header.kind {
            case .response:
                do {
                    return try ControlCodec.decodeResults(body: body, expected: requests.count)
                } catch {
                    close()
                    throw .badResponse(error)
                }
            case .rejection:
                close()
                let rejection: ControlProtocolError
                do {
                    rejection = try ControlCodec.decodeRejection(body: body)
                } catch {
                    throw .badResponse(error)
                }
                throw .rejected(rejection)
            case .request:
                close()
                throw .badResponse(ControlProtocolError(.unexpectedFrame, "lvsd answered with a request frame"))
            }
        }

        /// Sends one request and returns its result.
        public func perform(_ request: ControlRequest) throws(ControlClientError) -> ControlResult {
            try perform([request])[0]
        }
    }
#endif
