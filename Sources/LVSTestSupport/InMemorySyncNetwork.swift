// A fake for the sync daemons' network: an in-memory multicast group (no sockets).
import Glibc
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

    final class Channel: SyncChannel, @unchecked Sendable {
        weak var network: InMemorySyncNetwork?
        private let lock = Mutex(())
        private var queue: [[UInt8]] = []
        private var woken = false

        init(network: InMemorySyncNetwork) { self.network = network }

        func enqueue(_ d: [UInt8]) {
            lock.withLock { _ in queue.append(d) }
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

        func wait(milliseconds: Int32) {
            for _ in 0..<max(1, milliseconds) {
                let ready = lock.withLock { _ in
                    defer { woken = false }
                    return !queue.isEmpty || woken
                }
                if ready { return }
                usleep(1000)
            }
        }

        func wake() {
            lock.withLock { _ in woken = true }
        }

        func close() { network?.remove(self) }
    }
}
