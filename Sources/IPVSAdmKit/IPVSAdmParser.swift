// ipvsadm 1.31's argument processing (parse_options + process_options checks), message for message.
import LVSCore

/// How parsing one ipvsadm invocation ended.
public enum IPVSAdmParseOutcome: Sendable {
    /// A valid command to run.
    case run(IPVSAdmCommand)
    /// ipvsadm exits here: `-h`, `-v`, a parse error (`fail(2, …)`), or the "Try … -h" hint (255).
    case exit(status: Int32, stdout: String, stderr: String)
    /// popt rejected a later option: ipvsadm prints `stderr` and the invocation fails with -1,
    /// but a restore goes on with the next line.
    case poptFailure(stderr: String)
}

/// Parses argument vectors exactly as ipvsadm 1.31 (built with popt) does.
public struct IPVSAdmParser {
    /// `argv[0]` as invoked, used in the help and "Try" texts.
    public var program: String
    public let resolver: any IPVSAdmNameResolver

    public init(program: String, resolver: any IPVSAdmNameResolver) {
        self.program = program
        self.resolver = resolver
    }

    static let maxTimeout: Int64 = 86400 * 31
    static let defaultPersistentTimeout: UInt32 = 360

    /// Thrown by the emulated `fail()`: message and exit status.
    struct Failure: Error {
        var status: Int32
        var message: String
    }

    /// Parses one invocation; `argv` includes `argv[0]` (only its position matters).
    public func parse(_ argv: [[UInt8]]) -> IPVSAdmParseOutcome {
        do {
            return try parseOrFail(argv)
        } catch {
            return .exit(status: error.status, stdout: "", stderr: error.message + "\n")
        }
    }

    func fail(_ message: String) -> Failure { Failure(status: 2, message: message) }

    func tryHelp() -> IPVSAdmParseOutcome {
        .exit(status: 255, stdout: "", stderr: IPVSAdmUsage.tryHelp(program))
    }

    func parseOrFail(_ argv: [[UInt8]]) throws(Failure) -> IPVSAdmParseOutcome {
        var popt = PoptContext(argv: argv, options: IPVSAdmTables.options)
        var ce: IPVSAdmCommand
        var schedFlagsArg: [UInt8] = []

        // The first option must be a command.
        switch popt.getNextOption() {
        case .end, .error: return tryHelp()
        case .option(let tag, let arg):
            switch tag {
            case .startDaemon, .stopDaemon:
                ce = IPVSAdmCommand(kind: tag == .startDaemon ? .startDaemon : .stopDaemon)
                let a = arg ?? []
                if a.elementsEqual("master".utf8) {
                    ce.daemon.role = .master
                } else if a.elementsEqual("backup".utf8) {
                    ce.daemon.role = .backup
                } else {
                    throw fail(
                        tag == .startDaemon
                            ? "illegal start-daemon parameter specified" : "illegal start_daemon specified")
                }
            case .help: return .exit(status: 0, stdout: IPVSAdmUsage.help(program), stderr: "")
            case .version: return .exit(status: 0, stdout: IPVSAdmUsage.version, stderr: "")
            default:
                guard let kind = Self.commands[tag] else { return tryHelp() }
                ce = IPVSAdmCommand(kind: kind)
            }
        }

        // The remaining options.
        loop: while true {
            switch popt.getNextOption() {
            case .end: break loop
            case .error(let e):
                return .poptFailure(stderr: "\(CText.text(popt.badOption)): \(e.text)\n")
            case .option(let tag, let arg):
                try apply(tag, arg ?? [], hasArgument: arg != nil, to: &ce, schedFlags: &schedFlagsArg, popt: popt)
            }
        }

        if ce.kind == .timeout {
            if let a = popt.nextArgument(), let b = popt.nextArgument(), let c = popt.nextArgument() {
                ce.timeouts.tcp = try parseTimeout(a, min: 0)
                ce.timeouts.tcpFin = try parseTimeout(b, min: 0)
                ce.timeouts.udp = try parseTimeout(c, min: 0)
            } else {
                throw fail("--set option requires 3 timeout values")
            }
        }
        if let extra = popt.nextArgument() { throw fail("unexpected argument \(CText.text(extra))") }
        if !schedFlagsArg.isEmpty {
            ce.service.flags &= ~ServiceFlags.schedulerFlags.rawValue
            ce.service.flags |= try parseSchedFlags(scheduler: ce.service.scheduler, schedFlagsArg)
        }

        try checkGenericOptions(ce)
        try checkCommand(&ce)
        return .run(ce)
    }

