// Builds virtual_server_group, virtual_server, real_server and sorry_server.
import LVSCore

/// The schedulers keepalived accepts for `lb_algo` (`check_parser.c`), plus the kernel's `twos`.
let knownSchedulers: Set<String> = [
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
]

/// A virtual server as configured, before defaults and the cascade are applied.
struct ParsedVirtualServer {
    var server: VirtualServer
    var schedulerSet = false
    var forwardingSet = false
    var ipFamily: AddressFamily?
    var schedulerFlagWords: [(String, SourceLocation)] = []
    var sorry: (address: IPAddress, port: UInt16?, location: SourceLocation)?
    var sorryForwarding: ForwardingMethod?
    var sorryInhibit = false
    var realServers: [ParsedRealServer] = []
}

/// A real server as configured, before the cascade.
struct ParsedRealServer {
    var server: RealServer
    var weight: Int32?
    var forwarding: ForwardingMethod?
    var inhibit: Bool?
    var alpha: Bool?
    var delayLoop: TimerValue?
    var connectTimeout: TimerValue?
    var smtpAlert: Bool?
}

extension ConfigBuilder {
    // MARK: - virtual_server_group

    mutating func buildVirtualServerGroup(_ block: ConfigNode) -> VirtualServerGroup? {
        var group = VirtualServerGroup(name: block.arguments[0], location: block.location)
        for line in block.values {
            if let entry = vsgEntry(line) { group.entries.append(entry) }
        }
        if group.entries.isEmpty {
            report(.error, "virtual server group \(group.name) has no entries - removing", at: block.location)
            return nil
        }
        return group
    }

    private mutating func vsgEntry(_ line: ConfigLine) -> VirtualServerGroup.Entry? {
        let w = line.words
        if w[0] == "fwmark" {
            guard w.count >= 2, let mark = unsigned(w[1], for: "fwmark", in: 0...0xFFFF_FFFF, at: line.location) else {
                if w.count < 2 { report(.error, "fwmark without a mark in virtual_server_group", at: line.location) }
                return nil
            }
            var family: AddressFamily?
            if w.count >= 3 {
                switch w[2] {
                case "inet": family = .inet
                case "inet6": family = .inet6
                default: report(.error, "unknown address family '\(w[2])' for fwmark \(mark)", at: line.location)
                }
            }
            return .firewallMark(UInt32(mark), family: family, location: line.location)
        }
        var port: UInt16?
        if w.count >= 2 {
            guard let p = self.port(w[1], for: "virtual_server_group port", at: line.location) else { return nil }
            port = p == 0 ? nil : p
        }
        guard let (first, last) = addressRange(w[0], at: line.location) else { return nil }
        return .addresses(first: first, last: last, port: port, location: line.location)
    }

    /// `IP`, `a.b.c.d-e`, `a.b.c.d-e.f.g.h`, `IP/len` (host bits must be zero), and the IPv6
    /// forms (`x::a-b` ranges the last group, in hex). Each address becomes an IPVS service, so
    /// a range may hold at most 65536 addresses.
    private mutating func addressRange(_ text: String, at location: SourceLocation) -> (IPAddress, IPAddress)? {
        guard let (first, last) = parseAddressRange(text, at: location) else { return nil }
        if IPAddressRange(first: first, last: last).count > 65536 {
            report(.error, "address range \(text) holds more than 65536 addresses - skipping", at: location)
            return nil
        }
        return (first, last)
    }

