// Interfaces that appear after lvsd started in XDP mode: served by AF_PACKET and the nftables guard.
import LVSCore

extension DataPlane {
    /// In XDP mode the program, its AF_XDP sockets and the fast path's transmit ports are set up
    /// at start. An interface that appears later (a VLAN, a bond, a veth added by hand) has none
    /// of them: left alone, the kernel would answer its clients' packets to a VIP with RSTs. So
    /// worker 0, which sees the link appear, serves it the way the fallback serves every
    /// interface: its AF_PACKET ring takes the interface's frames and the nftables guard keeps
    /// the kernel off its service traffic. A restart gives it XDP. One that vanishes again is
    /// dropped from both. Called on worker 0's thread when the interface layout changed.
    ///
    /// ```
    ///  link appears ─▶ worker 0: ring filter += ifindex ─▶ guard interfaces += name ─▶ reconcile
    ///                            (frames now reach the worker)  (RSTs no longer possible)
    /// ```
    func adoptLateInterfaces(_ worker: DataPlaneWorker) {
        guard backend != nil, let ring = worker.port.packetRing else { return }
        let known = Set(startPlan.status.map(\.index))
        var late: [Int32: String] = [:]
        for l in attachedLinks(worker.tables) where !l.isLoopback && !known.contains(l.index) {
            late[l.index] = l.name
        }
        guard late != lateInterfaces else { return }
        let added = late.filter { lateInterfaces[$0.key] != $0.value }.sorted { $0.key < $1.key }
        let removed = lateInterfaces.filter { late[$0.key] != $0.value }.sorted { $0.key < $1.key }
        lateInterfaces = late
        let ordered = late.sorted { $0.key < $1.key }
        if !ring.receiveOnly(startPlan.afPacketIndexes + ordered.map(\.key)) {
            log("cannot extend the packet ring's filter to \(added.map(\.value).joined(separator: ", "))")
        }
        let statuses = ordered.map {
            InterfaceStatus(name: $0.value, index: $0.key, mode: .afPacket, fastPathEgress: false, note: Self.lateNote)
        }
        mailbox.withLock {
            $0.guardedInterfaces = startPlan.afPacketNames + ordered.map(\.value)
            $0.interfaces = startPlan.status + statuses
        }
        for (_, name) in added { log("\(name): AF_PACKET + nftables guard (\(Self.lateNote))") }
        for (_, name) in removed { log("\(name): gone (it had appeared after start)") }
    }

    /// Why an interface that appeared after start is not in XDP mode.
    static let lateNote = "appeared after lvsd started: XDP after a restart"
}