    // MARK: options

    func apply(
        _ tag: IPVSAdmTag, _ arg: [UInt8], hasArgument: Bool, to ce: inout IPVSAdmCommand,
        schedFlags: inout [UInt8], popt: PoptContext<IPVSAdmTag>
    ) throws(Failure) {
        switch tag {
        case .tcpService, .udpService, .sctpService:
            try setOption(&ce, .service)
            ce.service.protocolNumber =
                tag == .tcpService
                ? IPProtocolNumber.tcp : tag == .udpService ? IPProtocolNumber.udp : IPProtocolNumber.sctp
            let r = parseService(arg, into: &ce.service)
            if r & Self.serviceAddress == 0 { throw fail("illegal virtual server address[:port] specified") }
        case .fwmarkService:
            try setOption(&ce, .service)
            ce.service.family = AddressFamilyNumber.inet
            ce.service.protocolNumber = IPProtocolNumber.tcp
            guard let v = CText.strtolWhole(arg), v > 0, v <= Int64(UInt32.max) else {
                throw fail("invalid fwmark value `\(CText.text(arg))' specified")
            }
            ce.service.firewallMark = UInt32(v)
        case .scheduler:
            try setOption(&ce, .scheduler)
            ce.service.scheduler = Array(arg.prefix(15))
        case .persistent:
            try setOption(&ce, .persistent)
            ce.service.flags |= ServiceFlags.persistent.rawValue
            ce.service.timeout = hasArgument ? try parseTimeout(arg, min: 1) : Self.defaultPersistentTimeout
        case .netmask:
            try setOption(&ce, .netmask)
            if ce.service.family != AddressFamilyNumber.inet6 {
                if let m = CText.inetAton(arg) {
                    ce.service.netmask = m
                } else if let h = resolver.ipv4Address(ofHost: CText.text(arg)) {
                    ce.service.netmask = h.value
                } else {
                    throw fail("illegal virtual server persistent mask specified")
                }
            } else {
                let v = UInt32(truncatingIfNeeded: CText.atoi(arg))
                ce.service.netmask = v
                if v < 1 || v > 128 { throw fail("illegal ipv6 netmask specified") }
            }
        case .realServer:
            try setOption(&ce, .server)
            var t = ce.service
            let r = parseService(arg, into: &t)
            ce.destination.family = t.family
            ce.destination.address = t.address
            ce.destination.port = t.port
            if r & Self.serviceAddress == 0 { throw fail("illegal real server address[:port] specified") }
            if r == Self.serviceAddress { ce.destination.port = ce.service.port }
        case .ipip, .gatewaying, .masquerading, .fullNAT:
            try setOption(&ce, .forward)
            ce.destination.forwardingCode =
                switch tag {
                case .ipip: 2
                case .gatewaying: 3
                case .fullNAT: 5
                default: 0
                }
        case .weight:
            try setOption(&ce, .weight)
            ce.destination.weight = try number(arg, min: 0, max: 65535, "weight")
        case .uThreshold:
            try setOption(&ce, .uThreshold)
            ce.destination.upperThreshold = try number(arg, min: 0, max: Int64(Int32.max), "u_threshold")
        case .lThreshold:
            try setOption(&ce, .lThreshold)
            ce.destination.lowerThreshold = try number(arg, min: 0, max: Int64(Int32.max), "l_threshold")
        case .connection: try setOption(&ce, .connection)
        case .numeric, .stats, .rate, .thresholds, .persistentConn, .noSort, .exact, .tunInfo:
            let (option, format) = Self.listingOption(tag)
            try setOption(&ce, option)
            ce.format.insert(format)
        case .mcastInterface:
            try setOption(&ce, .mcast)
            ce.daemon.interface = Array(arg.prefix(15))
        case .syncID:
            try setOption(&ce, .syncID)
            ce.daemon.syncID = UInt8(try number(arg, min: 0, max: 255, "syncid"))
        case .timeout: try setOption(&ce, .timeout)
        case .daemon: try setOption(&ce, .daemon)
        case .sort: break  // accepted and ignored, as in ipvsadm
        case .ipv6:
            if ce.service.firewallMark != 0 {
                ce.service.family = AddressFamilyNumber.inet6
                ce.service.netmask = 128
            } else {
                throw fail("-6 used before -f\n")
            }
        case .ops:
            try setOption(&ce, .onePacket)
            ce.service.flags |= ServiceFlags.onePacket.rawValue
        case .synProxy:
            try setOption(&ce, .synProxy)
            ce.service.flags |= ServiceFlags.synProxy.rawValue
        case .persistenceEngine:
            try setOption(&ce, .persistenceEngine)
            ce.service.persistenceEngine = Array(arg.prefix(16))
        case .schedFlags:
            try setOption(&ce, .schedFlags)
            schedFlags = Array(arg.prefix(127))
        case .mcastGroup:
            try setOption(&ce, .mcastGroup)
            if arg.contains(0x3A) {
                guard let a = CText.inetPton6(arg), a.isMulticast else {
                    throw fail("invalid IPv6 mcast-group `\(CText.text(arg))'")
                }
                ce.daemon.group = .v6(a)
            } else {
                guard let a = CText.inetPton4(arg), a.isMulticast else {
                    throw fail("invalid IPv4 mcast-group `\(CText.text(arg))'")
                }
                ce.daemon.group = .v4(a)
            }
        case .mcastPort:
            try setOption(&ce, .mcastPort)
            ce.daemon.port = UInt16(try number(arg, min: 1, max: 65535, "mcast-port"))
        case .mcastTTL:
            try setOption(&ce, .mcastTTL)
            ce.daemon.ttl = UInt8(try number(arg, min: 1, max: 255, "mcast-ttl"))
        case .syncMaxLen:
            try setOption(&ce, .syncMaxLen)
            ce.daemon.maxLength = UInt16(try number(arg, min: 1, max: 65535 - 20 - 8, "sync-maxlen"))
        case .tunType:
            try setOption(&ce, .tunType)
            switch CText.text(arg) {
            case "ipip": ce.destination.tunnelType = 0
            case "gue": ce.destination.tunnelType = 1
            case "gre": ce.destination.tunnelType = 2
            default: throw fail("illegal tunnel type specified")
            }
        case .tunPort:
            try setOption(&ce, .tunPort)
            ce.destination.tunnelPort = UInt16(try number(arg, min: 1, max: 65535, "tunnel port"))
        case .tunNoCsum:
            try setOption(&ce, .tunNoCsum)
        case .tunCsum:
            try setOption(&ce, .tunCsum)
            ce.destination.tunnelFlags |= 1
        case .tunRemCsum:
            try setOption(&ce, .tunRemCsum)
            ce.destination.tunnelFlags |= 2
        case .localAddress:
            try setOption(&ce, .localAddress)
            if let a = CText.inetPton4(arg) {
                ce.localAddress = .v4(a)
            } else if let a = CText.inetPton6(arg) {
                ce.localAddress = .v6(a)
            } else {
                throw fail("illegal local address specified")
            }
        case .interfaceName:
            try setOption(&ce, .interfaceName)  // DPVS binds local addresses to a port; SwiftLVS does not need it
        case .addService, .editService, .deleteService, .clear, .list, .zero, .addServer, .editServer,
            .deleteServer, .set, .help, .version, .restore, .save, .startDaemon, .stopDaemon, .addLocalAddress,
            .deleteLocalAddress, .getLocalAddress:
            // A second command (or -h/-v after a command) is not an option here.
            throw fail("invalid option `\(CText.text(popt.badOption))'")
        }
    }

