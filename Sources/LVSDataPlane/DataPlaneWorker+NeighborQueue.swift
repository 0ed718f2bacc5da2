// Packets held while their next hop's MAC is being resolved, as the kernel's neighbour queue holds them.
import LVSCore
import LVSPacket

/// A bounded store of frames that found no next-hop MAC.
///
/// The kernel does not drop a packet whose next hop is unresolved: the neighbour entry queues it
/// (`unres_qlen_bytes`) and sends it when the ARP reply / neighbour advertisement arrives, or drops
/// it when resolution fails (after `mcast_solicit` probes, ~3 s). Without this the first packet
/// to a just-added real server was lost: a UDP request went unanswered, a TCP SYN waited for its
/// 1 s retransmission.
///
/// ```
///  forward ─▶ egress? ── no MAC ──▶ hold(copy of the frame, its PacketInfo and decision)
///  runOnce ─▶ tables changed ──▶ replay: MAC known ─▶ forward again (no second scheduling)
///                                 3 s old or store full ─▶ dropped, counted
/// ```
/// Memory is allocated once (`capacity` slots of `slotBytes`); holding and replaying allocate
/// nothing.
final class NeighborWaitQueue {
    static let capacity = 64
    /// Frames one neighbour may have held (the kernel queues per neighbour, `unres_qlen`).
    static let perNeighborQuota = 8
    /// Slots frames toward clients (outbound: NAT replies, whose addresses a client chooses) may
    /// take together: the rest stays for frames toward the configured real servers.
    static let outboundShare = 32
    static let slotBytes = 4096
    static let timeoutNanoseconds: UInt64 = 3_000_000_000

    struct Entry {
        var slot: Int
        var frame: ReceivedFrame
        var info: PacketInfo
        var decision: ForwardingDecision
        var inbound: Bool
        var target: IPAddress
        var heldAt: UInt64
    }

    let slots = FrameSlots(count: NeighborWaitQueue.capacity, slotBytes: NeighborWaitQueue.slotBytes)
    var entries: [Entry] = []
    /// The kernel tables' generation at the last replay.
    var generation: UInt64 = .max

    init() {
        entries.reserveCapacity(Self.capacity)
    }

    var isEmpty: Bool { entries.isEmpty }
}

extension DataPlaneWorker {
    /// Keeps a copy of `f` until its next hop resolves; false (nothing kept) when the store is
    /// full or the frame too large for a slot.
    func holdForNeighbor(
        _ f: ReceivedFrame, _ info: PacketInfo, _ d: ForwardingDecision, inbound: Bool, target: IPAddress,
        now: Timestamp
    ) {
        let q = neighborQueue
        var sameTarget = 0
        var outboundHeld = 0
        for e in q.entries {
            if e.target == target { sameTarget += 1 }
            if !e.inbound { outboundHeld += 1 }
        }
        guard sameTarget < NeighborWaitQueue.perNeighborQuota,
            inbound || outboundHeld < NeighborWaitQueue.outboundShare
        else {
            counters.add(.neighborQuotaDropped)
            return
        }
        guard f.capacity <= NeighborWaitQueue.slotBytes, let slot = q.slots.take() else {
            counters.add(.neighborQueueDropped)
            return
        }
        let base = q.slots.base(slot)
        base.copyMemory(from: f.buffer, byteCount: f.capacity)
        var copy = f
        copy.buffer = base
        q.entries.append(
            .init(
                slot: slot, frame: copy, info: info, decision: d, inbound: inbound, target: target,
                heldAt: now.nanoseconds))
        counters.add(.heldForNeighbor)
    }

    /// Sends held frames whose next hop is now known (after a change of the kernel tables) and
    /// drops those held longer than the kernel's resolution time.
    func replayHeldFrames(now: Timestamp) {
        let q = neighborQueue
        guard !q.isEmpty else { return }
        let changed = q.generation != tables.generation
        q.generation = tables.generation
        var i = 0
        while i < q.entries.count {
            let e = q.entries[i]
            let expired = now.nanoseconds &- e.heldAt > NeighborWaitQueue.timeoutNanoseconds
            let ready: Bool
            if changed, case .success = tables.egress(to: e.target) { ready = true } else { ready = false }
            guard ready || expired else {
                i += 1
                continue
            }
            q.entries.remove(at: i)
            if ready {
                var f = e.frame
                forward(&f, e.info, e.decision, inbound: e.inbound, now: now)
                counters.add(.neighborQueueSent)
                // The frame's bytes were queued for transmission from the slot: free it after
                // the flush that sends them.
                flush()
            } else {
                counters.add(.neighborQueueDropped)
            }
            q.slots.give(e.slot)
        }
    }
}
