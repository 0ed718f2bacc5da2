// The SYN proxy in the worker: SYNs answered with cookies (no entry), the connection opened on a
// valid ACK, the client's first data held until the server's SYN/ACK, then translation.
//
//  client SYN ─▶ isSynProxied? ─▶ SynProxy.answerSYN ─▶ back out the ingress interface (no entry)
//  client ACK ─▶ no entry ─▶ cookie valid? ─▶ IPVS schedules (as for a SYN) ─▶ SYN to the server
//                                          └▶ not valid: dropped, counted (synproxy_bad_cookie)
//  client data while the server has not answered ─▶ held (one frame per connection)
//  server SYN/ACK ─▶ Δ, Δts, server's window scale ─▶ ACK to the server ─▶ held data, translated
//  afterwards: client → server translateInbound; server → client translateOutbound
import LVSCore
import LVSPacket

/// Client frames held while the server's SYN/ACK is awaited: bounded (`capacity` slots of
/// `slotBytes`, allocated once), one per connection, dropped after `timeoutNanoseconds`.
final class SynProxyHold {
    static let capacity = 256
    static let slotBytes = 2048
    static let timeoutNanoseconds: UInt64 = 3_000_000_000

    struct Entry {
        var connection: UInt32
        var slot: Int
        var length: Int
        var interface: Int32
        var heldAt: UInt64
    }

    let slots = FrameSlots(count: SynProxyHold.capacity, slotBytes: SynProxyHold.slotBytes)
    var entries: [Entry] = []

    init() {
        entries.reserveCapacity(Self.capacity)
    }

    func index(of connection: UInt32) -> Int? { entries.firstIndex { $0.connection == connection } }

    /// Forgets entries older than the timeout.
    func expire(now: UInt64) -> Int {
        var dropped = 0
        var i = 0
        while i < entries.count {
            if now &- entries[i].heldAt > Self.timeoutNanoseconds {
                slots.give(entries[i].slot)
                entries.remove(at: i)
                dropped += 1
            } else {
                i += 1
            }
        }
        return dropped
    }
}

extension DataPlaneWorker {
    /// The window scale the director offers clients that offered one.
    static let synProxyWindowScale: UInt8 = 7

    /// The cookie keys of this table.
    func cookieKeys(_ ipvs: IPVS) -> SynCookieKeys {
        let c = ipvs.configuration
        return SynCookieKeys(k0: c.cookieKey0, k1: c.cookieKey1, k2: c.cookieKey2, k3: c.cookieKey3)
    }

