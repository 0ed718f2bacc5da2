// lvsd's XDP program in the kernel: loaded from the embedded object, attached per interface, detached on close.
import CLVSXDP
import Glibc

/// The loaded XDP program and its maps.
///
/// ```
///  let xdp = try XDPProgram()                       // verifier refusal → XDPError(.verifier), one line why
///  let mode = try xdp.attach(interface: ifindex)    // native (driver) mode, else generic (SKB) mode
///  try xdp.maps.putService(...)                     // steering tables, flows, sockets, ports
///  xdp.close()                                      // detaches from every interface, unloads
/// ```
/// One program serves every interface (its maps are shared). Not thread-safe for attach/detach;
/// map operations may come from any thread (the kernel serialises them per map).
public final class XDPProgram: @unchecked Sendable {
    /// Map sizes fixed at load time (0 = the default of lvs_xdp_shared.h).
    public struct Limits: Sendable, Equatable {
        /// Flow map entries (both directions of a NAT connection take two). A full map keeps new
        /// flows on the slow path (`XDPError.Code.mapFull`, counted in `XDPMaps.flowsRejected`).
        public var flows: UInt32 = 0
        /// Virtual services (and, separately, real-server reply sources).
        public var services: UInt32 = 0
        /// Addresses (VIPs and reply sources).
        public var addresses: UInt32 = 0
        /// Per-server statistics slots.
        public var serverSlots: UInt32 = 0
        /// AF_XDP sockets (receive queues).
        public var sockets: UInt32 = 0
        public init(flows: UInt32 = 0, services: UInt32 = 0, addresses: UInt32 = 0, serverSlots: UInt32 = 0) {
            self.flows = flows
            self.services = services
            self.addresses = addresses
            self.serverSlots = serverSlots
        }
    }

    /// How the program runs on an interface.
    public enum AttachMode: String, Sendable, Equatable {
        /// In the driver (XDP_FLAGS_DRV_MODE): veth, most physical NICs.
        case native
        /// After the skb is built (XDP_FLAGS_SKB_MODE): any interface, slower.
        case generic

        var cValue: Int32 { self == .native ? CLVS_XDP_MODE_NATIVE : CLVS_XDP_MODE_GENERIC }
    }

    private var loaded: OpaquePointer?
    /// The program's file descriptor.
    public let programFD: Int32
    /// The kernel's id of the program (as `ip link` and `bpftool` show it).
    public let programID: UInt32
    /// The maps.
    public let maps: XDPMaps
    /// Interfaces the program is attached to, and how.
    public var attachments: [Int32: AttachMode] { links.mapValues(\.mode) }
    /// The BPF link of each attachment (ifindex → link fd and mode).
    private var links: [Int32: (fd: Int32, mode: AttachMode)] = [:]

    /// Loads the embedded program (or `object`, an ELF BPF object with a program `lvs_xdp` and
    /// the maps of lvs_xdp_shared.h). Needs CAP_BPF/CAP_NET_ADMIN.
    public init(limits: Limits = Limits(), object: [UInt8]? = nil) throws(XDPError) {
        var c = clvs_xdp_limits(
            flows: limits.flows, services: limits.services, addresses: limits.addresses,
            server_slots: limits.serverSlots, sockets: limits.sockets)
        var log = [CChar](repeating: 0, count: 8192)
        var err: Int32 = 0
        var refused: Int32 = 0
        let l: OpaquePointer?
        if let object {
            l = object.withUnsafeBytes {
                clvs_xdp_load($0.baseAddress, $0.count, &c, &log, log.count, &err, &refused)
            }
        } else {
            l = clvs_xdp_load(clvs_xdp_object_bytes(), clvs_xdp_object_len, &c, &log, log.count, &err, &refused)
        }
        guard let l else {
            let text = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let e = -err
            if refused != 0 {
                throw XDPError(
                    .verifier, errno: e,
                    "the kernel's verifier refused the XDP program: \(Self.reason(fromVerifierLog: text))",
                    verifierLog: text)
            }
            let line = text.split(separator: "\n").last.map(String.init) ?? errorText(e)
            throw XDPError(.open, errno: e, "cannot load the XDP program: \(line) (\(errorText(e)))")
        }
        loaded = l
        programFD = clvs_xdp_program_fd(l)
        programID = clvs_xdp_program_id(programFD)
        maps = try XDPMaps(l)
    }

    deinit { close() }

