// The block structure: keyword lines, sub-blocks and value blocks, checked against the schema.

/// One keyword as written, with its block or value lines.
struct ConfigNode: Hashable, Sendable {
    /// The keyword as written (an alias stays an alias here).
    var keyword: String
    /// The keyword it stands for (the same unless it is an alias).
    var canonical: String
    /// The words after the keyword.
    var arguments: [String]
    /// The whole line (script keywords re-split it shell-fashion).
    var text: String
    var location: SourceLocation
    /// Keywords of a `{ ... }` sub-block.
    var children: [ConfigNode] = []
    /// Lines of a value block (`virtual_ipaddress { ... }` and the like).
    var values: [ConfigLine] = []
    /// True when the keyword had a block (even an empty one).
    var hasBlock = false
}

/// Builds the keyword tree from the reader's lines, as keepalived's `process_stream()` does:
/// keywords are looked up in the current block's table, `{`/`}` open and close blocks, and
/// unknown keywords are reported with a suggestion.
struct ConfigTreeBuilder {
    let reader: ConfigReader

    func report(
        _ severity: DiagnosticSeverity, _ message: String, at location: SourceLocation,
        code: Diagnostic.Code = .general
    ) {
        reader.report(severity, message, at: location, code: code)
    }

    /// Keywords whose keepalived handlers check for a missing parameter themselves (an error,
    /// not an exit).
    static let checkedForMissing: Set<String> = [
        "lvs_timeouts", "virtualhost", "default_interface", "helo_name", "password", "ca", "certificate", "key",
        "snmp_name", "reload_time_file", "tmp_config_directory", "config_save_dir",
    ]

    /// Reads the whole configuration into top-level nodes.
    func parse() -> [ConfigNode] {
        parseBlock(.root, opener: nil).nodes
    }

    /// Reads the keywords of one block up to its `}` (or the end for the top level). `opener`
    /// is the keyword line that opened the block; its `{` is expected next.
    private func parseBlock(_ kind: ConfigBlockKind, opener: ConfigLine?) -> (nodes: [ConfigNode], closed: Bool) {
        let table = KeywordSchema.keywords(of: kind)
        var nodes: [ConfigNode] = []
        var needOpen = opener != nil
        var strayOpens = 0
        while let line = reader.next() {
            if needOpen {
                needOpen = false
                if line.isOpenBrace { continue }
                report(
                    .error, "missing '{' after '\(opener!.words.first ?? "")'", at: line.location, code: .blockStructure
                )
            }
            if line.isOpenBrace {
                report(.error, "unexpected '{' - ignoring", at: line.location, code: .blockStructure)
                strayOpens += 1
                continue
            }
            if line.isCloseBrace {
                if strayOpens > 0 {
                    strayOpens -= 1
                    continue
                }
                if opener != nil { return (nodes, true) }
                report(.error, "extra '}'", at: line.location, code: .blockStructure)
                continue
            }
            guard let keyword = line.words.first else { continue }
            guard let spec = table[keyword] else {
                reportUnknown(keyword, in: kind, at: line.location)
                if reader.peek()?.isOpenBrace == true {
                    _ = reader.next()
                    skipBlock()
                }
                continue
            }
            if let node = parseKeyword(spec, line: line, in: kind) { nodes.append(node) }
        }
        if let opener {
            report(
                .error, "'\(opener.words.first ?? "")' block is not closed: missing '}' at end of configuration",
                at: opener.location, code: .blockStructure)
        }
        return (nodes, false)
    }

    private func parseKeyword(_ spec: KeywordSpec, line: ConfigLine, in kind: ConfigBlockKind) -> ConfigNode? {
        let arguments = Array(line.words.dropFirst())
        let keyword = spec.name
        if let note = spec.legacyNote { report(.note, note, at: line.location) }
        var node = ConfigNode(
            keyword: keyword, canonical: spec.canonicalName, arguments: arguments, text: line.text,
            location: line.location)
        switch spec.shape {
        case .value:
            if arguments.count < spec.minArgs {
                // keepalived exits when a handler reads a missing word (null_strvec); a few
                // handlers check first and only report it.
                let severity: DiagnosticSeverity = Self.checkedForMissing.contains(keyword) ? .error : .fatal
                report(severity, "'\(keyword)' is missing a parameter", at: line.location)
                return nil
            }
            if let max = spec.maxArgs, arguments.count > max {
                let extra = arguments[max...].joined(separator: " ")
                report(.note, "extra words after '\(keyword)' ignored: '\(extra)'", at: line.location)
            }
            applyReaderSettings(node, in: kind)
            return node
        case .block(let sub):
            node.hasBlock = true
            let nameOK = arguments.count >= spec.minArgs
            if !nameOK {
                report(.error, "'\(keyword)' needs a name - skipping the block", at: line.location)
            } else if let max = spec.maxArgs, arguments.count > max {
                let extra = arguments[max...].joined(separator: " ")
                report(.note, "extra words after '\(keyword)' ignored: '\(extra)'", at: line.location)
            }
            let (children, _) = parseBlock(sub, opener: line)
            node.children = children
            return nameOK ? node : nil
        case .valueBlock:
            node.hasBlock = true
            if arguments.count < spec.minArgs {
                report(.error, "'\(keyword)' needs a name - skipping the block", at: line.location)
            } else if let max = spec.maxArgs, arguments.count > max {
                report(
                    .error, "block '\(keyword)' has extra parameters '\(arguments[max...].joined(separator: " "))'",
                    at: line.location)
            }
            node.values = parseValueBlock(opener: line)
            return arguments.count >= spec.minArgs ? node : nil
        }
    }

