// AF_PACKET packet I/O: a TPACKET_V3 receive ring (ETH_P_ALL, PACKET_VNET_HDR) and sendmmsg transmit.
import CLVSLinux
import Glibc

/// Why a packet port could not be opened.
public struct PacketPortError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var description: String { message }

    static func errno(_ what: String) -> PacketPortError {
        let e = Glibc.errno
        return PacketPortError(code: e, message: "\(what): \(systemErrorText(e))")
    }
}

/// The AF_PACKET port.
///
/// ```
///  all interfaces ──▶ [ETH_P_ALL socket, PACKET_IGNORE_OUTGOING, PACKET_VNET_HDR]
///                      TPACKET_V3 ring: blocks of frames, each [tpacket3_hdr][sll][reserve][vnet][frame]
///  worker ◀── frames (in place, writable headroom) ──┘
///  worker ──▶ sendmmsg on a second socket (protocol 0: receives nothing; PACKET_QDISC_BYPASS)
/// ```
/// Frames sent by this port are not received back (PACKET_IGNORE_OUTGOING), except where the
/// kernel loops them (frames sent on `lo` arrive again as incoming: the worker's classification
/// ignores them, as they match no service and no connection).
public final class AFPacketPort: PacketPort {
    /// Ring geometry.
    public struct Configuration: Sendable {
        /// Block size: frames never span blocks, so it must hold a 64 KiB GSO super-frame.
        public var blockSize = 1 << 20
        public var blockCount = 16
        /// How long a partly filled block waits before the kernel hands it over.
        public var retireMilliseconds = 1
        /// Bytes reserved in front of every frame (headroom for encapsulation).
        public var reserve = 128
        /// PACKET_FANOUT group (nil: no fanout).
        public var fanoutGroup: Int?
        /// Bind to one interface (0: every interface of the namespace).
        public var interface: Int32 = 0
        public init() {}
    }

    let rxFD: Int32
    let txFD: Int32
    let ring: UnsafeMutableRawPointer
    let configuration: Configuration
    /// The next block to read, and the next packet within it (0 = the block not yet opened).
    private var block = 0
    private var remainingInBlock: UInt32 = 0
    private var nextOffset = 0
    /// Blocks fully read since the last `release()`.
    private var finished: [Int] = []
    private var drops: UInt64 = 0
    private let headerBytes: Int

    public var pollDescriptor: Int32 { rxFD }

    public init(configuration: Configuration = .init()) throws(PacketPortError) {
        self.configuration = configuration
        headerBytes = Int(clvs_dp_pkt_header_bytes())
        let ethAll: Int32 = 0x0003
        let rx = clvs_dp_packet_socket(ethAll)
        guard rx >= 0 else { throw .errno("AF_PACKET socket (are you root?)") }
        func fail(_ what: String) -> PacketPortError {
            let e = PacketPortError.errno(what)
            close(rx)
            return e
        }
        guard clvs_dp_set_version3(rx) == 0 else { throw fail("PACKET_VERSION TPACKET_V3") }
        guard clvs_dp_set_reserve(rx, Int32(configuration.reserve)) == 0 else { throw fail("PACKET_RESERVE") }
        guard clvs_dp_set_vnet_hdr(rx) == 0 else { throw fail("PACKET_VNET_HDR") }
        guard clvs_dp_set_ignore_outgoing(rx) == 0 else { throw fail("PACKET_IGNORE_OUTGOING") }
        guard
            let r = clvs_dp_rx_ring(
                rx, UInt32(configuration.blockSize), UInt32(configuration.blockCount), 2048,
                UInt32(configuration.retireMilliseconds))
        else { throw fail("PACKET_RX_RING") }
        ring = r
        guard clvs_dp_bind(rx, configuration.interface, ethAll) == 0 else {
            let e = PacketPortError.errno("bind AF_PACKET")
            _ = clvs_dp_unmap(r, configuration.blockSize * configuration.blockCount)
            close(rx)
            throw e
        }
        if let group = configuration.fanoutGroup {
            guard clvs_dp_set_fanout(rx, Int32(group), clvs_dp_fanout_hash()) == 0 else {
                let e = PacketPortError.errno("PACKET_FANOUT")
                _ = clvs_dp_unmap(r, configuration.blockSize * configuration.blockCount)
                close(rx)
                throw e
            }
        }
        let tx = clvs_dp_packet_socket(0)
        guard tx >= 0 else {
            let e = PacketPortError.errno("AF_PACKET transmit socket")
            _ = clvs_dp_unmap(r, configuration.blockSize * configuration.blockCount)
            close(rx)
            throw e
        }
        _ = clvs_dp_set_qdisc_bypass(tx)
        rxFD = rx
        txFD = tx
        finished.reserveCapacity(configuration.blockCount)
    }

    deinit {
        _ = clvs_dp_unmap(ring, configuration.blockSize * configuration.blockCount)
        close(rxFD)
        close(txFD)
    }

    public func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        var n = 0
        var pkt = clvs_dp_pkt()
        while n < capacity {
            let b = ring + block * configuration.blockSize
            if remainingInBlock == 0 {
                guard clvs_dp_block_ready(b) != 0 else { break }
                remainingInBlock = clvs_dp_block_packets(b)
                nextOffset = Int(clvs_dp_block_first(b))
                if remainingInBlock == 0 {
                    finishBlock()
                    continue
                }
            }
            let h = b + nextOffset
            clvs_dp_read_pkt(h, 1, &pkt)
            let mac = Int(pkt.mac)
            frames[n] = ReceivedFrame(
                buffer: h + headerBytes, capacity: mac - headerBytes + Int(pkt.snaplen), start: mac - headerBytes,
                length: Int(pkt.snaplen), interface: pkt.ifindex, packetType: pkt.pkttype,
                offloadFlags: pkt.vnet_flags, gsoType: pkt.gso_type, gsoSize: pkt.gso_size,
                checksumStart: pkt.csum_start, checksumOffset: pkt.csum_offset)
            n += 1
            remainingInBlock -= 1
            if remainingInBlock == 0 {
                finishBlock()
            } else {
                nextOffset += Int(pkt.next_offset)
            }
        }
        return n
    }

    private func finishBlock() {
        finished.append(block)
        remainingInBlock = 0
        block = (block + 1) % configuration.blockCount
    }

    public func release() {
        for b in finished { clvs_dp_block_release(ring + b * configuration.blockSize) }
        finished.removeAll(keepingCapacity: true)
    }

    public func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        var sent = 0
        while sent < count {
            let chunk = min(256, count - sent)
            let r = Int(clvs_dp_send_batch(txFD, frames + sent, Int32(chunk)))
            if r <= 0 { break }
            sent += r
            if r < chunk { break }
        }
        return sent
    }

    public var ringDrops: UInt64 {
        drops &+= clvs_dp_ring_drops(rxFD)
        return drops
    }
}
