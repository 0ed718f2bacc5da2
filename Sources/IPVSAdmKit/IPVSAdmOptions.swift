// ipvsadm 1.31's option table, command names, option names and the command × option legality table.

/// The value (`val`) of each row of ipvsadm's popt table.
public enum IPVSAdmTag: Hashable, Sendable {
    case addService, editService, deleteService, clear, list, zero
    case addServer, editServer, deleteServer
    case set, help, version, restore, save, startDaemon, stopDaemon
    case tcpService, udpService, sctpService, fwmarkService
    case scheduler, persistent, netmask, realServer
    case masquerading, ipip, gatewaying, weight, uThreshold, lThreshold
    case numeric, connection, mcastInterface, syncID
    case timeout, daemon, stats, rate, thresholds, persistentConn, noSort, sort, exact
    case ipv6, ops, persistenceEngine, schedFlags
    case mcastGroup, mcastPort, mcastTTL, syncMaxLen
    case tunInfo, tunType, tunPort, tunNoCsum, tunCsum, tunRemCsum
    /// SwiftLVS extensions (not in mainline ipvsadm): FULLNAT forwarding for a real server, and
    /// DPVS-style FULLNAT local-address commands and their options.
    case fullNAT
    case addLocalAddress, deleteLocalAddress, getLocalAddress, localAddress, interfaceName
    /// SwiftLVS extension: the service answers SYNs with SYN cookies (DPVS's `--synproxy`).
    case synProxy
}

/// The commands (`CMD_*`), in ipvsadm's order; `name` is its `cmdnames[]` entry.
public enum IPVSAdmCommandKind: Int, CaseIterable, Sendable {
    case add = 0
    case edit, delete, flush, list, addDest, deleteDest, editDest, timeout, startDaemon, stopDaemon,
        restore, save, zero
    /// SwiftLVS extensions (DPVS syntax): FULLNAT local addresses of a service.
    case addLocalAddress, deleteLocalAddress, getLocalAddress

    public var name: String {
        switch self {
        case .add: return "add-service"
        case .edit: return "edit-service"
        case .delete: return "delete-service"
        case .flush: return "flush"
        case .list: return "list"
        case .addDest: return "add-server"
        case .deleteDest: return "delete-server"
        case .editDest: return "edit-server"
        case .timeout: return "set"
        case .startDaemon: return "start-daemon"
        case .stopDaemon: return "stop-daemon"
        case .restore: return "restore"
        case .save: return "save"
        case .zero: return "zero"
        case .addLocalAddress: return "add-laddr"
        case .deleteLocalAddress: return "del-laddr"
        case .getLocalAddress: return "get-laddr"
        }
    }
}

/// The option classes (`OPTC_*`) that the legality table is indexed by.
public enum IPVSAdmOptionClass: Int, CaseIterable, Sendable {
    case numeric = 0
    case connection, service, scheduler, persistent, netmask, server, forward, weight, uThreshold,
        lThreshold, mcast, timeout, daemon, stats, rate, thresholds, persistentConn, noSort, syncID, exact, onePacket,
        persistenceEngine, schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxLen, tunInfo, tunType, tunPort,
        tunNoCsum, tunCsum, tunRemCsum
    /// SwiftLVS extensions: `-z` local address, `-F` interface (DPVS), `--synproxy`.
    case localAddress, interfaceName, synProxy

    /// `optnames[]`.
    public var name: String {
        switch self {
        case .numeric: return "numeric"
        case .connection: return "connection"
        case .service: return "service-address"
        case .scheduler: return "scheduler"
        case .persistent: return "persistent"
        case .netmask: return "netmask"
        case .server: return "real-server"
        case .forward: return "forwarding-method"
        case .weight: return "weight"
        case .uThreshold: return "u-threshold"
        case .lThreshold: return "l-threshold"
        case .mcast: return "mcast-interface"
        case .timeout: return "timeout"
        case .daemon: return "daemon"
        case .stats: return "stats"
        case .rate: return "rate"
        case .thresholds: return "thresholds"
        case .persistentConn: return "persistent-conn"
        case .noSort: return "nosort"
        case .syncID: return "syncid"
        case .exact: return "exact"
        case .onePacket: return "ops"
        case .persistenceEngine: return "pe"
        case .schedFlags: return "sched-flags"
        case .mcastGroup: return "mcast-group"
        case .mcastPort: return "mcast-port"
        case .mcastTTL: return "mcast-ttl"
        case .syncMaxLen: return "sync-maxlen"
        case .tunInfo: return "tun-info"
        case .tunType: return "tun-type"
        case .tunPort: return "tun-port"
        case .tunNoCsum: return "tun-nocsum"
        case .tunCsum: return "tun-csum"
        case .tunRemCsum: return "tun-remcsum"
        case .localAddress: return "laddr"
        case .interfaceName: return "ifname"
        case .synProxy: return "synproxy"
        }
    }

