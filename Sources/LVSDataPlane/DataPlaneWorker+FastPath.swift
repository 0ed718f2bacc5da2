// The worker's side of the XDP fast path: flows installed after a rewrite, swept, revalidated; partial checksums guessed.
import LVSCore
import LVSPacket
import LVSPlatform

extension DataPlaneWorker {
    /// After the worker rewrote and queued a frame of connection `d.connection`: when the
    /// connection may take the fast path, has had a few packets (`minimumTCPPackets`,
    /// `minimumUDPPackets`) and both interfaces allow it, installs the flow of this direction with
    /// the rewrite just applied; when it may not any more (a FIN or RST moved its TCP state),
    /// removes its flows.
    ///
    /// ```
    ///  client ─ACK─▶ worker: SYN_RECV → ESTABLISHED ─▶ flow (client → VIP) ─▶ the next packets: XDP
    ///  server ─data─▶ worker (NAT reply) ──────────────▶ flow (server → client)
    ///  client ─FIN─▶ XDP: to lvsd ─▶ worker: ESTABLISHED → FIN_WAIT ─▶ both flows removed
    /// ```
    func considerFastPath(
        _ info: PacketInfo, _ d: ForwardingDecision, inbound: Bool, egress: Egress, rewrite: FastPathRewrite,
        ipvs: IPVS, now: Timestamp
    ) {
        guard let registry, d.connection != UInt32.max else { return }
        let known = registry.entries[d.connection] != nil
        guard known || (registry.isXDPIngress(currentIngress) && registry.isCapableEgress(egress.interface)) else {
            return
        }
        guard info.hasPorts, !info.isFragment,
            info.protocolNumber == IPProtocolNumber.tcp || info.protocolNumber == IPProtocolNumber.udp
        else { return }
        switch ipvs.fastPathEligibility(connection: d.connection) {
        case .eligible:
            guard registry.isXDPIngress(currentIngress), registry.isCapableEgress(egress.interface),
                passiveAddresses.isEmpty || !passiveAddresses.contains(d.virtual.address)
            else { return }
            let minimum =
                info.protocolNumber == IPProtocolNumber.tcp ? registry.minimumTCPPackets : registry.minimumUDPPackets
            guard known || ipvs.inboundPackets(connection: d.connection) >= minimum else { return }
            let key = FlowKey(
                protocolNumber: info.protocolNumber, source: info.source, sourcePort: info.sourcePort,
                destination: info.destination, destinationPort: info.destinationPort)
            let flow = FastPathFlow(key: key, rewrite: rewrite, link: egress.link, interface: egress.interface)
            registry.install(flow, reply: !inbound, connection: d.connection, decision: d, now: now.nanoseconds)
        case .ineligible, .gone:
            if known { registry.remove(d.connection, ipvs: ipvs, now: now.nanoseconds) }
        }
    }

    /// Part of a sweep over the connections with flows (every second, at once after a change):
    /// folds their counts into IPVS and removes the flows that no longer fit the connection, its
    /// VIP or its egress. At most `budget` connections per call.
    func sweepFastPath(_ ipvs: IPVS, now: Timestamp, budget: Int = 128) {
        guard let registry else { return }
        let t = now.nanoseconds
        if registry.sweepKeys.isEmpty {
            guard t >= registry.nextSweep || registry.revalidate else { return }
            guard !registry.entries.isEmpty else {
                registry.revalidate = false
                registry.nextSweep = t &+ registry.sweepIntervalNanoseconds
                return
            }
            registry.sweepKeys.append(contentsOf: registry.entries.keys)
            registry.revalidating = registry.revalidate
            registry.revalidate = false
            registry.nextSweep = t &+ registry.sweepIntervalNanoseconds
        }
        var n = 0
        while n < budget, let id = registry.sweepKeys.popLast() {
            n += 1
            guard var e = registry.entries[id] else { continue }
            guard ipvs.fastPathEligibility(connection: id) == .eligible, let d = ipvs.forwarding(ofConnection: id),
                d.method == e.method, d.server == e.server, d.client == e.client,
                passiveAddresses.isEmpty || !passiveAddresses.contains(d.virtual.address),
                !registry.revalidating || stillValid(e)
            else {
                registry.remove(id, ipvs: ipvs, now: t)
                continue
            }
            registry.fold(id, &e, ipvs: ipvs, now: t)
            registry.entries[id] = e
        }
    }

    /// The egress toward `d` from the cache or the kernel tables, without counting or resolving.
    private func quietEgress(to d: IPAddress) -> Egress? {
        if let e = egressCache.lookup(d) { return e }
        guard case .success(let e) = tables.egress(to: d) else { return nil }
        egressCache.store(d, e)
        return e
    }

    /// True if the entry's flows still leave by the egress the kernel tables give now.
    private func stillValid(_ e: FlowRegistry.Entry) -> Bool {
        stillValid(e.inbound, e) && stillValid(e.reply, e)
    }

    private func stillValid(_ dir: FlowRegistry.Direction?, _ e: FlowRegistry.Entry) -> Bool {
        guard let registry else { return false }
        if let dir {
            let f = dir.flow
            guard registry.isCapableEgress(f.interface) else { return false }
            let target: IPAddress
            switch f.rewrite {
            case .translate(_, let destination, let reply):
                target =
                    reply ? (destination?.address ?? f.key.destination) : (destination?.address ?? e.server.address)
            case .directRoute:
                target = e.server.address
            case .tunnel(_, let destination, _, _, _):
                target = destination
            }
            guard let now = quietEgress(to: target), now.interface == f.interface, now.link == f.link else {
                return false
            }
        }
        return true
    }

    /// A frame read without offload metadata (AF_XDP) whose TCP/UDP checksum field holds exactly
    /// the packet's pseudo-header sum is taken for a partial checksum (a local sender with tx
    /// checksum offload on a veth): if the whole sum verifies, the field was a complete checksum
    /// that happens to equal it (odds 1 in 65,535) and is left alone; otherwise it is completed
    /// as the NIC would. Any other field is left as it is — a corrupt frame keeps its wrong sum
    /// and the receiver drops it. False if the frame is malformed for it (counted).
    func completeIfPartial(_ f: ReceivedFrame, _ info: PacketInfo) -> Bool {
        let proto = info.protocolNumber
        guard info.hasPorts, !info.isFragment, proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp else {
            return true
        }
        let offset = proto == IPProtocolNumber.tcp ? 16 : 6
        let l4 = info.l4Offset
        let length = info.l4Length
        guard length >= offset + 2, info.ipEnd <= f.length else { return true }
        let p = UnsafeRawPointer(f.buffer + f.start)
        let field =
            UInt16(p.load(fromByteOffset: l4 + offset, as: UInt8.self)) << 8
            | UInt16(p.load(fromByteOffset: l4 + offset + 1, as: UInt8.self))
        if proto == IPProtocolNumber.udp && field == 0 { return true }
        let pseudo = InternetChecksum.pseudoHeader(
            source: info.source, destination: info.destination, protocol: proto, length: length)
        guard field == InternetChecksum.fold(pseudo) else { return true }
        if InternetChecksum.verify(p + l4, length, adding: pseudo) {
            counters.add(.checksumsLookedPartial)
            return true
        }
        let whole = UnsafeMutableRawBufferPointer(start: f.buffer + f.start, count: f.length)
        if let r = PartialChecksum.complete(
            whole, start: l4, offset: offset, end: info.ipEnd, isUDP: proto == IPProtocolNumber.udp)
        {
            counters.drop(r)
            return false
        }
        counters.add(.checksumsCompleted)
        return true
    }
}
