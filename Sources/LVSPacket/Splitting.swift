// Splitting one frame into many: TCP GSO super-frames into MSS segments, IPv4 packets into fragments.
import LVSCore

/// The outcome of splitting a frame into a caller buffer.
public enum SplitResult: Equatable, Sendable {
    /// `count` frames were written, frame `i` at `out + i * stride`, its length in `lengths[i]`.
    case split(count: Int)
    /// Nothing usable was written.
    case drop(DropReason)
}

/// Segments TCP GSO super-frames (veth/virtio hand up merged segments of up to 64 KiB) the way
/// the kernel's tcp_gso_segment does.
public enum TCPSegmenter {
    /// Splits the TCP frame `frame` (parsed into `info`) into segments of at most `gsoSize`
    /// payload bytes (virtio_net_hdr `gso_size`, the MSS). Every segment gets the original link,
    /// IP and TCP headers (options included) with: its own IP length, IPv4 ID = original + i and
    /// a recomputed header checksum, sequence number advanced by the bytes before it, FIN and PSH
    /// only on the last segment, CWR only on the first, and a full TCP checksum.
    @inlinable
    public static func segment(
        _ frame: UnsafeRawBufferPointer, _ info: PacketInfo, gsoSize: Int,
        into out: UnsafeMutableRawBufferPointer, stride: Int, lengths: UnsafeMutableBufferPointer<Int>
    ) -> SplitResult {
        guard let p = frame.baseAddress, let o = out.baseAddress, info.ipEnd <= frame.count else {
            return .drop(.outputTooSmall)
        }
        guard info.protocolNumber == IPProtocolNumber.tcp, info.hasPorts, !info.isFragment else {
            return .drop(.unsupportedPacket)
        }
        guard gsoSize > 0 else { return .drop(.badGSO) }
        let doff = Int(p.u8(info.l4Offset &+ 12) >> 4) &* 4
        let headers = info.l4Offset &+ doff
        let payload = info.ipEnd &- headers
        guard payload >= 0 else { return .drop(.badTCPDataOffset) }
        let count = payload == 0 ? 1 : (payload &+ gsoSize &- 1) / gsoSize
        guard stride >= headers &+ min(gsoSize, max(payload, 0)), count <= lengths.count,
            (count &- 1) &* stride &+ headers &+ min(gsoSize, payload) <= out.count
        else { return .drop(.outputTooSmall) }
        let seq0 = p.be32(info.l4Offset &+ 4)
        let flags0 = p.u8(info.l4Offset &+ 13)
        let id0 = p.be16(info.l3Offset &+ 4)
        let l3 = info.l3Offset
        let ipToL4 = info.l4Offset &- l3
        var offset = 0
        for i in 0..<count {
            let chunk = min(gsoSize, payload &- offset)
            let s = o + i &* stride
            s.copyMemory(from: p, byteCount: headers)
            (s + headers).copyMemory(from: p + (headers &+ offset), byteCount: chunk)
            let ip = s + l3
            let segLen = ipToL4 &+ doff &+ chunk
            if info.isIPv6 {
                ip.setBE16(UInt16(truncatingIfNeeded: segLen &- 40), 4)
            } else {
                ip.setBE16(UInt16(truncatingIfNeeded: segLen), 2)
                ip.setBE16(id0 &+ UInt16(truncatingIfNeeded: i), 4)
                ip.setBE16(0, 10)
                ip.setBE16(InternetChecksum.checksum(UnsafeRawPointer(ip), ipToL4), 10)
            }
            let tcp = s + info.l4Offset
            tcp.setBE32(seq0 &+ UInt32(truncatingIfNeeded: offset), 4)
            var f = flags0
            if i != count &- 1 { f &= ~0x09 }  // FIN, PSH on the last segment only
            if i != 0 { f &= ~0x80 }  // CWR on the first only
            tcp.setU8(f, 13)
            tcp.setBE16(0, 16)
            let tcpLen = doff &+ chunk
            let pseudo = InternetChecksum.pseudoHeader(
                source: info.source, destination: info.destination, protocol: IPProtocolNumber.tcp, length: tcpLen)
            tcp.setBE16(InternetChecksum.checksum(UnsafeRawPointer(tcp), tcpLen, adding: pseudo), 16)
            lengths[i] = headers &+ chunk
            offset &+= chunk
        }
        return .split(count: count)
    }
}

