// AF_PACKET packet I/O: a TPACKET_V2 receive ring (ETH_P_ALL, PACKET_VNET_HDR) and sendmmsg transmit.
import CLVSLinux
import Glibc
import LVSPlatform

/// Why a packet port could not be opened.
public struct PacketPortError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var description: String { message }

    static func errno(_ what: String) -> PacketPortError {
        let e = Glibc.errno
        return PacketPortError(code: e, message: "\(what): \(errorText(e))")
    }
}

/// The AF_PACKET port.
///
/// ```
///  all interfaces ──▶ [ETH_P_ALL socket, PACKET_IGNORE_OUTGOING, PACKET_VNET_HDR]
///                      TPACKET_V2 ring: slots of 2 KiB, each [tpacket2_hdr][sll][reserve][vnet][frame]
///                      a frame too big for a slot (GSO super-frame, jumbo) ──▶ socket queue
///                      (TP_STATUS_COPY) ──recv──▶ one of the overflow buffers
///  worker ◀── frames (in place, writable headroom) ──┘
///  worker ──▶ sendmmsg on a second socket (protocol 0: receives nothing; PACKET_QDISC_BYPASS)
/// ```
/// TPACKET_V2 rather than V3: a V3 block reaches user space only when it is full or its retire
/// timer (≥ 1 ms) fires, which put up to 1 ms on every packet at request/response rates (NAT
/// crosses the director twice per request). A V2 slot is the reader's as soon as it is written.
///
/// Frames sent by this port are not received back (PACKET_IGNORE_OUTGOING), except where the
/// kernel loops them (frames sent on `lo` arrive again as incoming: the worker's classification
/// ignores them, as they match no service and no connection).
public final class AFPacketPort: PacketPort {
    /// Ring geometry.
    public struct Configuration: Sendable {
        /// Slot size: holds a 1500-byte-MTU frame (with a VLAN tag) after the headers and the
        /// reserve; larger frames take the copy path.
        public var frameSize = 2048
        /// Slots in the ring (16 MiB at 2 KiB: ~25 ms of 600 kpps).
        public var frameCount = 8192
        /// Bytes the ring is allocated in (a multiple of the page size and of `frameSize`).
        public var blockSize = 1 << 20
        /// Bytes reserved in front of every frame (headroom for encapsulation).
        public var reserve = 128
        /// Buffers for frames too large for a slot, usable per batch (64 KiB + headroom each).
        public var overflowBuffers = 8
        /// The receive socket's buffer, which holds frames queued on the copy path.
        public var receiveBufferBytes = 8 << 20
        /// The transmit socket's buffer: room for several batches in flight, so a burst is not
        /// refused while the skbs of the previous one are still being freed on the other core.
        public var sendBufferBytes = 4 << 20
        /// PACKET_FANOUT group (nil: no fanout).
        public var fanoutGroup: Int?
        /// Bind to one interface (0: every interface of the namespace).
        public var interface: Int32 = 0
        /// Only frames of these interfaces reach the ring (a classic BPF filter; nil: all). XDP
        /// mode serves `lo` and the interfaces without XDP this way.
        public var onlyInterfaces: [Int32]? = nil
        /// False: no receive ring at all (a worker that only transmits on interfaces its AF_XDP
        /// sockets do not cover).
        public var receives = true
        public init() {}
    }

    let rxFD: Int32
    let txFD: Int32
    let ring: UnsafeMutableRawPointer
    let ringBytes: Int
    let slots: Int
    let configuration: Configuration
    /// The next slot to read, and the first slot returned but not yet released.
    private var head = 0
    private var unreleased = 0
    private var drops: UInt64 = 0
    private let headerBytes: Int
    private let vnetBytes: Int
    /// Overflow buffers for TP_STATUS_COPY frames, and how many are in use this batch.
    private let overflow: UnsafeMutableRawPointer
    private var overflowUsed = 0
    static let overflowHeadroom = 256
    static let overflowFrameBytes = 65536 + 64
    private var overflowStride: Int { Self.overflowHeadroom + Self.overflowFrameBytes }

    public var pollDescriptor: Int32 { rxFD }

