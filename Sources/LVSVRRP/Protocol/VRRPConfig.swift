// Plain configuration of VRRP instances, scripts and sync groups, with keepalived's defaults.
import LVSCore

/// The states of a VRRP instance (RFC 5798 §6.4 plus keepalived's FAULT and STOP).
public enum VRRPState: String, Hashable, Sendable, CustomStringConvertible {
    case initialize = "INIT"
    case backup = "BACKUP"
    case master = "MASTER"
    case fault = "FAULT"
    case stop = "STOP"

    public var description: String { rawValue }
}

/// The protocol version: 2 (RFC 3768, IPv4 only) or 3 (RFC 5798, IPv4 and IPv6).
public enum VRRPVersion: UInt8, Hashable, Sendable {
    case v2 = 2
    case v3 = 3
}

/// VRRPv2 authentication (`authentication { auth_type …; auth_pass … }`).
public enum VRRPAuthentication: Hashable, Sendable {
    /// No authentication (auth type 0).
    case none
    /// Simple text password (auth type 1); only the first 8 characters count.
    case pass(String)
    /// IPsec AH (auth type 2). Refused by this implementation with a clear error.
    case ah(String)

    /// The wire value of the auth type field.
    public var wireType: UInt8 {
        switch self {
        case .none: return 0
        case .pass: return 1
        case .ah: return 2
        }
    }

    /// The 8 bytes of auth data a PASS advert carries: the password's first 8 bytes, zero padded.
    public var passwordBytes: [UInt8] {
        guard case .pass(let p) = self else { return [UInt8](repeating: 0, count: 8) }
        var b = Array(p.utf8.prefix(8))
        while b.count < 8 { b.append(0) }
        return b
    }
}

/// The scope of an address, as `ip addr` names it.
public enum AddressScope: UInt8, Hashable, Sendable {
    case global = 0
    case site = 200
    case link = 253
    case host = 254
    case nowhere = 255

    /// Parses `global|site|link|host|nowhere`.
    public init?(name: String) {
        switch name {
        case "global": self = .global
        case "site": self = .site
        case "link": self = .link
        case "host": self = .host
        case "nowhere": self = .nowhere
        default: return nil
        }
    }
}

/// One `virtual_ipaddress` entry: `IP[/len] [brd IP] [dev IF] [scope S] [label L]`.
public struct VirtualIPAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    /// Prefix length; keepalived's default is /32 (IPv4) or /128 (IPv6).
    public var prefixLength: Int
    /// `dev`: the interface; nil means the instance's interface.
    public var device: String?
    /// `label` (IPv4 only), e.g. `eth0:1`.
    public var label: String?
    /// `brd`: the broadcast address (IPv4 only).
    public var broadcast: IPv4Address?
    /// `scope`; default global.
    public var scope: AddressScope

    public init(
        _ address: IPAddress, prefixLength: Int? = nil, device: String? = nil, label: String? = nil,
        broadcast: IPv4Address? = nil, scope: AddressScope = .global
    ) {
        self.address = address
        self.prefixLength = prefixLength ?? (address.family == .inet ? 32 : 128)
        self.device = device
        self.label = label
        self.broadcast = broadcast
        self.scope = scope
    }

    /// `10.0.0.1/32`.
    public var description: String { "\(address)/\(prefixLength)" }
}

/// One `unicast_peer` entry.
public struct UnicastPeer: Hashable, Sendable {
    public var address: IPAddress
    /// `min_ttl` / `max_ttl`: when set, the received TTL must be in range.
    public var minTTL: Int?
    public var maxTTL: Int?

    public init(_ address: IPAddress, minTTL: Int? = nil, maxTTL: Int? = nil) {
        self.address = address
        self.minTTL = minTTL
        self.maxTTL = maxTTL
    }
}

/// A `track_script` entry of an instance or sync group: a script name and an optional weight
/// that overrides the script's own.
public struct TrackedScript: Hashable, Sendable {
    public var name: String
    /// nil: use the `vrrp_script`'s weight.
    public var weight: Int?
    public var reverse: Bool