/// Fragments IPv4 packets as RFC 791 §3.2 and the kernel's ip_fragment do.
public enum IPv4Fragmenter {
    /// Splits the IPv4 packet of `frame` (parsed into `info`; its DF must be clear, or it is an
    /// ICMP error) into fragments whose IP packets fit `mtu`. Each fragment carries the frame's
    /// link header, the IP header (later fragments keep only options with the copy bit, padded
    /// with EOL), the same ID, its offset, MF on all but the last (and on the last if the packet
    /// was itself a non-last fragment), and a fresh header checksum.
    @inlinable
    public static func fragment(
        _ frame: UnsafeRawBufferPointer, _ info: PacketInfo, mtu: Int,
        into out: UnsafeMutableRawBufferPointer, stride: Int, lengths: UnsafeMutableBufferPointer<Int>
    ) -> SplitResult {
        guard let p = frame.baseAddress, let o = out.baseAddress, !info.isIPv6, info.ipEnd <= frame.count else {
            return .drop(.unsupportedPacket)
        }
        let l3 = info.l3Offset
        let ihl = info.ipHeaderLength
        // The header of later fragments: options with the copied flag only (RFC 791 §3.1).
        var laterOptions = 0
        var i = 20
        while i < ihl {
            let t = p.u8(l3 &+ i)
            if t == 0 { break }
            if t == 1 {
                i &+= 1
                continue
            }
            let ol = Int(p.u8(l3 &+ i &+ 1))
            if ol < 2 || i &+ ol > ihl { break }
            if t & 0x80 != 0 { laterOptions &+= ol }
            i &+= ol
        }
        let laterIHL = 20 &+ ((laterOptions &+ 3) & ~3)
        let firstChunk = (mtu &- ihl) & ~7
        let laterChunk = (mtu &- laterIHL) & ~7
        guard firstChunk >= 8, laterChunk >= 8 else { return .drop(.tunnelMTUTooSmall) }
        let payload = info.ipTotalLength &- ihl
        let count = payload <= firstChunk ? 1 : 1 &+ (payload &- firstChunk &+ laterChunk &- 1) / laterChunk
        let maxFrame = l3 &+ min(info.ipTotalLength, mtu)
        guard count <= lengths.count, stride >= maxFrame, (count &- 1) &* stride &+ maxFrame <= out.count else {
            return .drop(.outputTooSmall)
        }
        let origFrag = p.be16(l3 &+ 6)
        let origMF = origFrag & 0x2000 != 0
        let origOffset = Int(origFrag & 0x1FFF) &* 8
        var done = 0
        for k in 0..<count {
            let s = o + k &* stride
            s.copyMemory(from: p, byteCount: l3)
            let ip = s + l3
            let h: Int
            if k == 0 {
                ip.copyMemory(from: p + l3, byteCount: ihl)
                h = ihl
            } else {
                ip.copyMemory(from: p + l3, byteCount: 20)
                var w = 20
                var j = 20
                while j < ihl {
                    let t = p.u8(l3 &+ j)
                    if t == 0 { break }
                    if t == 1 {
                        j &+= 1
                        continue
                    }
                    let ol = Int(p.u8(l3 &+ j &+ 1))
                    if ol < 2 || j &+ ol > ihl { break }
                    if t & 0x80 != 0 {
                        (ip + w).copyMemory(from: p + (l3 &+ j), byteCount: ol)
                        w &+= ol
                    }
                    j &+= ol
                }
                while w < laterIHL {
                    ip.setU8(0, w)
                    w &+= 1
                }
                ip.setU8(0x40 | UInt8(laterIHL / 4), 0)
                h = laterIHL
            }
            let chunk = min(k == 0 ? firstChunk : laterChunk, payload &- done)
            (ip + h).copyMemory(from: p + (l3 &+ ihl &+ done), byteCount: chunk)
            let last = k == count &- 1
            let mf: UInt16 = (!last || origMF) ? 0x2000 : 0
            ip.setBE16(UInt16(truncatingIfNeeded: h &+ chunk), 2)
            ip.setBE16((origFrag & 0x8000) | mf | UInt16(truncatingIfNeeded: (origOffset &+ done) / 8), 6)
            ip.setBE16(0, 10)
            ip.setBE16(InternetChecksum.checksum(UnsafeRawPointer(ip), h), 10)
            lengths[k] = l3 &+ h &+ chunk
            done &+= chunk
        }
        return .split(count: count)
    }
}
