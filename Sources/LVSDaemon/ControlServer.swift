// lvsd's control endpoint: accepts ipvsadm connections, checks peer credentials, serves request frames.
import Glibc
import LVSControl
import LVSCore
import LVSPlatform
import Logging
import Synchronization

/// Serves decoded control requests. The director implements it; tests use fakes.
public protocol ControlRequestHandler: AnyObject, Sendable {
    /// Answers every request of one frame in order. `mayChangeState` is false when the peer lacks
    /// CAP_NET_ADMIN: state changes must then be refused.
    func handle(_ requests: [ControlRequest], mayChangeState: Bool) -> [ControlResult]
    /// The encoded response frame for one request frame (the director streams listings into it
    /// without holding its lock for the whole listing). Defaults to encoding `handle`'s results.
    func respond(to requests: [ControlRequest], mayChangeState: Bool) -> [UInt8]
}

extension ControlRequestHandler {
    public func respond(to requests: [ControlRequest], mayChangeState: Bool) -> [UInt8] {
        ControlCodec.encodeResponseFrame(handle(requests, mayChangeState: mayChangeState))
    }
}

/// Who may change state through the control endpoint.
public enum ControlPrivilege: Sendable {
    /// Peers whose process holds CAP_NET_ADMIN, as the kernel's IPVS netlink requires (lvsd's default).
    case netAdminCapability
    /// Peers with one of these uids (tests).
    case uids(Set<UInt32>)

    func admits(_ peer: ControlPeer, fd: Int32) -> Bool {
        switch self {
        case .netAdminCapability: return ControlPeerCredentials.peerHasNetAdmin(fd, pid: peer.pid)
        case .uids(let set): return set.contains(peer.uid)
        }
    }
}

/// The credentials of a connected client (`SO_PEERCRED`).
public struct ControlPeer: Hashable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

/// Why the control endpoint could not be opened. `code` says what kind; `message` is the line
/// lvsd prints.
public typealias ControlServerError = CodedError<ControlServerErrorCode>

/// The kinds of failure to open the control endpoint.
public enum ControlServerErrorCode: String, Hashable, Sendable {
    /// Another lvsd answers on the endpoint (or holds the namespace's abstract name).
    case alreadyServed
    /// socket, bind or listen failed.
    case socket
    /// The descriptor that wakes the acceptor could not be made.
    case wakeDescriptor
}

/// The control server.
///
/// ```
///  ipvsadm ──connect──▶ listener thread ──accept──▶ connection thread (one per client, bounded)
///                                                   │ SO_PEERCRED → may change state?
///                                                   │ frame ─decode─▶ handler ─encode─▶ frame
/// ```
/// A malformed or oversized frame gets a rejection frame and never reaches the handler; a client
/// that stalls inside a frame is disconnected after `frameTimeout`.
public final class ControlServer: Sendable {
    /// Resource limits of the server.
    public struct Limits: Sendable {
        public var maxConnections = 64
        /// Connections kept for root and lvsd's user: other users can never take the last ones.
        public var reservedForPrivileged = 8
        /// How long a privileged connection may sit idle between frames (an interactive `-R`).
        public var idleTimeout: Duration = .seconds(3600)
        /// How long any other connection may sit idle between frames.
        public var unprivilegedIdleTimeout: Duration = .seconds(10)
        /// How long the rest of a frame may take once its first byte arrived.
        public var frameTimeout: Duration = .seconds(10)
        /// How long writing a response may block.
        public var sendTimeout: Duration = .seconds(30)
        public var maxRequestBody = ControlProtocol.maxRequestBody
        public init() {}
    }

    public let endpoint: ControlEndpoint
    let handler: any ControlRequestHandler
    let logger: Logger
    let limits: Limits
    /// Who may change state (default: peers with CAP_NET_ADMIN).
    let privilege: ControlPrivilege

    struct State {
        var listenFD: Int32 = -1
        /// Wakes the acceptor to stop.
        var wake: WakeDescriptor?
        var acceptThread: PlatformThread?
        var connections: Set<Int32> = []
        var unprivileged: Set<Int32> = []
        var running = false
        var unlinkOnClose = false
    }
    let state = Mutex(State())
    /// Signalled each time a connection ends (shutdown waits for the last).
    let connectionEnded = try? WakeDescriptor()

    /// `privilegedUIDs`, when given, are the only users that may change state (tests); by default
    /// a peer may change state when its process holds CAP_NET_ADMIN (contract 9).
    public init(
        endpoint: ControlEndpoint, handler: any ControlRequestHandler, logger: Logger, limits: Limits = .init(),
        privilegedUIDs: Set<UInt32>? = nil
    ) {
        self.endpoint = endpoint
        self.handler = handler
        self.logger = logger
        self.limits = limits
        self.privilege = privilegedUIDs.map { .uids($0) } ?? .netAdminCapability
    }

    deinit {
        let s = state.withLock { $0 }
        if s.listenFD >= 0 { close(s.listenFD) }
    }

