// Parameters ($NAME=VALUE, $NAME, ${NAME}) and repetition (~SEQ, ~SEQx, ~LST) in the reader.

extension ConfigReader {
    /// A running `~SEQ` / `~SEQx` / `~LST`: the variables it sets and the text it repeats.
    struct SequenceFrame {
        enum Values {
            case numbers(variable: String, next: Int64, step: Int64, remaining: Int64, hex: Bool)
            case lists(variables: [String], sets: [[String]], index: Int)
        }
        var values: Values
        var text: String
        var location: SourceLocation
    }

    // MARK: - Definitions

    /// `$NAME=VALUE` (no space before `=`). A value ending in `\` starts a multi-line definition
    /// whose following lines are collected until one does not end in `\`. The value is stored
    /// as written and substituted when used.
    func define(_ line: String, at location: SourceLocation, continues: Bool) -> Bool {
        let scalars = Array(line.unicodeScalars)
        guard scalars.count > 1, Self.isNameStart(scalars[1]) else { return false }
        var i = 2
        while i < scalars.count && scalars[i] != "=" {
            guard Self.isNameChar(scalars[i]) else { return false }
            i += 1
        }
        guard i < scalars.count else { return false }
        let name = String(String.UnicodeScalarView(scalars[1..<i]))
        let value = ConfigText.trimmed(String(String.UnicodeScalarView(scalars[(i + 1)...])))
        if continues {
            definitions[name] = Definition(lines: value.isEmpty ? [] : [value], multiline: true)
            startCollecting(name, at: location)
        } else {
            definitions[name] = Definition(lines: [value], multiline: false)
        }
        return true
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || (c >= "0" && c <= "9") }

    /// Replaces `$NAME` (followed by a blank, `,`, `)` or the end) and `${NAME}` by their values,
    /// again and again, so a value may refer to other parameters. Undefined names stay as written.
    /// A multi-line parameter is only replaced when it ends the line: its first line takes the
    /// reference's place and the others are read next.
    func substitute(_ line: String, at location: SourceLocation) -> String? {
        var s = Array(line.unicodeScalars)
        var pos = 0
        var replacements = 0
        var pendingLines: [[String]] = []
        while pos < s.count {
            guard s[pos] == "$", pos + 1 < s.count else {
                pos += 1
                continue
            }
            guard let ref = reference(in: s, at: pos + 1) else {
                pos += 1
                continue
            }
            let endsLine = ref.end == s.count
            let value: String
            if let builtin = builtinValue(ref.name, parameters: ref.parameters), definitions[ref.name] == nil {
                value = builtin
            } else if let def = definitions[ref.name], ref.parameters.isEmpty {
                if def.multiline {
                    guard endsLine else {
                        pos += 1
                        continue
                    }
                    value = def.lines.first ?? ""
                    if def.lines.count > 1 { pendingLines.append(Array(def.lines.dropFirst())) }
                } else {
                    value = def.lines.first ?? ""
                }
            } else {
                pos += 1
                continue
            }
            replacements += 1
            if replacements > 1000 {
                report(
                    .error, "parameter substitution does not terminate (is a parameter defined by itself?)",
                    at: location)
                return nil
            }
            s.replaceSubrange(pos..<ref.end, with: Array(value.unicodeScalars))
            if value.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("~") { break }
        }
        if !pendingLines.isEmpty && sources.count > 200 {
            report(.error, "multi-line parameters nested too deeply (is one defined by itself?)", at: location)
            return nil
        }
        for lines in pendingLines.reversed() {
            sources.append(.expansion(lines: lines, index: 0, location: location))
        }
        return String(String.UnicodeScalarView(s))
    }

