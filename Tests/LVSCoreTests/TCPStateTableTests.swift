// Every TCP transition of the kernel's three tables, and the state timeouts (K:ip_vs_proto_tcp.c).
import LVSCore
import Testing

@Suite struct TCPStateTableTests {
    // The reference's tables, written out independently of the implementation's encoding.
    static let columns: [TCPState] = [
        .none, .established, .synSent, .synRecv, .finWait, .timeWait, .close, .closeWait, .lastAck, .listen, .synAck,
    ]
    static let codes: [String: TCPState] = [
        "NO": .none, "ES": .established, "SS": .synSent, "SR": .synRecv, "FW": .finWait, "TW": .timeWait,
        "CL": .close, "CW": .closeWait, "LA": .lastAck, "LI": .listen, "SA": .synAck,
    ]
    static let expected: [(PacketDirection, String, String)] = [
        (.input, "syn", "SR ES ES SR SR SR SR SR SR SR SR"), (.input, "fin", "CL CW SS TW TW TW CL CW LA LI TW"),
        (.input, "ack", "ES ES SS ES FW TW CL CW CL LI ES"), (.input, "rst", "CL CL CL SR CL CL CL CL LA LI SR"),
        (.output, "syn", "SS ES SS SR SS SS SS SS SS LI SR"), (.output, "fin", "TW FW SS TW FW TW CL TW LA LI TW"),
        (.output, "ack", "ES ES SS ES FW TW CL CW LA ES ES"), (.output, "rst", "CL CL SS CL CL TW CL CL CL CL CL"),
        (.inputOnly, "syn", "SR ES ES SR SR SR SR SR SR SR SR"),
        (.inputOnly, "fin", "CL FW SS TW FW TW CL CW LA LI TW"),
        (.inputOnly, "ack", "ES ES SS ES FW TW CL CW CL LI ES"),
        (.inputOnly, "rst", "CL CL CL SR CL CL CL CL LA LI CL"),
    ]

    @Test("ipvs-semantics §2: all 132 transitions of the INPUT, OUTPUT and IN-ONLY tables")
    func everyTransition() {
        var checked = 0
        for (direction, event, row) in Self.expected {
            let targets = row.split(separator: " ").map { Self.codes[String($0)]! }
            for (i, from) in Self.columns.enumerated() {
                let next = TCPState.next(
                    from: from, direction: direction, syn: event == "syn", fin: event == "fin", ack: event == "ack",
                    rst: event == "rst")
                #expect(next == targets[i], "\(direction) \(event) from \(from.name)")
                checked += 1
            }
        }
        #expect(checked == 132)
    }

    @Test("flag priority is RST > SYN > FIN > ACK; a segment with none of them moves to CLOSE")
    func flagPriority() {
        // SYN+FIN+ACK from ESTABLISHED on input: SYN wins → ES.
        #expect(
            TCPState.next(from: .established, direction: .input, syn: true, fin: true, ack: true, rst: false)
                == .established)
        // FIN+ACK from ESTABLISHED on input: FIN wins → CLOSE_WAIT.
        #expect(
            TCPState.next(from: .established, direction: .input, syn: false, fin: true, ack: true, rst: false)
                == .closeWait)
        // RST with SYN: RST wins.
        #expect(
            TCPState.next(from: .synRecv, direction: .input, syn: true, fin: false, ack: false, rst: true) == .synRecv)
        #expect(TCPState.next(from: .none, direction: .input, syn: true, fin: false, ack: false, rst: true) == .close)
        // No flag at all (e.g. a bare PSH).
        #expect(
            TCPState.next(from: .established, direction: .input, syn: false, fin: false, ack: false, rst: false)
                == .close)
    }

    @Test(
        "timeouts: NONE 2, ESTABLISHED 900, SYN_SENT 120, SYN_RECV 60, FIN_WAIT 120, TIME_WAIT 120, CLOSE 10, CLOSE_WAIT 60, LAST_ACK 30, LISTEN 120, SYNACK 120"
    )
    func timeouts() {
        #expect(TCPState.defaultTimeouts == [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120])
        let active = TCPState.allCases.filter(\.isActive)
        #expect(active == [.established, .synSent, .synRecv, .synAck])
    }

    @Test("secure_tcp switches to tcp_states_dos: a SYN flood stays in SYN_RECV until a real ACK")
    func secureTable() {
        #expect(
            TCPState.next(
                from: .synRecv, direction: .input, syn: false, fin: false, ack: true, rst: false, secure: true)
                == .synRecv)
        #expect(
            TCPState.next(from: .synRecv, direction: .input, syn: false, fin: false, ack: true, rst: false)
                == .established)
        #expect(
            TCPState.next(
                from: .none, direction: .inputOnly, syn: true, fin: false, ack: false, rst: false, secure: true)
                == .synAck)
    }

    @Test("K:ip_vs_proto_sctp.c: INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK, SHUTDOWN… through a NAT director")
    func sctpHandshake() {
        var s = SCTPState.none
        s = SCTPState.next(from: s, direction: .input, chunkType: 1)  // INIT
        #expect(s == .init1)
        s = SCTPState.next(from: s, direction: .output, chunkType: 2)  // INIT ACK
        #expect(s == .cookieSent)
        s = SCTPState.next(from: s, direction: .input, chunkType: 10)  // COOKIE ECHO
        #expect(s == .cookieReplied)
        s = SCTPState.next(from: s, direction: .output, chunkType: 11)  // COOKIE ACK
        #expect(s == .established)
        s = SCTPState.next(from: s, direction: .input, chunkType: 0)  // DATA
        #expect(s == .established)
        s = SCTPState.next(from: s, direction: .input, chunkType: 7)  // SHUTDOWN
        #expect(s == .shutdownReceived)
        s = SCTPState.next(from: s, direction: .output, chunkType: 8)  // SHUTDOWN ACK
        #expect(s == .shutdownAckSent)
        s = SCTPState.next(from: s, direction: .input, chunkType: 14)  // SHUTDOWN COMPLETE
        #expect(s == .closed)
        #expect(SCTPState.next(from: .established, direction: .input, chunkType: 6) == .closed)  // ABORT
        #expect(SCTPState.established.name == "ESTABLISHED" && SCTPState.cookieSent.name == "C-SENT")
    }
}
