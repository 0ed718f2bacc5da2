// The kernel's connection states, timeouts and transition tables for TCP, UDP and SCTP
// (K:ip_vs_proto_tcp.c, ip_vs_proto_udp.c, ip_vs_proto_sctp.c).

/// Which way a packet travels relative to the connection.
public enum PacketDirection: Int, Sendable {
    /// Client → director (`IP_VS_DIR_INPUT`).
    case input = 0
    /// Real server → client, seen by the director (NAT/FULLNAT only, `IP_VS_DIR_OUTPUT`).
    case output = 1
    /// Client → director while no output has been seen (`IP_VS_DIR_INPUT_ONLY`).
    case inputOnly = 2
}

/// TCP connection states (`IP_VS_TCP_S_*`).
public enum TCPState: UInt8, Sendable, CaseIterable {
    case none = 0
    case established, synSent, synRecv, finWait, timeWait, close, closeWait, lastAck, listen, synAck

    /// The names `/proc/net/ip_vs_conn` prints.
    public var name: String {
        [
            "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
            "LISTEN", "SYNACK",
        ][Int(rawValue)]
    }

    /// Active states count in ActiveConn: ESTABLISHED, SYN_SENT, SYN_RECV, SYNACK.
    public var isActive: Bool {
        self == .established || self == .synSent || self == .synRecv || self == .synAck
    }

    /// Default timeouts in seconds (`tcp_timeouts`).
    public static let defaultTimeouts: [UInt32] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120]

    /// Transition tables, [direction][event][state] flattened; events are syn, fin, ack, rst.
    /// Columns: NO ES SS SR FW TW CL CW LA LI SA.
    static let normal: [UInt8] = table([
        // INPUT
        "SR ES ES SR SR SR SR SR SR SR SR", "CL CW SS TW TW TW CL CW LA LI TW",
        "ES ES SS ES FW TW CL CW CL LI ES", "CL CL CL SR CL CL CL CL LA LI SR",
        // OUTPUT
        "SS ES SS SR SS SS SS SS SS LI SR", "TW FW SS TW FW TW CL TW LA LI TW",
        "ES ES SS ES FW TW CL CW LA ES ES", "CL CL SS CL CL TW CL CL CL CL CL",
        // INPUT-ONLY
        "SR ES ES SR SR SR SR SR SR SR SR", "CL FW SS TW FW TW CL CW LA LI TW",
        "ES ES SS ES FW TW CL CW CL LI ES", "CL CL CL SR CL CL CL CL LA LI CL",
    ])

    /// The `secure_tcp` (DoS defence) tables (`tcp_states_dos`).
    static let secure: [UInt8] = table([
        "SR ES ES SR SR SR SR SR SR SR SA", "CL CW SS TW TW TW CL CW LA LI SA",
        "ES ES SS SR FW TW CL CW CL LI SA", "CL CL CL SR CL CL CL CL LA LI CL",
        "SS ES SS SA SS SS SS SS SS LI SA", "TW FW SS TW FW TW CL TW LA LI TW",
        "ES ES SS ES FW TW CL CW LA ES ES", "CL CL SS CL CL TW CL CL CL CL CL",
        "SA ES ES SR SA SA SA SA SA SA SA", "CL FW SS TW FW TW CL CW LA LI TW",
        "ES ES SS ES FW TW CL CW CL LI ES", "CL CL CL SR CL CL CL CL LA LI CL",
    ])

    private static func table(_ rows: [String]) -> [UInt8] {
        let codes = ["NO", "ES", "SS", "SR", "FW", "TW", "CL", "CW", "LA", "LI", "SA"]
        return rows.flatMap { row in row.split(separator: " ").map { UInt8(codes.firstIndex(of: String($0))!) } }
    }

    /// The event index of a segment's flags: RST > SYN > FIN > ACK; none is -1 (→ CLOSE).
    @inlinable static func event(syn: Bool, fin: Bool, ack: Bool, rst: Bool) -> Int {
        if rst { return 3 }
        if syn { return 0 }
        if fin { return 1 }
        if ack { return 2 }
        return -1
    }

    /// The next state after a segment (`set_tcp_state`).
    public static func next(
        from state: TCPState, direction: PacketDirection, syn: Bool, fin: Bool, ack: Bool, rst: Bool,
        secure: Bool = false
    ) -> TCPState {
        let e = event(syn: syn, fin: fin, ack: ack, rst: rst)
        if e < 0 { return .close }
        let t = secure ? Self.secure : Self.normal
        return TCPState(rawValue: t[(direction.rawValue * 4 + e) * 11 + Int(state.rawValue)])!
    }
}

/// SCTP connection states (`IP_VS_SCTP_S_*`).
public enum SCTPState: UInt8, Sendable, CaseIterable {
    case none = 0
    case init1, initState, cookieSent, cookieReplied, cookieWait, cookie, cookieEchoed, established
    case shutdownSent, shutdownReceived, shutdownAckSent, rejected, closed

