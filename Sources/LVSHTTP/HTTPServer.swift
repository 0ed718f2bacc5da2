// lvsd's HTTP server on swift-nio: a bounded, read-only HTTP/1.1 front for the status responder.
import LVSStatus
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Answers one request (method and target) with a response.
public protocol HTTPResponder: Sendable {
    func respond(method: String, target: String) async -> StatusResponse
}

/// Limits that keep a client from holding the listener: request size, how long a request may
/// take to arrive, idle keep-alive time, concurrent connections.
public struct HTTPServerLimits: Sendable {
    /// Bytes of one request (head and any body) before it is refused with 431/413 and the
    /// connection closed.
    public var maximumRequestBytes = 16 * 1024
    /// From a request's first byte to its end: a slower client gets 408 and is disconnected.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// A keep-alive connection with no request for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(30)
    /// Connections beyond this are closed at once.
    public var maximumConnections = 64

    public init() {}
}

/// The HTTP server: one event-loop thread serving the socket bound by `HTTPListenSocket`.
///
/// ```
///  bytes ─▶ RequestGuard (size, time) ─▶ HTTP/1.1 decoder ─▶ pipelining ─▶ HTTPRequestHandler
///                                                                            │ responder (async)
///  bytes ◀──────────────────────────── HTTP/1.1 encoder ◀── head + body ◀────┘
/// ```
public final class HTTPServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The port the server listens on.
    public let port: UInt16

    /// Starts serving `socket` (taken over: closing the server closes it).
    public init(socket: HTTPListenSocket, responder: any HTTPResponder, limits: HTTPServerLimits = .init())
        throws
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = Mutex(0)
        let bootstrap = ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                let admitted = open.withLock { n -> Bool in
                    guard n < limits.maximumConnections else { return false }
                    n += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLock { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let state = RequestState()
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(RequestGuard(state: state, limits: limits), position: .first)
                    try sync.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    try sync.addHandler(HTTPRequestHandler(state: state, responder: responder))
                }
            }
        do {
            channel = try bootstrap.withBoundSocket(socket.take()).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        port = socket.boundPort
    }

    /// Stops accepting, closes the connections and the event loop.
    public func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// What the guard and the handler of one connection share (both run on its event loop).
final class RequestState {
    /// Bytes of the current request so far.
    var bytes = 0
    /// The request head has arrived (a limit broken now is 413, before it 431).
    var headSeen = false
    /// The deadline of the current request.
    var deadline: Scheduled<Void>?
    /// A response was forced (408/413/431): everything after is ignored.
    var refused = false

    /// The request ended: the next one starts afresh.
    func reset() {
        bytes = 0
        headSeen = false
        deadline?.cancel()
        deadline = nil
    }
}

/// Counts a request's bytes and times it before the HTTP decoder sees them; answers 431, 413
/// or 408 itself and closes the connection when a limit is broken.
final class RequestGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let state: RequestState
    let limits: HTTPServerLimits

    init(state: RequestState, limits: HTTPServerLimits) {
        self.state = state
        self.limits = limits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state.refused { return }
        let buffer = unwrapInboundIn(data)
        if state.bytes == 0 && buffer.readableBytes > 0 && state.deadline == nil {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            state.deadline = context.eventLoop.scheduleTask(in: limits.requestTimeout) {
                let (me, context) = bound.value
                me.refuse(context: context, status: 408)
            }
        }
        state.bytes += buffer.readableBytes
        if state.bytes > limits.maximumRequestBytes {
            refuse(context: context, status: state.headSeen ? 413 : 431)
            return
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Writes the status line straight to the socket (below the HTTP encoder) and closes.
    func refuse(context: ChannelHandlerContext, status: Int) {
        guard !state.refused, context.channel.isActive else { return }
        state.refused = true
        state.deadline?.cancel()
        let body = "{\"error\":\"\(StatusResponse.reason(status).lowercased())\"}"
        let text =
            "HTTP/1.1 \(status) \(StatusResponse.reason(status))\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        var out = context.channel.allocator.buffer(capacity: text.utf8.count)
        out.writeString(text)
        // Written from the guard's position: the bytes reach the socket without the HTTP encoder.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(out)).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

/// Turns decoded requests into responder calls and writes the answers (HEAD: headers only).
final class HTTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: RequestState
    let responder: any HTTPResponder
    private var head: HTTPRequestHead?

    init(state: RequestState, responder: any HTTPResponder) {
        self.state = state
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            state.headSeen = true
        case .body:
            break
        case .end:
            guard let h = head, !state.refused else { return }
            head = nil
            state.reset()
            let method = h.method.rawValue
            let target = h.uri
            let keepAlive = h.isKeepAlive
            let version = h.version
            let responder = self.responder
            let promise = context.eventLoop.makePromise(of: StatusResponse.self)
            promise.completeWithTask { await responder.respond(method: method, target: target) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (me, context) = bound.value
                me.write(response, isHead: method == "HEAD", keepAlive: keepAlive, version: version, context: context)
            }
        }
    }

    func write(
        _ r: StatusResponse, isHead: Bool, keepAlive: Bool, version: HTTPVersion, context: ChannelHandlerContext
    ) {
        guard context.channel.isActive, !state.refused else {
            r.onSent?()
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: r.contentType)
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        if r.contentType == StatusResponse.html {
            headers.add(
                name: "Content-Security-Policy",
                value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    + "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        }
        for (k, v) in r.headers { headers.add(name: k, value: v) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        headers.replaceOrAdd(name: "Content-Length", value: String(r.contentLength))
        let head = HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: r.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let buffer = r.bodyBuffer, !isHead {
            sendChunks(of: buffer, from: 0, keepAlive: keepAlive, onSent: r.onSent, context: context)
            return
        }
        r.onSent?()
        if !isHead && !r.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: r.body.count)
            buffer.writeBytes(r.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        end(keepAlive: keepAlive, context: context)
    }

    /// Chunk size for bodies sent from a writer's buffer.
    static let chunk = 1 << 20

    /// Sends a large body one chunk at a time, each after the previous one reached the socket:
    /// at most one chunk's copy exists, and the same memory serves every chunk.
    func sendChunks(
        of buffer: PrometheusWriter, from offset: Int, keepAlive: Bool, onSent: (@Sendable () -> Void)?,
        context: ChannelHandlerContext
    ) {
        let n = min(Self.chunk, buffer.count - offset)
        guard n > 0, context.channel.isActive else {
            onSent?()
            if context.channel.isActive { end(keepAlive: keepAlive, context: context) }
            return
        }
        var out = context.channel.allocator.buffer(capacity: n)
        buffer.withBytes { out.writeBytes(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(out)))).whenComplete { result in
            let (me, context) = bound.value
            if case .failure = result {
                onSent?()
                context.close(promise: nil)
                return
            }
            me.sendChunks(of: buffer, from: offset + n, keepAlive: keepAlive, onSent: onSent, context: context)
        }
    }

    func end(keepAlive: Bool, context: ChannelHandlerContext) {
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