    public init(configuration: Configuration = .init()) throws(PacketPortError) {
        self.configuration = configuration
        headerBytes = Int(clvs_dp_pkt_header_bytes())
        vnetBytes = Int(clvs_dp_vnet_bytes())
        let ethAll: Int32 = 0x0003
        guard configuration.receives else {
            let tx = clvs_dp_packet_socket(0)
            guard tx >= 0 else { throw .errno("AF_PACKET transmit socket (are you root?)") }
            _ = clvs_dp_set_qdisc_bypass(tx)
            _ = clvs_dp_force_sndbuf(tx, Int32(configuration.sendBufferBytes))
            rxFD = -1
            txFD = tx
            ring = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
            ringBytes = 0
            slots = 0
            overflow = .allocate(byteCount: 64, alignment: 64)
            return
        }
        let rx = clvs_dp_packet_socket(ethAll)
        guard rx >= 0 else { throw .errno("AF_PACKET socket (are you root?)") }
        func fail(_ what: String) -> PacketPortError {
            let e = PacketPortError.errno(what)
            close(rx)
            return e
        }
        guard clvs_dp_set_version2(rx) == 0 else { throw fail("PACKET_VERSION TPACKET_V2") }
        guard clvs_dp_set_reserve(rx, Int32(configuration.reserve)) == 0 else { throw fail("PACKET_RESERVE") }
        guard clvs_dp_set_vnet_hdr(rx) == 0 else { throw fail("PACKET_VNET_HDR") }
        guard clvs_dp_set_ignore_outgoing(rx) == 0 else { throw fail("PACKET_IGNORE_OUTGOING") }
        guard clvs_dp_set_copy_thresh(rx) == 0 else { throw fail("PACKET_COPY_THRESH") }
        if let only = configuration.onlyInterfaces {
            guard only.withUnsafeBufferPointer({ clvs_dp_filter_interfaces(rx, $0.baseAddress, Int32($0.count)) }) == 0
            else { throw fail("SO_ATTACH_FILTER") }
        }
        _ = clvs_dp_force_rcvbuf(rx, Int32(configuration.receiveBufferBytes))
        let perBlock = configuration.blockSize / configuration.frameSize
        let blocks = (configuration.frameCount + perBlock - 1) / max(perBlock, 1)
        guard
            let r = clvs_dp_rx_ring(
                rx, UInt32(configuration.blockSize), UInt32(configuration.frameSize),
                UInt32(configuration.frameCount))
        else { throw fail("PACKET_RX_RING") }
        ring = r
        ringBytes = blocks * configuration.blockSize
        slots = blocks * perBlock
        guard clvs_dp_bind(rx, configuration.interface, ethAll) == 0 else {
            let e = PacketPortError.errno("bind AF_PACKET")
            _ = clvs_dp_unmap(r, ringBytes)
            close(rx)
            throw e
        }
        if let group = configuration.fanoutGroup {
            guard clvs_dp_set_fanout(rx, Int32(group), clvs_dp_fanout_hash()) == 0 else {
                let e = PacketPortError.errno("PACKET_FANOUT")
                _ = clvs_dp_unmap(r, ringBytes)
                close(rx)
                throw e
            }
        }
        let tx = clvs_dp_packet_socket(0)
        guard tx >= 0 else {
            let e = PacketPortError.errno("AF_PACKET transmit socket")
            _ = clvs_dp_unmap(r, ringBytes)
            close(rx)
            throw e
        }
        _ = clvs_dp_set_qdisc_bypass(tx)
        _ = clvs_dp_force_sndbuf(tx, Int32(configuration.sendBufferBytes))
        rxFD = rx
        txFD = tx
        overflow = .allocate(
            byteCount: max(configuration.overflowBuffers, 1) * (Self.overflowHeadroom + Self.overflowFrameBytes),
            alignment: 64)
    }

    deinit {
        if ringBytes > 0 { _ = clvs_dp_unmap(ring, ringBytes) } else { ring.deallocate() }
        overflow.deallocate()
        if rxFD >= 0 { close(rxFD) }
        close(txFD)
    }

    @inline(__always)
    private func slot(_ i: Int) -> UnsafeMutableRawPointer { ring + i * configuration.frameSize }

