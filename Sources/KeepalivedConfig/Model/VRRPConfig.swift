// The typed VRRP blocks: vrrp_script, vrrp_instance (VIPs, tracking, peers), vrrp_sync_group.
import LVSCore

/// `vrrp_script NAME { ... }`: a check whose exit status feeds instance priorities.
public struct VRRPScript: Hashable, Sendable {
    public var name: String
    /// `script`; nil if missing (keepalived then removes the script, with an error).
    public var script: ScriptCommand?
    /// `interval` (default 1 s).
    public var interval = TimerValue.seconds(1)
    /// `timeout`; nil means the interval.
    public var timeout: TimerValue?
    /// `weight` −253...253 (default 0: a failure puts watching instances in FAULT).
    public var weight: Int = 0
    /// `weight N reverse`.
    public var weightReverse = false
    /// `rise` (default 1).
    public var rise: UInt32 = 1
    /// `fall` (default 1).
    public var fall: UInt32 = 1
    /// `user username [groupname]`.
    public var user: String?
    public var group: String?
    /// `init_fail`: start in the failed state.
    public var initFail = false
    public var location: SourceLocation
    public var keywordLocations: [String: SourceLocation] = [:]

    /// The timeout in effect (`timeout`, else `interval`).
    public var effectiveTimeout: TimerValue { timeout ?? interval }
}

/// `state MASTER|BACKUP` (case-sensitive).
public enum VRRPInitialState: String, Hashable, Sendable {
    case master = "MASTER"
    case backup = "BACKUP"
}

/// `authentication { auth_type PASS|AH; auth_pass X }`.
public struct VRRPAuthentication: Hashable, Sendable {
    public enum AuthType: String, Hashable, Sendable {
        case pass = "PASS"
        case ah = "AH"
    }
    public var type: AuthType?
    /// The password, cut to its first 8 bytes (only those count on the wire).
    public var password: [UInt8] = []
    public var location: SourceLocation

    public init(type: AuthType? = nil, password: [UInt8] = [], location: SourceLocation) {
        self.type = type
        self.password = password
        self.location = location
    }
}

/// One entry of `virtual_ipaddress` / `virtual_ipaddress_excluded`:
/// `IP[/len] [brd IP|+|-] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] [noprefixroute]
/// [no_track] [preferred_lft N|forever] [use_vmac] [mngtmpaddr] [autojoin]`.
public struct VirtualIPAddress: Hashable, Sendable {
    /// `brd` value.
    public enum Broadcast: Hashable, Sendable {
        case address(IPAddress)
        /// `+`: set the host bits.
        case setHostBits
        /// `-`: clear the host bits.
        case clearHostBits
    }
    /// `scope` value.
    public enum Scope: String, Hashable, Sendable {
        case global, site, link, host, nowhere
    }
    /// `preferred_lft` value.
    public enum PreferredLifetime: Hashable, Sendable {
        case seconds(UInt32)
        case forever
    }

    public var address: IPAddress
    /// Prefix length (default /32 or /128).
    public var prefixLength: Int
    public var broadcast: Broadcast?
    /// `dev`; nil means the instance's interface.
    public var device: String?
    public var scope: Scope?
    /// `label` (e.g. `eth0:240`, shown by ifconfig).
    public var label: String?
    public var peer: IPAddress?
    public var home = false
    public var noDAD = false
    public var noPrefixRoute = false
    public var noTrack = false
    public var manageTemporaryAddresses = false
    public var autojoin = false
    public var preferredLifetime: PreferredLifetime?
    public var useVMAC = false
    public var location: SourceLocation

    public init(address: IPAddress, prefixLength: Int? = nil, location: SourceLocation) {
        self.address = address
        self.prefixLength = prefixLength ?? (address.family == .inet ? 32 : 128)
        self.location = location
    }
}

/// An entry of `track_interface` / `track_script` / `track_file` / `track_process` /
/// `track_bfd`: `NAME [weight W [reverse|noreverse]]`.
public struct TrackedObject: Hashable, Sendable {
    public var name: String
    /// The weight given on the line; nil means the object's own (scripts) or 0 (interfaces).
    public var weight: Int?
    public var reverse = false
    public var location: SourceLocation

    public init(name: String, weight: Int? = nil, reverse: Bool = false, location: SourceLocation) {
        self.name = name
        self.weight = weight
        self.reverse = reverse
        self.location = location
    }
}

/// The five kinds of tracker an instance or sync group can watch.
public struct VRRPTracking: Hashable, Sendable {
    public var interfaces: [TrackedObject] = []
    public var scripts: [TrackedObject] = []
    public var files: [TrackedObject] = []
    public var processes: [TrackedObject] = []
    public var bfds: [TrackedObject] = []

    public init() {}
}

/// `unicast_peer { IP [min_ttl N] [max_ttl N] }` entry.
public struct UnicastPeer: Hashable, Sendable {
    public var address: IPAddress
    public var minTTL: UInt8?
    public var maxTTL: UInt8?
    public var location: SourceLocation