    /// The names `/proc/net/ip_vs_conn` prints.
    public var name: String {
        [
            "NONE", "INIT1", "INIT", "C-SENT", "C-REPLIED", "C-WAIT", "COOKIE", "C-ECHOED", "ESTABLISHED", "S-SENT",
            "S-RECEIVED", "S-ACK-SENT", "REJECTED", "CLOSED",
        ][Int(rawValue)]
    }

    /// Only ESTABLISHED counts as active.
    public var isActive: Bool { self == .established }

    /// Default timeouts in seconds (`sctp_timeouts`; MAX_RTO = 61 s).
    public static let defaultTimeouts: [UInt32] = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61]

    /// The event of a chunk type (`sctp_events`): DATA 0, INIT 1, INIT_ACK 2, COOKIE_ECHO 3,
    /// COOKIE_ACK 4, SHUTDOWN 5, SHUTDOWN_ACK 6, SHUTDOWN_COMPLETE 7, ERROR 8, ABORT 9.
    public static func event(chunkType: UInt8) -> Int {
        switch chunkType {
        case 1: return 1
        case 2: return 2
        case 6: return 9
        case 7: return 5
        case 8: return 6
        case 9: return 8
        case 10: return 3
        case 11: return 4
        case 14: return 7
        default: return 0
        }
    }

    /// [direction][event][state]; columns NO I1 IN CS CR CW CO CE ES SS SR SA RJ CL.
    static let table: [UInt8] = {
        let codes = ["NO", "I1", "IN", "CS", "CR", "CW", "CO", "CE", "ES", "SS", "SR", "SA", "RJ", "CL"]
        let rows = [
            // INPUT: d i i_a c_e c_a s s_a s_c err ab
            "ES I1 IN CS CR CW CO CE ES SS SR SA RJ CL", "I1 IN IN CS CR CW CO CE ES SS SR SA IN IN",
            "CW CW CW CS CR CO CO CE ES SS SR SA RJ CL", "CR IN IN CR CR CW CO CE ES SS SR SA RJ CL",
            "ES I1 IN CS CR CW CO ES ES SS SR SA RJ CL", "SR I1 IN CS CR CW CO CE SR SS SR SA RJ CL",
            "CL IN IN CS CR CW CO CE ES CL SR CL RJ CL", "CL CL CL CS CR CW CO CE ES SS SR CL RJ CL",
            "CL I1 IN CS CR CW CO CL ES SS SR SA RJ CL", "CL CL CL CL CL RJ CL CL CL CL CL CL CL CL",
            // OUTPUT
            "ES I1 IN CS CR CW CO CE ES SS SR SA RJ CL", "CW CW CW CW CW CW CW CW ES CW CW CW CW CW",
            "CS CS CS CS CR CW CO CE ES SS SR SA RJ CL", "CE CE CE CE CE CE CE CE ES SS SR SA RJ CL",
            "ES ES ES ES ES ES ES ES ES SS SR SA RJ CL", "SS SS SS SS SS SS SS SS SS SS SR SA RJ CL",
            "SA SA SA SA SA CW CO CE ES SA SA SA RJ CL", "CL I1 IN CS CR CW CO CE ES SS SR SA RJ CL",
            "CL CL CL CL CL CW CO CE ES SS SR SA RJ CL", "CL RJ CL CL CL CL CL CL CL CL CL CL CL CL",
            // INPUT-ONLY
            "ES I1 IN CS CR ES CO CE ES SS SR SA RJ CL", "I1 IN IN IN IN IN CO CE ES SS SR SA IN IN",
            "CE CE CE CE CE CE CO CE ES SS SR SA RJ CL", "ES ES ES ES ES ES CO CE ES SS SR SA RJ CL",
            "ES I1 IN ES ES CW ES ES ES SS SR SA RJ CL", "SR I1 IN CS CR CW CO CE SR SS SR SA RJ CL",
            "CL IN IN CS CR CW CO CE CL CL SR CL RJ CL", "CL CL CL CL CL CW CO CE ES SS CL CL RJ CL",
            "CL I1 IN CS CR CW CO CE ES SS SR SA RJ CL", "CL CL CL CL CL RJ CL CL CL CL CL CL CL CL",
        ]
        return rows.flatMap { row in row.split(separator: " ").map { UInt8(codes.firstIndex(of: String($0))!) } }
    }()

    /// The next state after a chunk (`set_sctp_state`).
    public static func next(from state: SCTPState, direction: PacketDirection, chunkType: UInt8) -> SCTPState {
        let e = event(chunkType: chunkType)
        return SCTPState(rawValue: table[(direction.rawValue * 10 + e) * 14 + Int(state.rawValue)])!
    }
}
