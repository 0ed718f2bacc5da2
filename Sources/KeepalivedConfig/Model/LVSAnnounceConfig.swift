// lvsd's `lvs_announce_table` extension: the routing table that tells a BIRD beside lvsd which VIPs to announce.

/// `global_defs { lvs_announce_table N [bird_socket PATH|none] }`: lvsd keeps `blackhole VIP/32`
/// (`/128`) in kernel routing table `table` for each VIP with a virtual service up, for a routing
/// daemon (BIRD 2: `protocol kernel { kernel table N; learn; }`) to announce over BGP.
public struct LVSAnnounceConfig: Hashable, Sendable {
    /// Debian's BIRD 2 control socket, where lvsd looks for the daemon that announces its routes.
    public static let defaultBirdSocket = "/run/bird/bird.ctl"
    /// The tables no one may announce from: 253 `default`, 254 `main`, 255 `local` (0 is "unspecified").
    public static let reservedTables: [UInt32: String] = [0: "unspec", 253: "default", 254: "main", 255: "local"]

    /// The kernel routing table (1…4294967295 except 253, 254 and 255).
    public var table: UInt32
    /// BIRD's control socket lvsd checks (nil: `bird_socket none`, no check, e.g. another daemon
    /// announces the table).
    public var birdSocket: String?
    public var location: SourceLocation

    public init(table: UInt32, birdSocket: String? = LVSAnnounceConfig.defaultBirdSocket, location: SourceLocation) {
        self.table = table
        self.birdSocket = birdSocket
        self.location = location
    }
}