    /// The option's bit in the options word.
    @inlinable public var bit: UInt64 { 1 << UInt64(rawValue) }
}

/// ipvsadm's static tables.
public enum IPVSAdmTables {
    /// The popt option table, in ipvsadm.c's order (the order decides which row a name matches).
    public static let options: [PoptOption<IPVSAdmTag>] = [
        PoptOption("add-service", "A", .none, .addService),
        PoptOption("edit-service", "E", .none, .editService),
        PoptOption("delete-service", "D", .none, .deleteService),
        PoptOption("clear", "C", .none, .clear),
        PoptOption("list", "L", .none, .list),
        PoptOption("list", "l", .none, .list),
        PoptOption("zero", "Z", .none, .zero),
        PoptOption("add-server", "a", .none, .addServer),
        PoptOption("edit-server", "e", .none, .editServer),
        PoptOption("delete-server", "d", .none, .deleteServer),
        PoptOption("set", nil, .none, .set),
        PoptOption("help", "h", .none, .help),
        PoptOption("version", "v", .none, .version),
        PoptOption("restore", "R", .none, .restore),
        PoptOption("save", "S", .none, .save),
        PoptOption("start-daemon", nil, .required, .startDaemon),
        PoptOption("stop-daemon", nil, .required, .stopDaemon),
        PoptOption("tcp-service", "t", .required, .tcpService),
        PoptOption("udp-service", "u", .required, .udpService),
        PoptOption("sctp-service", nil, .required, .sctpService),
        PoptOption("fwmark-service", "f", .required, .fwmarkService),
        PoptOption("scheduler", "s", .required, .scheduler),
        PoptOption("persistent", "p", .optional, .persistent),
        PoptOption("netmask", "M", .required, .netmask),
        PoptOption("real-server", "r", .required, .realServer),
        PoptOption("masquerading", "m", .none, .masquerading),
        PoptOption("ipip", "i", .none, .ipip),
        PoptOption("gatewaying", "g", .none, .gatewaying),
        PoptOption("weight", "w", .required, .weight),
        PoptOption("u-threshold", "x", .required, .uThreshold),
        PoptOption("l-threshold", "y", .required, .lThreshold),
        PoptOption("numeric", "n", .none, .numeric),
        PoptOption("connection", "c", .none, .connection),
        PoptOption("mcast-interface", nil, .required, .mcastInterface),
        PoptOption("syncid", nil, .required, .syncID),
        PoptOption("timeout", nil, .none, .timeout),
        PoptOption("daemon", nil, .none, .daemon),
        PoptOption("stats", nil, .none, .stats),
        PoptOption("rate", nil, .none, .rate),
        PoptOption("thresholds", nil, .none, .thresholds),
        PoptOption("persistent-conn", nil, .none, .persistentConn),
        PoptOption("nosort", nil, .none, .noSort),
        PoptOption("sort", nil, .none, .sort),
        PoptOption("exact", "X", .none, .exact),
        PoptOption("ipv6", "6", .none, .ipv6),
        PoptOption("ops", "o", .none, .ops),
        PoptOption("pe", nil, .required, .persistenceEngine),
        PoptOption("sched-flags", "b", .required, .schedFlags),
        PoptOption("mcast-group", nil, .required, .mcastGroup),
        PoptOption("mcast-port", nil, .required, .mcastPort),
        PoptOption("mcast-ttl", nil, .required, .mcastTTL),
        PoptOption("sync-maxlen", nil, .required, .syncMaxLen),
        PoptOption("tun-info", nil, .none, .tunInfo),
        PoptOption("tun-type", nil, .required, .tunType),
        PoptOption("tun-port", nil, .required, .tunPort),
        PoptOption("tun-nocsum", nil, .none, .tunNoCsum),
        PoptOption("tun-csum", nil, .none, .tunCsum),
        PoptOption("tun-remcsum", nil, .none, .tunRemCsum),
        // SwiftLVS extensions (not in ipvsadm 1.31): FULLNAT forwarding and, in DPVS's syntax, the
        // FULLNAT local-address pool of a service (-F is accepted for DPVS scripts and unused).
        PoptOption("fullnat", nil, .none, .fullNAT),
        PoptOption("add-laddr", "P", .none, .addLocalAddress),
        PoptOption("del-laddr", "Q", .none, .deleteLocalAddress),
        PoptOption("get-laddr", "G", .none, .getLocalAddress),
        PoptOption("laddr", "z", .required, .localAddress),
        PoptOption("ifname", "F", .required, .interfaceName),
        PoptOption("synproxy", nil, .none, .synProxy),
    ]

