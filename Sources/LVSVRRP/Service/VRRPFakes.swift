// Fakes of the VRRP adapters, for tests of the driver and of the daemon that hosts it.
import Foundation
import LVSCore

/// A transport that records what is sent and delivers what a test injects.
public final class FakeVRRPTransport: VRRPTransport, @unchecked Sendable {
    public struct Sent: Hashable, Sendable {
        public var message: [UInt8]
        public var source: IPAddress
        public var destination: IPAddress
        public var ttl: UInt8
    }

    private let lock = NSLock()
    private var _sent: [Sent] = []
    public let packets: AsyncStream<ReceivedVRRPPacket>
    private let continuation: AsyncStream<ReceivedVRRPPacket>.Continuation

    public init() { (packets, continuation) = AsyncStream.makeStream() }

    public var sent: [Sent] {
        lock.lock()
        defer { lock.unlock() }
        return _sent
    }

    public func send(_ message: [UInt8], source: IPAddress, destination: IPAddress, ttl: UInt8) throws(VRRPError) {
        lock.lock()
        _sent.append(Sent(message: message, source: source, destination: destination, ttl: ttl))
        lock.unlock()
    }

    /// Delivers a packet as if received.
    public func inject(_ p: ReceivedVRRPPacket) { continuation.yield(p) }

    public func close() { continuation.finish() }
}

/// An address manager that keeps the addresses in a set.
public final class FakeAddressManager: AddressManager, @unchecked Sendable {
    private let lock = NSLock()
    private var _installed: Set<String> = []

    public init() {}

    /// Installed addresses as `interface address/prefix`.
    public var installed: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return _installed
    }

    public func add(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        lock.lock()
        _installed.insert("\(interface) \(a)")
        lock.unlock()
    }

    public func remove(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        lock.lock()
        _installed.remove("\(interface) \(a)")
        lock.unlock()
    }
}

/// A GARP sender that counts announcements per address.
public final class FakeGARPSender: GARPSender, @unchecked Sendable {
    private let lock = NSLock()
    private var _count: [String: Int] = [:]

    public init() {}

    public var counts: [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return _count
    }

    public func announce(_ address: VirtualIPAddress, interface: String, count: Int) throws(VRRPError) {
        lock.lock()
        _count["\(address.address)", default: 0] += count
        lock.unlock()
    }
}

/// Interfaces whose state a test sets.
public final class FakeInterfaceMonitor: InterfaceMonitor, @unchecked Sendable {
    private let lock = NSLock()
    private var up: [String: Bool]
    private var addresses: [String: IPAddress]
    public let changes: AsyncStream<(String, Bool)>
    private let continuation: AsyncStream<(String, Bool)>.Continuation

    public init(up: [String: Bool], addresses: [String: IPAddress]) {
        self.up = up
        self.addresses = addresses
        (changes, continuation) = AsyncStream.makeStream()
    }

    public func isUp(_ interface: String) -> Bool? {
        lock.lock()
        defer { lock.unlock() }
        return up[interface]
    }

    public func primaryAddress(of interface: String, family: AddressFamily) -> IPAddress? {
        lock.lock()
        defer { lock.unlock() }
        return addresses[interface].flatMap { $0.family == family ? $0 : nil }
    }

    /// Changes an interface's state and reports it.
    public func set(_ interface: String, up u: Bool) {
        lock.lock()
        up[interface] = u
        lock.unlock()
        continuation.yield((interface, u))
    }

    public func close() { continuation.finish() }
}

/// A script runner that answers from a table and records every run.
public final class FakeScriptRunner: ScriptRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var results: [String: Bool] = [:]
    private var _runs: [[String]] = []

    public init() {}

    /// Sets whether scripts whose argv[0] is `name` succeed.
    public func set(_ name: String, succeeds: Bool) {
        lock.lock()
        results[name] = succeeds
        lock.unlock()
    }

    public var runs: [[String]] {
        lock.lock()
        defer { lock.unlock() }
        return _runs
    }

    /// The user each run asked for (nil: the daemon's own), in run order.
    public var users: [String?] {
        lock.lock()
        defer { lock.unlock() }
        return _users
    }
    private var _users: [String?] = []

    public func run(_ argv: [String], timeout: Duration, user: String?, group: String?) async -> ScriptOutcome {
        let ok = lock.withLock {
            _runs.append(argv)
            _users.append(user.map { u in group.map { "\(u):\($0)" } ?? u })
            return results[argv.first ?? ""] ?? true
        }
        return ScriptOutcome(exitStatus: ok ? 0 : 1)
    }
}