    public init(_ name: String, weight: Int? = nil, reverse: Bool = false) {
        self.name = name
        self.weight = weight
        self.reverse = reverse
    }
}

/// A `track_interface` entry: an interface and a weight (0 = link down puts the instance in FAULT).
public struct TrackedInterface: Hashable, Sendable {
    public var name: String
    public var weight: Int
    public var reverse: Bool

    public init(_ name: String, weight: Int = 0, reverse: Bool = false) {
        self.name = name
        self.weight = weight
        self.reverse = reverse
    }
}

/// A `vrrp_script` block.
public struct VRRPScriptConfig: Hashable, Sendable {
    public var name: String
    /// The command line (`script "…"`), split like a shell word list.
    public var script: String
    /// `interval`, default 1 s.
    public var interval: Duration
    /// `timeout`; nil means equal to the interval (keepalived's default).
    public var timeout: Duration?
    /// `weight` −253…253; 0 (the default) means a failure puts the tracking instances in FAULT.
    public var weight: Int
    /// `weight … reverse`.
    public var reverse: Bool
    /// `rise`: consecutive successes to become OK (default 1).
    public var rise: Int
    /// `fall`: consecutive failures to become failed (default 1).
    public var fall: Int
    /// `user USER [GROUP]`.
    public var user: String?
    public var group: String?
    /// `init_fail`: the script starts failed instead of waiting for its first result.
    public var initFail: Bool

    public init(
        name: String, script: String, interval: Duration = .seconds(1), timeout: Duration? = nil, weight: Int = 0,
        reverse: Bool = false, rise: Int = 1, fall: Int = 1, user: String? = nil, group: String? = nil,
        initFail: Bool = false
    ) {
        self.name = name
        self.script = script
        self.interval = interval
        self.timeout = timeout
        self.weight = weight
        self.reverse = reverse
        self.rise = rise
        self.fall = fall
        self.user = user
        self.group = group
        self.initFail = initFail
    }

    /// The timeout in force: `timeout`, else the interval.
    public var effectiveTimeout: Duration { timeout ?? interval }
}

/// The user (and group) a script runs as: `script_user`, `user`, or the words after a notify
/// script's command line.
public struct VRRPScriptUser: Hashable, Sendable {
    public var user: String
    public var group: String?

    public init(_ user: String, group: String? = nil) {
        self.user = user
        self.group = group
    }
}

/// The notify scripts of an instance or a sync group.
public struct VRRPNotifyScripts: Hashable, Sendable {
    public var master: String?
    public var backup: String?
    public var fault: String?
    public var stop: String?
    /// `notify`: called with `INSTANCE|GROUP name STATE priority` appended.
    public var generic: String?
    /// Who runs each script; a kind not listed runs as the daemon's own user.
    public var runAs: [VRRPNotifyKind: VRRPScriptUser]

    public init(
        master: String? = nil, backup: String? = nil, fault: String? = nil, stop: String? = nil,
        generic: String? = nil, runAs: [VRRPNotifyKind: VRRPScriptUser] = [:]
    ) {
        self.master = master
        self.backup = backup
        self.fault = fault
        self.stop = stop
        self.generic = generic
        self.runAs = runAs
    }
}

