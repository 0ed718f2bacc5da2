// The I/O seams of the VRRP driver: transport, addresses, GARP, interface state, scripts.
import LVSCore

/// Where adverts go and come from: one socket (pair) per interface, family and cast mode.
public struct VRRPTransportKey: Hashable, Sendable, CustomStringConvertible {
    /// The interface (nil: unicast without `interface`, unbound).
    public var interface: String?
    public var family: AddressFamily
    public var unicast: Bool
    /// The multicast group joined (nil in unicast, or for the default group of the family).
    public var group: IPAddress?

    /// The group to join: `group`, else 224.0.0.18 / ff02::12.
    public var effectiveGroup: IPAddress {
        group
            ?? (family == .inet
                ? .v4(IPv4Address(224, 0, 0, 18)) : .v6(IPv6Address(groups: [0xFF02, 0, 0, 0, 0, 0, 0, 0x12])))
    }

    public var description: String {
        "\(interface ?? "*")/\(family == .inet ? "IPv4" : "IPv6")/\(unicast ? "unicast" : "multicast")"
    }
}

/// Sends and receives VRRP messages (the IP payload; the transport adds the IP header).
public protocol VRRPTransport: AnyObject, Sendable {
    /// Sends one message from `source` to `destination` with this TTL / hop limit.
    func send(_ message: [UInt8], source: IPAddress, destination: IPAddress, ttl: UInt8) throws(VRRPError)
    /// Received packets, until `close()`.
    var packets: AsyncStream<ReceivedVRRPPacket> { get }
    /// Stops receiving and releases the socket(s).
    func close()
}

/// Adds and removes addresses on interfaces (rtnetlink RTM_NEWADDR / RTM_DELADDR).
public protocol VIPInstaller: Sendable {
    /// Adds an address; an address already present is not an error.
    func add(_ address: VirtualIPAddress, interface: String) throws(VRRPError)
    /// Removes an address; an address already absent is not an error.
    func remove(_ address: VirtualIPAddress, interface: String) throws(VRRPError)
}

/// Sends gratuitous ARPs (IPv4) and unsolicited neighbour advertisements (IPv6).
public protocol GARPSender: Sendable {
    /// Sends `count` announcements for `address` on `interface`.
    func announce(_ address: VirtualIPAddress, interface: String, count: Int) throws(VRRPError)
}

/// Link state and addresses of interfaces (for `track_interface` and source addresses).
public protocol InterfaceMonitor: Sendable {
    /// Up (IFF_UP and IFF_RUNNING) or down; nil for an unknown interface.
    func isUp(_ interface: String) -> Bool?
    /// The interface's primary address of a family (IPv6: its first link-local address).
    func primaryAddress(of interface: String, family: AddressFamily) -> IPAddress?
    /// Link changes as (interface, up), until the monitor is closed.
    var changes: AsyncStream<(String, Bool)> { get }
    func close()
}

/// The outcome of one script run.
public struct ScriptOutcome: Hashable, Sendable {
    /// The exit status, if the script exited.
    public var exitStatus: Int32?
    /// The signal that ended it, if any.
    public var signal: Int32?
    public var timedOut: Bool

    public init(exitStatus: Int32?, signal: Int32? = nil, timedOut: Bool = false) {
        self.exitStatus = exitStatus
        self.signal = signal
        self.timedOut = timedOut
    }

    /// Exit 0 within the timeout.
    public var succeeded: Bool { exitStatus == 0 && !timedOut }
}

/// Runs `vrrp_script` checks and notify scripts.
public protocol ScriptRunner: Sendable {
    /// Runs `argv` (argv[0] a path, or a name looked up in PATH) as `user`/`group` if given,
    /// killing it (its whole process group) after `timeout`.
    func run(_ argv: [String], timeout: Duration, user: String?, group: String?) async -> ScriptOutcome
}

/// Everything the VRRP driver touches outside itself.
public struct VRRPAdapters: Sendable {
    public var openTransport: @Sendable (VRRPTransportKey) throws(VRRPError) -> any VRRPTransport
    public var addresses: any VIPInstaller
    public var garp: any GARPSender
    public var interfaces: any InterfaceMonitor
    public var scripts: any ScriptRunner
    /// What the driver reads the time from and sleeps on (timers, script intervals).
    public var clock: any LVSSleepingClock
    public var log: @Sendable (String) -> Void

    public init(
        openTransport: @escaping @Sendable (VRRPTransportKey) throws(VRRPError) -> any VRRPTransport,
        addresses: any VIPInstaller, garp: any GARPSender, interfaces: any InterfaceMonitor,
        scripts: any ScriptRunner, clock: any LVSSleepingClock, log: @escaping @Sendable (String) -> Void
    ) {
        self.openTransport = openTransport
        self.addresses = addresses
        self.garp = garp
        self.interfaces = interfaces
        self.scripts = scripts
        self.clock = clock
        self.log = log
    }
}
