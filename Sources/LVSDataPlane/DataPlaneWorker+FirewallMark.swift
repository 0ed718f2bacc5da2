// Logged (firewall-marked) packets as the worker takes them: merged TCP segments split again.
import LVSCore
import LVSPacket

extension DataPlaneWorker {
    /// A logged packet is what the kernel held after GRO: TCP segments of one flow merged, up to
    /// 64 KiB, with no record of their size. One longer than the ingress link's MTU is taken as a
    /// GSO super-frame of segments that fill that MTU, and leaves as such segments
    /// (`forwardSegments`), as the kernel's IPVS hands a GRO packet to GSO on the way out.
    func markMergedSegments(_ f: inout ReceivedFrame, _ info: PacketInfo) {
        guard info.protocolNumber == IPProtocolNumber.tcp, !f.isGSO else { return }
        let mtu = tables.links[f.interface]?.mtu ?? 1500
        guard info.ipTotalLength > mtu, info.l4Offset + 20 <= f.length else { return }
        let dataOffset = (f.buffer + f.start + info.l4Offset).load(fromByteOffset: 12, as: UInt8.self) >> 4
        let segment = mtu - info.ipHeaderLength - Int(dataOffset) * 4
        guard segment > 0, segment < Int(UInt16.max) else { return }
        f.gsoType = info.isIPv6 ? 4 : 1
        f.gsoSize = UInt16(segment)
    }
}
