// The knobs `lvs-sysctl` reads and writes: the kernel's net.ipv4.vs.* names, values and checks
// (K:ip_vs_ctl.c vs_vars, Documentation/networking/ipvs-sysctl.rst), plus lvsd's own `lvsd_*`.

/// One knob: its name under `net.ipv4.vs.`, how it reads and how a written value is checked.
public struct IPVSKnob: Sendable {
    /// The name under `net.ipv4.vs.` (`sloppy_tcp`).
    public let name: String
    /// True for SwiftLVS's own knobs (`lvsd_*`), false for the kernel's.
    public var isExtension: Bool { name.hasPrefix("lvsd_") }
    /// False for knobs the kernel shows read-only.
    public let writable: Bool
    let read: @Sendable (IPVS) -> [Int]
    let write: @Sendable (IPVS, [Int]) throws(IPVSError) -> Void
    /// How many integers the value holds (`sync_threshold` has 2).
    let count: Int
}

extension IPVS {
    /// The sysctl prefix of every knob.
    public static let knobPrefix = "net.ipv4.vs."

    /// Every knob, sorted by name (the order `sysctl -a` prints).
    public static let knobs: [IPVSKnob] = makeKnobs().sorted { $0.name < $1.name }

    /// The knob of a name under `net.ipv4.vs.` (nil: the kernel would have no such file).
    public static func knob(named name: String) -> IPVSKnob? { knobs.first { $0.name == name } }

    /// A knob's value as `/proc/sys` prints it (integers separated by tabs).
    public func knobValue(_ name: String) throws(IPVSError) -> String {
        guard let k = Self.knob(named: name) else { throw IPVSError(.noSuchKnob, detail: name) }
        return k.read(self).map(String.init).joined(separator: "\t")
    }

    /// Writes a knob as the kernel's handler would: the text is parsed as `proc_dointvec` parses
    /// (whitespace-separated decimal integers, sign allowed), then the knob's own check runs
    /// (`proc_do_defense_mode`: 0–3, `proc_do_sync_ports`: a power of 2, …). EINVAL leaves the
    /// value unchanged. A defence mode change is applied at once (`update_defense_level`).
    public func setKnob(_ name: String, to text: String) throws(IPVSError) {
        guard let k = Self.knob(named: name) else { throw IPVSError(.noSuchKnob, detail: name) }
        guard k.writable else { throw IPVSError(.permissionDenied, detail: "\(name) is read-only") }
        guard let values = Self.parseIntegers(text), values.count == k.count else {
            throw IPVSError(.invalidArgument, detail: "\(name): \"\(text)\"")
        }
        try k.write(self, values)
    }

