// Which VIPs lvsd announces, and the route changes that bring table N there: pure rules, no I/O.
import LVSCore

/// One route lvsd keeps (or found) in the announce table: `blackhole VIP/32` (`/128`) with lvsd's
/// protocol number; its metric is the pid of the lvsd that installed it (the owner mark the crash
/// keeper checks).
public struct AnnouncedRoute: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var vip: IPAddress
    public var table: UInt32
    /// The owner's pid.
    public var metric: UInt32

    public init(vip: IPAddress, table: UInt32, metric: UInt32) {
        self.vip = vip
        self.table = table
        self.metric = metric
    }

    /// `/32` or `/128`.
    public var prefixLength: Int { vip.family == .inet ? 32 : 128 }

    public var description: String { "blackhole \(vip)/\(prefixLength) table \(table) metric \(metric)" }

    public static func < (a: AnnouncedRoute, b: AnnouncedRoute) -> Bool {
        (a.table, a.vip, a.metric) < (b.table, b.vip, b.metric)
    }
}

/// What is in the kernel's routing tables that matters to the announcer.
public struct AnnounceTableView: Hashable, Sendable {
    /// Routes carrying lvsd's protocol number, in any table.
    public var marked: [AnnouncedRoute]
    /// How many routes of the announce table were not installed by an lvsd, with one example.
    public var foreignCount: Int
    public var foreignExample: String?

    public init(marked: [AnnouncedRoute] = [], foreignCount: Int = 0, foreignExample: String? = nil) {
        self.marked = marked
        self.foreignCount = foreignCount
        self.foreignExample = foreignExample
    }
}

/// A change to the kernel's routes.
public enum AnnounceRouteChange: Hashable, Sendable {
    case add(AnnouncedRoute)
    case remove(AnnouncedRoute)
}

/// The announcement rules (docs/scale-out.md):
///
/// ```
///  services (IPVS table) ─┬─ keepalived virtual server? ── quorum up (quorum, hysteresis)
///                         └─ ipvsadm service ───────────── a real server with weight > 0
///  VIP announced ⇔ forwarding ∧ VIP not passive (VRRP BACKUP) ∧ some service of the VIP up
/// ```
/// Firewall-mark services have no VIP and are never announced.
public enum VIPAnnouncement {
    /// The VIPs to announce. `quorum` holds the keepalived virtual servers' quorum state by
    /// service key (a key missing from it is an ipvsadm service); `passive` are VRRP addresses
    /// of an instance that is not MASTER; `forwarding` is false while the data plane does not run.
    public static func announced(
        services: [VirtualServiceEntry], quorum: [ServiceKey: Bool], passive: Set<IPAddress>, forwarding: Bool
    ) -> Set<IPAddress> {
        guard forwarding else { return [] }
        var out = Set<IPAddress>()
        for s in services {
            guard case .endpoint(_, let e) = s.spec.key, !passive.contains(e.address) else { continue }
            let up = quorum[s.spec.key] ?? s.realServers.contains { $0.spec.weight > 0 }
            if up { out.insert(e.address) }
        }
        return out
    }

    /// The changes that make the kernel hold exactly `desired` in `table` for `owner`:
    /// - the owner's routes for a desired VIP in `table` stay; missing ones are added;
    /// - the owner's other routes (a VIP now down, an old table after a reload) are removed;
    /// - marked routes of an lvsd that is gone (`isAlive` false: a crash whose keeper did not
    ///   run) are removed; those of a live lvsd are left alone.
    /// Removals come first, so a table change never shows a VIP twice.
    public static func plan(
        desired: Set<IPAddress>, table: UInt32?, owner: UInt32, view: AnnounceTableView, isAlive: (UInt32) -> Bool
    ) -> [AnnounceRouteChange] {
        var removals: [AnnouncedRoute] = []
        var present = Set<IPAddress>()
        for r in view.marked.sorted() {
            if r.metric == owner {
                if let table, r.table == table, desired.contains(r.vip) {
                    present.insert(r.vip)
                } else {
                    removals.append(r)
                }
            } else if !isAlive(r.metric) {
                removals.append(r)
            }
        }
        guard let table else { return removals.map { .remove($0) } }
        let additions = desired.subtracting(present).sorted().map {
            AnnouncedRoute(vip: $0, table: table, metric: owner)
        }
        return removals.map { .remove($0) } + additions.map { .add($0) }
    }

    /// Why `table` cannot be used by `owner`, or nil: routes that no lvsd installed, or routes of
    /// another live lvsd.
    public static func conflict(
        table: UInt32, owner: UInt32, view: AnnounceTableView, isAlive: (UInt32) -> Bool
    ) -> String? {
        if view.foreignCount > 0 {
            let example = view.foreignExample.map { " (e.g. '\($0)')" } ?? ""
            return "routing table \(table) already holds \(view.foreignCount) route(s) lvsd did not install\(example): "
                + "lvs_announce_table needs a table of its own"
        }
        if let other = view.marked.first(where: { $0.table == table && $0.metric != owner && isAlive($0.metric) }) {
            return "routing table \(table) is announced by another lvsd (pid \(other.metric)): "
                + "lvs_announce_table needs a table of its own"
        }
        return nil
    }
}

/// Whether a routing daemon is there to announce the table, logged once per change (not on
/// every check).
public struct AnnouncerWatch: Sendable {
    /// What a check of the BIRD control socket found.
    public enum Status: Hashable, Sendable {
        /// BIRD answered with its greeting (`0001 BIRD 2.0.12 ready.`).
        case answering(String)
        /// Nothing answered (the reason: `connect: No such file or directory`).
        case absent(String)
    }

    private var last: Bool?

    public init() {}

    /// The line to log for `status`, or nil when it says the same as the last one.
    public mutating func observe(_ status: Status, socket: String, table: UInt32) -> (warning: Bool, line: String)? {
        switch status {
        case .answering(let greeting):
            guard last != true else { return nil }
            last = true
            return (false, "announce: BIRD at \(socket) answers (\(greeting)): it can announce table \(table)")
        case .absent(let reason):
            guard last != false else { return nil }
            last = false
            return (
                true,
                "announce: no BIRD answers at \(socket) (\(reason)): nothing announces the routes lvsd keeps in table \(table); lvsd keeps forwarding"
            )
        }
    }
}
