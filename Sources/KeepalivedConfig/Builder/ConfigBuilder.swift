// Turns the keyword tree into the typed configuration; shared value parsers live here.
import LVSCore

/// Builds `KeepalivedConfiguration` from parsed nodes, reporting bad values.
struct ConfigBuilder {
    var diagnostics: [Diagnostic] = []
    /// Virtual servers as written; validation applies defaults and the cascade.
    var parsedVirtualServers: [ParsedVirtualServer] = []

    mutating func report(_ severity: DiagnosticSeverity, _ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(severity, message, at: location))
    }

    /// Builds every top-level block.
    mutating func build(_ nodes: [ConfigNode]) -> KeepalivedConfiguration {
        var config = KeepalivedConfiguration()
        var seen: [String: Set<String>] = [:]
        /// True the first time a block of that kind has that name; reports a duplicate otherwise.
        func isNew(_ node: ConfigNode, _ builder: inout ConfigBuilder) -> Bool {
            let name = node.arguments[0]
            if seen[node.canonical, default: []].insert(name).inserted { return true }
            builder.report(.error, "\(node.canonical) \(name) already defined - ignoring", at: node.location)
            return false
        }
        for node in nodes {
            switch node.canonical {
            case "global_defs": buildGlobalDefs(node, into: &config.globalDefs)
            case "vrrp_script":
                if isNew(node, &self) { config.vrrpScripts.append(buildVRRPScript(node)) }
            case "vrrp_instance":
                if isNew(node, &self) { config.vrrpInstances.append(buildVRRPInstance(node)) }
            case "vrrp_sync_group":
                if isNew(node, &self), let group = buildSyncGroup(node) { config.vrrpSyncGroups.append(group) }
            case "virtual_server_group":
                if isNew(node, &self), let group = buildVirtualServerGroup(node) {
                    config.virtualServerGroups.append(group)
                }
            case "virtual_server":
                if let vs = buildVirtualServer(node) { parsedVirtualServers.append(vs) }
            default:
                if node.hasBlock {
                    config.otherBlocks.append(recognisedBlock(node))
                } else {
                    config.rootSettings.append(setting(node))
                }
            }
        }
        return config
    }

    // MARK: - Kept as written

    func setting(_ node: ConfigNode) -> RecognisedSetting {
        RecognisedSetting(keyword: node.canonical, arguments: node.arguments, location: node.location)
    }

    func recognisedBlock(_ node: ConfigNode) -> RecognisedBlock {
        var settings: [RecognisedSetting] = []
        func flatten(_ nodes: [ConfigNode], prefix: String) {
            for child in nodes {
                let name = prefix.isEmpty ? child.canonical : prefix + "." + child.canonical
                settings.append(RecognisedSetting(keyword: name, arguments: child.arguments, location: child.location))
                for line in child.values {
                    settings.append(RecognisedSetting(keyword: name, arguments: line.words, location: line.location))
                }
                flatten(child.children, prefix: name)
            }
        }
        flatten(node.children, prefix: "")
        return RecognisedBlock(
            keyword: node.canonical, arguments: node.arguments, settings: settings, lines: node.values.map(\.words),
            location: node.location)
    }

    // MARK: - Value parsers

    /// A BOOL: `on|off|true|false|yes|no`; the bare keyword means true.
    mutating func bool(_ node: ConfigNode) -> Bool? {
        guard let word = node.arguments.first else { return true }
        switch word {
        case "on", "true", "yes": return true
        case "off", "false", "no": return false
        default:
            report(
                .error, "invalid value '\(word)' for '\(node.keyword)' (expected on|off|true|false|yes|no)",
                at: node.location)
            return nil
        }
    }

    /// An unsigned decimal in a range (keepalived `read_unsigned()`).
    mutating func unsigned(
        _ word: String, for keyword: String, in range: ClosedRange<UInt64>, at location: SourceLocation
    ) -> UInt64? {
        let t = ConfigText.trimmed(word)
        if t.hasPrefix("-") {
            report(.error, "'\(keyword)' cannot be negative: '\(word)'", at: location)
            return nil
        }
        let n = !t.isEmpty && t.allSatisfy(\.isASCIIDigit) ? UInt64(t) : nil
        return checked(n, word, for: keyword, in: range, at: location)
    }

    /// The first argument as an unsigned number.
    mutating func unsigned(_ node: ConfigNode, _ range: ClosedRange<UInt64>, index: Int = 0) -> UInt64? {
        unsigned(node.arguments[index], for: node.keyword, in: range, at: node.location)
    }

    /// A signed decimal in a range (keepalived `read_int()`).
    mutating func integer(
        _ word: String, for keyword: String, in range: ClosedRange<Int64>, at location: SourceLocation
    )
        -> Int64?
    {
        checked(Int64(ConfigText.trimmed(word)), word, for: keyword, in: range, at: location)
    }

    /// `n` (parsed from `word`) if it is a number in `range`; else the error is reported.
    private mutating func checked<N: FixedWidthInteger>(
        _ n: N?, _ word: String, for keyword: String, in range: ClosedRange<N>, at location: SourceLocation
    ) -> N? {
        guard let n else {
            report(.error, "invalid number '\(word)' for '\(keyword)'", at: location)
            return nil
        }
        guard range.contains(n) else {
            report(.error, "'\(keyword)' \(word) is outside [\(range.lowerBound), \(range.upperBound)]", at: location)
            return nil
        }
        return n
    }

    /// A TIMER (decimal seconds, microsecond resolution), at least `minimum`.
    mutating func timer(_ node: ConfigNode, index: Int = 0, minimum: TimerValue = TimerValue(microseconds: 0))
        -> TimerValue?
    {
        let word = node.arguments[index]
        let (value, problem) = TimerValue.parse(word)
        if let problem { report(.error, "'\(node.keyword)': \(problem)", at: node.location) }
        guard let value else { return nil }
        if value < minimum {
            report(.error, "'\(node.keyword)' \(word) is less than \(minimum)", at: node.location)
            return nil
        }
        return value
    }

    /// An IPv4 or IPv6 address.
    mutating func address(_ word: String, for keyword: String, at location: SourceLocation) -> IPAddress? {
        guard let a = IPAddress(word) else {
            report(.error, "invalid IP address '\(word)' for '\(keyword)'", at: location)
            return nil
        }
        return a
    }

    /// A port 1...65535 (0 is accepted where keepalived treats it as "no port").
    mutating func port(_ word: String, for keyword: String, at location: SourceLocation, allowZero: Bool = true)
        -> UInt16?
    {
        unsigned(word, for: keyword, in: (allowZero ? 0 : 1)...65535, at: location).map { UInt16($0) }
    }

    /// A script keyword: `keyword "command args" [user [:][group]]`, split shell-fashion.
    mutating func script(_ node: ConfigNode, commandIndex: Int = 1) -> ScriptCommand? {
        guard let words = ConfigText.shellWords(node.text) else {
            report(.error, "'\(node.keyword)': missing closing quote in '\(node.text)'", at: node.location)
            return nil
        }
        guard words.count > commandIndex, !words[commandIndex].isEmpty else {
            report(.error, "'\(node.keyword)' has no script", at: node.location)
            return nil
        }
        let command = words[commandIndex]
        guard let arguments = ConfigText.shellWords(command), !arguments.isEmpty else {
            report(.error, "'\(node.keyword)': cannot split '\(command)' into words", at: node.location)
            return nil
        }
        let (user, group) = userGroup(Array(words.dropFirst(commandIndex + 1)))
        if words.count > commandIndex + 3 {
            let extra = words[(commandIndex + 3)...].joined(separator: " ")
            report(.note, "extra words after '\(node.keyword)' ignored: '\(extra)'", at: node.location)
        }
        return ScriptCommand(
            commandLine: command, arguments: arguments, user: user, group: group, location: node.location)
    }

    /// `username [:][groupname]` → (user, group).
    func userGroup(_ words: [String]) -> (String?, String?) {
        let user = words.first
        var group = words.count > 1 ? words[1] : nil
        if let g = group, g.hasPrefix(":") { group = g.count > 1 ? String(g.dropFirst()) : nil }
        return (user, group)
    }

    /// A hex string (`Ab12f 3 456`: pairs of digits, a lone digit before a space is one byte);
    /// with `wildcards`, `x`/`X` digits are returned as zero bits in the mask.
    func hexBytes(_ text: String, wildcards: Bool) -> (bytes: [UInt8], mask: [UInt8])? {
        var bytes: [UInt8] = []
        var mask: [UInt8] = []
        let chars = Array(text)
        func nibble(_ c: Character) -> (UInt8, UInt8)? {
            if let v = c.hexDigitValue { return (UInt8(v), 0xF) }
            if wildcards && (c == "x" || c == "X") { return (0, 0) }
            return nil
        }
        var i = 0
        while i < chars.count {
            if chars[i] == " " || chars[i] == "\t" {
                i += 1
                continue
            }
            guard let (hi, hiMask) = nibble(chars[i]) else { return nil }
            if i + 1 < chars.count, chars[i + 1] != " ", chars[i + 1] != "\t" {
                guard let (lo, loMask) = nibble(chars[i + 1]) else { return nil }
                bytes.append(hi << 4 | lo)
                mask.append(hiMask << 4 | loMask)
                i += 2
            } else {
                bytes.append(hi)
                mask.append(hiMask)
                i += 1
            }
        }
        return bytes.isEmpty ? nil : (bytes, mask)
    }

    /// `NAME [weight W [reverse|noreverse]]` lines of a track_* block.
    mutating func trackedObjects(_ node: ConfigNode, weightRange: ClosedRange<Int64>) -> [TrackedObject] {
        var out: [TrackedObject] = []
        for line in node.values {
            var object = TrackedObject(name: line.words[0], location: line.location)
            var i = 1
            while i < line.words.count {
                switch line.words[i] {
                case "weight" where i + 1 < line.words.count:
                    if let w = integer(line.words[i + 1], for: "weight", in: weightRange, at: line.location) {
                        object.weight = Int(w)
                    }
                    i += 2
                case "reverse":
                    object.reverse = true
                    i += 1
                case "noreverse":
                    object.reverse = false
                    i += 1
                default:
                    report(
                        .error, "unknown option '\(line.words[i])' for \(node.keyword) '\(object.name)'",
                        at: line.location)
                    i = line.words.count
                }
            }
            out.append(object)
        }
        return out
    }
}
