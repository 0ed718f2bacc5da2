// The SYN proxy's packet transforms: a SYN answered with a cookie SYN/ACK, the SYN the director
// sends the real server after a valid ACK, the ACK that completes the server's handshake, and
// the sequence/timestamp/window translation for the rest of the flow.
//
//  client            director (lvsd)                          real server
//    │ SYN ───────────▶ answerSYN: SYN/ACK seq = cookie (no state)
//    │ ◀─────────────── SYN/ACK
//    │ ACK ───────────▶ checkACK: cookie valid → schedule → serverSYN (seq = client ISN) ──▶ │
//    │ data ──────────▶ held                                                                │
//    │                  ◀──────────────────────────────────────── SYN/ACK (seq = server ISN) │
//    │                  ackForServer: ACK ─────────────────────────────────────────────────▶ │
//    │                  held data, translated ─────────────────────────────────────────────▶ │
//    │ ◀── seq − Δ ──── translateOutbound ◀──────────────────────────────────── server data │
//    │ ── ack + Δ ────▶ translateInbound (ack, SACK blocks, TSecr) ─────────────────────────▶ │
//                       Δ = server ISN − cookie;  timestamps: Δts = server TSval − our TSval
import LVSCore

/// The parsed TCP options of one segment (offsets are from the TCP header's start).
public struct TCPOptionsView: Sendable {
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    /// Offset of the timestamp option's TSval (TSecr follows), or 0.
    public var timestampOffset = 0
    /// Offset of the first SACK block and their count.
    public var sackOffset = 0
    public var sackBlocks = 0

    public init() {}

    /// Parses the options of the TCP header at `tcp` with data offset `headerLength`; nil when
    /// an option runs past the header.
    @inlinable
    public static func parse(_ tcp: UnsafeRawPointer, headerLength: Int) -> TCPOptionsView? {
        var o = TCPOptionsView()
        var i = 20
        while i < headerLength {
            let kind = tcp.u8(i)
            if kind == 0 { break }
            if kind == 1 {
                i += 1
                continue
            }
            guard i + 1 < headerLength else { return nil }
            let len = Int(tcp.u8(i + 1))
            guard len >= 2, i + len <= headerLength else { return nil }
            switch (kind, len) {
            case (2, 4): o.mss = tcp.be16(i + 2)
            case (3, 3): o.windowScale = tcp.u8(i + 2)
            case (4, 2): o.sackPermitted = true
            case (5, _) where (len - 2) % 8 == 0:
                o.sackOffset = i + 2
                o.sackBlocks = (len - 2) / 8
            case (8, 10): o.timestampOffset = i + 2
            default: break
            }
            i += len
        }
        return o
    }
}

/// What the proxy remembers of a connection (kept in its table entry).
public struct SynProxyConnection: Hashable, Sendable {
    public enum Phase: UInt8, Sendable {
        /// The SYN went to the server; its SYN/ACK is awaited. `sequenceDelta` holds the cookie
        /// (our ISN), `timestampDelta` our TSval.
        case awaitingServer = 1
        /// Translating.
        case established = 2
    }
    public var phase: Phase
    public var sequenceDelta: UInt32
    public var timestampDelta: UInt32
    /// Window scales (RFC 7323 §2.3: each side scales what it sends by its own shift, what it
    /// receives by the peer's, and only if both SYNs carried the option):
    /// the client's own shift (0 if it offered none), ours as told the client (0 if the client
    /// offered none), the server's own shift (0 when scaling is off on the server's side).
    public var clientShift: UInt8
    public var directorShift: UInt8
    public var serverShift: UInt8
    /// Scaling is on between us and the server (the client offered it and the server's SYN/ACK
    /// carried it): the server then reads the client's windows with `clientShift`.
    public var serverScaling: Bool
    /// The client offered timestamps (so both sides use them).
    public var timestamps: Bool

    public init(
        phase: Phase, sequenceDelta: UInt32, timestampDelta: UInt32, clientShift: UInt8, directorShift: UInt8,
        serverShift: UInt8, serverScaling: Bool = false, timestamps: Bool
    ) {
        self.phase = phase
        self.sequenceDelta = sequenceDelta
        self.timestampDelta = timestampDelta
        self.clientShift = clientShift
        self.directorShift = directorShift
        self.serverShift = serverShift
        self.serverScaling = serverScaling
        self.timestamps = timestamps
    }

