// The local real server (the kernel's LOCALNODE) and passive VIPs: traffic handed to the director's own stack.
import LVSCore
import LVSPacket

/// How a frame scheduled to a real server that is an address of the director reaches the local
/// stack, the way the kernel's IPVS accepts it locally (`ip_vs_dr_xmit` / `ip_vs_tunnel_xmit`
/// with a local route: the packet continues, unchanged, to local input):
///
/// ```
///  eth0 ─▶ ring ─▶ worker: VIP:port ─▶ IPVS (connection, stats) ─▶ server is local (egress lo)
///                                                                    │ DR / TUN: unchanged
///          lo ◀── [dst 00:00:00:00:00:00 · src 02:53:4c:56:00:01] ◀──┘ (GSO: segmented first)
///          │ loopback_xmit loops it back as received
///          ├─▶ guard (netdev ingress on lo): marker source MAC → accept (before the VIP drops)
///          ├─▶ ring again: marker on lo → ignored (no second scheduling)
///          └─▶ local stack: nginx on VIP:port (VIP on lo) answers the client directly
/// ```
/// NAT and FULLNAT keep their rewrite (the destination becomes the real server): their replies
/// leave the local stack without passing lvsd, so only clients on the director get them back.
public enum LocalNodeDelivery {
    /// The source MAC of frames lvsd hands to the local stack on `lo` for a local real server
    /// (locally administered, "SLV"): the guard lets them through, the worker ignores their echo.
    public static let markerMAC = MACAddress(0x02, 0x53, 0x4C, 0x56, 0x00, 0x01)

    /// The guard's rule that lets marked frames on `lo` past the VIP drop rules (first rule of the
    /// chain; a raw link-layer match: `ether saddr` would require an Ethernet device type).
    public static var guardAcceptRule: String {
        "iifname \"lo\" @ll,48,48 0x\(String(markerMAC.value, radix: 16)) accept"
    }

    /// The marker as it lies in a frame's bytes 6…11: big-endian 32 + 16 bits.
    @usableFromInline static let markerHigh = UInt32(truncatingIfNeeded: markerMAC.value >> 16).bigEndian
    @usableFromInline static let markerLow = UInt16(truncatingIfNeeded: markerMAC.value).bigEndian
}

extension DataPlaneWorker {
    /// `lo`'s index, read from the tables once per generation (not per packet).
    var loopback: Int32 {
        @inline(__always) get {
            if loopbackCache.generation != tables.generation {
                loopbackCache = (tables.generation, tables.loopbackIndex)
            }
            return loopbackCache.index
        }
    }

    /// True for a frame this worker sent to `lo` for a local real server, now looped back.
    @inline(__always)
    func isLocalNodeEcho(_ f: ReceivedFrame) -> Bool {
        guard f.length >= 14 else { return false }
        let p = f.buffer + f.start
        return p.loadUnaligned(fromByteOffset: 6, as: UInt32.self) == LocalNodeDelivery.markerHigh
            && p.loadUnaligned(fromByteOffset: 10, as: UInt16.self) == LocalNodeDelivery.markerLow
    }

    /// True when the method delivers to a local real server unchanged (DR, TUN, Local); NAT and
    /// FULLNAT rewrite first.
    static func deliversUnchanged(_ method: ForwardingMethod) -> Bool {
        switch method {
        case .route, .tunnel, .local: return true
        case .masquerade, .fullNAT: return false
        }
    }

    /// Hands an inbound frame of a connection to a local real server to the local stack on `lo`,
    /// unchanged but for its link header (marker source MAC, zero destination MAC, no VLAN tag).
    /// Partial checksums are completed and GSO super-frames segmented first.
    func deliverToLocalServer(_ f: inout ReceivedFrame, _ info: PacketInfo) {
        guard info.l3Offset >= 14, info.ipEnd <= f.length else {
            counters.add(.ignored)
            return
        }
        let lo = loopback
        if f.isGSO {
            deliverSegmentsToLocalServer(&f, info, loopback: lo)
            return
        }
        guard completePartialChecksum(f, info) else { return }
        let l2 = f.buffer + f.start + info.l3Offset - 14
        Self.writeLocalNodeHeader(l2, isIPv6: info.isIPv6)
        counters.add(.deliveredLocally)
        queue(l2, info.ipEnd - info.l3Offset + 14, lo)
    }

    /// A GSO super-frame for a local real server: TCP segments of `gso_size`, each on `lo`.
    func deliverSegmentsToLocalServer(_ f: inout ReceivedFrame, _ info: PacketInfo, loopback: Int32) {
        guard let (base, stride, made) = segmentIntoScratch(f, info, headroom: 0) else { return }
        for i in 0..<made {
            let l2 = base + i * stride + info.l3Offset - 14
            Self.writeLocalNodeHeader(l2, isIPv6: info.isIPv6)
            counters.add(.deliveredLocally)
            queue(l2, lengths[i] - info.l3Offset + 14, loopback)
        }
    }

    /// dst 00:00:00:00:00:00 (lo's address: PACKET_HOST), src = the marker, EtherType.
    @inline(__always)
    static func writeLocalNodeHeader(_ p: UnsafeMutableRawPointer, isIPv6: Bool) {
        p.storeBytes(of: 0, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: 0, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: LocalNodeDelivery.markerHigh, toByteOffset: 6, as: UInt32.self)
        p.storeBytes(of: LocalNodeDelivery.markerLow, toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: (isIPv6 ? UInt16(0x86DD) : UInt16(0x0800)).bigEndian, toByteOffset: 12, as: UInt16.self)
    }
}