    /// A parameter reference starting at `s[start]` (just after `$`): its name, its parameters
    /// (`${_RANDOM 1 9}`, `${_ENV HOME}`) and the index after it.
    private func reference(in s: [Unicode.Scalar], at start: Int) -> (name: String, parameters: [String], end: Int)? {
        var i = start
        let braces = s[i] == "{"
        if braces { i += 1 }
        guard i < s.count, Self.isNameStart(s[i]) else { return nil }
        let nameStart = i
        while i < s.count && Self.isNameChar(s[i]) { i += 1 }
        let name = String(String.UnicodeScalarView(s[nameStart..<i]))
        if braces {
            var params = String.UnicodeScalarView()
            while i < s.count && s[i] != "}" && s[i] != "{" {
                params.append(s[i])
                i += 1
            }
            guard i < s.count, s[i] == "}" else { return nil }
            let words = String(params).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if !params.isEmpty && params.first != " " && params.first != "\t" { return nil }
            return (name, words, i + 1)
        }
        if i < s.count {
            let c = s[i]
            guard c == " " || c == "\t" || c == "," || c == ")" else { return nil }
        }
        return (name, [], i)
    }

    /// keepalived's predefined parameters: `_PWD`, `_INSTANCE`, `_RANDOM [MIN [MAX]]`,
    /// `_ENV NAME`, `_HASH` (`#`) and `_BANG` (`!`).
    private func builtinValue(_ name: String, parameters: [String]) -> String? {
        switch name {
        case "_PWD" where parameters.isEmpty: return currentDirectory
        case "_INSTANCE" where parameters.isEmpty: return options.configID ?? ""
        case "_HASH" where parameters.isEmpty: return "#"
        case "_BANG" where parameters.isEmpty: return "!"
        case "_ENV" where parameters.count == 1: return options.environment[parameters[0]] ?? ""
        case "_RANDOM" where parameters.count <= 2:
            let numbers = parameters.compactMap { UInt64($0) }
            guard numbers.count == parameters.count else { return nil }
            let low = numbers.count >= 1 ? numbers[0] : 0
            let high = numbers.count >= 2 ? numbers[1] : 32767
            guard low <= high else { return String(low) }
            return String(UInt64.random(in: low...high, using: &random))
        default: return nil
        }
    }

    // MARK: - Repetition

    /// `~SEQ(var, [start, [step,]] end) text`, `~SEQx(...)` (values in hex) and
    /// `~LST(var, v1, v2, ...) text` / `~LST({a, b}, {1, 2}, {3, 4}) text`: the text is read once
    /// per value with `$var` set.
    func addRepetition(_ line: String, at location: SourceLocation) {
        let frame = line.hasPrefix("~SEQ") ? parseSequence(line, at: location) : parseList(line, at: location)
        if let frame { sources.append(.sequence(frame)) }
    }

    func nextRepetition(_ frame: inout SequenceFrame) -> String? {
        switch frame.values {
        case .numbers(let variable, let next, let step, let remaining, let hex):
            guard remaining > 0 else { return nil }
            let text = hex ? String(next, radix: 16) : String(next)
            definitions[variable] = Definition(lines: [text], multiline: false)
            frame.values = .numbers(
                variable: variable, next: next &+ step, step: step, remaining: remaining - 1, hex: hex)
            return frame.text
        case .lists(let variables, let sets, let index):
            guard index < sets.count else { return nil }
            for (variable, value) in zip(variables, sets[index]) {
                definitions[variable] = Definition(lines: [value], multiline: false)
            }
            frame.values = .lists(variables: variables, sets: sets, index: index + 1)
            return frame.text
        }
    }

