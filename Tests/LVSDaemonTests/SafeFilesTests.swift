// Review finding 6: the notify FIFO is a FIFO or nothing, never followed through a link; replaced
// files go through an unpredictable name.
import Foundation
import LVSPlatform
import Testing

@Suite("safe files (finding 6)")
struct SafeFilesTests {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "lvsd-files-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test("a missing FIFO is made (0600); an existing one opens; a regular file or a symlink is refused and untouched")
    func fifo() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        guard case .success(let fd) = SafeFiles.openFIFO(d + "/fifo") else {
            Issue.record("not made")
            return
        }
        close(fd)
        var st = stat()
        lstat(d + "/fifo", &st)
        #expect(st.st_mode & S_IFMT == S_IFIFO && st.st_mode & 0o777 == 0o600)
        if case .success(let fd2) = SafeFiles.openFIFO(d + "/fifo") { close(fd2) } else { Issue.record("reopen") }

        try "precious\n".write(toFile: d + "/file", atomically: false, encoding: .utf8)
        guard case .failure = SafeFiles.openFIFO(d + "/file") else {
            Issue.record("a regular file was opened as the FIFO")
            return
        }
        symlink(d + "/file", d + "/link")
        guard case .failure(let e) = SafeFiles.openFIFO(d + "/link") else {
            Issue.record("a symlink was followed")
            return
        }
        #expect(e.message.contains("symbolic link"))
        symlink(d + "/fifo", d + "/link-to-fifo")
        guard case .failure = SafeFiles.openFIFO(d + "/link-to-fifo") else {
            Issue.record("a symlink to a FIFO was followed")
            return
        }
        #expect(try String(contentsOfFile: d + "/file", encoding: .utf8) == "precious\n")
    }

    @Test("replace: a link at the old predictable .tmp name is not written through; the file is replaced")
    func replace() throws {
        let d = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "precious\n".write(toFile: d + "/victim", atomically: false, encoding: .utf8)
        symlink(d + "/victim", d + "/stats.tmp")
        #expect(SafeFiles.replace(d + "/stats", with: Array("received 1\n".utf8)))
        #expect(try String(contentsOfFile: d + "/stats", encoding: .utf8) == "received 1\n")
        #expect(try String(contentsOfFile: d + "/victim", encoding: .utf8) == "precious\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: d).filter {
            $0.hasPrefix("stats.") && $0 != "stats.tmp"
        }
        #expect(left.isEmpty)
    }
}
