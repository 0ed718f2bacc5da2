// The typed `global_defs` block: notification, identity, LVS and VRRP defaults, scripts.
import LVSCore

/// `smtp_server IP|name [port]`.
public struct SMTPServer: Hashable, Sendable {
    /// An address or a host name.
    public var host: String
    /// The port (default 25).
    public var port: UInt16

    public init(host: String, port: UInt16 = 25) {
        self.host = host
        self.port = port
    }
}

/// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
public struct LVSSyncDaemonConfig: Hashable, Sendable {
    public var interface: String
    /// The VRRP instance whose state decides master/backup (nil: run both).
    public var vrrpInstance: String?
    /// `syncid` (0...255); nil means the instance's VRID, or 0.
    public var syncID: UInt8?
    public var maxLength: UInt16?
    /// UDP port (default 8848).
    public var port: UInt16?
    public var ttl: UInt8?
    /// Multicast group (default 224.0.0.81).
    public var group: IPAddress?
    public var location: SourceLocation
}

/// `lvs_flush_on_stop [VS]`.
public enum LVSFlushOnStop: Hashable, Sendable {
    /// Flush the whole IPVS table at shutdown.
    case all
    /// Remove each keepalived-managed virtual server, leaving real servers to the kernel.
    case virtualServersOnly
}

/// A notification FIFO: `*_notify_fifo FIFO [username [groupname]]`.
public struct NotifyFIFO: Hashable, Sendable {
    public var path: String
    public var user: String?
    public var group: String?
    public var location: SourceLocation

    public init(path: String, user: String? = nil, group: String? = nil, location: SourceLocation) {
        self.path = path
        self.user = user
        self.group = group
        self.location = location
    }
}

/// The `global_defs` block.
public struct GlobalDefs: Hashable, Sendable {
    // Notification
    /// `notification_email { ... }`.
    public var notificationEmails: [String] = []
    /// `notification_email_from` (keepalived's default: `keepalived@<hostname>`).
    public var notificationEmailFrom: String?
    public var smtpServer: SMTPServer?
    public var smtpHeloName: String?
    /// `smtp_connect_timeout` (keepalived default 30 s when unset).
    public var smtpConnectTimeout: TimerValue?
    public var smtpAlert: Bool?
    public var smtpAlertVRRP: Bool?
    public var smtpAlertChecker: Bool?
    public var checkerLogAllFailures: Bool?
    public var noEmailFaults = false

    // Identity
    /// `router_id` (default: the host name).
    public var routerID: String?

    // LVS
    public var lvsSyncDaemon: LVSSyncDaemonConfig?
    /// SwiftLVS extension `lvs_sync_daemon_auth_key SECRET`: sync messages carry an HMAC-SHA-256
    /// trailer with this key, and unauthenticated ones are dropped (kernels ignore the trailer).
    public var lvsSyncAuthKey: String?
    /// SwiftLVS extension `lvs_sync_daemon_bulk_wait SECONDS` (0…60, default 3): how long a
    /// returning director waits for its peers' bulk resync before it may preempt; 0 turns the
    /// bulk resync off.
    public var lvsSyncBulkWait: UInt32?
    /// `lvs_timeouts [tcp N] [tcpfin N] [udp N]`; 0 in a field means "leave it unchanged", as
    /// for `ipvsadm --set`.
    public var lvsTimeouts: IPVSTimeouts?
    /// `lvs_flush`: flush the IPVS table at startup.
    public var lvsFlush = false
    /// `lvs_flush_on_stop [VS]`.
    public var lvsFlushOnStop: LVSFlushOnStop?
    /// `lvs_announce_table N [bird_socket PATH|none]` (lvsd's extension, docs/scale-out.md).
    public var lvsAnnounce: LVSAnnounceConfig?

    // VRRP defaults
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    public var vrrpMulticastGroup4 = IPv4Address(224, 0, 0, 18)
    /// `vrrp_mcast_group6` (default ff02::12).
    public var vrrpMulticastGroup6 = IPv6Address(groups: [0xFF02, 0, 0, 0, 0, 0, 0, 0x12])
    /// `vrrp_version` (default 2; IPv6 instances use 3).
    public var vrrpVersion: Int?
    /// `vrrp_garp_master_delay` seconds (default 5).
    public var vrrpGarpMasterDelay: UInt32?
    /// `vrrp_garp_master_repeat` (default 5).
    public var vrrpGarpMasterRepeat: UInt32?
    /// `vrrp_garp_master_refresh` seconds (default 0: off).
    public var vrrpGarpMasterRefresh: UInt32?
    /// `vrrp_garp_master_refresh_repeat` (default 1).
    public var vrrpGarpMasterRefreshRepeat: UInt32?
    public var vrrpGarpLowerPrioDelay: UInt32?
    public var vrrpGarpLowerPrioRepeat: UInt32?
    /// `vrrp_garp_interval`: delay between gratuitous ARPs on an interface.
    public var vrrpGarpInterval: TimerValue?
    /// `vrrp_gna_interval`: delay between unsolicited NAs on an interface.
    public var vrrpGnaInterval: TimerValue?
    /// `vrrp_min_garp`: one GARP, no second burst.
    public var vrrpMinGarp: Bool?
    public var vrrpDownTimerAdverts: UInt32?
    public var vrrpLowerPrioNoAdvert: Bool?
    public var vrrpHigherPrioSendAdvert: Bool?
    public var vrrpCheckUnicastSource = false
    public var vrrpSkipCheckAdvertAddresses: Bool?
    /// `vrrp_strict`.
    public var vrrpStrict = false
    public var vrrpStartupDelay: TimerValue?
    public var vrrpDelayAfterBoot: TimerValue?
    public var v3ChecksumAsV2: Bool?
    public var dynamicInterfaces = false
    public var defaultInterface: String?

    // Scripts and notifications
    /// `script_user username [groupname]`.
    public var scriptUser: String?
    public var scriptGroup: String?
    /// `enable_script_security`.
    public var enableScriptSecurity = false
    public var notifyFIFO: NotifyFIFO?
    public var notifyFIFOScript: ScriptCommand?
    public var vrrpNotifyFIFO: NotifyFIFO?
    public var vrrpNotifyFIFOScript: ScriptCommand?
    public var lvsNotifyFIFO: NotifyFIFO?
    public var lvsNotifyFIFOScript: ScriptCommand?
    public var startupScript: ScriptCommand?
    public var shutdownScript: ScriptCommand?

    /// Recognised keywords kept as written (process names, SNMP, nftables, priorities, ...).
    public var otherSettings: [RecognisedSetting] = []
    /// Where the block starts, and where each keyword was set.
    public var location: SourceLocation?
    public var keywordLocations: [String: SourceLocation] = [:]

    public init() {}
}
