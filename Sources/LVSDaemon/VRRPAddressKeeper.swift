// Removes the VRRP addresses of an lvsd that died (SIGKILL included): a KeeperChild told of each one.
import Glibc
import LVSPlatform
import LVSVRRP
import Synchronization

/// When lvsd dies, its packet path dies with it (unlike the kernel's IPVS, which outlives
/// keepalived), and the kernel removes its nftables guard (owned by lvsd's netlink socket). A
/// VRRP address left on the box would then be answered by the kernel: a FULLNAT local address
/// gets RSTs for every reply of the real servers, and ARP answers that compete with the new VRRP
/// master's. So the addresses VRRP holds go with lvsd (within milliseconds: replies that arrive
/// before still get RSTs, see ScaleOutSyncLabTests):
///
/// ```
///  VRRP add/remove ─▶ KeptVIPInstaller ─▶ rtnetlink
///                                   └──▶ "+ 10.9.0.101/24@eth0" / "- …" ─▶ pipe ─▶ /bin/sh keeper
///  lvsd exits (any way) ─▶ pipe closes ─▶ keeper: ip addr del each address still held
/// ```
/// A clean stop removes the addresses itself (VRRP's shutdown), so the keeper finds none left.
/// SwiftLVS deviation: keepalived killed with SIGKILL leaves its addresses (the kernel's IPVS
/// still forwards then; lvsd does not).
public final class VRRPAddressKeeper: @unchecked Sendable {
    private let child: Mutex<KeeperChild?>

    private init(child: KeeperChild) { self.child = Mutex(child) }

    /// The keeper's shell command: it keeps the set of addresses as words `ADDR/PREFIX@DEV` and
    /// deletes those left when its standard input closes.
    public static func command(ip: String) -> String {
        """
        trap '' HUP INT TERM; v=' '; \
        while read -r op e; do case "$op" in \
        +) case "$v" in *" $e "*) ;; *) v="$v$e ";; esac;; \
        -) case "$v" in *" $e "*) p=${v%%" $e "*}; s=${v#*" $e "}; v="$p $s";; esac;; \
        esac; done; \
        for e in $v; do \(ip) addr del "${e%@*}" dev "${e#*@}"; done
        """
    }

    /// Starts the keeper (running `ip`, iproute2's program, by default); nil with the reason.
    public static func start(ip: String? = Subprocess.find("ip")) -> (VRRPAddressKeeper?, String?) {
        guard let ip else { return (nil, "the ip program (iproute2) is not installed") }
        switch KeeperChild.start(command: command(ip: ip)) {
        case .success(let c): return (VRRPAddressKeeper(child: c), nil)
        case .failure(let e): return (nil, e.message)
        }
    }

    /// The keeper's pid (nil once released).
    public var pid: pid_t? { child.withLock { $0?.pid } }

    static func word(_ a: VirtualIPAddress, _ interface: String) -> String {
        "\(a.address)/\(a.prefixLength)@\(a.device ?? interface)"
    }

    /// VRRP added `a` on `interface` (its `dev`, if it names one).
    public func added(_ a: VirtualIPAddress, interface: String) { tell("+ " + Self.word(a, interface)) }

    /// VRRP removed it.
    public func removed(_ a: VirtualIPAddress, interface: String) { tell("- " + Self.word(a, interface)) }

    private func tell(_ line: String) {
        child.withLock { c in
            if c?.send(line) == false { c = nil }
        }
    }

    /// Lets the keeper go now: it deletes what it was told is still held, and is reaped.
    public func release() {
        let c = child.withLock { c in
            defer { c = nil }
            return c
        }
        c?.release()
    }
}

/// A `VIPInstaller` that tells a `VRRPAddressKeeper` what it added and removed.
public struct KeptVIPInstaller: VIPInstaller {
    let inner: any VIPInstaller
    let keeper: VRRPAddressKeeper

    public init(_ inner: any VIPInstaller, keeper: VRRPAddressKeeper) {
        self.inner = inner
        self.keeper = keeper
    }

    public func add(_ address: VirtualIPAddress, interface: String) throws(VRRPError) {
        // Told first: an address added just before lvsd dies is still removed; one that could
        // not be added is not the keeper's to remove.
        keeper.added(address, interface: interface)
        do {
            try inner.add(address, interface: interface)
        } catch {
            keeper.removed(address, interface: interface)
            throw error
        }
    }

    public func remove(_ address: VirtualIPAddress, interface: String) throws(VRRPError) {
        try inner.remove(address, interface: interface)
        keeper.removed(address, interface: interface)
    }
}

/// The one keeper of lvsd's VRRP addresses, started when VRRP first runs (after the fork: it
/// must be the daemon's child) and kept across reloads.
final class SharedAddressKeeper: Sendable {
    private let keeper = Mutex<(VRRPAddressKeeper?, tried: Bool)>((nil, false))

    func get(log: @Sendable (String) -> Void) -> VRRPAddressKeeper? {
        let (k, problem) = keeper.withLock { s -> (VRRPAddressKeeper?, String?) in
            if s.tried { return (s.0, nil) }
            let (k, problem) = VRRPAddressKeeper.start()
            s = (k, true)
            return (k, problem)
        }
        if let problem { log("VRRP addresses will stay on the interfaces if lvsd is killed: \(problem)") }
        return k
    }
}
