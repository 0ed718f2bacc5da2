// Logged (firewall-marked) packets as the worker takes them: merged TCP segments split again.
import LVSCore
import LVSPacket

extension DataPlaneWorker {
    /// A logged packet is what the kernel held after GRO: TCP segments of one flow merged, up to
    /// 64 KiB, with no record of their size. One longer than the ingress link's MTU is taken as a
    /// GSO super-frame and leaves as segments (`forwardSegments`), as the kernel's IPVS hands a
    /// GRO packet to GSO on the way out. A segment fills the ingress MTU (the client's were no
    /// larger) or the egress MTU less a tunnel's headers, whichever is smaller: segments of the
    /// client's own size would each get a "fragmentation needed" the client already honoured
    /// (the merge hid it), and be merged and split to the same size again.
    func markMergedSegments(_ f: inout ReceivedFrame, _ info: PacketInfo, _ d: ForwardingDecision, egress: Egress) {
        guard info.protocolNumber == IPProtocolNumber.tcp else { return }
        let ingressMTU = tables.links[f.interface]?.mtu ?? 1500
        guard info.ipTotalLength > ingressMTU, let headers = tcpHeaders(f, info) else { return }
        var egressMTU = egress.link.mtu
        if case .tunnel(let spec) = d.method {
            egressMTU -= Forwarding.tunnelOverhead(spec, outerIsIPv6: d.server.address.family == .inet6)
        }
        let segment = min(ingressMTU, egressMTU) - headers
        guard segment > 0, segment < Int(UInt16.max) else { return }
        f.gsoType = info.isIPv6 ? 4 : 1
        f.gsoSize = UInt16(segment)
    }

    /// The IP and TCP headers' length (the TCP header's data offset), or nil if it is cut short.
    func tcpHeaders(_ f: ReceivedFrame, _ info: PacketInfo) -> Int? {
        guard info.l4Offset + 20 <= f.length else { return nil }
        let dataOffset = (f.buffer + f.start + info.l4Offset).load(fromByteOffset: 12, as: UInt8.self) >> 4
        return info.ipHeaderLength + Int(dataOffset) * 4
    }
}