    /// The commands that take no argument, by the option that names them.
    static let commands: [IPVSAdmTag: IPVSAdmCommandKind] = [
        .addService: .add, .editService: .edit, .deleteService: .delete, .addServer: .addDest,
        .editServer: .editDest, .deleteServer: .deleteDest, .clear: .flush, .list: .list, .zero: .zero,
        .set: .timeout, .restore: .restore, .save: .save, .addLocalAddress: .addLocalAddress,
        .deleteLocalAddress: .deleteLocalAddress, .getLocalAddress: .getLocalAddress,
    ]

    /// The option class and the listing format flag of `-n`, `--stats`, `--rate`, `--thresholds`,
    /// `--persistent-conn`, `--nosort`, `-X` and `--tun-info`.
    static func listingOption(_ tag: IPVSAdmTag) -> (IPVSAdmOptionClass, ListingFormat) {
        switch tag {
        case .stats: (.stats, .stats)
        case .rate: (.rate, .rate)
        case .thresholds: (.thresholds, .thresholds)
        case .persistentConn: (.persistentConn, .persistentConn)
        case .noSort: (.noSort, .noSort)
        case .exact: (.exact, .exact)
        case .tunInfo: (.tunInfo, .tunInfo)
        default: (.numeric, .numeric)
        }
    }