    public func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        guard slots > 0 else { return 0 }
        var n = 0
        var pkt = clvs_dp_pkt()
        while n < capacity && unreleased < slots {
            let h = slot(head)
            guard clvs_dp_frame_ready(h) != 0 else { break }
            clvs_dp_read_pkt(h, &pkt)
            if pkt.copied != 0 {
                // The whole frame waits on the socket; take it now (in the ring's order).
                guard overflowUsed < configuration.overflowBuffers else { break }
                let buffer = overflow + overflowUsed * overflowStride
                let into = buffer + Self.overflowHeadroom - vnetBytes
                let got = Int(clvs_dp_recv_copy(rxFD, into, Self.overflowFrameBytes + vnetBytes))
                advance()
                guard got > vnetBytes, got <= Self.overflowFrameBytes + vnetBytes else {
                    drops &+= 1
                    continue
                }
                overflowUsed += 1
                clvs_dp_read_vnet(into, &pkt)
                let length = got - vnetBytes
                frames[n] = ReceivedFrame(
                    buffer: buffer, capacity: Self.overflowHeadroom + length, start: Self.overflowHeadroom,
                    length: length, interface: pkt.ifindex, packetType: pkt.pkttype,
                    offloadFlags: pkt.vnet_flags, gsoType: pkt.gso_type, gsoSize: pkt.gso_size,
                    checksumStart: pkt.csum_start, checksumOffset: pkt.csum_offset, kernelHasCopy: true)
                n += 1
                continue
            }
            advance()
            if pkt.snaplen < pkt.len {
                // Too big for a slot and no room to queue it whole: the kernel cut it.
                drops &+= 1
                continue
            }
            let mac = Int(pkt.mac)
            frames[n] = ReceivedFrame(
                buffer: h + headerBytes, capacity: mac - headerBytes + Int(pkt.snaplen), start: mac - headerBytes,
                length: Int(pkt.snaplen), interface: pkt.ifindex, packetType: pkt.pkttype,
                offloadFlags: pkt.vnet_flags, gsoType: pkt.gso_type, gsoSize: pkt.gso_size,
                checksumStart: pkt.csum_start, checksumOffset: pkt.csum_offset, kernelHasCopy: true)
            n += 1
        }
        return n
    }

    /// Replaces the interfaces a ring opened with `onlyInterfaces` receives from (the socket
    /// filter is swapped whole: no frame is seen by both). False if the kernel refused it.
    public func receiveOnly(_ interfaces: [Int32]) -> Bool {
        guard rxFD >= 0 else { return false }
        return interfaces.withUnsafeBufferPointer {
            clvs_dp_filter_interfaces(rxFD, $0.baseAddress, Int32($0.count))
        } == 0
    }

    /// True when the next slot holds a frame (one load: cheap enough to spin on).
    public var framesWaiting: Bool { slots > 0 && clvs_dp_frame_ready(slot(head)) != 0 }

    /// The kernel fills slots in ring order, so the slot `k − 1` past the next unread one being
    /// ready means `k` frames wait (one load). Slots read and not yet released lie behind `head`
    /// and are still marked ready: `k` stops short of them.
    public func isBacklogged(eighths: Int) -> Bool {
        let k = slots / 8 * min(max(eighths, 1), 7)
        guard k > 0, k &+ unreleased < slots else { return false }
        return clvs_dp_frame_ready(slot((head &+ k &- 1) % slots)) != 0
    }

    @inline(__always)
    private func advance() {
        head = head + 1 == slots ? 0 : head + 1
        unreleased += 1
    }

    public func release() {
        guard slots > 0 else { return }
        var i = head - unreleased
        if i < 0 { i += slots }
        for _ in 0..<unreleased {
            clvs_dp_frame_release(slot(i))
            i = i + 1 == slots ? 0 : i + 1
        }
        unreleased = 0
        overflowUsed = 0
    }

    public func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        var sent = 0
        var waited = false
        while sent < count {
            let chunk = min(256, count - sent)
            let r = Int(clvs_dp_send_batch(txFD, frames + sent, Int32(chunk)))
            if r > 0 { sent += r }
            if r < chunk {
                // The send buffer is full (EAGAIN/ENOBUFS): wait once, briefly, for the skbs in
                // flight to be freed rather than drop the rest of the batch.
                guard !waited, clvs_dp_wait_writable(txFD, 1) != 0 else { break }
                waited = true
            }
        }
        return sent
    }

    /// Frames the kernel dropped because the ring was full, plus frames too large for a slot that
    /// could not be queued whole (the receive buffer was full) or read back.
    public var ringDrops: UInt64 {
        guard rxFD >= 0 else { return 0 }
        drops &+= clvs_dp_ring_drops(rxFD)
        return drops
    }

    public var packetRing: AFPacketPort? { self }
}