    /// Handles a client's TCP segment to a SYN-proxied service; true when it was consumed (answered,
    /// held, sent on as a SYN, or dropped), false when the normal path goes on with it (possibly
    /// translated).
    func synProxyInbound(_ f: inout ReceivedFrame, _ info: PacketInfo, _ ipvs: IPVS, _ now: Timestamp) -> Bool {
        let flags = info.tcpFlags
        let keys = cookieKeys(ipvs)
        let minute = SynCookie.minute(nanoseconds: now.nanoseconds)
        guard
            let id = ipvs.connectionID(
                protocolNumber: IPProtocolNumber.tcp, client: info.source, clientPort: info.sourcePort,
                virtual: info.destination, virtualPort: info.destinationPort)
        else {
            if flags & 0x17 == 0x02 {
                answerWithCookie(&f, info, keys: keys, minute: minute, now: now)
                return true
            }
            if flags & 0x16 == 0x10 {
                openFromCookie(&f, info, ipvs, keys: keys, minute: minute, now: now)
                return true
            }
            return false  // RST, FIN without ACK…: as without the proxy
        }
        let s = ipvs.synProxyState(ofConnection: id)
        guard s.packed != 0,
            let c = SynProxyConnection(
                packed: s.packed, sequenceDelta: s.sequenceDelta, timestampDelta: s.timestampDelta)
        else { return false }
        switch c.phase {
        case .awaitingServer:
            let payload =
                info.ipEnd - info.l4Offset - Int(
                    f.buffer.load(fromByteOffset: f.start + info.l4Offset + 12, as: UInt8.self) >> 4) * 4
            if payload > 0 || flags & 0x01 != 0 {
                guard finishChecksum(&f, info) else { return true }
                hold(f, info, connection: id, now: now)
            } else if let ack = SynProxy.checkACK(
                UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length), info, keys: keys, minute: minute)
            {
                // The client repeats its handshake ACK: the server's SYN may have been lost.
                counters.add(.synProxySynResent)
                sendServerSYN(f, info, ack, ipvs, now: now)
            }
            return true
        case .established:
            guard finishChecksum(&f, info) else { return true }
            var frame = Frame(
                buffer: UnsafeMutableRawBufferPointer(start: f.buffer, count: f.capacity), start: f.start,
                length: f.length)
            _ = SynProxy.translateInbound(&frame, info, c)
            return false
        }
    }

    /// A server segment of a proxied connection, after IPVS matched it (`d`): the SYN/ACK completes
    /// the proxy; later segments are translated. True when it was consumed.
    func synProxyOutbound(
        _ f: inout ReceivedFrame, _ info: PacketInfo, _ d: ForwardingDecision, _ ipvs: IPVS, _ now: Timestamp
    ) -> Bool {
        let s = ipvs.synProxyState(ofConnection: d.connection)
        guard s.packed != 0,
            var c = SynProxyConnection(
                packed: s.packed, sequenceDelta: s.sequenceDelta, timestampDelta: s.timestampDelta)
        else { return false }
        guard finishChecksum(&f, info) else { return true }
        var frame = Frame(
            buffer: UnsafeMutableRawBufferPointer(start: f.buffer, count: f.capacity), start: f.start, length: f.length)
        switch c.phase {
        case .established:
            _ = SynProxy.translateOutbound(&frame, info, c)
            return false
        case .awaitingServer:
            let bytes = UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length)
            if info.tcpFlags & 0x04 != 0 {
                // The server refused: the client gets the RST in its own sequence space.
                let seq = f.buffer.load(fromByteOffset: f.start + info.l4Offset + 4, as: UInt32.self).bigEndian
                c.sequenceDelta = seq &- (c.sequenceDelta &+ 1)
                c.timestampDelta = 0
                _ = SynProxy.translateOutbound(&frame, info, c)
                return false
            }
            guard let synAck = SynProxy.serverSynAck(bytes, info) else {
                counters.drop(.synProxyUnsupported)
                return true
            }
            let cookie = c.sequenceDelta
            c.sequenceDelta = synAck.isn &- cookie
            if let ts = synAck.timestamp, c.timestamps {
                c.timestampDelta = ts &- c.timestampDelta
            } else {
                c.timestampDelta = 0
            }
            // Scaling between us and the server: only if the client offered it (so our SYN did)
            // and the server's SYN/ACK carries it.
            c.serverScaling = c.directorShift != 0 && synAck.windowScale != nil
            c.serverShift = c.serverScaling ? min(synAck.windowScale ?? 0, 14) : 0
            c.phase = .established
            ipvs.setSynProxyState(
                ofConnection: d.connection, packed: c.packed, sequenceDelta: c.sequenceDelta,
                timestampDelta: c.timestampDelta)
            counters.add(.synProxyEstablished)
            // The server's handshake completes with our ACK (the client's already went to us).
            let ackWindow = UInt16(min(0xFFFF, 65535 >> Int(c.serverScaling ? c.clientShift : 0)))
            guard let n = SynProxy.ackForServer(&frame, info, window: max(ackWindow, 1)),
                let e = egress(to: d.server.address, now: now), SynProxy.relink(&frame, info, length: n, link: e.link)
            else {
                counters.drop(.synProxyUnsupported)
                return true
            }
            queue(frame.data, frame.length, e.interface)
            // IPVS sees the handshake's last ACK (→ ESTABLISHED).
            _ = ipvs.processInbound(
                PacketFacts(
                    transport: .tcp, source: d.client.address, sourcePort: d.client.port,
                    destination: d.virtual.address, destinationPort: d.virtual.port, tcpFlags: [.ack], length: 52),
                now: now)
            releaseHeld(connection: d.connection, c, ipvs, now: now)
            return true
        }
    }

    // MARK: steps

    func answerWithCookie(
        _ f: inout ReceivedFrame, _ info: PacketInfo, keys: SynCookieKeys, minute: UInt32, now: Timestamp
    ) {
        guard info.ttl > 1 else {
            counters.drop(.ttlExpired)
            return
        }
        let mtu = tables.links[f.interface]?.mtu ?? 1500
        let mss = UInt16(clamping: mtu - (info.isIPv6 ? 60 : 40))
        // The SYN/ACK may be longer than the SYN (more options): it is built in scratch space.
        let room = info.l3Offset + 40 + 64
        guard let slot = reserveScratch(room), f.length <= room else {
            counters.drop(.outputTooSmall)
            return
        }
        slot.copyMemory(from: f.buffer + f.start, byteCount: f.length)
        var frame = Frame(buffer: UnsafeMutableRawBufferPointer(start: slot, count: room), start: 0, length: f.length)
        guard
            let n = SynProxy.answerSYN(
                &frame, info, keys: keys, minute: minute,
                timestamp: UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000),
                mss: mss, windowScale: Self.synProxyWindowScale)
        else {
            counters.drop(.synProxyUnsupported)
            return
        }
        counters.add(.synProxyCookies)
        queue(frame.data, n, f.interface)
    }

    func openFromCookie(
        _ f: inout ReceivedFrame, _ info: PacketInfo, _ ipvs: IPVS, keys: SynCookieKeys, minute: UInt32, now: Timestamp
    ) {
        let bytes = UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length)
        guard let ack = SynProxy.checkACK(bytes, info, keys: keys, minute: minute) else {
            counters.drop(.synProxyBadCookie)
            return
        }
        // Scheduled as the SYN would have been: limits, drop_packet and TTL apply here.
        let facts = PacketFacts(
            transport: .tcp, source: info.source, sourcePort: info.sourcePort, destination: info.destination,
            destinationPort: info.destinationPort, tcpFlags: [.syn], length: UInt32(info.ipTotalLength), ttl: info.ttl)
        switch ipvs.processInbound(facts, now: now) {
        case .forward(let d):
            guard d.method == .masquerade || d.method == .fullNAT, d.isTracked else {
                counters.drop(.synProxyUnsupported)
                return
            }
            let c = SynProxyConnection(
                phase: .awaitingServer, sequenceDelta: ack.cookie, timestampDelta: ack.echoedTimestamp,
                clientShift: ack.options.windowScale ?? 0,
                directorShift: ack.options.windowScale != nil ? Self.synProxyWindowScale : 0, serverShift: 0,
                timestamps: ack.options.timestamps)
            ipvs.setSynProxyState(
                ofConnection: d.connection, packed: c.packed, sequenceDelta: c.sequenceDelta,
                timestampDelta: c.timestampDelta)
            counters.add(.synProxyOpened)
            sendServerSYN(f, info, ack, ipvs, now: now, decision: d)
            let doff = Int(f.buffer.load(fromByteOffset: f.start + info.l4Offset + 12, as: UInt8.self) >> 4) * 4
            if info.ipEnd - info.l4Offset > doff || info.tcpFlags & 0x01 != 0, finishChecksum(&f, info) {
                hold(f, info, connection: d.connection, now: now)
            }
        case .unreachable:
            counters.drop(.noServerAvailable)
            sendError(.portUnreachable, about: f, info, source: info.destination)
        case .drop(.ttlExpired):
            counters.drop(.ttlExpired)
        case .drop(let reason):
            countRefusal(reason)
        case .pass:
            counters.add(.ipvsDropped)
        }
    }

    /// Builds the SYN for the server from the client's ACK (in scratch) and sends it the way the
    /// connection's packets go (NAT / FULLNAT inbound).
    func sendServerSYN(
        _ f: ReceivedFrame, _ info: PacketInfo, _ ack: SynProxy.CookieACK, _ ipvs: IPVS, now: Timestamp,
        decision: ForwardingDecision? = nil
    ) {
        let d: ForwardingDecision
        if let decision {
            d = decision
        } else if let id = ipvs.connectionID(
            protocolNumber: IPProtocolNumber.tcp, client: info.source, clientPort: info.sourcePort,
            virtual: info.destination, virtualPort: info.destinationPort), let found = ipvs.forwarding(ofConnection: id)
        {
            d = found
        } else {
            return
        }
        let room = Self.slotHeadroom + info.l3Offset + 128
        guard let slot = reserveScratch(room) else {
            counters.drop(.outputTooSmall)
            return
        }
        let n = SynProxy.serverSYN(
            from: UnsafeRawBufferPointer(start: f.buffer + f.start, count: f.length), info, ack,
            into: slot + Self.slotHeadroom, capacity: room - Self.slotHeadroom)
        guard n > 0 else { return }
        let syn = PacketParser.parse(UnsafeRawBufferPointer(start: slot + Self.slotHeadroom, count: n))
        guard case .ip = syn.verdict, let e = egress(to: d.server.address, now: now) else { return }
        var frame = Frame(
            buffer: UnsafeMutableRawBufferPointer(start: slot, count: room), start: Self.slotHeadroom, length: n)
        rewrite(&frame, syn, d, inbound: true, egress: e)
    }

    /// Keeps a copy of a client frame until the server's SYN/ACK (one per connection).
    func hold(_ f: ReceivedFrame, _ info: PacketInfo, connection: UInt32, now: Timestamp) {
        let h = synProxyHold
        _ = h.expire(now: now.nanoseconds)
        guard h.index(of: connection) == nil, f.length <= SynProxyHold.slotBytes - 64, !f.isGSO, !f.needsChecksum,
            let slot = h.slots.take()
        else {
            counters.drop(.synProxyHoldFull)
            return
        }
        counters.add(.synProxyHeld)
        (h.slots.base(slot) + 64).copyMemory(from: f.buffer + f.start, byteCount: f.length)
        h.entries.append(
            .init(connection: connection, slot: slot, length: f.length, interface: f.interface, heldAt: now.nanoseconds)
        )
    }

    /// Sends the held frame of a connection, translated, as a client packet of it.
    func releaseHeld(connection: UInt32, _ c: SynProxyConnection, _ ipvs: IPVS, now: Timestamp) {
        let h = synProxyHold
        guard let i = h.index(of: connection) else { return }
        let e = h.entries.remove(at: i)
        defer { h.slots.give(e.slot) }
        let base = h.slots.base(e.slot)
        var f = ReceivedFrame(
            buffer: base, capacity: SynProxyHold.slotBytes, start: 64, length: e.length, interface: e.interface)
        let info = PacketParser.parse(UnsafeRawBufferPointer(start: base + 64, count: e.length))
        guard case .ip = info.verdict else { return }
        var frame = Frame(
            buffer: UnsafeMutableRawBufferPointer(start: base, count: SynProxyHold.slotBytes), start: 64,
            length: e.length)
        _ = SynProxy.translateInbound(&frame, info, c)
        let facts = PacketFacts(
            transport: .tcp, source: info.source, sourcePort: info.sourcePort, destination: info.destination,
            destinationPort: info.destinationPort, tcpFlags: TCPFlags(rawValue: info.tcpFlags),
            length: UInt32(info.ipTotalLength), ttl: info.ttl)
        if case .forward(let d) = ipvs.processInbound(facts, now: now) {
            counters.add(.synProxyReleased)
            forward(&f, info, d, inbound: true, now: now)
            // The held bytes are queued from the hold slot: send them before the slot is reused.
            flush(keepScratch: true)
        }
    }

    /// Completes an offloaded checksum before the TCP header changes (the field then holds the
    /// final checksum, which the translation updates incrementally).
    func finishChecksum(_ f: inout ReceivedFrame, _ info: PacketInfo) -> Bool {
        // AF_XDP gives no offload metadata: a local sender's partial checksum is recognised and
        // completed here too, before the sequence numbers are translated.
        guard f.needsChecksum || f.checksumStateUnknown else { return true }
        guard completePartialChecksum(f, info) else { return false }
        f.offloadFlags &= ~(1 | ReceivedFrame.checksumStateUnknownFlag)
        return true
    }
}