    /// Creates and binds the listening socket (call before forking: the socket survives the fork).
    public func bind() throws(ControlServerError) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlServerError(.socket, "socket: \(Self.errorText(errno))") }
        var unlinkOnClose = false
        if case .path(let p) = endpoint {
            // A live lvsd answers on the path: refuse. A stale socket file is removed.
            if let probe = try? ControlSocket.connect(to: endpoint) {
                close(probe)
                close(fd)
                throw ControlServerError(.alreadyServed, "another lvsd is already listening on \(p)")
            }
            unlink(p)
            unlinkOnClose = true
        }
        let rc = endpoint.withSocketAddress { Glibc.bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            close(fd)
            if e == EADDRINUSE, case .abstract = endpoint {
                throw ControlServerError(
                    .alreadyServed,
                    "another lvsd already serves this network namespace (control socket \(endpoint) in use)")
            }
            throw ControlServerError(.socket, "cannot bind control socket \(endpoint): \(Self.errorText(e))")
        }
        if case .path(let p) = endpoint {
            // Anyone may connect and list; SO_PEERCRED decides who may change state.
            chmod(p, 0o666)
        }
        guard listen(fd, 128) == 0 else {
            let e = errno
            close(fd)
            throw ControlServerError(.socket, "listen on \(endpoint): \(Self.errorText(e))")
        }
        let wake: WakeDescriptor
        do {
            wake = try WakeDescriptor()
        } catch {
            close(fd)
            throw ControlServerError(.wakeDescriptor, error.message)
        }
        state.withLock {
            $0.listenFD = fd
            $0.wake = wake
            $0.unlinkOnClose = unlinkOnClose
        }
    }

    /// Starts accepting connections on a thread of its own.
    public func start() {
        let ok = state.withLock { s -> Bool in
            guard s.listenFD >= 0, !s.running else { return false }
            s.running = true
            return true
        }
        guard ok else { return }
        let t = PlatformThread.start(name: "lvsd-control") { [self] in acceptLoop() }
        state.withLock { $0.acceptThread = t }
        logger.info("control endpoint listening", metadata: ["endpoint": "\(endpoint)"])
    }

    /// Stops accepting, disconnects every client, waits (bounded) for their threads, and
    /// removes a socket file it created.
    public func shutdown() {
        let (thread, wake) = state.withLock { s -> (PlatformThread?, WakeDescriptor?) in
            s.running = false
            for fd in s.connections { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
            defer { s.acceptThread = nil }
            return (s.acceptThread, s.wake)
        }
        wake?.signal()
        thread?.join()
        // Connection threads notice the shutdown within one poll and signal as they end; they
        // get 2 s.
        let deadline = MonotonicClock.nanoseconds() &+ 2_000_000_000
        while !state.withLock({ $0.connections.isEmpty }), let ended = connectionEnded {
            let now = MonotonicClock.nanoseconds()
            guard now < deadline else { break }
            let ms = Int32(clamping: (deadline - now) / 1_000_000 + 1)
            if Readiness.wait([ended.descriptor], timeoutMilliseconds: ms) != 0 { ended.drain() }
        }
        let closed = state.withLock { s -> Bool in
            guard s.listenFD >= 0 else { return false }
            close(s.listenFD)
            s.listenFD = -1
            if s.unlinkOnClose, case .path(let p) = endpoint {
                unlink(p)
                s.unlinkOnClose = false
            }
            return true
        }
        if closed { logger.info("control endpoint closed", metadata: ["endpoint": "\(endpoint)"]) }
    }

    /// The number of clients connected now.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    // MARK: accepting

    func acceptLoop() {
        let (listenFD, wakeFD) = state.withLock { ($0.listenFD, $0.wake?.descriptor ?? -1) }
        while state.withLock({ $0.running }) {
            var fds = [
                pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 2, -1)
            if n < 0 {
                if errno == EINTR { continue }
                logger.error("poll on control socket failed: \(Self.errorText(errno))")
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno != EINTR && errno != EAGAIN && errno != ECONNABORTED {
                    logger.warning("accept failed: \(Self.errorText(errno))")
                    usleep(10_000)
                }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            guard let peer = Self.peer(of: client) else {
                logger.warning("control connection without peer credentials dropped")
                close(client)
                continue
            }
            let privileged = privilege.admits(peer, fd: client)
            let admitted = state.withLock { s -> Bool in
                guard s.running, s.connections.count < limits.maxConnections else { return false }
                if !privileged {
                    guard s.unprivileged.count < limits.maxConnections - limits.reservedForPrivileged else {
                        return false
                    }
                    s.unprivileged.insert(client)
                }
                s.connections.insert(client)
                return true
            }
            if !admitted {
                logger.warning("control connection refused: too many clients")
                setTimeout(client, SO_SNDTIMEO, .seconds(1))
                try? ControlSocket.writeAll(
                    client,
                    ControlCodec.encodeRejectionFrame(
                        ControlProtocolError(.busy, "lvsd is busy: too many control connections")))
                close(client)
                continue
            }
            if !PlatformThread.detach(
                name: "lvsd-ctl-conn", { [self] in serve(client, peer: peer, privileged: privileged) })
            {
                logger.error("cannot start a thread for a control connection")
                state.withLock {
                    $0.connections.remove(client)
                    $0.unprivileged.remove(client)
                }
                close(client)
            }
        }
    }

    // MARK: one connection

    /// `SO_PEERCRED` of a connected Unix socket.
    static func peer(of fd: Int32) -> ControlPeer? {
        guard let c = ControlPeerCredentials.of(fd) else { return nil }
        return ControlPeer(pid: c.pid, uid: c.uid, gid: c.gid)
    }

    /// Serves one client until it leaves. Only peers admitted by `privilege` may change state.
    func serve(_ fd: Int32, peer: ControlPeer, privileged: Bool) {
        defer {
            state.withLock { s in
                s.connections.remove(fd)
                s.unprivileged.remove(fd)
                close(fd)
            }
            connectionEnded?.signal()
        }
        setTimeout(fd, SO_SNDTIMEO, limits.sendTimeout)
        let mayChangeState = privileged
        let idle = privileged ? limits.idleTimeout : limits.unprivilegedIdleTimeout
        var log = logger
        log[metadataKey: "peer"] = "pid \(peer.pid) uid \(peer.uid)"
        log.debug("control connection opened")
        while state.withLock({ $0.running }) {
            var header = [UInt8](repeating: 0, count: ControlProtocol.headerSize)
            switch readFully(fd, &header, waitFirst: idle) {
            case .ok: break
            case .closed: return
            case .timedOut:
                log.debug("control connection idle too long, closed")
                return
            case .failed(let e):
                log.debug("control connection read failed: \(Self.errorText(e))")
                return
            }
            let h: ControlFrameHeader
            do {
                h = try ControlCodec.decodeHeader(header, maxBody: limits.maxRequestBody)
            } catch {
                log.warning("control request rejected: \(error.message)")
                reject(fd, error)
                return
            }
            guard h.kind == .request else {
                reject(fd, ControlProtocolError(.unexpectedFrame, "expected a request frame"))
                return
            }
            var body = [UInt8](repeating: 0, count: h.bodyLength)
            switch readFully(fd, &body, waitFirst: limits.frameTimeout) {
            case .ok: break
            case .closed, .failed:
                log.debug("control connection closed inside a frame")
                return
            case .timedOut:
                log.warning("control request incomplete after \(limits.frameTimeout), connection closed")
                return
            }
            let requests: [ControlRequest]
            do {
                requests = try ControlCodec.decodeRequests(body: body)
            } catch {
                log.warning("control request rejected: \(error.message)")
                reject(fd, error)
                continue
            }
            // One listing per frame: a listing walks the whole table, so a frame of thousands of
            // them would hold the table (and the packet worker) for as long as it liked.
            if requests.count(where: \.isListing) > 1 {
                log.warning("control request rejected: more than one listing in a frame")
                reject(fd, ControlProtocolError(.malformed, "a request frame may carry at most one listing"))
                continue
            }
            let response = handler.respond(to: requests, mayChangeState: mayChangeState)
            do {
                try ControlSocket.writeAll(fd, response)
            } catch {
                log.debug("control response not delivered: \(error)")
                return
            }
        }
    }

    func reject(_ fd: Int32, _ error: ControlProtocolError) {
        try? ControlSocket.writeAll(fd, ControlCodec.encodeRejectionFrame(error))
    }

    enum ReadOutcome {
        case ok
        case closed
        case timedOut
        case failed(Int32)
    }

    /// Fills `buffer`; waits up to `waitFirst` for the first byte and `frameTimeout` for the rest.
    func readFully(_ fd: Int32, _ buffer: inout [UInt8], waitFirst: Duration) -> ReadOutcome {
        let clock = ContinuousClock()
        var deadline = clock.now + waitFirst
        var done = 0
        while done < buffer.count {
            let left = deadline - clock.now
            if left <= .zero { return .timedOut }
            let ms = Int32(
                clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&p, 1, ms)
            if n < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if n == 0 { return .timedOut }
            let count = buffer.count
            let r = buffer.withUnsafeMutableBytes { raw in
                recv(fd, raw.baseAddress! + done, count - done, Int32(MSG_DONTWAIT))
            }
            if r < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return .failed(errno)
            }
            if r == 0 { return .closed }
            if done == 0 { deadline = clock.now + limits.frameTimeout }
            done += r
        }
        return .ok
    }

    func setTimeout(_ fd: Int32, _ option: Int32, _ d: Duration) {
        var tv = timeval(tv_sec: Int(d.components.seconds), tv_usec: Int(d.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func errorText(_ e: Int32) -> String { String(cString: strerror(e)) }
}
