// Table-wide settings: sizes, seeds and the kernel's IPVS sysctls.

/// The `net.ipv4.vs.*` sysctls that change IPVS behaviour (Documentation/networking/ipvs-sysctl.rst).
public struct IPVSSysctls: Hashable, Sendable {
    /// `expire_nodest_conn` (default 0): expire connections whose server was deleted, instead of
    /// dropping their packets.
    public var expireNodestConn = false
    /// `expire_quiescent_template` (default 0): a weight-0 server's templates stop matching.
    public var expireQuiescentTemplate = false
    /// `conn_reuse_mode` (default 1): a SYN that meets an uncontrolled TIME_WAIT/CLOSE connection
    /// is scheduled afresh; bit 2 also reuses FIN_WAIT connections of DR/TUN servers.
    public var connReuseMode = 1
    /// `sloppy_tcp` (default 0): schedule TCP on any packet, not only on a SYN.
    public var sloppyTCP = false
    /// `sloppy_sctp` (default 0): schedule SCTP on any chunk, not only on INIT.
    public var sloppySCTP = false
    /// `secure_tcp` (default 0): when on, the TCP state machine uses the DoS-defence table.
    public var secureTCP = false
    /// `lblc_expiration` (default 24 h).
    public var lblcExpiration: Duration = .seconds(24 * 60 * 60)
    /// `lblcr_expiration` (default 24 h).
    public var lblcrExpiration: Duration = .seconds(24 * 60 * 60)
    /// `sync_threshold` (default 3) and `sync_period` (default 50): the sync master sends a
    /// connection when its inbound packet count modulo the period equals the threshold (with a
    /// period of 0, only when the count equals the threshold).
    public var syncThreshold: UInt32 = 3
    public var syncPeriod: UInt32 = 50
    /// `sync_refresh_period` seconds (default 0): when not 0, a connection is sent again only when
    /// its expiry moved by more than this (or half its timeout), whatever its packet count.
    public var syncRefreshPeriod: UInt32 = 0
    /// `sync_retries` (0…3, default 0): extra sends within a refresh period, each after period/8.
    public var syncRetries: UInt32 = 0
    /// `sync_version` (default 1): the sync message format the master sends (0 or 1).
    public var syncVersion: UInt8 = 1
    /// `sync_persist_mode` (default 0): 1 sends the templates of persistent connections only.
    public var syncPersistMode = false

    public init() {}
}

/// Settings of an IPVS table.
public struct IPVSConfiguration: Sendable {
    /// The most connections (and templates) the table holds; a new one beyond it is refused and
    /// counted as "table full", never made room for by evicting a live one.
    public var maxConnections: Int = 1 << 21
    /// `ip_vs.conn_tab_bits`: the listing header shows `size=2^bits` (default 12 → 4096). The table
    /// itself grows as needed.
    public var connectionTableBits: Int = 12
    /// `CONFIG_IP_VS_SH_TAB_BITS` (4…20, default 8).
    public var shTableBits: Int = 8
    /// `CONFIG_IP_VS_MH_TAB_INDEX` (8…17, default 12 → M = 4093).
    public var mhTableIndex: Int = 12
    /// Seed of the connection hash (keeps hash flooding out).
    public var hashSeed: UInt64 = 0x5157_4C56_5344_0001
    /// Seed of the schedulers' random numbers (twos).
    public var randomSeed: UInt64 = 0x2545_F491_4F6C_DD1D
    public var sysctls = IPVSSysctls()

    public init() {}
}