    /// `proc_dointvec`'s parsing: integers in [INT_MIN, INT_MAX] separated by whitespace; nil for
    /// anything else (an empty value included).
    static func parseIntegers(_ text: String) -> [Int]? {
        var out: [Int] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            var digits = Substring(word)
            var negative = false
            if let f = digits.first, f == "-" || f == "+" {
                negative = f == "-"
                digits = digits.dropFirst()
            }
            guard !digits.isEmpty, digits.count <= 11, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return nil
            }
            var v = 0
            for b in digits.utf8 { v = v * 10 + Int(b - 48) }
            if negative { v = -v }
            guard v >= Int(Int32.min) && v <= Int(Int32.max) else { return nil }
            out.append(v)
        }
        return out.isEmpty ? nil : out
    }

    private static func makeKnobs() -> [IPVSKnob] {
        typealias W = @Sendable (IPVS, [Int]) throws(IPVSError) -> Void
        func int(_ name: String, _ get: @escaping @Sendable (IPVS) -> Int, _ set: @escaping W) -> IPVSKnob {
            IPVSKnob(name: name, writable: true, read: { [get($0)] }, write: set, count: 1)
        }
        func flag(_ name: String, _ kp: ReferenceWritableKeyPath<IPVS, Bool> & Sendable) -> IPVSKnob {
            int(name, { $0[keyPath: kp] ? 1 : 0 }) { ipvs, v throws(IPVSError) in ipvs[keyPath: kp] = v[0] != 0 }
        }
        func plain(
            _ name: String, _ kp: ReferenceWritableKeyPath<IPVS, Int> & Sendable, min: Int = .min, max: Int = .max
        )
            -> IPVSKnob
        {
            int(name, { $0[keyPath: kp] }) { ipvs, v throws(IPVSError) in
                guard v[0] >= min && v[0] <= max else { throw IPVSError(.invalidArgument) }
                ipvs[keyPath: kp] = v[0]
            }
        }
        func defence(_ name: String, _ kp: ReferenceWritableKeyPath<IPVS, Int> & Sendable) -> IPVSKnob {
            // `proc_do_defense_mode`: 0–3, then `update_defense_level` at once.
            int(name, { $0[keyPath: kp] }) { ipvs, v throws(IPVSError) in
                guard (0...3).contains(v[0]) else { throw IPVSError(.invalidArgument) }
                ipvs[keyPath: kp] = v[0]
                ipvs.updateDefenceLevel()
            }
        }
        func seconds(_ name: String, _ kp: ReferenceWritableKeyPath<IPVS, Duration> & Sendable) -> IPVSKnob {
            // `proc_dointvec_jiffies`: seconds.
            int(name, { Int($0[keyPath: kp].components.seconds) }) { ipvs, v throws(IPVSError) in
                ipvs[keyPath: kp] = .seconds(v[0])
            }
        }
        return [
            plain("am_droprate", \.sysctls.amDroprate),
            plain("amemthresh", \.sysctls.amemthresh),
            plain("conn_reuse_mode", \.sysctls.connReuseMode),
            defence("drop_entry", \.sysctls.dropEntry),
            defence("drop_packet", \.sysctls.dropPacket),
            flag("expire_nodest_conn", \.sysctls.expireNodestConn),
            flag("expire_quiescent_template", \.sysctls.expireQuiescentTemplate),
            seconds("lblc_expiration", \.sysctls.lblcExpiration),
            seconds("lblcr_expiration", \.sysctls.lblcrExpiration),
            flag("nat_icmp_send", \.sysctls.natICMPSend),
            defence("secure_tcp", \.sysctls.secureTCPMode),
            flag("sloppy_sctp", \.sysctls.sloppySCTP),
            flag("sloppy_tcp", \.sysctls.sloppyTCP),
            // The sync knobs: those the sync engine (LVSSync) reads are its own fields; `sync_ports`,
            // `sync_qlen_max` and `sync_sock_size` are stored and listed.
            int("sync_persist_mode", { $0.sysctls.syncPersistMode ? 1 : 0 }) { ipvs, v throws(IPVSError) in
                ipvs.sysctls.syncPersistMode = v[0] != 0
            },
            int("sync_ports", { $0.sysctls.sync.ports }) { ipvs, v throws(IPVSError) in
                // `proc_do_sync_ports`: at least 1 and a power of 2.
                guard v[0] >= 1 && v[0] & (v[0] - 1) == 0 else { throw IPVSError(.invalidArgument) }
                ipvs.sysctls.sync.ports = v[0]
            },
            // `sync_qlen_max` bounds the sync engine's queue (`syncQueueLimit`).
            int("sync_qlen_max", { $0.syncQueueLimit }) { ipvs, v throws(IPVSError) in
                guard v[0] >= 1 else { throw IPVSError(.invalidArgument) }
                ipvs.syncQueueLimit = v[0]
            },
            int("sync_refresh_period", { Int($0.sysctls.syncRefreshPeriod) }) { ipvs, v throws(IPVSError) in
                // `proc_dointvec_jiffies`: seconds, not negative.
                guard v[0] >= 0 else { throw IPVSError(.invalidArgument) }
                ipvs.sysctls.syncRefreshPeriod = UInt32(v[0])
            },
            int("sync_retries", { Int($0.sysctls.syncRetries) }) { ipvs, v throws(IPVSError) in
                // `proc_dointvec_minmax` 0…3.
                guard (0...3).contains(v[0]) else { throw IPVSError(.invalidArgument) }
                ipvs.sysctls.syncRetries = UInt32(v[0])
            },
            plain("sync_sock_size", \.sysctls.sync.sockSize),
            IPVSKnob(
                name: "sync_threshold", writable: true,
                read: { [Int($0.sysctls.syncThreshold), Int($0.sysctls.syncPeriod)] },
                write: { ipvs, v throws(IPVSError) in
                    // `proc_do_sync_threshold`: both ≥ 0, and threshold < period unless period is 0.
                    guard v[0] >= 0 && v[1] >= 0 && (v[0] < v[1] || v[1] == 0) else {
                        throw IPVSError(.invalidArgument)
                    }
                    ipvs.sysctls.syncThreshold = UInt32(v[0])
                    ipvs.sysctls.syncPeriod = UInt32(v[1])
                }, count: 2),
            int("sync_version", { Int($0.sysctls.syncVersion) }) { ipvs, v throws(IPVSError) in
                // `proc_do_sync_mode`: 0 or 1.
                guard (0...1).contains(v[0]) else { throw IPVSError(.invalidArgument) }
                ipvs.sysctls.syncVersion = UInt8(v[0])
            },
            // lvsd's own.
            int("lvsd_conn_max", { $0.connections.maxConnections }) { ipvs, v throws(IPVSError) in
                guard v[0] >= 1 else { throw IPVSError(.invalidArgument) }
                ipvs.connections.maxConnections = v[0]
            },
            plain("lvsd_service_conn_max", \.sysctls.limits.serviceConnections, min: 0),
            plain("lvsd_service_cps_max", \.sysctls.limits.serviceNewPerSecond, min: 0),
            plain("lvsd_source_conn_max", \.sysctls.limits.sourceConnections, min: 0),
            plain("lvsd_source_cps_max", \.sysctls.limits.sourceNewPerSecond, min: 0),
            plain("lvsd_icmp_ratelimit", \.sysctls.limits.icmpRateLimitMilliseconds, min: 0),
            plain("lvsd_icmp_msgs_per_sec", \.sysctls.limits.icmpMessagesPerSecond, min: 0),
            plain("lvsd_icmp_msgs_burst", \.sysctls.limits.icmpMessagesBurst, min: 0),
            IPVSKnob(
                name: "lvsd_conn_count", writable: false, read: { [$0.connections.count] },
                write: { _, _ throws(IPVSError) in throw IPVSError(.permissionDenied) }, count: 1),
        ]
    }
}
