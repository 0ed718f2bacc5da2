// Character-level rules of keepalived.conf: comments, whitespace, word splitting and quoting.

/// The lexical rules of keepalived's reader (`lib/parser.c`), as pure functions on one line.
public enum ConfigText {
    /// keepalived's word separators: space, tab, form feed, newline, carriage return, vertical tab.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\u{0C}" || c == "\n" || c == "\r" || c == "\u{0B}"
    }

    /// Space characters that web pages put into copied configs (no-break space, the Unicode
    /// spaces, the ideographic full-width space, BOM). keepalived would take them as part of a
    /// word; SwiftLVS reads them as ordinary spaces so pasted tutorials work.
    static func isForeignSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000, 0xFEFF: return true
        default: return false
        }
    }

    /// Replaces foreign spaces by ASCII spaces; returns the line and whether anything changed.
    static func normaliseSpaces(_ line: String) -> (String, Bool) {
        guard line.unicodeScalars.contains(where: isForeignSpace) else { return (line, false) }
        var out = String.UnicodeScalarView()
        for c in line.unicodeScalars { out.append(isForeignSpace(c) ? " " : c) }
        return (String(out), true)
    }

    /// The result of stripping comments from one physical line.
    struct Decommented: Equatable {
        /// The text without comment, leading and trailing blanks, and without a continuation `\`.
        var text: String
        /// True when the line ended with `\` (it continues on the next line).
        var continues: Bool
        /// True when a `"` was opened and not closed.
        var unterminatedQuote: Bool
    }

    /// Removes a comment (`!` or `#` outside `"..."`), turns `\#` / `\!` outside quotes into the
    /// literal character, strips leading and trailing blanks, and detects a trailing `\` that
    /// continues the line (`decomment()`; a `\` at the end of a comment is part of the comment).
    public static func decomment(_ line: String) -> (text: String, continues: Bool, unterminatedQuote: Bool) {
        let d = decommentLine(line)
        return (d.text, d.continues, d.unterminatedQuote)
    }

    static func decommentLine(_ line: String) -> Decommented {
        let scalars = Array(line.unicodeScalars)
        var start = 0
        while start < scalars.count && (scalars[start] == " " || scalars[start] == "\t") { start += 1 }
        var out = String.UnicodeScalarView()
        var quote = false
        var commentAt: Int?  // index into `out` where the comment starts
        var continues = false
        var i = start
        while i < scalars.count {
            let c = scalars[i]
            if c == "\"" {
                if commentAt == nil { quote.toggle() }
                out.append(c)
                i += 1
                continue
            }
            if c == "\\" {
                if i + 1 < scalars.count {
                    let next = scalars[i + 1]
                    if !quote && commentAt == nil && (next == "#" || next == "!") {
                        out.append(next)
                    } else {
                        out.append(c)
                        out.append(next)
                    }
                    i += 2
                    continue
                }
                if commentAt == nil { continues = true }
                break
            }
            if !quote && commentAt == nil && (c == "!" || c == "#") {
                commentAt = out.count
            }
            out.append(c)
            i += 1
        }
        var text = out
        if let commentAt {
            text = String.UnicodeScalarView(out.prefix(commentAt))
        }
        var result = String(text)
        while let last = result.unicodeScalars.last, last == " " || last == "\t" {
            result.unicodeScalars.removeLast()
        }
        return Decommented(text: result, continues: continues, unterminatedQuote: quote && commentAt == nil)
    }

    /// Splits a line into words the way keepalived's `alloc_strvec()` does: whitespace separates
    /// words; a word that starts with `"` runs to the next `"`, and the quotes are dropped.
    /// Returns the words and, if a quote was left open, nothing after it.
    public static func words(_ line: String) -> (words: [String], unmatchedQuote: Bool) {
        let s = Array(line.unicodeScalars)
        var words: [String] = []
        var i = 0
        while true {
            while i < s.count && isSpace(s[i]) { i += 1 }
            if i >= s.count { break }
            var word = String.UnicodeScalarView()
            if s[i] == "\"" {
                i += 1
                guard let close = s[i...].firstIndex(of: "\"") else { return (words, true) }
                word.append(contentsOf: s[i..<close])
                i = close + 1
            } else {
                while i < s.count && !isSpace(s[i]) && s[i] != "\"" {
                    word.append(s[i])
                    i += 1
                }
            }
            words.append(String(word))
        }
        return (words, false)
    }

    /// Splits a line shell-fashion, as keepalived does for script-valued keywords
    /// (`alloc_strvec_quoted_escaped()`): `"..."` and `'...'` group words (quotes removed, a word
    /// may mix quoted and unquoted parts), and `\a \b \E \f \n \r \t \v \xHH \nnn \cC` escapes
    /// work inside and outside quotes; `\C` is `C`. Returns nil on a missing closing quote.
    public static func shellWords(_ line: String) -> [String]? {
        let s = Array(line.unicodeScalars)
        var words: [String] = []
        var i = 0
        while i < s.count {
            while i < s.count && isSpace(s[i]) { i += 1 }
            if i >= s.count { break }
            var word = String.UnicodeScalarView()
            var quote: Unicode.Scalar?
            while i < s.count {
                let c = s[i]
                if c == "\\" {
                    i += 1
                    guard i < s.count else { return nil }
                    let (decoded, next) = escape(s, i)
                    word.append(decoded)
                    i = next
                    continue
                }
                if let q = quote {
                    if c == q {
                        quote = nil
                    } else {
                        word.append(c)
                    }
                    i += 1
                    continue
                }
                if c == "\"" || c == "'" {
                    quote = c
                    i += 1
                    continue
                }
                if isSpace(c) { break }
                word.append(c)
                i += 1
            }
            if quote != nil { return nil }
            words.append(String(word))
        }
        return words
    }

    /// Decodes the escape whose letter is at `s[i]` (after the backslash).
    private static func escape(_ s: [Unicode.Scalar], _ i: Int) -> (Unicode.Scalar, Int) {
        let c = s[i]
        func hexValue(_ h: Unicode.Scalar) -> UInt32? {
            switch h {
            case "0"..."9": return h.value - 48
            case "a"..."f": return h.value - 87
            case "A"..."F": return h.value - 55
            default: return nil
            }
        }
        if c == "x", i + 1 < s.count, hexValue(s[i + 1]) != nil {
            var v: UInt32 = 0
            var j = i + 1
            while j < s.count, j < i + 3, let h = hexValue(s[j]) {
                v = v << 4 | h
                j += 1
            }
            return (Unicode.Scalar(UInt8(truncatingIfNeeded: v)), j)
        }
        if c == "c", i + 1 < s.count {
            return (Unicode.Scalar(UInt8(truncatingIfNeeded: s[i + 1].value & 0x1F)), i + 2)
        }
        if c >= "0" && c <= "7" {
            var v: UInt32 = 0
            var j = i
            while j < s.count, j < i + 3, s[j] >= "0", s[j] <= "7" {
                v = v << 3 | (s[j].value - 48)
                j += 1
            }
            return (Unicode.Scalar(UInt8(truncatingIfNeeded: v)), j)
        }
        let table: [Unicode.Scalar: Unicode.Scalar] = [
            "a": "\u{07}", "b": "\u{08}", "E": "\u{1B}", "f": "\u{0C}", "n": "\n", "r": "\r", "t": "\t",
            "v": "\u{0B}",
        ]
        return (table[c] ?? c, i + 1)
    }

    /// Finds the first `{` or `}` not inside `"..."` (keepalived `read_line()`): the reader splits
    /// the line there, so `kw {`, `{` alone and `kw { a b }` all give one token per line.
    static func firstUnquotedBrace(_ line: String) -> String.Index? {
        var quote = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if c == "\"" {
                quote.toggle()
            } else if !quote && (c == "{" || c == "}") {
                return i
            }
            i = line.index(after: i)
        }
        return nil
    }

    /// Trims ASCII blanks at both ends.
    static func trimmed(_ s: some StringProtocol) -> String {
        var scalars = Substring(s).unicodeScalars[...]
        while let f = scalars.first, isSpace(f) { scalars = scalars.dropFirst() }
        while let l = scalars.last, isSpace(l) { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
