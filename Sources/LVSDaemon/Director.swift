// The director's state: the one IPVS model of this lvsd, owned behind a lock, served to clients.
import LVSControl
import LVSCore
import LVSDataPlane
import LVSPlatform
import Synchronization

/// The single owner of the IPVS model. The model is not thread-safe: every access goes through
/// `withModel`, which holds the director's lock, so the control server, and later the keepalived
/// configuration, health checkers and VRRP, never touch it concurrently.
public final class Director: ControlRequestHandler, IPVSOwner, @unchecked Sendable {
    // Invariant: `model` is only touched while `lock` is held.
    private let model: any IPVSControlTarget
    /// The model as the packet path's IPVS table (nil for fakes).
    private let ipvs: IPVS?
    private let lock = Mutex(())
    /// Serialises control frames (taken before `lock`): a frame's operations are never interleaved
    /// with another client's, while the packet worker gets the table between operations and
    /// between the pieces of a connection listing.
    private let frameLock = Mutex(())
    /// Connections listed per hold of the lock.
    static let listingPiece = 4096
    public let clock: any LVSSleepingClock
    /// Called (without the lock) after requests that changed the table.
    private let changeObservers = Mutex<[@Sendable () -> Void]>([])

    public init(model: any IPVSControlTarget, clock: any LVSSleepingClock = MonotonicClock()) {
        self.model = model
        self.ipvs = model as? IPVS
        self.clock = clock
    }

    /// The data plane's access: the IPVS table under the lock, once per batch of packets.
    public func withIPVS(_ body: (IPVS) -> Void) {
        guard let ipvs else { return }
        lock.withLock { _ in body(ipvs) }
    }

    /// Registers `observer`, called after every control frame that changed the table (and by
    /// `notifyChanged`), without the lock held.
    public func addChangeObserver(_ observer: @escaping @Sendable () -> Void) {
        changeObservers.withLock { $0.append(observer) }
    }

    /// Tells the observers that the table changed (for changes made through `withModel`).
    public func notifyChanged() {
        for o in changeObservers.withLock({ $0 }) { o() }
    }

    /// Runs `body` with exclusive access to the model.
    public func withModel<R>(_ body: (any IPVSControlTarget) throws -> R) rethrows -> R {
        try lock.withLock { _ in try body(model) }
    }

    /// Serves one control frame, encoded as it goes: each operation under its own hold of the lock,
    /// a connection listing in pieces of `listingPiece` entries (the lock released between them)
    /// and written straight into the response, never as a whole list in memory. A response beyond
    /// what a client accepts becomes a `tooLarge` rejection.
    public func respond(to requests: [ControlRequest], mayChangeState: Bool) -> [UInt8] {
        let frame = frameLock.withLock { _ -> [UInt8] in
            let now = clock.now()
            var w = ControlByteWriter(reservingCapacity: 4096)
            ControlCodec.writeHeader(.response, into: &w)
            w.u32(UInt32(truncatingIfNeeded: requests.count))
            for r in requests {
                if case .listConnections = r, let ipvs {
                    w.u8(7)
                    let countAt = w.count
                    w.u32(0)
                    var n: UInt32 = 0
                    var cursor: ConnectionListingCursor? = ConnectionListingCursor()
                    while let c = cursor, w.count <= ControlProtocol.maxResponseBody {
                        cursor = lock.withLock { _ in
                            ipvs.connections(now: now, from: c, maxEntries: Self.listingPiece) { e in
                                w.connection(e)
                                n &+= 1
                            }
                        }
                    }
                    w.patchU32(n, at: countAt)
                } else {
                    let result = lock.withLock { _ in r.perform(on: model, now: now, mayChangeState: mayChangeState) }
                    ControlCodec.encode(result, into: &w)
                }
            }
            return ControlCodec.finish(w)
        }
        if mayChangeState && requests.contains(where: \.isMutating) { notifyChanged() }
        return frame
    }

    /// Serves one control frame: every request in order, under one hold of the lock.
    public func handle(_ requests: [ControlRequest], mayChangeState: Bool) -> [ControlResult] {
        let now = clock.now()
        let results = withModel { m in
            requests.map { $0.perform(on: m, now: now, mayChangeState: mayChangeState) }
        }
        if mayChangeState && requests.contains(where: \.isMutating) { notifyChanged() }
        return results
    }
}
