// What the VRRP state machine asks its driver to do, and the events that drive it.
import LVSCore

/// Which notify script a transition runs.
public enum VRRPNotifyKind: String, Hashable, Sendable {
    case master
    case backup
    case fault
    case stop
    /// The `notify` script, called with `INSTANCE|GROUP name STATE priority` appended.
    case generic
}

/// One notify script to run: the configured command line and the arguments keepalived appends.
public struct VRRPNotifyInvocation: Hashable, Sendable, CustomStringConvertible {
    public var kind: VRRPNotifyKind
    /// The command line as configured (split like a shell word list when run).
    public var command: String
    /// Arguments appended after the command's own: empty for `notify_master` & co, and
    /// `["INSTANCE"|"GROUP", name, STATE, priority]` for `notify` (priority 0 for a group).
    public var arguments: [String]
    /// The user to run it as (nil: the daemon's own).
    public var runAs: VRRPScriptUser?

    public init(kind: VRRPNotifyKind, command: String, arguments: [String] = [], runAs: VRRPScriptUser? = nil) {
        self.kind = kind
        self.command = command
        self.arguments = arguments
        self.runAs = runAs
    }

    /// The full argument vector: the command's words, then the appended arguments.
    public var argv: [String] { ScriptCommand.split(command) + arguments }

    public var description: String { argv.joined(separator: " ") }
}

/// An action the driver performs, in the order given.
public enum VRRPAction: Hashable, Sendable {
    /// Send one advertisement with this priority (0 when leaving MASTER for FAULT or STOP).
    case sendAdvert(priority: UInt8)
    /// Add these addresses (VIPs and excluded VIPs) to their interfaces.
    case addAddresses([VirtualIPAddress])
    /// Remove these addresses.
    case removeAddresses([VirtualIPAddress])
    /// Send `repeat` gratuitous ARPs (IPv4) / unsolicited neighbour adverts (IPv6) for each address.
    case sendGratuitous([VirtualIPAddress], repeat: Int)
    /// Run a notify script.
    case notify(VRRPNotifyInvocation)
    /// A line for the log.
    case log(String)
    /// The instance entered a new state.
    case stateChanged(from: VRRPState, to: VRRPState)
    /// Call `handle(.timer, now:)` at this time (the earliest pending deadline).
    case scheduleTimer(at: Timestamp)
}

/// An event for one instance.
public enum VRRPEvent: Hashable, Sendable {
    /// Start the instance (vrrp_init_state).
    case start
    /// A deadline given by `scheduleTimer` has come.
    case timer
    /// A packet arrived; it goes through the receive checks first.
    case packet(ReceivedVRRPPacket)
    /// The tracked script `name` is now OK (true) or failed (false), after rise/fall.
    case scriptState(name: String, ok: Bool)
    /// The interface `name` went up (true) or down (false).
    case interfaceState(name: String, up: Bool)
    /// Stop the instance (shutdown): priority 0 advert if master, VIPs removed, notify_stop.
    case stop
}
