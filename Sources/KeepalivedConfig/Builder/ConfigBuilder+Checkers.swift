// Builds the checker blocks of a real server: common options and each kind's own.
import LVSCore

extension ConfigBuilder {
    mutating func buildChecker(_ block: ConfigNode, realServer: RealServer) -> HealthChecker? {
        let placeholder = EffectiveCheckerSettings(
            destination: realServer.endpoint, source: nil, connectTimeout: .seconds(5), retry: 1,
            delayBeforeRetry: .seconds(1), warmup: .seconds(60), delayLoop: .seconds(60), alpha: false)
        let kind: HealthChecker.Kind
        switch block.canonical {
        case "TCP_CHECK": kind = .tcp
        case "PING_CHECK": kind = .ping
        case "HTTP_GET", "SSL_GET":
            guard let http = httpCheck(block) else { return nil }
            kind = block.canonical == "HTTP_GET" ? .http(http) : .ssl(http)
        case "MISC_CHECK":
            guard let misc = miscCheck(block) else { return nil }
            kind = .misc(misc)
        case "DNS_CHECK": kind = .dns(dnsCheck(block))
        case "SMTP_CHECK": kind = .smtp(smtpCheck(block))
        case "UDP_CHECK": kind = .udp(udpCheck(block))
        case "FILE_CHECK":
            let file = fileCheck(block)
            if file.trackFile == nil {
                report(.error, "FILE_CHECK has no track_file - ignoring", at: block.location)
                return nil
            }
            kind = .file(file)
        case "BFD_CHECK":
            let name = block.children.first { $0.canonical == "name" }?.arguments.first
            if name == nil {
                report(.error, "BFD_CHECK has no name - ignoring", at: block.location)
                return nil
            }
            kind = .bfd(name: name)
        default:
            return nil
        }
        var checker = HealthChecker(kind: kind, effective: placeholder, location: block.location)
        for node in block.children {
            checker.keywordLocations[node.canonical] = node.location
            commonCheckerOption(node, into: &checker)
        }
        if let ip = checker.connection.connectIP, let bind = checker.connection.bindTo, ip.family != bind.family {
            report(
                .error, "connect_ip \(ip) and bindto \(bind) are different address families - ignoring bindto",
                at: checker.keywordLocations["bindto"] ?? block.location)
            checker.connection.bindTo = nil
        }
        return checker
    }

    /// Options every checker shares (keepalived `install_checker_common_keywords()`).
    mutating func commonCheckerOption(_ node: ConfigNode, into c: inout HealthChecker) {
        let a = node.arguments
        switch node.canonical {
        case "connect_ip": c.connection.connectIP = address(a[0], for: "connect_ip", at: node.location)
        case "connect_port":
            c.connection.connectPort = port(a[0], for: "connect_port", at: node.location, allowZero: false)
        case "bindto": c.connection.bindTo = address(a[0], for: "bindto", at: node.location)
        case "bind_port": c.connection.bindPort = port(a[0], for: "bind_port", at: node.location, allowZero: false)
        case "bind_if":
            if a[0].utf8.count > 15 {
                report(.error, "interface name '\(a[0])' is too long - ignoring", at: node.location)
            } else {
                c.connection.bindInterface = a[0]
            }
        case "connect_timeout":
            c.connection.connectTimeout = timer(node, minimum: TimerValue(microseconds: 1))
        case "fwmark": c.connection.firewallMark = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
        case "retry": c.retry = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
        case "delay_before_retry": c.delayBeforeRetry = timer(node)
        case "warmup": c.warmup = timer(node)
        case "delay_loop": c.delayLoop = timer(node, minimum: TimerValue(microseconds: 1))
        case "alpha": c.alpha = bool(node)
        case "log_all_failures": c.logAllFailures = bool(node)
        default: break
        }
    }

    private mutating func httpCheck(_ block: ConfigNode) -> HTTPCheckConfig? {
        var http = HTTPCheckConfig()
        for node in block.children {
            switch node.canonical {
            case "virtualhost": http.virtualhost = node.arguments[0]
            case "http_protocol":
                if let v = HTTPProtocolVersion(rawValue: node.arguments[0]) {
                    http.httpProtocol = v
                } else {
                    report(
                        .error, "invalid http_protocol '\(node.arguments[0])' (expected 1.0, 1.0C or 1.1)",
                        at: node.location)
                }
            case "enable_sni": http.enableSNI = bool(node) ?? false
            case "sni_name": http.sniName = node.arguments[0]
            case "fast_recovery": http.fastRecovery = bool(node) ?? false
            case "tls_compliant": http.tlsCompliant = bool(node) ?? false
            case "url": if let url = httpURL(node) { http.urls.append(url) }
            default: break
            }
        }
        if http.urls.isEmpty {
            report(.error, "\(block.keyword) has no url - ignoring the checker", at: block.location)
            return nil
        }
        return http
    }

