// Splitting a script's command line into words, as keepalived's quoted script keywords do.

/// Splits `script` / `notify*` command lines into an argument vector.
public enum ScriptCommand {
    /// Splits on unquoted blanks; `'…'` and `"…"` group words and are removed; `\` escapes the
    /// next character outside single quotes.
    public static func split(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character? = nil
        var escape = false
        for ch in line {
            if escape {
                current.append(ch)
                escape = false
                continue
            }
            if let q = quote {
                if ch == q {
                    quote = nil
                } else if ch == "\\" && q == "\"" {
                    escape = true
                } else {
                    current.append(ch)
                }
                continue
            }
            switch ch {
            case " ", "\t":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "'", "\"":
                quote = ch
                inWord = true
            case "\\":
                escape = true
                inWord = true
            default:
                current.append(ch)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
