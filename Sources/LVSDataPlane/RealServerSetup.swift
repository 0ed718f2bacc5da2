// lvs-realserver: what the seeds' lvs_rs.sh / realserver.sh do and undo, plus user-space IPIP/GUE decapsulation.
import CLVSLinux
import Glibc
import LVSCore
import LVSPlatform

/// `lvs-realserver start|stop VIP… [--tun [--gue PORT] [--gre]] [--interface IF]`.
///
/// `start` puts each VIP on the interface (default `lo`) as a /32 (/128), sets `arp_ignore=1` and
/// `arp_announce=2` on `lo` and `all` (seed 000 lvs_rs.sh, seed 003 rs_server.sh), and with `--tun`
/// starts the decapsulation daemon (`TunnelDecapsulator`). `stop` undoes it: the VIPs go, and when
/// none of ours is left the ARP settings return to what they were before the first `start` (the
/// seeds write 0, the kernel's default) and the daemon stops. Both are idempotent.
public struct RealServerSetup {
    public enum Action: String, Sendable { case start, stop }

    public var action: Action
    public var vips: [IPAddress]
    public var tunnel = false
    public var guePort: UInt16?
    /// `--gre`: also decapsulate GRE (ipvsadm `--tun-type gre`).
    public var gre = false
    public var interface = "lo"
    /// `--from ADDR…`: the directors whose tunnelled packets are accepted (empty: any).
    public var directors: [IPAddress] = []