/// A `vrrp_instance` block, with keepalived's defaults.
public struct VRRPInstanceConfig: Hashable, Sendable {
    public var name: String
    /// `interface`; required unless unicast peers are set.
    public var interface: String?
    /// `virtual_router_id` 1…255.
    public var virtualRouterID: UInt8
    /// `priority` 1…255, default 100.
    public var priority: UInt8
    /// `state MASTER|BACKUP`; nil: MASTER if priority is 255, else BACKUP.
    public var initialState: VRRPState?
    /// `advert_int`, default 1 s (v2: whole seconds 1…255; v3: centiseconds, below 40.96 s).
    public var advertInterval: Duration
    /// `version`; nil: 2 for IPv4 (`vrrp_version` default), 3 for IPv6.
    public var version: VRRPVersion?
    public var nopreempt: Bool
    /// `preempt_delay` 0…1000 s.
    public var preemptDelay: Duration
    public var authentication: VRRPAuthentication
    public var virtualIPAddresses: [VirtualIPAddress]
    /// `virtual_ipaddress_excluded`: installed with the VIPs but never advertised.
    public var excludedVirtualIPAddresses: [VirtualIPAddress]
    public var trackScripts: [TrackedScript]
    public var trackInterfaces: [TrackedInterface]
    /// `dont_track_primary`: the instance's own interface going down does not mean FAULT.
    public var dontTrackPrimary: Bool
    /// `mcast_src_ip`.
    public var mcastSourceIP: IPAddress?
    /// `unicast_src_ip`.
    public var unicastSourceIP: IPAddress?
    public var unicastPeers: [UnicastPeer]
    /// `unicast_ttl`, default 255.
    public var unicastTTL: UInt8
    /// `garp_master_delay`, default 5 s; 0 disables the second burst.
    public var garpMasterDelay: Duration
    /// `garp_master_repeat`, default 5.
    public var garpMasterRepeat: Int
    /// `garp_master_refresh`, default 0 (off).
    public var garpMasterRefresh: Duration
    /// `garp_master_refresh_repeat`, default 1.
    public var garpMasterRefreshRepeat: Int
    /// `garp_lower_prio_repeat`, default 5: GARPs sent by a master that hears a lower-priority
    /// advert (0 disables them).
    public var garpLowerPriorityRepeat: Int = 5
    /// `garp_lower_prio_delay`, default 5 s: the same burst again after this delay (0: not again).
    public var garpLowerPriorityDelay: Duration = .seconds(5)
    /// `lower_prio_no_advert`: stay silent on a lower-priority advert (RFC 3768/5798 behaviour).
    public var lowerPriorityNoAdvert: Bool
    /// `higher_prio_send_advert`: send one advert before yielding to a higher-priority master.
    public var higherPrioritySendAdvert: Bool
    /// `down_timer_adverts`, default 3.
    public var downTimerAdverts: Int
    /// `v3_checksum_as_v2`: VRRPv3 IPv4 checksum without the pseudo-header.
    public var v3ChecksumAsV2: Bool
    /// `check_unicast_src`: adverts must come from a listed unicast peer (lvsd: on by default).
    public var checkUnicastSource: Bool
    public var notify: VRRPNotifyScripts
    /// `vrrp_mcast_group4` / `vrrp_mcast_group6`.
    public var multicastGroup4: IPv4Address
    public var multicastGroup6: IPv6Address