    /// `commands_v_options`: for each command, each option class is '+' compulsory, 'x' illegal,
    /// '1' exclusive with the other '1' options, or ' ' optional.
    static let legality: [[UInt8]] = [
        // -n   -c   svc  -s   -p   -M   -r   fwd  -w   -x   -y   -mc  tot  dmn  -st  -rt  thr  -pc  srt  sid  -ex  ops  -pe  -b   grp  port ttl  size tinf type tprt nocs csum remc (+ SwiftLVS: -z -F synproxy)
        row("x x + _ _ _ x x x x x x x x x x x x x x x _ _ _ x x x x x x x x x x x x _"),  // ADD
        row("x x + _ _ _ x x x x x x x x x x x x x x x _ _ _ x x x x x x x x x x x x _"),  // EDIT
        row("x x + x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // DEL
        row("x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // FLUSH
        row("_ 1 1 x x x x x x x x x 1 1 _ _ _ _ _ _ _ x x x x x x x _ x x x x x x x x"),  // LIST
        row("x x + x x x + _ _ _ _ x x x x x x x x x x x x x x x x x x _ _ _ _ _ x x x"),  // ADDSRV
        row("x x + x x x + x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // DELSRV
        row("x x + x x x + _ _ _ _ x x x x x x x x x x x x x x x x x x _ _ _ _ _ x x x"),  // EDITSRV
        row("x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // TIMEOUT
        row("x x x x x x x x x x x _ x x x x x x x _ x x x x _ _ _ _ x x x x x x x x x"),  // STARTD
        row("x x x x x x x x x x x x x x x x x x x _ x x x x x x x x x x x x x x x x x"),  // STOPD
        row("x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // RESTORE
        row("_ x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // SAVE
        row("x x _ x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // ZERO
        row("x x + x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x + _ x"),  // ADD-LADDR
        row("x x + x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x + _ x"),  // DEL-LADDR
        row("_ x + x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x"),  // GET-LADDR
    ]

    private static func row(_ s: String) -> [UInt8] {
        let cells = s.split(separator: " ").map { $0 == "_" ? UInt8(ascii: " ") : $0.utf8.first! }
        precondition(cells.count == IPVSAdmOptionClass.allCases.count)
        return cells
    }

    /// The tunnel-type × tunnel-option table (`tunnel_types_v_options`): tun-port, tun-nocsum,
    /// tun-csum, tun-remcsum for ipip, gue, gre.
    static let tunnelLegality: [[UInt8]] = [
        Array("xxxx".utf8),  // ipip
        Array("+111".utf8),  // gue
        Array("x11x".utf8),  // gre
    ]

    /// The option classes the tunnel table's columns refer to.
    static let tunnelOptions: [IPVSAdmOptionClass] = [.tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]

    /// The scheduler list shown by `-h` (ipvsadm 1.31's SCHEDULERS file).
    public static let schedulers = "rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh"
    /// The persistence engines shown by `-h`.
    public static let persistenceEngines = "sip"
}