    /// The line of a verifier log that says why: the last line that is not the statistics
    /// ("processed N insns", "verification time") nor an instruction dump.
    public static func reason(fromVerifierLog log: String) -> String {
        let lines = log.split(separator: "\n").map { $0.trimmingCharacters() }
        for l in lines.reversed() {
            if l.isEmpty || l.hasPrefix("processed ") || l.hasPrefix("verification time") || l.hasPrefix("stack depth")
                || l.hasPrefix(";") || l.first?.isNumber == true && l.contains(": (")
            {
                continue
            }
            // "R9 offset is outside of the packet" follows "invalid access to packet, ...": keep both.
            if let i = lines.lastIndex(of: l), i > 0, lines[i - 1].hasPrefix("invalid") {
                return lines[i - 1] + "; " + l
            }
            return l
        }
        return lines.last ?? "no verifier log"
    }

    /// Attaches to `interface` (an ifindex of the calling thread's network namespace) through a
    /// BPF link: in `mode`, or native mode with a fallback to generic mode when nil. Returns the
    /// mode that worked. Fails if another XDP program is attached.
    @discardableResult
    public func attach(interface: Int32, mode: AttachMode? = nil) throws(XDPError) -> AttachMode {
        if let l = links[interface] { return l.mode }
        let tries: [AttachMode] = mode.map { [$0] } ?? [.native, .generic]
        var last: Int32 = 0
        for m in tries {
            let fd = clvs_xdp_attach(interface, programFD, m.cValue)
            if fd >= 0 {
                links[interface] = (fd, m)
                return m
            }
            last = fd
        }
        throw .from(
            .attach, last, "attach XDP to interface \(interface) (\(tries.map(\.rawValue).joined(separator: ", ")))")
    }

    /// Detaches from `interface` if this program is attached there. The attachment is a BPF link:
    /// this works from any thread and namespace, and if lvsd dies the kernel detaches it.
    public func detach(interface: Int32) throws(XDPError) {
        guard let l = links.removeValue(forKey: interface) else { return }
        let r = clvs_xdp_detach(l.fd)
        // The interface may be gone (ENODEV/ENOLINK): then so is the attachment.
        if r != 0 && r != -ENODEV && r != -ENOENT && r != -ENOLINK {
            throw .from(.detach, r, "detach XDP from interface \(interface)")
        }
    }

    /// Detaches from every interface and unloads. Idempotent.
    public func close() {
        for i in Array(links.keys) { try? detach(interface: i) }
        if let l = loaded {
            maps.invalidate()
            clvs_xdp_unload(l)
            loaded = nil
        }
    }

    /// The result of one BPF_PROG_TEST_RUN.
    public struct TestRun: Sendable, Equatable {
        /// The XDP action (`XDPAction`).
        public var action: XDPAction
        /// The frame as the program left it.
        public var output: [UInt8]
        /// Nanoseconds per run, as the kernel measured them.
        public var nanoseconds: UInt32
    }

    /// Runs the program on `frame` in the calling thread's network namespace (BPF_PROG_TEST_RUN):
    /// `ingress` 0 is that namespace's loopback. Nothing is transmitted: TX and REDIRECT are only
    /// reported.
    public func testRun(_ frame: [UInt8], ingress: UInt32 = 0, queue: UInt32 = 0, repeat count: UInt32 = 1)
        throws(XDPError) -> TestRun
    {
        var out = [UInt8](repeating: 0, count: frame.count + 512)
        var run = clvs_xdp_test_run()
        let r = frame.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                run.data_in = input.baseAddress
                run.data_size_in = UInt32(input.count)
                run.data_out = output.baseAddress
                run.data_size_out = UInt32(output.count)
                run.ingress_ifindex = ingress
                run.rx_queue_index = queue
                run.repeat = count
                return clvs_xdp_test_run(programFD, &run)
            }
        }
        guard r == 0 else { throw .from(.testRun, r, "BPF_PROG_TEST_RUN") }
        return TestRun(
            action: XDPAction(rawValue: run.retval) ?? .aborted,
            output: Array(out[0..<Int(min(run.data_size_out, UInt32(out.count)))]), nanoseconds: run.duration)
    }
}

/// The XDP verdicts (enum xdp_action).
public enum XDPAction: UInt32, Sendable, CustomStringConvertible {
    case aborted = 0
    case drop = 1
    case pass = 2
    case tx = 3
    case redirect = 4

    public var description: String {
        switch self {
        case .aborted: return "XDP_ABORTED"
        case .drop: return "XDP_DROP"
        case .pass: return "XDP_PASS"
        case .tx: return "XDP_TX"
        case .redirect: return "XDP_REDIRECT"
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