    /// An option's number in `min...max`, else ipvsadm's `illegal WHAT specified`.
    func number(_ arg: [UInt8], min: Int64, max: Int64, _ what: String) throws(Failure) -> Int64 {
        guard let v = CText.number(arg, min: min, max: max) else { throw fail("illegal \(what) specified") }
        return v
    }

    func setOption(_ ce: inout IPVSAdmCommand, _ o: IPVSAdmOptionClass) throws(Failure) {
        if ce.options & o.bit != 0 { throw fail("multiple '\(o.name)' options specified") }
        ce.options |= o.bit
    }

    func parseTimeout(_ arg: [UInt8], min: Int64) throws(Failure) -> UInt32 {
        guard let v = CText.number(arg, min: min, max: Self.maxTimeout) else {
            throw fail("invalid timeout value `\(CText.text(arg))' specified")
        }
        return UInt32(v)
    }

    // MARK: addresses

    static let serviceAddress = 1
    static let servicePort = 2

    /// ipvsadm's `parse_service`: `host[:port]` or `[ipv6]:port` or a bare IPv6 address. Returns
    /// the SERVICE_ADDR / SERVICE_PORT bits it filled.
    public func parseService(_ buf: [UInt8], into svc: inout ServiceArguments) -> Int {
        if CText.isAllDigits(buf) { return 0 }
        var addr = buf[...]
        var portText: ArraySlice<UInt8>?
        if buf.first == 0x5B {  // "["
            let rest = buf[1...]
            guard let close = rest.firstIndex(of: 0x5D) else { return 0 }
            let after = close + 1
            guard after < buf.count, buf[after] == 0x3A else { return 0 }
            addr = buf[1..<close]
            portText = buf[(after + 1)...]
        }
        if let a6 = CText.inetPton6(addr) {
            svc.address = .v6(a6)
            svc.family = AddressFamilyNumber.inet6
            svc.netmask = 128
        } else {
            // The bracket form's port is forgotten here, as in ipvsadm (strrchr on the address).
            portText = nil
            if let colon = addr.lastIndex(of: 0x3A) {
                portText = addr[(colon + 1)...]
                addr = addr[addr.startIndex..<colon]
            }
            if let v = CText.inetAton(addr) {
                svc.address = .v4(IPv4Address(v))
            } else if let h = resolver.ipv4Address(ofHost: CText.text(addr)) {
                svc.address = .v4(h)
            } else {
                return 0
            }
            svc.family = AddressFamilyNumber.inet
        }
        var result = Self.serviceAddress
        if let p = portText {
            result |= Self.servicePort
            if let n = CText.number(p, min: 0, max: 65535) {
                svc.port = UInt16(n)
            } else if let proto = IPProtocolNumber.serviceProtocolName(svc.protocolNumber),
                let n = resolver.port(ofService: CText.text(p), protocol: proto)
            {
                svc.port = n
            } else {
                return 0
            }
        }
        return result
    }

    // MARK: scheduler flags

    func parseSchedFlags(scheduler: [UInt8], _ arg: [UInt8]) throws(Failure) -> UInt32 {
        let sched = scheduler.isEmpty ? "wlc" : CText.text(scheduler)
        let tokens = arg.split(separator: 0x2C, omittingEmptySubsequences: true)
        // ipvsadm 1.31 dereferences a NULL token for "-b ," and crashes; SwiftLVS reports it instead.
        if tokens.isEmpty { throw fail("invalid scheduler flag `\(CText.text(arg))'") }
        var flags: UInt32 = 0
        for t in tokens {
            let flag = CText.text(t)
            switch flag {
            case "flag-1": flags |= ServiceFlags.scheduler1.rawValue
            case "flag-2": flags |= ServiceFlags.scheduler2.rawValue
            case "flag-3": flags |= ServiceFlags.scheduler3.rawValue
            case "sh-fallback", "sh-port":
                flags |= flag == "sh-port" ? ServiceFlags.scheduler2.rawValue : ServiceFlags.scheduler1.rawValue
                if sched != "sh" { throw fail("incompatible scheduler flag `\(flag)'") }
            case "mh-fallback", "mh-port":
                flags |= flag == "mh-port" ? ServiceFlags.scheduler2.rawValue : ServiceFlags.scheduler1.rawValue
                if sched != "mh" { throw fail("incompatible scheduler flag `\(flag)'") }
            default: throw fail("invalid scheduler flag `\(flag)'")
            }
        }
        return flags
    }

