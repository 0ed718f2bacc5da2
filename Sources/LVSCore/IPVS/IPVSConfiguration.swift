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
    /// `secure_tcp` (default 0): 0 off, 1 automatic (the defence table when memory is short, then
    /// shown as 2), 3 always. The stricter TCP state table is used while the mode is 2 or 3
    /// (K:ip_vs_ctl.c update_defense_level → ip_vs_protocol_timeout_change(ipvs, secure_tcp > 1)).
    public var secureTCPMode = 0
    /// True while the TCP state machine uses the DoS-defence table (`secure_tcp` ≥ 2).
    public var secureTCP: Bool {
        get { secureTCPMode >= 2 }
        set { secureTCPMode = newValue ? 3 : 0 }
    }
    /// `amemthresh` (default 1024 pages): below this much available memory the automatic modes
    /// (1) of `drop_entry`, `drop_packet` and `secure_tcp` switch on. lvsd's available memory is the
    /// smaller of the system's MemAvailable and the connection table's headroom (free records ×
    /// record size), so a table near its maximum counts as memory pressure too.
    public var amemthresh = 1024
    /// `drop_entry` (0–3, default 0): every second, scan 1/32 of the table and drop half-open and
    /// idle low-traffic entries (K:ip_vs_conn.c ip_vs_random_dropentry).
    public var dropEntry = 0
    /// `drop_packet` (0–3, default 0): drop 1 of every `rate` new-connection packets, rate =
    /// amemthresh / (amemthresh − available) in mode 2, `am_droprate` in mode 3.
    public var dropPacket = 0
    /// `am_droprate` (default 10): the drop rate of `drop_packet` mode 3.
    public var amDroprate = 10
    /// `nat_icmp_send` (default 0): answer a real server's packet that matches no NAT connection
    /// with ICMP port unreachable (and drop it), except a TCP RST or SCTP ABORT.
    public var natICMPSend = false
    /// The sync sysctls the sync engine (LVSSync) has no use for yet, stored and listed so that
    /// operators' sysctl.conf lines apply: `sync_sock_size`, `sync_ports`. (`sync_threshold`,
    /// `sync_refresh_period`, `sync_retries`, `sync_version`, `sync_persist_mode` are the engine's
    /// fields below; `sync_qlen_max` is `IPVS.syncQueueLimit`.)
    public var sync = SyncSysctls()
    /// lvsd's own limits (`net.ipv4.vs.lvsd_*`).
    public var limits = IPVSLimits()

    /// `net.ipv4.vs.sync_sock_size`, `sync_ports`.
    public struct SyncSysctls: Hashable, Sendable {
        /// `sync_sock_size` (default 0 = the system default): the sync sockets' buffer size.
        public var sockSize = 0
        /// `sync_ports` (a power of 2, default 1): sync threads and ports (port 8848 + n).
        public var ports = 1

        public init() {}
    }
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
    /// Keys of the connection hash (keep hash flooding out). lvsd draws both at random on every
    /// start (`getrandom`), as the kernel draws `ip_vs_conn_rnd`; tests keep these fixed values.
    public var hashSeed: UInt64 = 0x5157_4C56_5344_0001
    public var hashSeed2: UInt64 = 0x243F_6A88_85A3_08D3
    /// The longest hash chain a new entry may join: a bucket already this long refuses the new
    /// connection (counted `chainTooLong`), so no lookup walks more than this many entries per
    /// key even when an attacker learns how to collide. The table keeps ≤ 1 entry per bucket on
    /// average, so honest traffic never comes near it.
    public var maxChainLength = 32
    /// Keys of the SYN proxy's cookies (lvsd draws them at random per start).
    public var cookieKey0: UInt64 = 0x0706_0504_0302_0100
    public var cookieKey1: UInt64 = 0x0F0E_0D0C_0B0A_0908
    public var cookieKey2: UInt64 = 0x1716_1514_1312_1110
    public var cookieKey3: UInt64 = 0x1F1E_1D1C_1B1A_1918
    /// Seed of the schedulers' random numbers (twos).
    public var randomSeed: UInt64 = 0x2545_F491_4F6C_DD1D
    public var sysctls = IPVSSysctls()

    public init() {}
}
