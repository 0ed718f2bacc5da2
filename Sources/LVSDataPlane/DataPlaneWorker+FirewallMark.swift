// Logged (firewall-marked) packets as the worker takes them: merged TCP segments split again.
import LVSCore
import LVSPacket

extension DataPlaneWorker {
    /// A logged packet is what the kernel held after GRO: TCP segments of one flow merged, up to
    /// 64 KiB, with no record of their size. One longer than the ingress link's MTU is taken as a
    /// GSO super-frame of segments that fill that MTU (the client's were no larger), and leaves
    /// as such segments (`forwardSegments`), as the kernel's IPVS hands a GRO packet to GSO on
    /// the way out; `fitMergedSegments` makes them fit the egress too.
    func markMergedSegments(_ f: inout ReceivedFrame, _ info: PacketInfo) {
        guard info.protocolNumber == IPProtocolNumber.tcp, !f.isGSO else { return }
        let mtu = tables.links[f.interface]?.mtu ?? 1500
        guard info.ipTotalLength > mtu, let headers = tcpHeaders(f, info) else { return }
        let segment = mtu - headers
        guard segment > 0, segment < Int(UInt16.max) else { return }
        f.gsoType = info.isIPv6 ? 4 : 1
        f.gsoSize = UInt16(segment)
    }

    /// Shrinks a logged super-frame's segments to what the egress takes: its MTU less a tunnel's
    /// headers. Segments of the client's own size would each get a "fragmentation needed" the
    /// client already honoured (the merge hid it), and be split to the same size again.
    func fitMergedSegments(_ f: inout ReceivedFrame, _ info: PacketInfo, _ d: ForwardingDecision, egress: Egress) {
        var mtu = egress.link.mtu
        if case .tunnel(let spec) = d.method {
            mtu -= Forwarding.tunnelOverhead(spec, outerIsIPv6: d.server.address.family == .inet6)
        }
        guard let headers = tcpHeaders(f, info), mtu - headers > 0, mtu - headers < Int(f.gsoSize) else { return }
        f.gsoSize = UInt16(mtu - headers)
    }

    /// The IP and TCP headers' length (the TCP header's data offset), or nil if it is cut short.
    func tcpHeaders(_ f: ReceivedFrame, _ info: PacketInfo) -> Int? {
        guard info.l4Offset + 20 <= f.length else { return nil }
        let dataOffset = (f.buffer + f.start + info.l4Offset).load(fromByteOffset: 12, as: UInt8.self) >> 4
        return info.ipHeaderLength + Int(dataOffset) * 4
    }
}