    /// Packed into the entry's 16-bit state: phase (2 bits), three shifts (4 bits each), TS and
    /// server scaling (1 bit each).
    public var packed: UInt16 {
        UInt16(phase.rawValue) | UInt16(clientShift & 0xF) << 2 | UInt16(directorShift & 0xF) << 6
            | UInt16(serverShift & 0xF) << 10 | (timestamps ? 1 << 14 : 0) | (serverScaling ? 1 << 15 : 0)
    }

    public init?(packed: UInt16, sequenceDelta: UInt32, timestampDelta: UInt32) {
        guard let p = Phase(rawValue: UInt8(packed & 3)) else { return nil }
        self.init(
            phase: p, sequenceDelta: sequenceDelta, timestampDelta: timestampDelta,
            clientShift: UInt8(packed >> 2 & 0xF), directorShift: UInt8(packed >> 6 & 0xF),
            serverShift: UInt8(packed >> 10 & 0xF), serverScaling: packed & 1 << 15 != 0,
            timestamps: packed & 1 << 14 != 0)
    }
}

/// The SYN proxy's transforms. Frames are Ethernet (optionally VLAN-tagged) + IPv4/IPv6 + TCP.
public enum SynProxy {
    /// The window the director offers in its SYN/ACK (unscaled, as in any SYN).
    public static let synWindow: UInt16 = 65535

    /// Rewrites a client's SYN in place into the director's SYN/ACK (no state is kept): MACs,
    /// addresses and ports swapped, seq = cookie, ack = ISN + 1, options MSS `mss`, and the
    /// client's SACK, timestamps (TSval `timestamp`) and window scale (ours `windowScale`) when it
    /// offered them. IP options, extension headers and SYN data are dropped. Returns the frame's
    /// new length, or nil (the frame untouched) when it is not a plain TCP SYN.
    public static func answerSYN(
        _ f: inout Frame, _ info: PacketInfo, keys: SynCookieKeys, minute: UInt32, timestamp: UInt32, mss: UInt16,
        windowScale: UInt8
    ) -> Int? {
        guard info.protocolNumber == IPProtocolNumber.tcp, !info.isFragment, info.embeddedAt == 0,
            info.tcpFlags & 0x17 == 0x02
        else { return nil }
        let p = f.data
        let tcp = UnsafeRawPointer(p + info.l4Offset)
        let doff = Int(tcp.u8(12) >> 4) * 4
        guard doff >= 20, info.l4Offset + doff <= info.ipEnd,
            let o = TCPOptionsView.parse(tcp, headerLength: doff)
        else { return nil }
        let clientISN = tcp.be32(4)
        let options = SynProxyOptions(
            mss: o.mss ?? 536, windowScale: o.windowScale, sack: o.sackPermitted, timestamps: o.timestampOffset != 0)
        let cookie = SynCookie.make(
            keys: keys, source: info.source, destination: info.destination, sourcePort: info.sourcePort,
            destinationPort: info.destinationPort, clientISN: clientISN, minute: minute, options: options)
        let clientTSval = o.timestampOffset != 0 ? tcp.be32(o.timestampOffset) : 0
        // Link header: back where it came from.
        swapMACs(p)
        var opts = OptionWriter()
        opts.mss(min(mss, options.mss))
        if options.sack && options.timestamps {
            opts.sackPermitted()
            opts.timestamps(timestamp, clientTSval)
        } else if options.timestamps {
            opts.nop()
            opts.nop()
            opts.timestamps(timestamp, clientTSval)
        } else if options.sack {
            opts.nop()
            opts.nop()
            opts.sackPermitted()
        }
        if options.windowScale != nil {
            opts.nop()
            opts.windowScale(min(windowScale, 14))
        }
        return writeSegment(
            p, info, source: info.destination, destination: info.source, sourcePort: info.destinationPort,
            destinationPort: info.sourcePort, seq: cookie, ack: clientISN &+ 1, flags: 0x12, window: synWindow,
            options: opts, payload: nil)
    }

    /// The result of a valid cookie ACK.
    public struct CookieACK: Sendable {
        public var options: SynProxyOptions
        /// Our ISN (the cookie).
        public var cookie: UInt32
        /// The client's ISN.
        public var clientISN: UInt32
        /// The client's TSval in this ACK (0 without timestamps) and the TSecr (our TSval).
        public var clientTimestamp: UInt32
        public var echoedTimestamp: UInt32
    }