    private mutating func parseAddressRange(_ text: String, at location: SourceLocation) -> (IPAddress, IPAddress)? {
        if let slash = text.firstIndex(of: "/") {
            guard let base = IPAddress(text[..<slash]), let len = Int(text[text.index(after: slash)...]) else {
                report(.error, "invalid address '\(text)' in virtual_server_group - skipping", at: location)
                return nil
            }
            switch base {
            case .v4(let a):
                guard (0...32).contains(len) else { break }
                let hostBits: UInt32 = len == 32 ? 0 : UInt32.max >> UInt32(len)
                if a.value & hostBits != 0 {
                    report(.error, "address mask bits not empty - \(text) - skipping", at: location)
                    return nil
                }
                return (base, .v4(IPv4Address(a.value | hostBits)))
            case .v6(let a):
                guard (0...128).contains(len) else { break }
                let masked = a.masked(prefixLength: len)
                if masked != a {
                    report(.error, "address mask bits not empty - \(text) - skipping", at: location)
                    return nil
                }
                let hostHigh: UInt64 = len >= 64 ? 0 : (len == 0 ? UInt64.max : UInt64.max >> UInt64(len))
                let hostLow: UInt64 = len <= 64 ? UInt64.max : (len == 128 ? 0 : UInt64.max >> UInt64(len - 64))
                return (base, .v6(IPv6Address(high: a.high | hostHigh, low: a.low | hostLow)))
            }
            report(.error, "invalid prefix length in '\(text)' - skipping", at: location)
            return nil
        }
        if let dash = text.firstIndex(of: "-") {
            let startText = text[..<dash]
            let endText = String(text[text.index(after: dash)...])
            guard let start = IPAddress(startText) else {
                report(.error, "invalid address '\(text)' in virtual_server_group - skipping", at: location)
                return nil
            }
            let end: IPAddress?
            switch start {
            case .v4(let a):
                if endText.contains(".") {
                    end = IPAddress(endText)
                } else if let last = UInt32(endText), last <= 255 {
                    end = .v4(IPv4Address(a.value & 0xFFFF_FF00 | last))
                } else {
                    end = nil
                }
            case .v6(let a):
                if endText.contains(":") {
                    end = IPAddress(endText)
                } else if let last = UInt64(endText, radix: 16), last <= 0xFFFF {
                    end = .v6(IPv6Address(high: a.high, low: a.low & ~0xFFFF | last))
                } else {
                    end = nil
                }
            }
            guard let end, end.family == start.family else {
                report(.error, "invalid range end in '\(text)' - skipping", at: location)
                return nil
            }
            guard start < end else {
                report(.error, "address range end is not greater than its start - \(text) - skipping", at: location)
                return nil
            }
            return (start, end)
        }
        guard let a = IPAddress(text) else {
            report(.error, "invalid address '\(text)' in virtual_server_group - skipping", at: location)
            return nil
        }
        return (a, a)
    }

    // MARK: - virtual_server

    mutating func buildVirtualServer(_ block: ConfigNode) -> ParsedVirtualServer? {
        let a = block.arguments
        let address: VirtualServerAddress
        switch a[0] {
        case "group":
            guard a.count >= 2 else {
                report(.error, "virtual_server group needs a group name - skipping", at: block.location)
                return nil
            }
            address = .group(a[1])
        case "fwmark":
            guard a.count >= 2,
                let mark = unsigned(a[1], for: "virtual_server fwmark", in: 0...0xFFFF_FFFF, at: block.location)
            else {
                if a.count < 2 { report(.error, "virtual_server fwmark needs a mark - skipping", at: block.location) }
                return nil
            }
            address = .firewallMark(UInt32(mark))
        default:
            guard let ip = IPAddress(a[0]) else {
                report(.error, "invalid virtual server address '\(a[0])' - skipping", at: block.location)
                return nil
            }
            var port: UInt16 = 0
            if a.count >= 2 {
                guard let p = self.port(a[1], for: "virtual_server port", at: block.location) else { return nil }
                port = p
            }
            address = .endpoint(ip, port: port)
        }
        var parsed = ParsedVirtualServer(server: VirtualServer(address: address, location: block.location))
        for node in block.children {
            parsed.server.keywordLocations[node.canonical] = node.location
            virtualServerKeyword(node, into: &parsed)
        }
        return parsed
    }

