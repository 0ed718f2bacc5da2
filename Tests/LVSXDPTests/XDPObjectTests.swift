// The committed XDP object is the program's source compiled now; the Swift and C counter lists agree.
import CLVSXDP
import Foundation
import LVSXDP
import Testing

@Suite("XDP object")
struct XDPObjectTests {
    /// The repository root (this file is Tests/LVSXDPTests/XDPObjectTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test("the committed object (Sources/CLVSXDP/bpf/lvs_xdp.o) is bpf/lvs_xdp.bpf.c compiled now")
    func objectIsFresh() throws {
        let script = Self.root + "/scripts/build-bpf"
        let clang = ["/opt/swift/usr/bin/clang", "/usr/bin/clang"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard clang != nil || ProcessInfo.processInfo.environment["CLANG"] != nil else {
            print("skipped: no clang with the bpf target (set CLANG); cannot check Sources/CLVSXDP/bpf/lvs_xdp.o")
            return
        }
        let out = NSTemporaryDirectory() + "lvs_xdp_check_\(getpid()).o"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script, "--object", out]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "scripts/build-bpf --object failed")
        let fresh = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        let committed = [UInt8](
            UnsafeRawBufferPointer(start: clvs_xdp_object_bytes(), count: clvs_xdp_object_len))
        let same = fresh == committed
        #expect(
            same,
            "Sources/CLVSXDP/bpf/lvs_xdp.o is stale (\(committed.count) bytes, compiled now \(fresh.count)): run scripts/build-bpf"
        )
    }

    static var clang: String? {
        ProcessInfo.processInfo.environment["CLANG"]
            ?? ["/opt/swift/usr/bin/clang", "/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("a program the verifier refuses: XDPError .verifier whose one line names why (lvsd logs it and falls back)")
    func verifierRefusal() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        guard let clang = Self.clang else {
            print("skipped: no clang with the bpf target to build a refused program")
            return
        }
        let dir = NSTemporaryDirectory() + "lvs_xdp_bad_\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Reads byte 100 of the frame without checking the frame is that long.
        let source = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            SEC("xdp") int lvs_xdp(struct xdp_md *ctx) {
                unsigned char *d = (void *)(long)ctx->data;
                return d[100] ? XDP_PASS : XDP_DROP;
            }
            char LICENSE[] SEC("license") = "GPL";
            """
        try source.write(toFile: dir + "/bad.c", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clang)
        p.arguments = [
            "-target", "bpf", "-O2", "-I/usr/include/x86_64-linux-gnu", "-c", dir + "/bad.c", "-o", dir + "/bad.o",
        ]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        let object = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/bad.o")))
        do {
            _ = try XDPProgram(object: object)
            Issue.record("the verifier accepted an out-of-bounds packet read")
        } catch {
            #expect(error.code == .verifier)
            #expect(error.message.contains("invalid access to packet"), "\(error.message)")
            #expect(!error.message.contains("\n"), "one line")
            #expect(error.verifierLog.contains("processed"), "the log's tail is kept")
        }
    }

    @Test("XDPCounter lists exactly the program's counters (enum lvs_xdp_counter)")
    func counterNames() {
        #expect(XDPCounter.allCases.count == XDPCounters.programCount)
        #expect(Set(XDPCounter.allCases.map(\.description)).count == XDPCounter.allCases.count)
    }
}