    /// Checks a client's ACK (no SYN, RST or FIN... FIN allowed with data) against the cookie it
    /// must acknowledge. Nil when it is not a pure handshake ACK or the cookie is not valid.
    public static func checkACK(
        _ frame: UnsafeRawBufferPointer, _ info: PacketInfo, keys: SynCookieKeys, minute: UInt32
    )
        -> CookieACK?
    {
        guard info.protocolNumber == IPProtocolNumber.tcp, !info.isFragment, info.tcpFlags & 0x16 == 0x10,
            let base = frame.baseAddress
        else { return nil }
        let tcp = base + info.l4Offset
        let doff = Int(tcp.u8(12) >> 4) * 4
        guard doff >= 20, info.l4Offset + doff <= info.ipEnd, let o = TCPOptionsView.parse(tcp, headerLength: doff)
        else { return nil }
        let seq = tcp.be32(4)
        let cookie = tcp.be32(8) &- 1
        let isn = seq &- 1
        guard
            let options = SynCookie.check(
                keys: keys, source: info.source, destination: info.destination, sourcePort: info.sourcePort,
                destinationPort: info.destinationPort, clientISN: isn, cookie: cookie, minute: minute)
        else { return nil }
        let tsOK = options.timestamps && o.timestampOffset != 0
        return CookieACK(
            options: options, cookie: cookie, clientISN: isn,
            clientTimestamp: tsOK ? tcp.be32(o.timestampOffset) : 0,
            echoedTimestamp: tsOK ? tcp.be32(o.timestampOffset + 4) : 0)
    }

    /// Writes into `out` the SYN the director sends on the client's behalf: the ACK's link and
    /// addresses (client → VIP, to be NAT'd like any inbound segment), seq = the client's ISN,
    /// the client's options as the cookie kept them (TSval = the client's latest). Returns its
    /// length (0 if `capacity` is too small).
    public static func serverSYN(
        from ack: UnsafeRawBufferPointer, _ info: PacketInfo, _ c: CookieACK, into out: UnsafeMutableRawPointer,
        capacity: Int
    ) -> Int {
        guard let base = ack.baseAddress, capacity >= info.l3Offset + 40 + 40 else { return 0 }
        out.copyMemory(from: base, byteCount: info.l3Offset)
        var opts = OptionWriter()
        opts.mss(c.options.mss)
        if c.options.sack && c.options.timestamps {
            opts.sackPermitted()
            opts.timestamps(c.clientTimestamp, 0)
        } else if c.options.timestamps {
            opts.nop()
            opts.nop()
            opts.timestamps(c.clientTimestamp, 0)
        } else if c.options.sack {
            opts.nop()
            opts.nop()
            opts.sackPermitted()
        }
        if let ws = c.options.windowScale {
            opts.nop()
            opts.windowScale(ws)
        }
        let tcp = base + info.l4Offset
        let window = tcp.be16(14)
        return writeSegment(
            out, info, source: info.source, destination: info.destination, sourcePort: info.sourcePort,
            destinationPort: info.destinationPort, seq: c.clientISN, ack: 0, flags: 0x02, window: max(window, 1024),
            options: opts, payload: nil)
    }

    /// Rewrites the server's SYN/ACK in place into the ACK that completes the server's handshake,
    /// addressed back to the server exactly as its SYN/ACK came (addresses and ports swapped;
    /// the caller sets the link header toward the server). TSval echoes what the server echoed.
    /// Returns the new length, or nil when the frame is not a SYN/ACK.
    public static func ackForServer(_ f: inout Frame, _ info: PacketInfo, window: UInt16) -> Int? {
        guard info.protocolNumber == IPProtocolNumber.tcp, info.tcpFlags & 0x12 == 0x12 else { return nil }
        let p = f.data
        let tcp = UnsafeRawPointer(p + info.l4Offset)
        let doff = Int(tcp.u8(12) >> 4) * 4
        guard doff >= 20, let o = TCPOptionsView.parse(tcp, headerLength: doff) else { return nil }
        let serverISN = tcp.be32(4)
        let ackNumber = tcp.be32(8)
        var opts = OptionWriter()
        if o.timestampOffset != 0 {
            let tsval = tcp.be32(o.timestampOffset)
            let tsecr = tcp.be32(o.timestampOffset + 4)
            opts.nop()
            opts.nop()
            opts.timestamps(tsecr, tsval)
        }
        return writeSegment(
            p, info, source: info.destination, destination: info.source, sourcePort: info.destinationPort,
            destinationPort: info.sourcePort, seq: ackNumber, ack: serverISN &+ 1, flags: 0x10, window: window,
            options: opts, payload: nil)
    }