    // MARK: checks

    /// `generic_opt_check`: compulsory, illegal and mutually exclusive options per command.
    func checkGenericOptions(_ ce: IPVSAdmCommand) throws(Failure) {
        let row = IPVSAdmTables.legality[ce.kind.rawValue]
        var last: IPVSAdmOptionClass?
        for o in IPVSAdmOptionClass.allCases {
            let rule = row[o.rawValue]
            if !ce.has(o) {
                if rule == UInt8(ascii: "+") {
                    throw fail("You need to supply the '\(o.name)' option for the '\(ce.kind.name)' command")
                }
            } else {
                if rule == UInt8(ascii: "x") {
                    throw fail("Illegal '\(o.name)' option with the '\(ce.kind.name)' command")
                }
                if rule == UInt8(ascii: "1") {
                    if let l = last {
                        throw fail(
                            "The option '\(o.name)' conflicts with the '\(l.name)' option in the '\(ce.kind.name)' command"
                        )
                    }
                    last = o
                }
            }
        }
    }

    static let tunnelNames = ["ipip", "gue", "gre"]

    /// `tunnel_opt_check`.
    func checkTunnelOptions(_ ce: IPVSAdmCommand) throws(Failure) {
        let t = Int(ce.destination.tunnelType)
        let row = IPVSAdmTables.tunnelLegality[t]
        let name = Self.tunnelNames[t]
        var last: IPVSAdmOptionClass?
        for (j, o) in IPVSAdmTables.tunnelOptions.enumerated() {
            let rule = row[j]
            if !ce.has(o) {
                if rule == UInt8(ascii: "+") {
                    throw fail("You need to supply the '\(o.name)' option for the '\(name)' tunnel type")
                }
            } else {
                if rule == UInt8(ascii: "x") { throw fail("Illegal '\(o.name)' option with the '\(name)' tunnel type") }
                if rule == UInt8(ascii: "1") {
                    if let l = last {
                        throw fail(
                            "The option '\(o.name)' conflicts with the '\(l.name)' option in the '\(name)' tunnel type")
                    }
                    last = o
                }
            }
        }
    }

    /// The per-command checks of `process_options` that follow `generic_opt_check`.
    func checkCommand(_ ce: inout IPVSAdmCommand) throws(Failure) {
        if ce.kind == .add || ce.kind == .edit {
            if ce.service.firewallMark == 0 && ce.service.port == 0
                && ce.service.flags & ServiceFlags.persistent.rawValue == 0
            {
                throw fail("Zero port specified for non-persistent service")
            }
            if ce.service.flags & ServiceFlags.onePacket.rawValue != 0 && ce.service.firewallMark == 0
                && ce.service.protocolNumber != IPProtocolNumber.udp
            {
                throw fail("One-Packet Scheduling is only for UDP virtual services")
            }
            if ce.service.scheduler.isEmpty { ce.service.scheduler = Array("wlc".utf8) }
        }
        if ce.kind == .startDaemon && ce.daemon.interface.isEmpty { ce.daemon.interface = Array("eth0".utf8) }
        let fwd = ce.destination.forwardingCode & 7
        if ce.kind == .addDest || ce.kind == .editDest {
            if ce.service.firewallMark == 0 && (fwd == 2 || fwd == 3) { ce.destination.port = ce.service.port }
            if ce.destination.family != ce.service.family && fwd != 2 {
                throw fail("Different address family is allowed only for tunneling servers")
            }
            let tunnelOptions: [IPVSAdmOptionClass] = [.tunType, .tunPort, .tunNoCsum, .tunCsum, .tunRemCsum]
            if tunnelOptions.contains(where: { ce.has($0) }) && fwd != 2 {
                throw fail("Tunnel options conflict with forward method")
            }
            try checkTunnelOptions(ce)
        }
        if ce.kind == .list {
            let outputs = ce.has(.connection) || ce.has(.timeout) || ce.has(.daemon)
            let figures = ce.has(.stats) || ce.has(.rate) || ce.has(.thresholds)
            if (outputs && figures) || ((ce.has(.timeout) || ce.has(.daemon)) && ce.has(.persistentConn)) {
                throw fail("options conflicts in the list command")
            }
        }
    }
}
