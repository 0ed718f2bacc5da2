// docs/keepalived-support.md lists every keyword the parser recognises, block by block.
import Foundation
import KeepalivedConfig
import Testing

@Suite("docs/keepalived-support.md")
struct SupportTableTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/keepalived-support.md").path

    /// The table's rows by section: `## \`block\`` headings, `| \`keyword\` | … |` rows.
    static func rows() throws -> [String: Set<String>] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out: [String: Set<String>] = [:]
        var section: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## `"), let end = line.dropFirst(4).firstIndex(of: "`") {
                section = String(line.dropFirst(4)[..<end])
                out[section!] = []
            } else if let s = section, line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") {
                out[s]!.insert(String(line.dropFirst(3)[..<end]))
            }
        }
        return out
    }

    @Test("every keyword of every block has a row with its support status (and no row names an unknown keyword)")
    func everyKeywordListed() throws {
        let rows = try Self.rows()
        for block in ConfigBlockKind.allCases {
            let keywords = Set(KeepalivedKeywords.keywords(in: block))
            let listed = rows[block.rawValue] ?? []
            #expect(
                keywords.subtracting(listed).isEmpty,
                "\(block.rawValue): missing \(keywords.subtracting(listed).sorted())")
            #expect(
                listed.subtracting(keywords).isEmpty,
                "\(block.rawValue): unknown \(listed.subtracting(keywords).sorted())")
        }
    }
}