    public init(
        name: String, interface: String?, virtualRouterID: UInt8, priority: UInt8 = 100,
        initialState: VRRPState? = nil, advertInterval: Duration = .seconds(1), version: VRRPVersion? = nil,
        nopreempt: Bool = false, preemptDelay: Duration = .zero, authentication: VRRPAuthentication = .none,
        virtualIPAddresses: [VirtualIPAddress] = [], excludedVirtualIPAddresses: [VirtualIPAddress] = [],
        trackScripts: [TrackedScript] = [], trackInterfaces: [TrackedInterface] = [], dontTrackPrimary: Bool = false,
        mcastSourceIP: IPAddress? = nil, unicastSourceIP: IPAddress? = nil, unicastPeers: [UnicastPeer] = [],
        unicastTTL: UInt8 = 255, garpMasterDelay: Duration = .seconds(5), garpMasterRepeat: Int = 5,
        garpMasterRefresh: Duration = .zero, garpMasterRefreshRepeat: Int = 1, lowerPriorityNoAdvert: Bool = false,
        higherPrioritySendAdvert: Bool = false, downTimerAdverts: Int = 3, v3ChecksumAsV2: Bool = false,
        checkUnicastSource: Bool = true, notify: VRRPNotifyScripts = VRRPNotifyScripts(),
        multicastGroup4: IPv4Address = IPv4Address(224, 0, 0, 18),
        multicastGroup6: IPv6Address = IPv6Address(groups: [0xFF02, 0, 0, 0, 0, 0, 0, 0x12])
    ) {
        self.name = name
        self.interface = interface
        self.virtualRouterID = virtualRouterID
        self.priority = priority
        self.initialState = initialState
        self.advertInterval = advertInterval
        self.version = version
        self.nopreempt = nopreempt
        self.preemptDelay = preemptDelay
        self.authentication = authentication
        self.virtualIPAddresses = virtualIPAddresses
        self.excludedVirtualIPAddresses = excludedVirtualIPAddresses
        self.trackScripts = trackScripts
        self.trackInterfaces = trackInterfaces
        self.dontTrackPrimary = dontTrackPrimary
        self.mcastSourceIP = mcastSourceIP
        self.unicastSourceIP = unicastSourceIP
        self.unicastPeers = unicastPeers
        self.unicastTTL = unicastTTL
        self.garpMasterDelay = garpMasterDelay
        self.garpMasterRepeat = garpMasterRepeat
        self.garpMasterRefresh = garpMasterRefresh
        self.garpMasterRefreshRepeat = garpMasterRefreshRepeat
        self.lowerPriorityNoAdvert = lowerPriorityNoAdvert
        self.higherPrioritySendAdvert = higherPrioritySendAdvert
        self.downTimerAdverts = downTimerAdverts
        self.v3ChecksumAsV2 = v3ChecksumAsV2
        self.checkUnicastSource = checkUnicastSource
        self.notify = notify
        self.multicastGroup4 = multicastGroup4
        self.multicastGroup6 = multicastGroup6
    }

    /// The address family of the instance: that of its first VIP (IPv4 if none).
    public var family: AddressFamily { virtualIPAddresses.first?.address.family ?? .inet }

    /// The version in force: the configured one, else 3 for IPv6 and 2 for IPv4.
    public var effectiveVersion: VRRPVersion { version ?? (family == .inet6 ? .v3 : .v2) }

    /// True when `unicast_peer` is set.
    public var isUnicast: Bool { !unicastPeers.isEmpty }

    /// The configured source address (`unicast_src_ip`, else `mcast_src_ip`), if any.
    public var configuredSourceIP: IPAddress? { unicastSourceIP ?? mcastSourceIP }

    /// VIPs of the instance's family (advertised) and the rest plus `virtual_ipaddress_excluded`
    /// (installed, never advertised), as keepalived moves wrong-family VIPs to eVIPs.
    public var advertisedAddresses: [VirtualIPAddress] { virtualIPAddresses.filter { $0.address.family == family } }

    /// Every address installed on becoming master: advertised VIPs first, then the excluded ones.
    public var allInstalledAddresses: [VirtualIPAddress] {
        advertisedAddresses + virtualIPAddresses.filter { $0.address.family != family } + excludedVirtualIPAddresses
    }
}

/// A `vrrp_sync_group` block: instances that change state together.
public struct VRRPSyncGroupConfig: Hashable, Sendable {
    public var name: String
    /// `group { VI_1 VI_2 }`.
    public var instances: [String]
    /// Group trackers apply to every member (keepalived requires weight 0 for them).
    public var trackScripts: [TrackedScript]
    public var trackInterfaces: [TrackedInterface]
    public var notify: VRRPNotifyScripts

    public init(
        name: String, instances: [String], trackScripts: [TrackedScript] = [],
        trackInterfaces: [TrackedInterface] = [], notify: VRRPNotifyScripts = VRRPNotifyScripts()
    ) {
        self.name = name
        self.instances = instances
        self.trackScripts = trackScripts
        self.trackInterfaces = trackInterfaces
        self.notify = notify
    }
}
