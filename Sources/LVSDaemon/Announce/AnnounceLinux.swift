// The announcer's Linux side: table N through rtnetlink, BIRD's control socket, the crash keeper child.
import Glibc
import LVSControl
import LVSCore
import LVSPlatform

/// The kernel's routing tables as the announcer sees and changes them.
public protocol AnnounceRouteTable: Sendable {
    /// The routes carrying `protocolNumber` (any table) and the others of `table`.
    func view(table: UInt32?, protocolNumber: UInt8) throws(PlatformError) -> AnnounceTableView
    /// Adds or removes one route (adding one that exists or removing one that is gone succeeds).
    func apply(_ change: AnnounceRouteChange, protocolNumber: UInt8) throws(PlatformError)
}

/// Whether a routing daemon answers on its control socket.
public protocol AnnouncerProbe: Sendable {
    func check(socket: String) -> AnnouncerWatch.Status
}

/// Table N through rtnetlink, in lvsd's network namespace.
public struct KernelAnnounceTable: AnnounceRouteTable {
    public init() {}

    public func view(table: UInt32?, protocolNumber: UInt8) throws(PlatformError) -> AnnounceTableView {
        let socket = try RTNetlinkSocket()
        var view = AnnounceTableView()
        for r in try socket.routes() {
            if r.protocolNumber == protocolNumber, let vip = r.destination,
                r.destinationLength == (vip.family == .inet ? 32 : 128)
            {
                view.marked.append(AnnouncedRoute(vip: vip, table: r.table, metric: r.metric ?? 0))
            } else if r.table == table {
                view.foreignCount += 1
                if view.foreignExample == nil { view.foreignExample = Self.describe(r) }
            }
        }
        return view
    }

    public func apply(_ change: AnnounceRouteChange, protocolNumber: UInt8) throws(PlatformError) {
        let socket = try RTNetlinkSocket()
        let (type, flags, route): (UInt16, UInt16, AnnouncedRoute)
        switch change {
        case .add(let r):
            (type, flags, route) = (RTNetlink.newRoute, RTNetlink.fAck | RTNetlink.fCreate | RTNetlink.fExcl, r)
        case .remove(let r): (type, flags, route) = (RTNetlink.delRoute, RTNetlink.fAck, r)
        }
        let e = try socket.request {
            .route(
                type, flags: flags, sequence: $0, destination: route.vip, prefixLength: route.prefixLength,
                table: route.table, protocolNumber: protocolNumber, routeType: .blackhole, metric: route.metric)
        }
        switch (change, e) {
        case (_, 0), (.add, EEXIST), (.remove, ESRCH), (.remove, ENOENT): return
        default:
            throw PlatformError(.netlink, "\(change.verb) \(route) proto \(protocolNumber): \(errorText(e))", errno: e)
        }
    }

    /// `ip route`'s words for a route of someone else.
    static func describe(_ r: RTNetlinkRoute) -> String {
        let types: [UInt8: String] = [
            1: "", 2: "local ", 3: "broadcast ", 6: "blackhole ", 7: "unreachable ", 8: "prohibit ",
        ]
        let dst = r.destination.map { "\($0)/\(r.destinationLength)" } ?? "default"
        var s = (types[r.type] ?? "type \(r.type) ") + dst
        if let g = r.gateway { s += " via \(g)" }
        s += " proto \(r.protocolNumber)"
        return s
    }
}

extension AnnounceRouteChange {
    var verb: String {
        switch self {
        case .add: return "add"
        case .remove: return "delete"
        }
    }
}

/// BIRD's control socket: connect and read the greeting (`0001 BIRD 2.0.12 ready.`), 1 s at most.
public struct BirdControlProbe: AnnouncerProbe {
    public init() {}

    public func check(socket path: String) -> AnnouncerWatch.Status {
        guard path.utf8.count < 108 else { return .absent("socket path too long") }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .absent("socket: \(errorText(errno))") }
        defer { close(fd) }
        let rc = ControlEndpoint.path(path).withSocketAddress { connect(fd, $0, $1) }
        guard rc == 0 else { return .absent("connect: \(errorText(errno))") }
        var buffer = [UInt8](repeating: 0, count: 256)
        var got = 0
        while got < buffer.count {
            guard Readiness.wait([fd], timeoutMilliseconds: 1000) != 0 else { break }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            if n <= 0 { break }
            got += n
            if buffer[0..<got].contains(10) { break }
        }
        let line = String(decoding: buffer[0..<got].prefix { $0 != 10 }, as: UTF8.self)
        guard line.hasPrefix("0001 ") else {
            return .absent(got == 0 ? "no greeting within 1 s" : "unexpected greeting '\(line)'")
        }
        return .answering(String(line.dropFirst(5)))
    }
}

/// Removes a killed lvsd's announced routes: a `KeeperChild`, as the guard keeper does for the
/// nftables guard.
///
/// ```
///  lvsd ──(write end, close-on-exec)──▶ pipe ──▶ /bin/sh: read; ip route show table all proto P
///                                                 ─▶ delete the lines with "metric <lvsd's pid>"
/// ```
/// When lvsd exits for any reason (SIGKILL included) the child deletes every route with lvsd's
/// protocol number whose metric is that lvsd's pid, so a new lvsd's routes are left alone. BIRD
/// sees the routes go and withdraws them at once.
public final class RouteKeeper: @unchecked Sendable {
    private let child: KeeperChild

    /// The child's script (after the pipe closes).
    public static func script(ip: String, protocolNumber: UInt8, owner: UInt32) -> String {
        "for f in -4 -6; do \(ip) $f route show table all proto \(protocolNumber) | while read -r r; do "
            + "case \" $r \" in *\" metric \(owner) \"*) \(ip) $f route del $r proto \(protocolNumber);; esac; done; done"
    }

    private init(child: KeeperChild) { self.child = child }

    /// The keeper's pid.
    public var pid: pid_t { child.pid }

    /// The `ip` program the keeper runs, or nil.
    public static var ipProgram: String? { Subprocess.find("ip") }

    /// Starts the keeper for the routes of `owner` (this lvsd's pid); nil with the reason if it
    /// cannot be started.
    public static func start(protocolNumber: UInt8, owner: UInt32) -> (RouteKeeper?, String?) {
        guard let ip = ipProgram else { return (nil, "the ip program (iproute2) is not installed") }
        switch KeeperChild.start(script: script(ip: ip, protocolNumber: protocolNumber, owner: owner)) {
        case .success(let c): return (RouteKeeper(child: c), nil)
        case .failure(let e): return (nil, e.message)
        }
    }

    /// Lets the child go (after lvsd withdrew its routes itself) and reaps it.
    public func stop() { child.release() }
}