    /// The server's SYN/ACK facts the proxy needs: its ISN, TSval and window scale.
    public static func serverSynAck(_ frame: UnsafeRawBufferPointer, _ info: PacketInfo) -> (
        isn: UInt32, timestamp: UInt32?, windowScale: UInt8?
    )? {
        guard info.protocolNumber == IPProtocolNumber.tcp, info.tcpFlags & 0x12 == 0x12, let base = frame.baseAddress
        else { return nil }
        let tcp = base + info.l4Offset
        let doff = Int(tcp.u8(12) >> 4) * 4
        guard doff >= 20, let o = TCPOptionsView.parse(tcp, headerLength: doff) else { return nil }
        return (tcp.be32(4), o.timestampOffset != 0 ? tcp.be32(o.timestampOffset) : nil, o.windowScale)
    }

    /// Client → server, in place: ack + Δ, every SACK block + Δ, TSecr + Δts, the window from the
    /// client's scale to the one the server applies. Checksum updated incrementally.
    public static func translateInbound(_ f: inout Frame, _ info: PacketInfo, _ c: SynProxyConnection) -> Bool {
        translate(f.data + info.l4Offset, info, c, inbound: true)
    }

    /// Server → client, in place: seq − Δ, TSval − Δts, the window from the server's scale to ours.
    public static func translateOutbound(_ f: inout Frame, _ info: PacketInfo, _ c: SynProxyConnection) -> Bool {
        translate(f.data + info.l4Offset, info, c, inbound: false)
    }

    static func translate(_ tcp: UnsafeMutableRawPointer, _ info: PacketInfo, _ c: SynProxyConnection, inbound: Bool)
        -> Bool
    {
        guard info.protocolNumber == IPProtocolNumber.tcp, !info.isLaterFragment else { return false }
        let doff = Int(tcp.u8(12) >> 4) * 4
        guard doff >= 20, info.l4Offset + doff <= info.ipEnd,
            let o = TCPOptionsView.parse(UnsafeRawPointer(tcp), headerLength: doff)
        else { return false }
        var d = ChecksumDelta()
        func set32(_ at: Int, _ v: UInt32) {
            d.replace(tcp.be32(at), v)
            tcp.setBE32(v, at)
        }
        let flags = tcp.u8(13)
        if inbound {
            if flags & 0x10 != 0 { set32(8, tcp.be32(8) &+ c.sequenceDelta) }
            for b in 0..<o.sackBlocks {
                let at = o.sackOffset + b * 8
                set32(at, tcp.be32(at) &+ c.sequenceDelta)
                set32(at + 4, tcp.be32(at + 4) &+ c.sequenceDelta)
            }
            if o.timestampOffset != 0 {
                set32(o.timestampOffset + 4, tcp.be32(o.timestampOffset + 4) &+ c.timestampDelta)
            }
        } else {
            set32(4, tcp.be32(4) &- c.sequenceDelta)
            if o.timestampOffset != 0 { set32(o.timestampOffset, tcp.be32(o.timestampOffset) &- c.timestampDelta) }
        }
        if flags & 0x02 == 0 {
            // Windows are never scaled in SYNs. Client → server: from the client's shift to what
            // the server reads with; server → client: from the server's shift to ours.
            let from = inbound ? c.clientShift : c.serverShift
            let to = inbound ? (c.serverScaling ? c.clientShift : 0) : c.directorShift
            if from != to {
                let w = tcp.be16(14)
                let scaled = (UInt64(w) << UInt64(from)) >> UInt64(to)
                let nw = UInt16(min(scaled, 0xFFFF))
                d.replace(w, nw)
                tcp.setBE16(nw, 14)
            }
        }
        tcp.setBE16(d.apply(to: tcp.be16(16)), 16)
        return true
    }

    /// Puts `link`'s header in front of a segment built in place (its IP packet at
    /// `info.l3Offset`, `length` bytes from the frame's start). False without headroom.
    public static func relink(_ f: inout Frame, _ info: PacketInfo, length: Int, link: EgressLink) -> Bool {
        let l2 = link.vlan == nil ? 14 : 18
        guard f.start + info.l3Offset >= l2, length > info.l3Offset else { return false }
        Forwarding.writeLinkHeader(
            &f, l3Abs: f.start + info.l3Offset, ipLength: length - info.l3Offset, etherType: info.etherType, link: link)
        return true
    }

