// Fakes of the VRRP adapters, for tests of the driver and of the daemon that hosts it.
import LVSCore
import LVSVRRP
import Synchronization

/// A transport that records what is sent and delivers what a test injects.
public final class FakeVRRPTransport: VRRPTransport, Sendable {
    public struct Sent: Hashable, Sendable {
        public var message: [UInt8]
        public var source: IPAddress
        public var destination: IPAddress
        public var ttl: UInt8
    }

    private let _sent = Mutex<[Sent]>([])
    public let packets: AsyncStream<ReceivedVRRPPacket>
    private let continuation: AsyncStream<ReceivedVRRPPacket>.Continuation

    public init() { (packets, continuation) = AsyncStream.makeStream() }

    public var sent: [Sent] { _sent.withLock { $0 } }

    public func send(_ message: [UInt8], source: IPAddress, destination: IPAddress, ttl: UInt8) throws(VRRPError) {
        _sent.withLock { $0.append(Sent(message: message, source: source, destination: destination, ttl: ttl)) }
    }

    /// Delivers a packet as if received.
    public func inject(_ p: ReceivedVRRPPacket) { continuation.yield(p) }

    public func close() { continuation.finish() }
}

/// A VIP installer that keeps the addresses in a set.
public final class FakeVIPInstaller: VIPInstaller, Sendable {
    private let _installed = Mutex<Set<String>>([])

    public init() {}

    /// Installed addresses as `interface address/prefix`.
    public var installed: Set<String> { _installed.withLock { $0 } }

    public func add(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        _installed.withLock { _ = $0.insert("\(interface) \(a)") }
    }

    public func remove(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        _installed.withLock { _ = $0.remove("\(interface) \(a)") }
    }
}

/// A GARP sender that counts announcements per address.
public final class FakeGARPSender: GARPSender, Sendable {
    private let _count = Mutex<[String: Int]>([:])

    public init() {}

    public var counts: [String: Int] { _count.withLock { $0 } }

    public func announce(_ address: VirtualIPAddress, interface: String, count: Int) throws(VRRPError) {
        _count.withLock { $0["\(address.address)", default: 0] += count }
    }
}

/// Interfaces whose state a test sets.
public final class FakeInterfaceMonitor: InterfaceMonitor, Sendable {
    private let up: Mutex<[String: Bool]>
    private let addresses: [String: IPAddress]
    public let changes: AsyncStream<(String, Bool)>
    private let continuation: AsyncStream<(String, Bool)>.Continuation

    public init(up: [String: Bool], addresses: [String: IPAddress]) {
        self.up = Mutex(up)
        self.addresses = addresses
        (changes, continuation) = AsyncStream.makeStream()
    }

    public func isUp(_ interface: String) -> Bool? { up.withLock { $0[interface] } }

    public func primaryAddress(of interface: String, family: AddressFamily) -> IPAddress? {
        addresses[interface].flatMap { $0.family == family ? $0 : nil }
    }

    /// Changes an interface's state and reports it.
    public func set(_ interface: String, up u: Bool) {
        up.withLock { $0[interface] = u }
        continuation.yield((interface, u))
    }

    public func close() { continuation.finish() }
}

/// A script runner that answers from a table and records every run.
public final class FakeScriptRunner: ScriptRunner, Sendable {
    private struct Record {
        var results: [String: Bool] = [:]
        var runs: [[String]] = []
        var users: [String?] = []
    }

    private let record = Mutex(Record())

    public init() {}

    /// Sets whether scripts whose argv[0] is `name` succeed.
    public func set(_ name: String, succeeds: Bool) { record.withLock { $0.results[name] = succeeds } }

    public var runs: [[String]] { record.withLock { $0.runs } }

    /// The user each run asked for (nil: the daemon's own), in run order.
    public var users: [String?] { record.withLock { $0.users } }

    public func run(_ argv: [String], timeout: Duration, user: String?, group: String?) async -> ScriptOutcome {
        let ok = record.withLock { r in
            r.runs.append(argv)
            r.users.append(user.map { u in group.map { "\(u):\($0)" } ?? u })
            return r.results[argv.first ?? ""] ?? true
        }
        return ScriptOutcome(exitStatus: ok ? 0 : 1)
    }
}
