// Control-plane throughput: ipvsadm -R of a 10 000-service × 10-server file into a real lvsd, and -Ln of it.
import CLVSLinux
import Glibc
import IPVSAdmKit
import LVSControl
import LVSCore

/// Usage: control-bench [--services N] [--servers M] [--runs R]
/// Starts the lvsd built next to this binary on a private socket (LVSD_CONTROL=path, no root
/// needed), then times the real ipvsadm binary: `-R < file`, `-Ln > file`, `-S -n > file`, `-C`.
/// Also times the in-process parts (parse only, format only) to show where the time goes.

var services = 10_000
var servers = 10
var runs = 3
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    guard let v = args.first.flatMap({ Int($0) }) else {
        fatalError("usage: control-bench [--services N] [--servers M] [--runs R]")
    }
    args.removeFirst()
    switch a {
    case "--services": services = v
    case "--servers": servers = v
    case "--runs": runs = v
    default: fatalError("unknown option \(a)")
    }
}

func now() -> UInt64 { clvs_monotonic_ns() }
func ms(_ ns: UInt64) -> String {
    let v = Double(ns) / 1e6
    return String(Int(v.rounded())) + " ms"
}

let selfPath: String = {
    var buf = [Int8](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    return String(decoding: buf[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}()
let binDir = String(selfPath[..<(selfPath.lastIndex(of: "/") ?? selfPath.startIndex)])
let lvsd = binDir + "/lvsd"
let ipvsadmBin = binDir + "/ipvsadm"
guard access(lvsd, X_OK) == 0, access(ipvsadmBin, X_OK) == 0 else {
    fatalError("build lvsd and ipvsadm first (swift build -c release): not found in \(binDir)")
}

var template = Array("/tmp/control-bench-XXXXXX".utf8CString)
guard let dirPtr = mkdtemp(&template) else { fatalError("mkdtemp failed") }
let dir = String(cString: dirPtr)
let socketPath = dir + "/control.sock"

// The restore file: N services, each with M NAT real servers.
func address(_ base: UInt32, _ i: Int) -> String { IPv4Address(base &+ UInt32(i)).description }
var file = ""
file.reserveCapacity(services * (servers + 1) * 60)
for i in 0..<services {
    let vip = address(0x0A00_0001, i)  // 10.0.0.1 …
    file += "-A -t \(vip):80 -s wlc\n"
    for j in 0..<servers {
        file += "-a -t \(vip):80 -r \(address(0xAC10_0001, i * servers + j)):8080 -m -w 1\n"
    }
}
let restorePath = dir + "/rules"
do {
    let fd = open(restorePath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = Array(file.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
let expectedLines = 3 + services * (servers + 1)

func spawn(_ argv: [String], stdin: String = "/dev/null", stdout: String = "/dev/null", stderr: String = "/dev/null")
    -> pid_t
{
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    let envText = ["LVSD_CONTROL=\(socketPath)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    let env: [UnsafeMutablePointer<CChar>?] = envText.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, env)
    posix_spawn_file_actions_destroy(&actions)
    for p in cArgs + env { free(p) }
    guard rc == 0 else { fatalError("posix_spawn \(argv[0]) failed: \(rc)") }
    return pid
}

func waitFor(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xFF
}

/// Runs ipvsadm and returns (exit status, wall time in ns).
func ipvsadm(_ args: [String], stdin: String = "/dev/null", stdout: String = "/dev/null") -> (Int32, UInt64) {
    let t0 = now()
    let pid = spawn([ipvsadmBin] + args, stdin: stdin, stdout: stdout, stderr: dir + "/ipvsadm.err")
    let s = waitFor(pid)
    return (s, now() - t0)
}

func lineCount(_ path: String) -> Int {
    guard let f = fopen(path, "r") else { return -1 }
    defer { fclose(f) }
    var n = 0
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let r = fread(&buf, 1, buf.count, f)
        if r <= 0 { break }
        for b in buf[0..<r] where b == 0x0A { n += 1 }
    }
    return n
}

let daemon = spawn([lvsd, "-n", "-l", "--http", "off", "--control", socketPath], stderr: dir + "/lvsd.log")
var up = false
for _ in 0..<200 {
    if ipvsadm(["-Ln"]).0 == 0 {
        up = true
        break
    }
    usleep(20_000)
}
guard up else { fatalError("lvsd did not start; see \(dir)/lvsd.log") }

print("control-bench: \(services) services × \(servers) real servers = \(services * (servers + 1)) ipvsadm lines")
print("")
print("| run | ipvsadm -R < file | ipvsadm -Ln (\(expectedLines) lines) | ipvsadm -S -n | ipvsadm -C |")
print("|---|---|---|---|---|")
var restoreTimes: [UInt64] = []
var listTimes: [UInt64] = []
for run in 1...runs {
    let (rs, rt) = ipvsadm(["-R"], stdin: restorePath)
    let (ls, lt) = ipvsadm(["-Ln"], stdout: dir + "/listing")
    let lines = lineCount(dir + "/listing")
    let (ss, st) = ipvsadm(["-S", "-n"], stdout: dir + "/saved")
    let saved = lineCount(dir + "/saved")
    let (cs, ct) = ipvsadm(["-C"])
    guard rs == 0, ls == 0, ss == 0, cs == 0, lines == expectedLines, saved == services * (servers + 1) else {
        fatalError("run \(run) failed: statuses \(rs) \(ls) \(ss) \(cs), listing \(lines) lines, save \(saved) lines")
    }
    restoreTimes.append(rt)
    listTimes.append(lt)
    print("| \(run) | \(ms(rt)) | \(ms(lt)) | \(ms(st)) | \(ms(ct)) |")
}
kill(daemon, SIGTERM)
_ = waitFor(daemon)

// Where the time goes: the same work in-process, without sockets or the daemon.
final class Discard: IPVSAdmBackend {
    var received: [ControlRequest] = []
    func perform(_ requests: [ControlRequest]) throws(IPVSAdmBackendError) -> [ControlResult] {
        received.append(contentsOf: requests)
        return requests.map { _ in .ok }
    }
}
final class NullOutput: IPVSAdmOutput {
    func writeOut(_ bytes: [UInt8]) {}
    func writeErr(_ bytes: [UInt8]) {}
}
let discard = Discard()
let t0 = now()
let parseOnly = IPVSAdm(
    program: "ipvsadm", backend: discard, resolver: NumericOnlyResolver(), output: NullOutput(),
    input: BufferInput(file))
_ = parseOnly.run(["-R"])
let parseTime = now() - t0

let ipvs = IPVS()
let t1 = now()
for r in discard.received {
    guard r.perform(on: ipvs, now: .zero) == .ok else { fatalError("\(r) refused") }
}
let applyTime = now() - t1
let entries = ipvs.services()
let t2 = now()
let frame = ControlCodec.encodeResponseFrame([.services(entries)])
let encodeTime = now() - t2
let t3 = now()
_ = try! ControlCodec.decodeResults(body: Array(frame[12...]), expected: 1)
let decodeTime = now() - t3
let t4 = now()
let listing = IPVSListingFormatter(resolver: NumericOnlyResolver()).listAll(
    info: ipvs.info, services: entries, format: .numeric)
let formatTime = now() - t4
print("")
print(
    "In-process parts (one run): parse \(services * (servers + 1)) lines \(ms(parseTime)); apply to IPVS \(ms(applyTime));"
)
print(
    "encode listing (\(frame.count / 1024) KiB) \(ms(encodeTime)); decode \(ms(decodeTime)); format \(listing.count / 1024) KiB \(ms(formatTime))."
)
print("best -R \(ms(restoreTimes.min()!)), best -Ln \(ms(listTimes.min()!)) (goal ≤ 1 s each)")
_ = unlink(restorePath)
for f in ["listing", "saved", "ipvsadm.err", "lvsd.log"] { unlink(dir + "/" + f) }
rmdir(dir)