    private func parseSequence(_ line: String, at location: SourceLocation) -> SequenceFrame? {
        var rest = Substring(line.dropFirst(4))
        let hex = rest.hasPrefix("x")
        if hex { rest = rest.dropFirst() }
        rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        guard rest.hasPrefix("("), let close = rest.firstIndex(of: ")") else {
            report(.error, "invalid ~SEQ definition '\(line)'", at: location)
            return nil
        }
        let inner = rest[rest.index(after: rest.startIndex)..<close]
        let parts = inner.split(separator: ",", omittingEmptySubsequences: false).map { ConfigText.trimmed($0) }
        guard parts.count >= 2, parts.count <= 4, !parts[0].isEmpty,
            parts[0].unicodeScalars.allSatisfy(Self.isNameChar)
        else {
            report(.error, "invalid ~SEQ definition '\(line)'", at: location)
            return nil
        }
        var numbers: [Int64] = []
        for part in parts.dropFirst() {
            let expanded = substitute(part, at: location) ?? part
            guard let n = Self.cInteger(expanded) else {
                report(.error, "invalid ~SEQ definition '\(line)'", at: location)
                return nil
            }
            numbers.append(n)
        }
        let start: Int64
        let step: Int64
        let end: Int64
        switch numbers.count {
        case 1:
            end = numbers[0]
            step = end < 1 ? -1 : 1
            start = end < 0 ? -1 : 1
        case 2:
            (start, end) = (numbers[0], numbers[1])
            step = start <= end ? 1 : -1
        default:
            (start, step, end) = (numbers[0], numbers[1], numbers[2])
            if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                report(.error, "invalid ~SEQ values '\(line)'", at: location)
                return nil
            }
        }
        // Every step checked: extreme bounds (±2^63) must not trap the daemon on SIGHUP.
        let (span, overflow) = end.subtractingReportingOverflow(start)
        let (steps, divisionOverflow) = span.dividedReportingOverflow(by: step)
        if overflow || divisionOverflow || steps >= 1_000_000 {
            report(.error, "~SEQ would repeat more than 1000000 times '\(line)'", at: location)
            return nil
        }
        if hex && (start < 0 || end < 0) {
            report(.error, "~SEQx is only valid for non-negative numbers '\(line)'", at: location)
            return nil
        }
        let text = ConfigText.trimmed(rest[rest.index(after: close)...])
        return SequenceFrame(
            values: .numbers(variable: parts[0], next: start, step: step, remaining: max(0, steps + 1), hex: hex),
            text: text,
            location: location)
    }

    private func parseList(_ line: String, at location: SourceLocation) -> SequenceFrame? {
        func fail() -> SequenceFrame? {
            report(.error, "invalid ~LST specification '\(line)'", at: location)
            return nil
        }
        var s = Substring(line.dropFirst(4)).drop(while: { $0 == " " || $0 == "\t" })
        guard s.hasPrefix("(") else { return fail() }
        s = s.dropFirst()
        // Split the parenthesised part into top-level items, each a word or a {...} group.
        var items: [[String]] = []
        var closed = false
        while !s.isEmpty {
            s = s.drop(while: { $0 == " " || $0 == "\t" })
            if s.hasPrefix("{") {
                guard let end = s.firstIndex(of: "}") else { return fail() }
                let group = s[s.index(after: s.startIndex)..<end]
                items.append(
                    group.split(separator: ",", omittingEmptySubsequences: false).map { ConfigText.trimmed($0) })
                s = s[s.index(after: end)...].drop(while: { $0 == " " || $0 == "\t" })
            } else {
                let end = s.firstIndex(where: { $0 == "," || $0 == ")" }) ?? s.endIndex
                items.append([ConfigText.trimmed(s[..<end])])
                s = s[end...]
            }
            if s.hasPrefix(",") {
                s = s.dropFirst()
            } else if s.hasPrefix(")") {
                s = s.dropFirst()
                closed = true
                break
            } else {
                return fail()
            }
        }
        guard closed, items.count >= 2 else { return fail() }
        let variables = items[0]
        guard variables.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(Self.isNameChar) }) else {
            return fail()
        }
        var sets: [[String]] = []
        for item in items.dropFirst() {
            if item.count > variables.count {
                report(.error, "~LST specification has too many values '\(line)'", at: location)
                return nil
            }
            sets.append(item + Array(repeating: "", count: variables.count - item.count))
        }
        return SequenceFrame(
            values: .lists(variables: variables, sets: sets, index: 0), text: ConfigText.trimmed(s), location: location)
    }

    /// Parses an integer as C's `strtol(s, &end, 0)` does for a whole string: optional sign,
    /// `0x` hex, leading-`0` octal, or decimal.
    static func cInteger(_ text: String) -> Int64? {
        var t = Substring(text)
        var negative = false
        if t.hasPrefix("-") || t.hasPrefix("+") {
            negative = t.hasPrefix("-")
            t = t.dropFirst()
        }
        let value: Int64?
        if t.hasPrefix("0x") || t.hasPrefix("0X") {
            value = Int64(t.dropFirst(2), radix: 16)
        } else if t.count > 1 && t.hasPrefix("0") {
            value = Int64(t.dropFirst(), radix: 8)
        } else {
            value = Int64(t)
        }
        guard let value else { return nil }
        return negative ? -value : value
    }
}
