// "Did you mean" suggestions for unknown keywords, by edit distance over the valid keywords.

/// Finds the valid keyword closest to a misspelt one.
enum KeywordSuggester {
    /// The best suggestion for `word` among `candidates`, or nil when nothing is close enough.
    ///
    /// A case-insensitive match wins outright (keywords are case-sensitive, so `STATE` is a
    /// different word from `state`); otherwise the candidate with the smallest Levenshtein
    /// distance is chosen if that distance is at most a third of the word's length (at least 2).
    static func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
        let lower = word.lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            if candidate == word { continue }
            if candidate.lowercased() == lower { return candidate }
            let d = distance(word, candidate)
            if best == nil || d < best!.distance || (d == best!.distance && candidate < best!.name) {
                best = (candidate, d)
            }
        }
        guard let best else { return nil }
        let limit = max(2, word.count / 3)
        return best.distance <= limit ? best.name : nil
    }

    /// The Levenshtein distance between two strings, over Unicode scalars.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars)
        let y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