    /// A usage or set-up error, printed as `lvs-realserver: <message>`.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var exitCode: Int32
        public var description: String { message }
        public init(_ message: String, exitCode: Int32 = 1) {
            self.message = message
            self.exitCode = exitCode
        }
    }

    public static let usage = """
        Usage: lvs-realserver start|stop VIP... [--tun [--gue PORT] [--gre] [--from DIR[,DIR...]]] [--interface IF]
          start   put each VIP on IF (default lo) as a host address and set arp_ignore=1,
                  arp_announce=2 on lo and all (what lvs_rs.sh / realserver.sh do)
          stop    remove the VIPs; when none is left, restore the ARP settings
          --tun   also receive IPIP-tunnelled packets (ipvsadm -i) and hand the inner packets to
                  the local stack (user space: no ipip kernel module needed)
          --gue PORT  also receive GUE-tunnelled packets on UDP PORT (ipvsadm --tun-type gue)
          --gre   also receive GRE-tunnelled packets (ipvsadm --tun-type gre)
          --from DIR[,DIR...]  accept tunnelled packets only from these directors (outer source;
                  repeatable); without it any sender is accepted, as the kernel's tunl0 does.
                  Either way only inner packets to this host's VIPs are delivered.

        """

    /// Parses the arguments (without argv[0]).
    public static func parse(_ args: [String]) throws(Failure) -> RealServerSetup {
        guard let first = args.first else { throw Failure(usage, exitCode: 2) }
        guard let action = Action(rawValue: first) else {
            if first == "-h" || first == "--help" { throw Failure(usage, exitCode: 0) }
            throw Failure("unknown command '\(first)'\n" + usage, exitCode: 2)
        }
        var s = RealServerSetup(action: action, vips: [])
        var i = 1
        while i < args.count {
            let a = args[i]
            switch a {
            case "--tun": s.tunnel = true
            case "--gue":
                i += 1
                guard i < args.count, let p = UInt16(args[i]), p != 0 else {
                    throw Failure("--gue needs a UDP port (1-65535)", exitCode: 2)
                }
                s.guePort = p
                s.tunnel = true
            case "--gre":
                s.gre = true
            case "--from":
                // One address or a comma-separated list; repeatable.
                i += 1
                guard i < args.count else { throw Failure("--from needs a director address", exitCode: 2) }
                for part in args[i].split(separator: ",", omittingEmptySubsequences: false) {
                    guard let d = IPAddress(String(part)) else {
                        throw Failure("invalid director address '\(part)' for --from", exitCode: 2)
                    }
                    if !s.directors.contains(d) { s.directors.append(d) }
                }
                s.tunnel = true
            case "--interface", "--dev":
                i += 1
                guard i < args.count else { throw Failure("\(a) needs an interface name", exitCode: 2) }
                s.interface = args[i]
            default:
                guard let ip = IPAddress(a) else { throw Failure("invalid VIP '\(a)'", exitCode: 2) }
                if !s.vips.contains(ip) { s.vips.append(ip) }
            }
            i += 1
        }
        if s.vips.isEmpty && action == .start { throw Failure("no VIP given\n" + usage, exitCode: 2) }
        return s
    }

    // MARK: state

    /// Per-namespace state: the VIPs we added and the ARP settings found before the first start.
    static var stateDirectory: String { "/run/lvs-realserver/netns-\(NetworkNamespace.currentInode)" }
    static let arpSettings = [
        "/proc/sys/net/ipv4/conf/lo/arp_ignore", "/proc/sys/net/ipv4/conf/lo/arp_announce",
        "/proc/sys/net/ipv4/conf/all/arp_ignore", "/proc/sys/net/ipv4/conf/all/arp_announce",
    ]
    static let arpValues = ["1", "2", "1", "2"]

    static func readLines(_ path: String) -> [String]? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out: [String] = []
        var buf = [CChar](repeating: 0, count: 512)
        while fgets(&buf, Int32(buf.count), f) != nil {
            let line = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let t = line.split(separator: "\n").first.map(String.init) ?? ""
            if !t.isEmpty { out.append(t) }
        }
        return out
    }

    static func writeLines(_ path: String, _ lines: [String]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let text = lines.map { $0 + "\n" }.joined()
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Runs the action; returns the lines to print.
    public func run() throws(Failure) -> [String] {
        guard geteuid() == 0 else { throw Failure("must be run as root (it changes addresses and sysctls)") }
        guard if_nametoindex(interface) != 0 else { throw Failure("no such interface: \(interface)") }
        guard let ip = Subprocess.find("ip") else { throw Failure("the ip command (iproute2) was not found") }
        let dir = Self.stateDirectory
        _ = mkdir("/run/lvs-realserver", 0o755)
        _ = mkdir(dir, 0o755)
        var ours = Self.readLines(dir + "/vips") ?? []
        // Namespace inodes are reused: state whose VIPs are on no interface here belongs to a
        // namespace that is gone.
        if !ours.isEmpty {
            let shown = Subprocess.run([ip, "-o", "addr", "show"]).output
            let present = ours.contains { line in
                let v = line.split(separator: " ").first.map(String.init) ?? ""
                return shown.contains(" \(v)/")
            }
            if !present {
                ours = []
                unlink(dir + "/vips")
                unlink(dir + "/arp")
            }
        }
        var out: [String] = []
        switch action {
        case .start:
            if Self.readLines(dir + "/arp") == nil {
                Self.writeLines(dir + "/arp", Self.arpSettings.map { Sysctl.read($0) ?? "0" })
            }
            for v in vips {
                let prefix = v.family == .inet ? "/32" : "/128"
                var argv = [ip]
                if v.family == .inet6 { argv.append("-6") }
                argv += ["addr", "replace", "\(v)\(prefix)", "dev", interface]
                if v.family == .inet && interface == "lo" { argv += ["label", "lo:0"] }
                let r = Subprocess.run(argv)
                guard r.status == 0 else {
                    throw Failure("cannot add \(v) to \(interface): \(r.output.trimmedLine)")
                }
                if !ours.contains("\(v) \(interface)") { ours.append("\(v) \(interface)") }
            }
            Self.writeLines(dir + "/vips", ours)
            for (path, value) in zip(Self.arpSettings, Self.arpValues) {
                guard Sysctl.write(path, value) else { throw Failure("cannot write \(path)") }
            }
            out.append("start LVS of REALServer: \(vips.map(\.description).joined(separator: " ")) on \(interface)")
            if tunnel {
                let d = TunnelDecapsulator(guePort: guePort, gre: gre, stateDirectory: dir, directors: directors)
                out.append(try d.start())
            }
        case .stop:
            let targets = vips.isEmpty ? ours.compactMap { IPAddress($0.split(separator: " ").first ?? "") } : vips
            for v in targets {
                let dev = ours.first { $0.hasPrefix("\(v) ") }?.split(separator: " ").last.map(String.init) ?? interface
                let prefix = v.family == .inet ? "/32" : "/128"
                var argv = [ip]
                if v.family == .inet6 { argv.append("-6") }
                argv += ["addr", "del", "\(v)\(prefix)", "dev", dev]
                // Not there any more is fine (idempotent stop).
                _ = Subprocess.run(argv)
                ours.removeAll { $0.hasPrefix("\(v) ") }
            }
            Self.writeLines(dir + "/vips", ours)
            if ours.isEmpty {
                // Restore what the first start found; a repeated stop finds nothing to restore.
                if let saved = Self.readLines(dir + "/arp") {
                    for (path, value) in zip(Self.arpSettings, saved) { Sysctl.write(path, value) }
                }
                unlink(dir + "/arp")
                unlink(dir + "/vips")
            }
            let d = TunnelDecapsulator(guePort: guePort, stateDirectory: dir)
            if tunnel || ours.isEmpty, let line = d.stop() { out.append(line) }
            if ours.isEmpty { rmdir(dir) }
            out.append("STOP LVS of REALServer: \(targets.map(\.description).joined(separator: " "))")
        }
        return out
    }
}

extension String {
    /// The first line, without trailing whitespace.
    var trimmedLine: String {
        var s = split(separator: "\n").first.map(String.init) ?? ""
        while let l = s.last, l == " " || l == "\r" { s.removeLast() }
        return s
    }
}
