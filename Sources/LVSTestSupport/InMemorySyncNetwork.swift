// A fake for the sync daemons' network: an in-memory multicast group (no sockets).
import LVSPlatform
import Synchronization

/// An in-memory "multicast group" for tests: what one channel sends, every other channel of the
/// same network receives (no loopback to the sender, as IP_MULTICAST_LOOP 0).
public final class InMemorySyncNetwork: @unchecked Sendable {
    private let lock = Mutex(())
    private var channels: [ObjectIdentifier: Channel] = [:]
    /// Datagrams sent, in order (for assertions).
    public private(set) var sent: [[UInt8]] = []
    /// While false, nothing is delivered (a partition).
    public var connected = true

    public init() {}

    /// A new channel on this network.
    public func channel() -> SyncChannel {
        let c = Channel(network: self)
        lock.withLock { _ in channels[ObjectIdentifier(c)] = c }
        return c
    }

    fileprivate func deliver(_ d: [UInt8], from: Channel) {
        let targets = lock.withLock { _ in
            sent.append(d)
            return connected ? channels.values.filter { $0 !== from } : []
        }
        for t in targets { t.enqueue(d) }
    }

    fileprivate func remove(_ c: Channel) {
        lock.withLock { _ in channels[ObjectIdentifier(c)] = nil }
    }

    /// One member of the group. Its receive queue and a `WakeDescriptor` that a delivery or
    /// `wake()` signals: `wait` sleeps in poll(2) on it, as the real channel sleeps on its socket.
    final class Channel: SyncChannel, @unchecked Sendable {
        weak var network: InMemorySyncNetwork?
        private let lock = Mutex(())
        private var queue: [[UInt8]] = []
        private var woken = false
        private let ready: WakeDescriptor

        init(network: InMemorySyncNetwork) {
            self.network = network
            // An eventfd cannot fail to open short of running out of descriptors: a test's bug.
            ready = try! WakeDescriptor()
        }

        func enqueue(_ d: [UInt8]) {
            lock.withLock { _ in queue.append(d) }
            ready.signal()
        }

        func send(_ datagram: [UInt8]) -> Bool {
            network?.deliver(datagram, from: self)
            return true
        }

        func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
            guard let d = lock.withLock({ _ in queue.isEmpty ? nil : queue.removeFirst() }) else { return nil }
            let n = min(d.count, buffer.count)
            d.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            return d.count
        }

        /// Returns at once while datagrams wait (the socket stays readable until they are read)
        /// or after a `wake()`; otherwise sleeps until a delivery or wake signals, or the time passes.
        func wait(milliseconds: Int32) {
            let now = lock.withLock { _ in
                defer { woken = false }
                return !queue.isEmpty || woken
            }
            if now {
                ready.drain()
                return
            }
            // A signal between the check and poll(2) stays pending on the eventfd: not lost. The
            // queue and `woken` are the truth; the next wait checks them before sleeping.
            _ = Readiness.wait([ready.descriptor], timeoutMilliseconds: milliseconds)
            ready.drain()
        }

        func wake() {
            lock.withLock { _ in woken = true }
            ready.signal()
        }

        func close() { network?.remove(self) }
    }
}
