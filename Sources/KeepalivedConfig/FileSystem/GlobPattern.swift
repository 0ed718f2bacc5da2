// Glob helpers shared by both file systems: csh brace expansion and fnmatch-style matching.

/// Pattern helpers for `include` (glob(3) with `GLOB_BRACE`).
public enum GlobPattern {
    /// Expands csh-style braces: `a{b,c{d,e}}f` → `abf`, `acdf`, `acef`; `{,x}` yields an
    /// empty alternative. Unbalanced braces and `\`-escaped braces are left as they are.
    public static func expandBraces(_ pattern: String) -> [String] {
        let chars = Array(pattern)
        guard let open = firstUnescaped("{", in: chars, from: 0) else { return [pattern] }
        var depth = 0
        var commas: [Int] = []
        var close: Int?
        var i = open
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                i += 2
                continue
            }
            if c == "{" {
                depth += 1
            } else if c == "}" {
                depth -= 1
                if depth == 0 {
                    close = i
                    break
                }
            } else if c == "," && depth == 1 {
                commas.append(i)
            }
            i += 1
        }
        guard let close else { return [pattern] }
        let prefix = String(chars[..<open])
        let suffix = String(chars[(close + 1)...])
        let bounds = [open] + commas + [close]
        var alternatives: [String] = []
        for k in 0..<(bounds.count - 1) {
            alternatives.append(String(chars[(bounds[k] + 1)..<bounds[k + 1]]))
        }
        var out: [String] = []
        for alternative in alternatives {
            out.append(contentsOf: expandBraces(prefix + alternative + suffix))
        }
        return out
    }

    /// True when the pattern contains `*`, `?` or `[`, which glob treats as wildcards.
    public static func hasWildcards(_ pattern: String) -> Bool {
        var escaped = false
        for c in pattern {
            if escaped {
                escaped = false
                continue
            }
            if c == "\\" {
                escaped = true
            } else if c == "*" || c == "?" || c == "[" {
                return true
            }
        }
        return false
    }

    /// True when the pattern contains an unescaped `{`.
    public static func hasBraces(_ pattern: String) -> Bool {
        firstUnescaped("{", in: Array(pattern), from: 0) != nil
    }

    /// fnmatch(3) on one path segment: `*` and `?` do not match `/`, and a leading `.` must be
    /// matched explicitly, as glob(3) requires.
    public static func matches(segment: String, pattern: String) -> Bool {
        let s = Array(segment)
        let p = Array(pattern)
        if s.first == "." && p.first != "." { return false }
        return match(s, 0, p, 0)
    }

    private static func match(_ s: [Character], _ si: Int, _ p: [Character], _ pi: Int) -> Bool {
        var si = si
        var pi = pi
        while pi < p.count {
            switch p[pi] {
            case "*":
                while pi < p.count && p[pi] == "*" { pi += 1 }
                if pi == p.count { return true }
                var k = si
                while k <= s.count {
                    if match(s, k, p, pi) { return true }
                    k += 1
                }
                return false
            case "?":
                if si >= s.count { return false }
                si += 1
                pi += 1
            case "[":
                guard si < s.count, let (matched, next) = matchClass(s[si], p, pi) else {
                    if si < s.count && s[si] == "[" {
                        si += 1
                        pi += 1
                        continue
                    }
                    return false
                }
                if !matched { return false }
                si += 1
                pi = next
            case "\\" where pi + 1 < p.count:
                if si >= s.count || s[si] != p[pi + 1] { return false }
                si += 1
                pi += 2
            default:
                if si >= s.count || s[si] != p[pi] { return false }
                si += 1
                pi += 1
            }
        }
        return si == s.count
    }

    /// Matches `c` against the bracket expression starting at `p[start]`; returns whether it
    /// matched and the index after `]`, or nil if the expression is not terminated.
    private static func matchClass(_ c: Character, _ p: [Character], _ start: Int) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == "!" || p[i] == "^") {
            negate = true
            i += 1
        }
        var matched = false
        var first = true
        while i < p.count {
            if p[i] == "]" && !first { return (matched != negate, i + 1) }
            first = false
            if i + 2 < p.count && p[i + 1] == "-" && p[i + 2] != "]" {
                if p[i] <= c && c <= p[i + 2] { matched = true }
                i += 3
            } else {
                if p[i] == c { matched = true }
                i += 1
            }
        }
        return nil
    }

    private static func firstUnescaped(_ target: Character, in chars: [Character], from: Int) -> Int? {
        var i = from
        while i < chars.count {
            if chars[i] == "\\" {
                i += 2
                continue
            }
            if chars[i] == target { return i }
            i += 1
        }
        return nil
    }
}