    public init(address: IPAddress, minTTL: UInt8? = nil, maxTTL: UInt8? = nil, location: SourceLocation) {
        self.address = address
        self.minTTL = minTTL
        self.maxTTL = maxTTL
        self.location = location
    }
}

/// The notify scripts of an instance or sync group.
public struct VRRPNotifyScripts: Hashable, Sendable {
    public var master: ScriptCommand?
    public var backup: ScriptCommand?
    public var fault: ScriptCommand?
    public var stop: ScriptCommand?
    /// `notify_deleted [script]`: report DELETED rather than FAULT (script optional).
    public var deleted: ScriptCommand?
    public var notifyDeleted = false
    /// `notify`: called for every transition with `INSTANCE|GROUP name STATE priority` appended.
    public var any: ScriptCommand?
    public var masterReceivedLowerPriority: ScriptCommand?

    public init() {}

    /// Every script set.
    public var all: [ScriptCommand] {
        [master, backup, fault, stop, deleted, any, masterReceivedLowerPriority].compactMap { $0 }
    }
}

/// `vrrp_instance NAME { ... }`.
public struct VRRPInstance: Hashable, Sendable {
    public var name: String
    /// `state`; nil when not given (behaves as BACKUP).
    public var state: VRRPInitialState?
    public var interface: String?
    /// `virtual_router_id` 1...255 (required).
    public var virtualRouterID: UInt8?
    /// `priority` 1...255 (default 100; 255 is the address owner).
    public var priority: UInt8 = 100
    /// `advert_int` (default 1 s).
    public var advertInterval = TimerValue.seconds(1)
    /// `version` 2|3; nil means the global default.
    public var version: Int?
    public var nopreempt = false
    /// `preempt_delay` 0...1000 s.
    public var preemptDelay: TimerValue?
    public var authentication: VRRPAuthentication?
    public var virtualIPAddresses: [VirtualIPAddress] = []
    public var excludedVirtualIPAddresses: [VirtualIPAddress] = []
    /// `virtual_routes` / `virtual_rules` lines, as written.
    public var virtualRoutes: [[String]] = []
    public var virtualRules: [[String]] = []
    public var noVirtualIPAddress = false
    public var tracking = VRRPTracking()
    public var dontTrackPrimary = false
    public var multicastSourceIP: IPAddress?
    public var unicastSourceIP: IPAddress?
    public var multicastDestinationIP: IPAddress?
    public var unicastPeers: [UnicastPeer] = []
    public var unicastTTL: UInt8?
    public var unicastFaultNoPeer = false
    public var checkUnicastSource = false
    public var trackSourceIP = false
    public var garpMasterDelay: UInt32?
    public var garpMasterRepeat: UInt32?
    public var garpMasterRefresh: UInt32?
    public var garpMasterRefreshRepeat: UInt32?
    public var garpLowerPrioDelay: UInt32?
    public var garpLowerPrioRepeat: UInt32?
    /// `accept` (true) / `no_accept` (false); nil means the default (accept unless strict).
    public var accept: Bool?
    public var strictMode: Bool?
    public var lowerPrioNoAdvert: Bool?
    public var higherPrioSendAdvert: Bool?
    public var skipCheckAdvertAddresses: Bool?
    public var downTimerAdverts: UInt32?
    public var v3ChecksumAsV2: Bool?
    /// `use_vmac [name] [MAC]`: words after the keyword (empty when given bare).
    public var useVMAC: [String]?
    public var vmacTransmitBase = false
    public var notify = VRRPNotifyScripts()
    public var notifyPriorityChanges: Bool?
    public var smtpAlert: Bool?
    /// Deprecated `lvs_sync_daemon_interface`.
    public var lvsSyncDaemonInterface: String?
    public var promoteSecondaries = false
    public var debug: UInt8?
    /// Recognised keywords kept as written (use_ipvlan, vrf, auth_hmac, ...).
    public var otherSettings: [RecognisedSetting] = []
    public var location: SourceLocation
    public var keywordLocations: [String: SourceLocation] = [:]

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// `vrrp_sync_group NAME { group { VI ... } ... }`.
public struct VRRPSyncGroup: Hashable, Sendable {
    public var name: String
    /// Names of member instances.
    public var instances: [String] = []
    public var tracking = VRRPTracking()
    public var notify = VRRPNotifyScripts()
    public var smtpAlert: Bool?
    public var syncGroupTrackingWeight = false
    public var notifyPriorityChanges: Bool?
    public var location: SourceLocation
    public var keywordLocations: [String: SourceLocation] = [:]
}

extension VRRPInstance {
    /// The instance's address family: that of its first VIP, else of its source address.
    public var family: AddressFamily? {
        virtualIPAddresses.first?.address.family ?? unicastSourceIP?.family ?? multicastSourceIP?.family
            ?? unicastPeers.first?.address.family
    }
}
