// keepalived's check-config rules for virtual servers: defaults, the cascade, dropped servers.
import LVSCore

/// Applies keepalived's validation (`validate_check_config()`, `vrrp_complete_init()`) to a
/// built configuration: defaults with warnings, corrections, and removal of what cannot run.
struct ConfigValidator {
    var diagnostics: [Diagnostic] = []

    mutating func report(_ severity: DiagnosticSeverity, _ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(severity, message, at: location))
    }

    // MARK: - Virtual servers

    mutating func resolveVirtualServers(_ parsed: [ParsedVirtualServer], in config: inout KeepalivedConfiguration) {
        config.virtualServers = parsed.compactMap { resolve($0, config: config) }
    }

    private mutating func resolve(_ p: ParsedVirtualServer, config: KeepalivedConfiguration) -> VirtualServer? {
        var vs = p.server
        var group: VirtualServerGroup?
        if case .group(let name) = vs.address {
            group = config.virtualServerGroup(named: name)
            if group == nil {
                report(
                    .error, "virtual_server_group \(name) is not defined - ignoring the virtual server",
                    at: vs.location)
                return nil
            }
        }
        if p.realServers.isEmpty {
            report(.error, "virtual server \(vs.displayName) has no real servers - ignoring", at: vs.location)
            return nil
        }
        let isFirewallMark: Bool
        let hasAddresses: Bool
        switch vs.address {
        case .endpoint: (isFirewallMark, hasAddresses) = (false, true)
        case .firewallMark: (isFirewallMark, hasAddresses) = (true, false)
        case .group:
            let entries = group?.entries ?? []
            hasAddresses = entries.contains { if case .addresses = $0 { return true } else { return false } }
            isFirewallMark = !hasAddresses
        }
        resolveFamily(&vs, p, group: group)
        if vs.haSuspend
            && (isFirewallMark
                || (group?.entries.contains { if case .firewallMark = $0 { return true } else { return false } }
                    ?? false))
        {
            report(
                .error, "virtual server \(vs.displayName): cannot use ha_suspend with fwmarks - clearing ha_suspend",
                at: vs.location)
            vs.haSuspend = false
        }
        if hasAddresses {
            if vs.transportProtocol == nil {
                report(
                    .warning, "virtual server \(vs.displayName): no protocol set - defaulting to UDP", at: vs.location)
                vs.transportProtocol = .udp
            }
            if vs.flags.contains(.onePacket) && vs.transportProtocol != .udp {
                report(
                    .warning, "virtual server \(vs.displayName): one packet scheduling requires UDP - resetting",
                    at: vs.keywordLocations["ops"] ?? vs.location)
                vs.flags.remove(.onePacket)
            }
            if vs.flags.contains(.synProxy) && vs.transportProtocol != .tcp {
                report(
                    .warning, "virtual server \(vs.displayName): syn_proxy requires TCP - resetting",
                    at: vs.keywordLocations["syn_proxy"] ?? vs.location)
                vs.flags.remove(.synProxy)
            }
            if vs.persistenceTimeout == nil && vs.persistenceGranularity == nil {
                let zeroPort: Bool
                if case .endpoint(_, let port) = vs.address {
                    zeroPort = port == 0
                } else {
                    zeroPort =
                        group?.entries.contains {
                            if case .addresses(_, _, nil, _) = $0 { return true } else { return false }
                        } ?? false
                }
                if zeroPort {
                    report(
                        .warning,
                        "virtual server \(vs.displayName): zero port only valid for persistent services - setting persistence",
                        at: vs.location)
                    vs.persistenceTimeout = 360
                }
            }
        } else if vs.transportProtocol != nil {
            report(
                .warning, "virtual server \(vs.displayName): protocol specified for fwmark - protocol will be ignored",
                at: vs.keywordLocations["protocol"] ?? vs.location)
            vs.transportProtocol = nil
        }
        if vs.persistenceGranularity != nil && vs.persistenceTimeout == nil { vs.persistenceTimeout = 360 }
        if !p.schedulerSet {
            report(
                .warning, "virtual server \(vs.displayName): no scheduler set, setting default 'wlc'", at: vs.location)
        }
        resolveSchedulerFlags(&vs, p)

        var defaultNATReported = false
        func forwardingDefault(_ v: inout VirtualServer, validator: inout ConfigValidator) -> ForwardingMethod {
            if !p.forwardingSet && !defaultNATReported {
                defaultNATReported = true
                validator.report(
                    .warning, "virtual server \(v.displayName): no forwarding method set, setting default NAT",
                    at: v.location)
            }
            return v.forwarding
        }

        var weightSum: UInt64 = 0
        var servers: [RealServer] = []
        var seen: Set<Endpoint> = []
        for parsed in p.realServers {
            var rs = parsed.server
            if !seen.insert(Endpoint(rs.address, rs.configuredPort ?? 0)).inserted {
                report(
                    .error,
                    "virtual server \(vs.displayName): real server \(Endpoint(rs.address, rs.configuredPort ?? 0)) is duplicated - removing the second",
                    at: rs.location)
                continue
            }
            rs.forwarding = parsed.forwarding ?? forwardingDefault(&vs, validator: &self)
            let tunnelled: Bool
            if case .tunnel = rs.forwarding { tunnelled = true } else { tunnelled = false }
            if !tunnelled && rs.address.family != vs.family {
                report(
                    .error,
                    "address family of virtual server \(vs.displayName) and real server \(rs.address) don't match - skipping the real server",
                    at: rs.location)
                continue
            }
            rs.alpha = parsed.alpha ?? vs.alpha
            rs.inhibitOnFailure = parsed.inhibit ?? vs.inhibitOnFailure
            rs.retry = rs.retry ?? vs.retry
            rs.connectTimeout = parsed.connectTimeout ?? vs.connectTimeout
            rs.delayLoop = parsed.delayLoop ?? vs.delayLoop
            rs.warmup = rs.warmup ?? vs.warmup
            rs.delayBeforeRetry = rs.delayBeforeRetry ?? vs.delayBeforeRetry
            rs.weight = parsed.weight ?? vs.realServerWeight
            rs.smtpAlert = parsed.smtpAlert ?? config.globalDefs.smtpAlertChecker ?? config.globalDefs.smtpAlert ?? true
            resolvePort(&rs, of: vs, isFirewallMark: isFirewallMark, group: group)
            rs.checkers = rs.checkers.compactMap { resolveChecker($0, of: rs) }
            weightSum += UInt64(max(rs.weight, 0))
            servers.append(rs)
        }
        vs.realServers = servers
        if vs.smtpAlert == nil {
            vs.smtpAlert = config.globalDefs.smtpAlertChecker ?? config.globalDefs.smtpAlert ?? false
        }

        if let sorry = p.sorry {
            let forwarding = p.sorryForwarding ?? forwardingDefault(&vs, validator: &self)
            var s = SorryServer(
                address: sorry.address, port: sorry.port ?? 0, forwarding: forwarding, location: sorry.location)
            s.inhibit = p.sorryInhibit
            let tunnelled: Bool
            if case .tunnel = forwarding { tunnelled = true } else { tunnelled = false }
            if !tunnelled && s.address.family != vs.family {
                report(
                    .error,
                    "address family of virtual server \(vs.displayName) and sorry server \(s.address) don't match - skipping the sorry server",
                    at: s.location)
            } else {
                var asReal = RealServer(address: s.address, configuredPort: sorry.port, location: s.location)
                asReal.forwarding = forwarding
                resolvePort(&asReal, of: vs, isFirewallMark: isFirewallMark, group: group, what: "sorry server")
                s.port = asReal.port
                vs.sorryServer = s
            }
        }

        if UInt64(vs.quorum) > weightSum {
            report(
                .warning,
                "quorum \(vs.quorum) for \(vs.displayName) exceeds the total weight of its real servers \(weightSum), reducing quorum to \(weightSum)",
                at: vs.keywordLocations["quorum"] ?? vs.location)
            vs.quorum = UInt32(weightSum)
        }
        if vs.quorum == 0 {
            vs.hysteresis = 0
        } else if vs.hysteresis >= vs.quorum {
            report(
                .warning,
                "virtual server \(vs.displayName): hysteresis \(vs.hysteresis) >= quorum \(vs.quorum); setting hysteresis to \(vs.quorum - 1)",
                at: vs.keywordLocations["hysteresis"] ?? vs.location)
            vs.hysteresis = vs.quorum - 1
        }
        return vs
    }

    /// The address family: the address's, else `ip_family`, else the real and sorry servers'.
    private mutating func resolveFamily(_ vs: inout VirtualServer, _ p: ParsedVirtualServer, group: VirtualServerGroup?)
    {
        var family: AddressFamily?
        switch vs.address {
        case .endpoint(let a, _): family = a.family
        case .group:
            for entry in group?.entries ?? [] {
                if case .addresses(let first, _, _, _) = entry { family = family ?? first.family }
                if case .firewallMark(_, let f?, _) = entry { family = family ?? f }
            }
        case .firewallMark: break
        }
        if let f = p.ipFamily {
            if let existing = family, existing != f {
                report(
                    .error, "virtual server \(vs.displayName): ip_family conflicts with its addresses - ignoring",
                    at: vs.keywordLocations["ip_family"] ?? vs.location)
            } else {
                family = f
            }
        }
        if family == nil {
            let untunnelled = p.realServers.filter {
                if case .tunnel = $0.forwarding ?? p.server.forwarding { return false }
                return true
            }
            family = untunnelled.first?.server.address.family ?? p.sorry?.address.family
            if family == nil {
                let all = Set(p.realServers.map(\.server.address.family))
                family = all.count == 1 ? all.first : .inet
            }
        }
        vs.family = family ?? .inet
    }

    /// `sh-port`/`sh-fallback` apply to the sh scheduler, `mh-port`/`mh-fallback` to mh: they
    /// are the kernel's scheduler flags 2 and 1.
    private mutating func resolveSchedulerFlags(_ vs: inout VirtualServer, _ p: ParsedVirtualServer) {
        for (word, location) in p.schedulerFlagWords {
            let scheduler = String(word.prefix(2))
            guard vs.scheduler == scheduler else {
                report(.error, "'\(word)' only applies to the \(scheduler) scheduler - ignoring", at: location)
                continue
            }
            vs.flags.insert(word.hasSuffix("-port") ? .scheduler2 : .scheduler1)
        }
    }

    /// A NAT real server keeps its port (none: the virtual server's); DR and TUN real servers
    /// must use the virtual server's port (fwmark: none).
    private mutating func resolvePort(
        _ rs: inout RealServer, of vs: VirtualServer, isFirewallMark: Bool, group: VirtualServerGroup?,
        what: String = "real server"
    ) {
        let nat = rs.forwarding == .masquerade
        switch vs.address {
        case .endpoint(_, let vport):
            if nat {
                rs.port = rs.configuredPort ?? vport
            } else {
                if let p = rs.configuredPort, p != vport {
                    report(
                        .warning,
                        "virtual server \(vs.displayName) and \(what) \(Endpoint(rs.address, p)) ports don't match - resetting to \(vport)",
                        at: rs.location)
                }
                rs.port = vport
            }
        case .firewallMark:
            if !nat, let p = rs.configuredPort {
                report(
                    .warning,
                    "fwmark virtual server \(vs.displayName), \(what) \(Endpoint(rs.address, p)) has a port - clearing",
                    at: rs.location)
                rs.port = 0
            } else {
                rs.port = rs.configuredPort ?? 0
            }
        case .group:
            rs.port = rs.configuredPort ?? 0
            guard !nat, let p = rs.configuredPort else { return }
            for entry in group?.entries ?? [] {
                switch entry {
                case .firewallMark:
                    report(
                        .warning,
                        "fwmark virtual server \(vs.displayName), \(what) \(Endpoint(rs.address, p)) has a port - it will be ignored",
                        at: rs.location)
                case .addresses(_, _, let port?, _) where port != p:
                    report(
                        .error,
                        "virtual server \(vs.displayName) port \(port) and \(what) \(Endpoint(rs.address, p)) port don't match",
                        at: rs.location)
                default: break
                }
            }
        }
    }

    /// The checker's settings after the cascade: checker, else real server (which already holds
    /// the virtual server's), else the checker kind's default.
    private mutating func resolveChecker(_ c: HealthChecker, of rs: RealServer) -> HealthChecker? {
        var c = c
        let defaultRetry: UInt32
        var defaultDelayBeforeRetry: TimerValue?
        switch c.kind {
        case .dns: (defaultRetry, defaultDelayBeforeRetry) = (3, nil)
        case .misc: (defaultRetry, defaultDelayBeforeRetry) = (0, .seconds(1))
        case .http, .ssl: (defaultRetry, defaultDelayBeforeRetry) = (1, .seconds(3))
        default: (defaultRetry, defaultDelayBeforeRetry) = (1, .seconds(1))
        }
        let delayLoop = c.delayLoop ?? rs.delayLoop
        let destination = Endpoint(c.connection.connectIP ?? rs.address, c.connection.connectPort ?? rs.port)
        var source: Endpoint?
        if let bind = c.connection.bindTo {
            source = Endpoint(bind, c.connection.bindPort ?? 0)
        } else if let bindPort = c.connection.bindPort {
            source = Endpoint(.any(destination.address.family), bindPort)
        }
        if case .v6(let a) = destination.address, a.high >> 54 == 0x3FA, c.connection.bindInterface == nil,
            c.kind.usesConnection
        {
            report(
                .error, "checker link-local address \(a) requires a bind_if - ignoring the checker", at: c.location)
            return nil
        }
        c.effective = EffectiveCheckerSettings(
            destination: destination, source: source, connectTimeout: c.connection.connectTimeout ?? rs.connectTimeout,
            retry: c.retry ?? rs.retry ?? defaultRetry,
            delayBeforeRetry: c.delayBeforeRetry ?? rs.delayBeforeRetry ?? defaultDelayBeforeRetry ?? delayLoop,
            warmup: c.warmup ?? rs.warmup ?? delayLoop, delayLoop: delayLoop, alpha: c.alpha ?? rs.alpha)
        return c
    }
}

extension HealthChecker.Kind {
    /// True for checkers that open a connection (all but MISC, FILE and BFD).
    var usesConnection: Bool {
        switch self {
        case .misc, .file, .bfd: return false
        default: return true
        }
    }
}