    /// Reads the lines of a value block up to its `}` (keepalived `alloc_value_block()`).
    private func parseValueBlock(opener: ConfigLine) -> [ConfigLine] {
        var values: [ConfigLine] = []
        var first = true
        while let line = reader.next() {
            if first {
                first = false
                if line.isOpenBrace { continue }
                report(
                    .error, "missing '{' after '\(opener.words.first ?? "")'", at: line.location, code: .blockStructure)
            }
            if line.isCloseBrace { return values }
            if line.isOpenBrace {
                report(
                    .error, "unexpected '{' in '\(opener.words.first ?? "")' - ignoring", at: line.location,
                    code: .blockStructure)
                continue
            }
            if !line.words.isEmpty { values.append(line) }
        }
        report(
            .error, "'\(opener.words.first ?? "")' block is not closed: missing '}' at end of configuration",
            at: opener.location, code: .blockStructure)
        return values
    }

    /// Skips a block whose `{` has been read, up to its matching `}`.
    private func skipBlock() {
        var depth = 1
        while let line = reader.next() {
            if line.isOpenBrace {
                depth += 1
            } else if line.isCloseBrace {
                depth -= 1
                if depth == 0 { return }
            }
        }
    }

    private func reportUnknown(_ keyword: String, in kind: ConfigBlockKind, at location: SourceLocation) {
        let candidates = KeywordSchema.keywords(of: kind).keys
        var message = "unknown keyword '\(keyword)'"
        if kind != .root { message += " in \(kind.rawValue)" }
        if let suggestion = KeywordSuggester.suggestion(for: keyword, among: candidates) {
            message += "; did you mean '\(suggestion)'?"
        } else {
            let elsewhere = KeywordSchema.blocks(accepting: keyword).filter { $0 != kind }
            if !elsewhere.isEmpty {
                let names = elsewhere.map { $0 == .root ? "the top level" : $0.rawValue }
                message += " (it belongs in \(names.joined(separator: ", ")))"
            }
        }
        report(.error, message, at: location)
    }

    /// Settings that change how the rest of the file is read take effect at once, as in
    /// keepalived: `include_check` and `random_seed` in global_defs.
    private func applyReaderSettings(_ node: ConfigNode, in kind: ConfigBlockKind) {
        guard kind == .globalDefs else { return }
        switch node.canonical {
        case "include_check":
            reader.includeChecks = IncludeCheckSetting.apply(
                node.arguments, to: reader.includeChecks, at: node.location, reader: reader)
        case "random_seed":
            if let seed = UInt64(node.arguments[0]) {
                reader.random = SplitMix64(seed: seed)
            } else {
                report(.error, "random_seed '\(node.arguments[0])' is not a number", at: node.location)
            }
        default:
            break
        }
    }
}

/// `include_check [[+|-]readable|match|wildcard_match|brace_match ...]`; no option means all.
enum IncludeCheckSetting {
    static func apply(
        _ words: [String], to current: IncludeChecks, at location: SourceLocation, reader: ConfigReader
    ) -> IncludeChecks {
        if words.isEmpty { return .all }
        let names: [String: IncludeChecks] = [
            "readable": .readable, "match": [.readable, .match], "wildcard_match": [.readable, .wildcardMatch],
            "brace_match": [.readable, .braceMatch],
        ]
        let relative = words.contains { $0.hasPrefix("+") || $0.hasPrefix("-") }
        var result: IncludeChecks = relative ? current : []
        for word in words {
            var name = Substring(word)
            var remove = false
            if name.hasPrefix("+") || name.hasPrefix("-") {
                remove = name.hasPrefix("-")
                name = name.dropFirst()
            }
            guard let checks = names[String(name)] else {
                reader.report(.error, "unknown include_check option '\(word)'", at: location)
                continue
            }
            if remove {
                result.subtract(checks.subtracting(.readable))
                if name == "readable" { result.remove(.readable) }
            } else {
                result.formUnion(checks)
            }
        }
        return result
    }
}
