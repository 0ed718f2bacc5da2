// The whole typed configuration: what `lvsd -f` runs.

/// A parsed, validated keepalived.conf. Virtual servers have keepalived's defaults and the
/// virtual server → real server → checker cascade applied; those keepalived would drop (no real
/// servers) are not here.
public struct KeepalivedConfiguration: Hashable, Sendable {
    public var globalDefs = GlobalDefs()
    public var vrrpScripts: [VRRPScript] = []
    public var vrrpInstances: [VRRPInstance] = []
    public var vrrpSyncGroups: [VRRPSyncGroup] = []
    public var virtualServerGroups: [VirtualServerGroup] = []
    public var virtualServers: [VirtualServer] = []
    /// Recognised blocks kept as written: `static_ipaddress`, `static_routes`, `static_rules`,
    /// `track_file`, `vrrp_track_process`, `garp_group`, `track_group`, `bfd_instance`, `SSL`,
    /// `linkbeat_interfaces`, `interface_up_down_delays`.
    public var otherBlocks: [RecognisedBlock] = []
    /// Top-level settings kept as written (`net_namespace`, `instance`, ...).
    public var rootSettings: [RecognisedSetting] = []
    /// Every file read, main file first.
    public var files: [String] = []

    public init() {}

    /// The vrrp_script of that name.
    public func vrrpScript(named name: String) -> VRRPScript? { vrrpScripts.first { $0.name == name } }
    /// The vrrp_instance of that name.
    public func vrrpInstance(named name: String) -> VRRPInstance? { vrrpInstances.first { $0.name == name } }
    /// The virtual_server_group of that name.
    public func virtualServerGroup(named name: String) -> VirtualServerGroup? {
        virtualServerGroups.first { $0.name == name }
    }
}