    private mutating func httpURL(_ block: ConfigNode) -> HTTPCheckURL? {
        var url = HTTPCheckURL(location: block.location)
        for node in block.children {
            let a = node.arguments
            switch node.canonical {
            case "path": url.path = a[0]
            case "digest":
                let hex = a[0].lowercased()
                if hex.utf8.count == 32 && hex.allSatisfy(\.isHexDigit) {
                    url.digest = hex
                } else {
                    report(.error, "digest '\(a[0])' is not an MD5 digest (32 hex digits)", at: node.location)
                }
            case "status_code":
                var ranges: [ClosedRange<UInt16>] = []
                for word in a {
                    let bounds = word.split(separator: "-", maxSplits: 1).map { UInt16($0) }
                    guard bounds.allSatisfy({ $0 != nil && (100...599).contains($0!) }), let low = bounds.first!,
                        let high = bounds.last!, low <= high
                    else {
                        report(
                            .error, "invalid status_code '\(word)' (expected N or N-M within 100-599)",
                            at: node.location)
                        continue
                    }
                    ranges.append(low...high)
                }
                if !ranges.isEmpty { url.statusCodes = ranges }
            case "virtualhost": url.virtualhost = a[0]
            case "regex": url.regex = a[0]
            case "regex_no_match": url.regexNoMatch = true
            case "regex_options": url.regexOptions = a
            case "regex_min_offset": url.regexMinOffset = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
            case "regex_max_offset": url.regexMaxOffset = unsigned(node, 0...0xFFFF_FFFF).map(UInt32.init)
            default: break
            }
        }
        guard url.path != nil else {
            report(.error, "url has no path - ignoring", at: block.location)
            return nil
        }
        return url
    }

    private mutating func miscCheck(_ block: ConfigNode) -> MiscCheckConfig? {
        var misc = MiscCheckConfig()
        var user: (String?, String?) = (nil, nil)
        for node in block.children {
            switch node.canonical {
            case "misc_path": misc.script = script(node)
            case "misc_timeout":
                if let t = unsigned(node, 1...4294) { misc.timeout = .seconds(t) }
            case "misc_dynamic": misc.dynamic = true
            case "user": user = userGroup(node.arguments)
            default: break
            }
        }
        guard misc.script != nil else {
            report(.error, "MISC_CHECK has no misc_path - ignoring the checker", at: block.location)
            return nil
        }
        if let u = user.0 {
            misc.script!.user = u
            misc.script!.group = user.1
        }
        return misc
    }

    private mutating func dnsCheck(_ block: ConfigNode) -> DNSCheckConfig {
        var dns = DNSCheckConfig()
        for node in block.children {
            switch node.canonical {
            case "type":
                if let t = DNSQueryType(rawValue: node.arguments[0].uppercased()) {
                    dns.type = t
                } else {
                    report(.error, "unknown DNS check type '\(node.arguments[0])' - ignoring", at: node.location)
                }
            case "name":
                let name = node.arguments[0]
                let labels = name.split(separator: ".", omittingEmptySubsequences: false)
                if name != "." && labels.dropLast().contains(where: \.isEmpty) {
                    report(.error, "DNS_CHECK name '\(name)' has an empty label - ignoring", at: node.location)
                } else {
                    dns.name = name
                }
            default: break
            }
        }
        return dns
    }

    private mutating func smtpCheck(_ block: ConfigNode) -> SMTPCheckConfig {
        var smtp = SMTPCheckConfig()
        for node in block.children {
            switch node.canonical {
            case "helo_name": smtp.heloName = node.arguments.joined(separator: " ")
            case "host":
                report(.note, "SMTP_CHECK 'host' blocks are deprecated: use one checker per host", at: node.location)
                var host = HealthChecker(
                    kind: .tcp,
                    effective: EffectiveCheckerSettings(
                        destination: Endpoint(.any(.inet), 0), source: nil, connectTimeout: .seconds(5), retry: 1,
                        delayBeforeRetry: .seconds(1), warmup: .seconds(0), delayLoop: .seconds(60), alpha: false),
                    location: node.location)
                for child in node.children { commonCheckerOption(child, into: &host) }
                smtp.hosts.append(host.connection)
            default: break
            }
        }
        return smtp
    }

    private mutating func udpCheck(_ block: ConfigNode) -> UDPCheckConfig {
        var udp = UDPCheckConfig()
        for node in block.children {
            let text = node.arguments.joined(separator: " ")
            switch node.canonical {
            case "payload":
                if let (bytes, _) = hexBytes(text, wildcards: false) {
                    udp.payload = bytes
                } else {
                    report(.error, "invalid UDP_CHECK payload '\(text)'", at: node.location)
                }
            case "require_reply":
                udp.requireReply = true
                if !text.isEmpty {
                    if let (bytes, mask) = hexBytes(text, wildcards: true) {
                        udp.replyPattern = bytes
                        udp.replyMask = mask
                    } else {
                        report(.error, "invalid UDP_CHECK require_reply '\(text)'", at: node.location)
                    }
                }
            case "min_reply_length": udp.minReplyLength = unsigned(node, 0...65535).map(UInt32.init) ?? 0
            case "max_reply_length": udp.maxReplyLength = unsigned(node, 0...65535).map(UInt32.init) ?? 255
            default: break
            }
        }
        if udp.minReplyLength > udp.maxReplyLength {
            report(
                .error,
                "UDP_CHECK min_reply_length \(udp.minReplyLength) > max_reply_length \(udp.maxReplyLength) - will always fail",
                at: block.location)
        }
        return udp
    }

    private mutating func fileCheck(_ block: ConfigNode) -> FileCheckConfig {
        var file = FileCheckConfig()
        for node in block.children {
            switch node.canonical {
            case "track_file": file.trackFile = node.arguments[0]
            case "dynamic": file.dynamic = true
            case "weight":
                file.weight = integer(
                    node.arguments[0], for: "weight", in: -2_147_483_647...2_147_483_647, at: node.location
                )
                .map { Int($0) }
                if node.arguments.count > 1 {
                    if node.arguments[1] == "reverse" {
                        file.reverse = true
                    } else {
                        report(.error, "unknown weight option '\(node.arguments[1])'", at: node.location)
                    }
                }
            default: break
            }
        }
        return file
    }
}
