// lvs-sysctl entry point: sysctl's syntax for the running lvsd's net.ipv4.vs.* knobs (contract 10).
import Glibc
import IPVSAdmKit
import LVSControl

/// Files and /proc/sys through the system calls, as procps sysctl uses them.
final class SystemSysctlFiles: SysctlFiles {
    func readText(_ path: String) -> Result<String, SysctlErrno> {
        let fd = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Self.errno()) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < 16 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && Glibc.errno == EINTR { continue }
            if n < 0 { return .failure(Self.errno()) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    func readProc(_ path: String) -> Result<String, SysctlErrno> { readText(path) }

    func writeProc(_ path: String, _ value: String) -> SysctlErrno? {
        var st = stat()
        guard stat(path, &st) == 0 else { return Self.errno() }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return Self.errno() }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        return n < 0 ? Self.errno() : nil
    }

    static func errno() -> SysctlErrno {
        let e = Glibc.errno
        return SysctlErrno(e, String(cString: strerror(e)))
    }
}

var args = CommandLine.arguments
let invokedAs = args.isEmpty ? "lvs-sysctl" : args.removeFirst()
let program = invokedAs.split(separator: "/").last.map(String.init) ?? invokedAs
let endpoint = controlEndpointOrExit(program: program)
let sysctl = LVSSysctl(
    program: program, backend: ControlSocketBackend(endpoint: endpoint), files: SystemSysctlFiles(),
    output: FileDescriptorOutput())
exit(sysctl.run(args))
