// ipvsadm -R's progress: reported per batch, never on stdout; drawn on a terminal, erased at the end.
import Foundation
import Glibc
import IPVSAdmKit
import LVSControl
import LVSCore
import Testing

final class RecordedProgress: RestoreProgress {
    var updates: [(lines: Int, bytes: Int)] = []
    var finishedCount = 0
    func restored(lines: Int, bytes: Int) { updates.append((lines, bytes)) }
    func finished() { finishedCount += 1 }
}

@Suite("ipvsadm -R progress")
struct RestoreProgressTests {
    static func saveFile(services: Int) -> String {
        (0..<services).map { i in
            "-A -t 10.0.\(i / 256).\(i % 256):80 -s rr\n-a -t 10.0.\(i / 256).\(i % 256):80 -r 192.168.0.1:80 -m -w 1\n"
        }.joined()
    }

    @Test("progress after every batch: lines and bytes grow to the whole input; output unchanged")
    func reportsPerBatch() {
        let input = Self.saveFile(services: 2500)
        let plain = StaticBackend()
        let withoutProgress = ipvsadm(["-R"], backend: plain, stdin: input)

        let backend = StaticBackend()
        let out = CapturedOutput()
        let adm = IPVSAdm(
            program: "ipvsadm", backend: backend, resolver: NumericOnlyResolver(), output: out,
            input: BufferInput(input))
        adm.restoreBatchSize = 1000
        let progress = RecordedProgress()
        adm.restoreProgress = progress
        let status = adm.run(["-R"])
        #expect(status == withoutProgress.status)
        #expect(out.stdout == withoutProgress.stdout && out.stderr == withoutProgress.stderr)
        #expect(backend.changes == plain.changes)
        // 5000 changes in batches of 1000, plus the partial batches sent before reading more input.
        #expect(progress.updates.count >= 5)
        #expect(progress.updates.map(\.lines) == progress.updates.map(\.lines).sorted())
        #expect(progress.updates.last?.lines == 5000)
        #expect(progress.updates.last?.bytes == input.utf8.count)
        #expect(progress.finishedCount == 1)
    }

    @Test("the terminal line: grouped count, share of the file, redrawn at most 10 times a second, erased at the end")
    func terminalLine() throws {
        #expect(
            TerminalRestoreProgress.text(lines: 41_000, bytes: 1_300_000, total: 3_300_000)
                == "ipvsadm: restoring: 41,000 lines, 39% of 3.1 MB")
        #expect(TerminalRestoreProgress.text(lines: 1, bytes: 2048, total: nil) == "ipvsadm: restoring: 1 line (2 KB)")
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        var clock: UInt64 = 1_000_000_000
        let p = TerminalRestoreProgress(fd: fds[1], totalBytes: 1000, now: { clock })
        p.restored(lines: 10, bytes: 100)  // before 300 ms: nothing
        clock += 400_000_000
        p.restored(lines: 20, bytes: 200)
        clock += 50_000_000
        p.restored(lines: 30, bytes: 300)  // 50 ms later: skipped
        clock += 100_000_000
        p.restored(lines: 40, bytes: 400)
        p.finished()
        close(fds[1])
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fds[0], &buf, buf.count)
        let text = String(decoding: buf[0..<max(0, n)], as: UTF8.self)
        #expect(
            text
                == "\r\u{1B}[Kipvsadm: restoring: 20 lines, 20% of 1000 B\r\u{1B}[Kipvsadm: restoring: 40 lines, 40% of 1000 B\r\u{1B}[K"
        )
    }
}