    // MARK: building segments

    /// Up to 40 bytes of TCP options.
    struct OptionWriter {
        var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        var count = 0

        mutating func byte(_ b: UInt8) {
            guard count < 40 else { return }
            withUnsafeMutableBytes(of: &bytes) { $0[count] = b }
            count += 1
        }
        mutating func nop() { byte(1) }
        mutating func mss(_ v: UInt16) {
            byte(2)
            byte(4)
            byte(UInt8(v >> 8))
            byte(UInt8(v & 0xFF))
        }
        mutating func sackPermitted() {
            byte(4)
            byte(2)
        }
        mutating func windowScale(_ s: UInt8) {
            byte(3)
            byte(3)
            byte(s)
        }
        mutating func timestamps(_ val: UInt32, _ ecr: UInt32) {
            byte(8)
            byte(10)
            for v in [val, ecr] {
                byte(UInt8(v >> 24))
                byte(UInt8(v >> 16 & 0xFF))
                byte(UInt8(v >> 8 & 0xFF))
                byte(UInt8(v & 0xFF))
            }
        }
    }

    static func swapMACs(_ p: UnsafeMutableRawPointer) {
        for i in 0..<6 {
            let a = p.u8(i)
            p.setU8(p.u8(6 + i), i)
            p.setU8(a, 6 + i)
        }
    }

    /// Writes a fresh IP header (no options, TTL 64) and TCP header at `info`'s layer-3 offset in
    /// `p` (the link header before it is kept), with full checksums; returns the frame length.
    static func writeSegment(
        _ p: UnsafeMutableRawPointer, _ info: PacketInfo, source: IPAddress, destination: IPAddress,
        sourcePort: UInt16, destinationPort: UInt16, seq: UInt32, ack: UInt32, flags: UInt8, window: UInt16,
        options: OptionWriter, payload: UnsafeRawBufferPointer?
    ) -> Int {
        let l3 = info.l3Offset
        var optionBytes = options
        while optionBytes.count % 4 != 0 { optionBytes.byte(0) }
        let tcpLength = 20 + optionBytes.count
        let l4: Int
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            l4 = l3 + 20
            p.setU8(0x45, l3)
            p.setU8(0, l3 + 1)
            p.setBE16(UInt16(20 + tcpLength), l3 + 2)
            p.setBE16(0, l3 + 4)
            p.setBE16(0x4000, l3 + 6)
            p.setU8(64, l3 + 8)
            p.setU8(IPProtocolNumber.tcp, l3 + 9)
            p.setBE16(0, l3 + 10)
            p.setBE32(s.value, l3 + 12)
            p.setBE32(d.value, l3 + 16)
            p.setBE16(InternetChecksum.checksum(UnsafeRawPointer(p + l3), 20), l3 + 10)
        case (.v6(let s), .v6(let d)):
            l4 = l3 + 40
            p.setBE32(0x6000_0000, l3)
            p.setBE16(UInt16(tcpLength), l3 + 4)
            p.setU8(IPProtocolNumber.tcp, l3 + 6)
            p.setU8(64, l3 + 7)
            p.setBE64(s.high, l3 + 8)
            p.setBE64(s.low, l3 + 16)
            p.setBE64(d.high, l3 + 24)
            p.setBE64(d.low, l3 + 32)
        default:
            return 0
        }
        // Frames whose link header said IPv4/IPv6 keep it: the family does not change here.
        p.setBE16(sourcePort, l4)
        p.setBE16(destinationPort, l4 + 2)
        p.setBE32(seq, l4 + 4)
        p.setBE32(ack, l4 + 8)
        p.setU8(UInt8(tcpLength / 4) << 4, l4 + 12)
        p.setU8(flags, l4 + 13)
        p.setBE16(window, l4 + 14)
        p.setBE16(0, l4 + 16)
        p.setBE16(0, l4 + 18)
        withUnsafeBytes(of: optionBytes.bytes) {
            p.advanced(by: l4 + 20).copyMemory(from: $0.baseAddress!, byteCount: optionBytes.count)
        }
        let seed = InternetChecksum.pseudoHeader(
            source: source, destination: destination, protocol: IPProtocolNumber.tcp, length: tcpLength)
        p.setBE16(InternetChecksum.checksum(UnsafeRawPointer(p + l4), tcpLength, adding: seed), l4 + 16)
        return l4 + tcpLength
    }
}