    private mutating func virtualServerKeyword(_ node: ConfigNode, into p: inout ParsedVirtualServer) {
        let a = node.arguments
        switch node.canonical {
        case "ip_family":
            switch a[0] {
            case "inet": p.ipFamily = .inet
            case "inet6": p.ipFamily = .inet6
            default: report(.error, "unknown address family '\(a[0])' (expected inet or inet6)", at: node.location)
            }
        case "retry": p.server.retry = unsigned(node, 1...0xFFFF_FFFF).map(UInt32.init)
        case "delay_before_retry": p.server.delayBeforeRetry = timer(node)
        case "warmup": p.server.warmup = timer(node)
        case "connect_timeout":
            if let t = timer(node, minimum: TimerValue(microseconds: 1)) { p.server.connectTimeout = t }
        case "delay_loop":
            if let t = timer(node, minimum: TimerValue(microseconds: 1)) { p.server.delayLoop = t }
        case "inhibit_on_failure": p.server.inhibitOnFailure = bool(node) ?? p.server.inhibitOnFailure
        case "lb_algo":
            if knownSchedulers.contains(a[0]) {
                p.server.scheduler = a[0]
                p.schedulerSet = true
            } else {
                report(.error, "invalid lvs scheduler '\(a[0])' - ignoring", at: node.location)
            }
        case "hashed": break
        case "ops": p.server.flags.insert(.onePacket)
        case "syn_proxy": p.server.flags.insert(.synProxy)
        case "flag-1": p.server.flags.insert(.scheduler1)
        case "flag-2": p.server.flags.insert(.scheduler2)
        case "flag-3": p.server.flags.insert(.scheduler3)
        case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
            p.schedulerFlagWords.append((node.keyword, node.location))
        case "lb_kind":
            if let f = forwarding(node, for: "virtual") {
                p.server.forwarding = f
                p.forwardingSet = true
            }
        case "persistence_engine": p.server.persistenceEngine = a[0]
        case "persistence_timeout":
            if a.isEmpty {
                p.server.persistenceTimeout = 360
            } else if let t = unsigned(node, 1...(86400 * 31)) {
                p.server.persistenceTimeout = UInt32(t)
            }
        case "persistence_granularity": p.server.persistenceGranularity = granularity(node, family: p.ipFamily)
        case "protocol":
            if let t = TransportProtocol(name: a[0].uppercased()) {
                p.server.transportProtocol = t
            } else {
                report(.error, "unknown protocol '\(a[0])' - ignoring", at: node.location)
            }
        case "ha_suspend": p.server.haSuspend = true
        case "smtp_alert": p.server.smtpAlert = bool(node)
        case "virtualhost": p.server.virtualhost = a[0]
        case "snmp_name": p.server.snmpName = a[0]
        case "alpha": p.server.alpha = true
        case "omega": p.server.omega = true
        case "quorum_up": p.server.quorumUp = script(node)
        case "quorum_down": p.server.quorumDown = script(node)
        case "quorum":
            if let q = unsigned(node, 1...0xFFFF_FFFF) {
                p.server.quorum = UInt32(q)
            } else {
                p.server.quorum = 1
            }
        case "hysteresis": p.server.hysteresis = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init) ?? 0
        case "weight": p.server.realServerWeight = unsigned(node, 1...65535).map(Int32.init) ?? 1
        case "sorry_server":
            guard let ip = address(a[0], for: "sorry_server", at: node.location) else { return }
            var port: UInt16?
            if a.count > 1 {
                guard let pt = self.port(a[1], for: "sorry_server port", at: node.location) else { return }
                port = pt == 0 ? nil : pt
            }
            p.sorry = (ip, port, node.location)
        case "sorry_server_inhibit":
            if p.sorry == nil {
                report(.error, "sorry_server_inhibit used before or without sorry_server - ignoring", at: node.location)
            } else {
                p.sorryInhibit = true
            }
        case "sorry_server_lvs_method":
            if p.sorry == nil {
                report(
                    .error, "sorry_server_lvs_method used before or without sorry_server - ignoring", at: node.location)
            } else if let f = forwarding(node, for: "sorry") {
                p.sorryForwarding = f
            }
        case "real_server":
            if let rs = buildRealServer(node) { p.realServers.append(rs) }
        default:
            break  // nat_mask: obsolete, noted by the parser
        }
    }

    /// `NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]` (case-sensitive).
    mutating func forwarding(_ node: ConfigNode, for server: String) -> ForwardingMethod? {
        let a = node.arguments
        switch a[0] {
        case "NAT", "DR":
            if a.count > 1 {
                report(.note, "extra words after '\(node.keyword) \(a[0])' ignored", at: node.location)
            }
            return a[0] == "NAT" ? .masquerade : .route
        case "TUN":
            var spec = TunnelSpec()
            var port: UInt16 = 0
            var i = 1
            while i < a.count {
                switch a[i] {
                case "type" where i + 1 < a.count:
                    guard let t = ["ipip": TunnelType.ipip, "gue": .gue, "gre": .gre][a[i + 1]] else {
                        report(.error, "unknown tunnel type '\(a[i + 1])' for \(server) server", at: node.location)
                        return nil
                    }
                    spec.type = t
                    i += 2
                case "port" where i + 1 < a.count:
                    guard let pt = self.port(a[i + 1], for: "tunnel port", at: node.location, allowZero: false) else {
                        return nil
                    }
                    port = pt
                    i += 2
                case "nocsum":
                    spec.flags = []
                    i += 1
                case "csum":
                    spec.flags = .checksum
                    i += 1
                case "remcsum":
                    spec.flags = .remoteChecksum
                    i += 1
                default:
                    report(.error, "invalid tunnel option '\(a[i])' for \(server) server", at: node.location)
                    return nil
                }
            }
            if (spec.type == .gue) != (port != 0) {
                report(.error, "gue tunnels require a port, and other tunnels cannot have one", at: node.location)
                return nil
            }
            if spec.type == .ipip && !spec.flags.isEmpty {
                report(.error, "ipip tunnels do not support checksum options", at: node.location)
                return nil
            }
            if spec.type == .gre && spec.flags.contains(.remoteChecksum) {
                report(.error, "gre tunnels do not support the remote checksum option", at: node.location)
                return nil
            }
            spec.port = port
            return .tunnel(spec)
        default:
            report(
                .error, "unknown forwarding method '\(a[0])' for \(server) server (expected NAT, DR or TUN)",
                at: node.location)
            return nil
        }
    }

    private mutating func granularity(_ node: ConfigNode, family: AddressFamily?) -> PersistenceGranularity? {
        let word = node.arguments[0]
        let f = family ?? (word.contains(".") ? .inet : .inet6)
        if f == .inet6 {
            return unsigned(word, for: "persistence_granularity", in: 1...128, at: node.location).map {
                .ipv6PrefixLength(Int($0))
            }
        }
        guard let mask = IPv4Address(word) else {
            report(.error, "invalid IPv4 persistence_granularity '\(word)'", at: node.location)
            return nil
        }
        return .ipv4Netmask(mask)
    }

    // MARK: - real_server

    private mutating func buildRealServer(_ block: ConfigNode) -> ParsedRealServer? {
        let a = block.arguments
        guard let ip = IPAddress(a[0]) else {
            report(.error, "invalid real server address '\(a[0])' - skipping", at: block.location)
            return nil
        }
        var port: UInt16?
        if a.count > 1 {
            guard let p = self.port(a[1], for: "real_server port", at: block.location) else { return nil }
            port = p == 0 ? nil : p
        }
        var r = ParsedRealServer(server: RealServer(address: ip, configuredPort: port, location: block.location))
        for node in block.children {
            r.server.keywordLocations[node.canonical] = node.location
            switch node.canonical {
            case "weight": r.weight = unsigned(node, 0...65535).map(Int32.init)
            case "lvs_method": r.forwarding = forwarding(node, for: "real")
            case "uthreshold": r.server.upperThreshold = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init) ?? 0
            case "lthreshold": r.server.lowerThreshold = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init) ?? 0
            case "inhibit_on_failure": r.inhibit = bool(node)
            case "notify_up":
                if r.server.notifyUp != nil {
                    report(.error, "notify_up script already specified - ignoring", at: node.location)
                } else {
                    r.server.notifyUp = script(node)
                }
            case "notify_down":
                if r.server.notifyDown != nil {
                    report(.error, "notify_down script already specified - ignoring", at: node.location)
                } else {
                    r.server.notifyDown = script(node)
                }
            case "alpha": r.alpha = bool(node)
            case "retry": r.server.retry = unsigned(node, 1...0xFFFF_FFFF).map(UInt32.init)
            case "delay_before_retry": r.server.delayBeforeRetry = timer(node)
            case "warmup": r.server.warmup = timer(node)
            case "connect_timeout": r.connectTimeout = timer(node, minimum: TimerValue(microseconds: 1))
            case "delay_loop": r.delayLoop = timer(node, minimum: TimerValue(microseconds: 1))
            case "smtp_alert": r.smtpAlert = bool(node)
            case "virtualhost": r.server.virtualhost = node.arguments[0]
            case "snmp_name": r.server.snmpName = node.arguments[0]
            default:
                if let checker = buildChecker(node, realServer: r.server) { r.server.checkers.append(checker) }
            }
        }
        return r
    }
}
