// The XDP program's counters by reason (enum lvs_xdp_counter), with the names lvsd's statistics use.
import CLVSXDP

/// What the program did with a frame, by reason (`lvs_counters`, one per-CPU slot each).
public enum XDPCounter: Int, CaseIterable, Sendable, CustomStringConvertible {
    case received = 0
    case passNotIP
    case passStackedVLAN
    case passMalformed
    case passNotOurs
    case passPassive
    case steerService
    case steerReply
    case steerICMP
    case steerFragment
    case slowTCPFlags
    case slowTTL
    case slowMTU
    case slowUnsupported
    case slowMalformed
    case slowNoEgress
    case slowAdjustFailed
    case fastTX
    case fastRedirect
    case steerNoSocket
    case slowPartialChecksum
    case shedNew

    /// The statistics name (snake_case, `xdp_` prefix).
    public var description: String {
        switch self {
        case .received: return "xdp_received"
        case .passNotIP: return "xdp_pass_not_ip"
        case .passStackedVLAN: return "xdp_pass_stacked_vlan"
        case .passMalformed: return "xdp_pass_malformed"
        case .passNotOurs: return "xdp_pass_not_ours"
        case .passPassive: return "xdp_pass_passive"
        case .steerService: return "xdp_steer_service"
        case .steerReply: return "xdp_steer_reply"
        case .steerICMP: return "xdp_steer_icmp"
        case .steerFragment: return "xdp_steer_fragment"
        case .slowTCPFlags: return "xdp_slow_tcp_flags"
        case .slowTTL: return "xdp_slow_ttl"
        case .slowMTU: return "xdp_slow_mtu"
        case .slowUnsupported: return "xdp_slow_unsupported"
        case .slowMalformed: return "xdp_slow_malformed"
        case .slowNoEgress: return "xdp_slow_no_egress"
        case .slowAdjustFailed: return "xdp_slow_adjust_failed"
        case .fastTX: return "xdp_fast_tx"
        case .fastRedirect: return "xdp_fast_redirect"
        case .steerNoSocket: return "xdp_steer_no_socket"
        case .slowPartialChecksum: return "xdp_slow_partial_checksum"
        case .shedNew: return "xdp_shed_new"
        }
    }

    /// True for the reasons that send a frame to lvsd (its AF_XDP socket).
    public var steersToLVSD: Bool {
        switch self {
        case .steerService, .steerReply, .steerICMP, .steerFragment, .slowTCPFlags, .slowTTL, .slowMTU,
            .slowUnsupported, .slowMalformed, .slowNoEgress, .slowAdjustFailed, .slowPartialChecksum:
            return true
        default: return false
        }
    }
}

/// Every counter, summed over the CPUs.
public struct XDPCounters: Sendable, Equatable {
    public var values = [UInt64](repeating: 0, count: XDPCounter.allCases.count)
    public init() {}
    public subscript(_ c: XDPCounter) -> UInt64 { values[c.rawValue] }

    /// `self − earlier`, counter by counter.
    public func since(_ earlier: XDPCounters) -> XDPCounters {
        var d = XDPCounters()
        for i in values.indices { d.values[i] = values[i] &- earlier.values[i] }
        return d
    }

    /// The counters that moved.
    public var nonZero: [(XDPCounter, UInt64)] {
        XDPCounter.allCases.compactMap { values[$0.rawValue] == 0 ? nil : ($0, values[$0.rawValue]) }
    }

    /// The number of counters the C program has (`LVS_XDP_COUNTER_MAX`).
    public static let programCount = Int(LVS_XDP_COUNTER_MAX.rawValue)
}
