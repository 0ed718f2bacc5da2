// The AF_XDP port: UMEM, fill/completion/RX/TX rings on one queue of each interface, behind PacketPort.
import CLVSLinux
import CLVSXDP
import Glibc
import LVSDataPlane

/// AF_XDP sockets, one per interface on the same receive queue, sharing one UMEM, behind the
/// `PacketPort` protocol the AF_PACKET port implements.
///
/// ```
///  UMEM (frameCount × frameSize, one mmap) ──▶ free stack ──▶ fill ring of each socket
///  NIC/veth queue ─ XDP program (lvs_xsks) ─▶ RX ring ─▶ receive(): frame in place, headroom ≥ 256
///  worker rewrites in place ─▶ transmit(): the same UMEM frame on the egress socket's TX ring
///                                (a frame built elsewhere — ICMP error, fragment — is copied into a free one)
///  completion ring ─▶ free stack            release(): frames received and not sent ─▶ free stack
/// ```
/// Copy mode on veth (no zero-copy driver); zero-copy is asked for first and copy mode taken when the
/// driver refuses it. With `XDP_USE_NEED_WAKEUP` the kernel is woken only when a ring says so (copy
/// mode transmits inside `sendto`, so every TX batch kicks once). No allocation per packet.
/// One port is used by one worker thread.
public final class XDPSocketPort: PacketPort {
    /// Ring and UMEM geometry.
    public struct Configuration: Sendable {
        /// Bytes per UMEM frame: 2048 or 4096 (aligned mode). A frame holds
        /// frameSize − 256 (XDP_PACKET_HEADROOM) − `headroom` bytes of packet.
        public var frameSize: UInt32 = 4096
        /// Frames in the UMEM, shared by every socket's rings (64 MiB at 4 KiB).
        public var frameCount: UInt32 = 16384
        /// RX, TX and completion ring sizes (powers of two).
        public var ringSize: UInt32 = 4096
        /// Fill ring size (a power of two): twice the RX ring, so a reader that is descheduled for
        /// a moment finds its RX ring full before the kernel runs out of frames to fill (measured:
        /// with fill = RX the kernel dropped ~3 % at ~225 kpps on a busy machine, "fill ring empty").
        public var fillRingSize: UInt32 = 8192
        /// Extra headroom reserved in front of every received frame (the kernel already leaves 256).
        public var headroom: UInt32 = 0
        /// The receive queue to bind on every interface.
        public var queue: UInt32 = 0
        /// nil: zero-copy if the driver offers it, else copy; true/false: only that.
        public var zeroCopy: Bool? = nil
        /// `XDP_USE_NEED_WAKEUP`.
        public var needWakeup = true
        /// SO_BUSY_POLL in µs (nil: off), with SO_PREFER_BUSY_POLL.
        public var busyPollMicroseconds: Int? = nil
        public init() {}
    }

    /// One socket: an interface's queue.
    struct Socket {
        var handle: OpaquePointer
        var interface: Int32
        var queue: UInt32
        var fd: Int32
        /// TX descriptors gathered during one transmit() call.
        var pending: UnsafeMutablePointer<clvs_xsk_desc>
        var pendingCount: Int
    }

    /// Counters of the port (cumulative).
    public struct Statistics: Sendable, Equatable {
        /// Frames the kernel dropped: RX ring full.
        public var rxRingFull: UInt64 = 0
        /// Times a frame found the fill ring empty (those frames are in `rxDropped`).
        public var rxFillRingEmpty: UInt64 = 0
        /// Frames the kernel dropped otherwise: no fill-ring frame, too large for a frame, ….
        public var rxDropped: UInt64 = 0
        /// Invalid descriptors the kernel saw on RX / TX.
        public var rxInvalidDescriptors: UInt64 = 0
        public var txInvalidDescriptors: UInt64 = 0
        /// Frames not sent: the TX ring was full / no free UMEM frame for a copy / no socket on the
        /// egress interface / longer than a frame.
        public var txRingFull: UInt64 = 0
        public var txNoFrame: UInt64 = 0
        public var txNoSocket: UInt64 = 0
        public var txTooLong: UInt64 = 0
        /// Frames sent from their receive frame (in place) and copied into a free frame.
        public var txInPlace: UInt64 = 0
        public var txCopied: UInt64 = 0
        public init() {}
    }

    public let configuration: Configuration
    let area: UnsafeMutableRawPointer
    let areaBytes: Int
    let umem: OpaquePointer
    var sockets: [Socket] = []
    let frameShift: UInt64
    let frameMask: UInt64
    /// Per-frame state: 0 free (on the stack), 1 with the kernel (fill ring or TX ring), 2 held by
    /// the worker (received, not yet released or sent).
    let state: UnsafeMutablePointer<UInt8>
    let freeStack: UnsafeMutablePointer<UInt64>
    var freeCount = 0
    let held: UnsafeMutablePointer<UInt64>
    var heldCount = 0
    let descriptors: UnsafeMutablePointer<clvs_xsk_desc>
    let addresses: UnsafeMutablePointer<UInt64>
    var nextSocket = 0
    let epollFD: Int32
    var counts = Statistics()
    /// The program whose XSKMAP holds the sockets (nil in tests without one).
    let program: XDPProgram?
    /// True if every socket runs in zero-copy mode.
    public private(set) var isZeroCopy = false

    /// Opens one socket per interface (`(ifindex, name)`) on `configuration.queue`, sharing one
    /// UMEM, and inserts each into `program`'s XSKMAP. Needs CAP_NET_RAW/CAP_NET_ADMIN and the
    /// calling thread in the interfaces' namespace.
    public convenience init(
        interfaces: [(index: Int32, name: String)], program: XDPProgram?, configuration: Configuration = .init()
    ) throws(XDPError) {
        try self.init(
            queues: interfaces.map { ($0.index, $0.name, configuration.queue) }, program: program,
            configuration: configuration)
    }

    /// Opens one socket per `(ifindex, name, queue)`, sharing one UMEM (`configuration.queue` is
    /// not used), and inserts each into `program`'s XSKMAP.
    public init(
        queues interfaces: [(index: Int32, name: String, queue: UInt32)], program: XDPProgram?,
        configuration: Configuration = .init()
    ) throws(XDPError) {
        precondition(configuration.frameSize == 2048 || configuration.frameSize == 4096)
        precondition(!interfaces.isEmpty)
        self.configuration = configuration
        self.program = program
        frameShift = UInt64(configuration.frameSize.trailingZeroBitCount)
        frameMask = UInt64(configuration.frameSize) - 1
        areaBytes = Int(configuration.frameSize) * Int(configuration.frameCount)
        guard let m = mmap(nil, areaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            m != MAP_FAILED
        else { throw XDPError(.socket, errno: errno, "AF_XDP UMEM: mmap \(areaBytes) bytes: \(errorText(errno))") }
        area = m
        var err: Int32 = 0
        guard
            let u = clvs_xsk_umem_create(
                m, UInt64(areaBytes), configuration.frameSize, configuration.headroom, configuration.fillRingSize,
                configuration.ringSize, &err)
        else {
            munmap(m, areaBytes)
            throw .from(.socket, err, "AF_XDP UMEM of \(configuration.frameCount) frames")
        }
        umem = u
        let frames = Int(configuration.frameCount)
        state = .allocate(capacity: frames)
        state.initialize(repeating: 0, count: frames)
        freeStack = .allocate(capacity: frames)
        held = .allocate(capacity: frames)
        let ring = Int(configuration.ringSize)
        descriptors = .allocate(capacity: ring)
        addresses = .allocate(capacity: max(ring, frames))
        for i in 0..<frames { freeStack[i] = UInt64(frames - 1 - i) << frameShift }
        freeCount = frames
        epollFD = clvs_xsk_epoll_create()

        var zc = true
        do throws(XDPError) {
            for (index, name, queue) in interfaces {
                var c = configuration
                c.queue = queue
                let s = try Self.openSocket(u, name: name, c)
                sockets.append(
                    Socket(
                        handle: s.handle, interface: index, queue: queue, fd: clvs_xsk_fd(s.handle),
                        pending: .allocate(capacity: ring), pendingCount: 0))
                zc = zc && s.zeroCopy
                if let us = configuration.busyPollMicroseconds {
                    _ = clvs_xsk_busy_poll(s.handle, Int32(us), 64)
                }
                _ = clvs_xsk_epoll_add(epollFD, clvs_xsk_fd(s.handle))
                try program?.maps.insertSocket(interface: index, queue: queue, fd: clvs_xsk_fd(s.handle))
            }
        } catch {
            teardown()
            throw error
        }
        isZeroCopy = zc
        refill()
    }

    static func openSocket(_ umem: OpaquePointer, name: String, _ c: Configuration) throws(XDPError) -> (
        handle: OpaquePointer, zeroCopy: Bool
    ) {
        let wake: UInt16 = c.needWakeup ? UInt16(CLVS_XSK_USE_NEED_WAKEUP) : 0
        let modes: [UInt16] =
            switch c.zeroCopy {
            case nil: [UInt16(CLVS_XSK_ZEROCOPY), UInt16(CLVS_XSK_COPY)]
            case true?: [UInt16(CLVS_XSK_ZEROCOPY)]
            case false?: [UInt16(CLVS_XSK_COPY)]
            }
        var last: Int32 = 0
        for mode in modes {
            var err: Int32 = 0
            if let h = clvs_xsk_socket_create(umem, name, c.queue, c.ringSize, c.ringSize, mode | wake, &err) {
                return (h, clvs_xsk_zero_copy(h) != 0)
            }
            last = err
            if err == -ENODEV { break }
        }
        throw .from(last == -ENODEV ? .noInterface : .socket, last, "AF_XDP socket on \(name) queue \(c.queue)")
    }

    /// Set by the first `teardown`: an `init` that throws after every property is set runs
    /// `deinit` too, which must not free what the failed `init` already freed.
    private var tornDown = false

    private func teardown() {
        guard !tornDown else { return }
        tornDown = true
        for s in sockets {
            clvs_xsk_socket_delete(s.handle)
            s.pending.deallocate()
        }
        sockets.removeAll()
        _ = clvs_xsk_umem_delete(umem)
        munmap(area, areaBytes)
        state.deallocate()
        freeStack.deallocate()
        held.deallocate()
        descriptors.deallocate()
        addresses.deallocate()
        if epollFD >= 0 { close(epollFD) }
    }

    deinit { teardown() }

    /// The interfaces' sockets' descriptors (one socket: its own; several: an epoll set).
    public var pollDescriptor: Int32 { sockets.count == 1 ? sockets[0].fd : epollFD }

    /// The socket descriptor of `interface`, or -1.
    public func socketDescriptor(interface: Int32) -> Int32 {
        for s in sockets where s.interface == interface { return s.fd }
        return -1
    }

    @inline(__always)
    func frameIndex(_ addr: UInt64) -> Int { Int(truncatingIfNeeded: addr >> frameShift) }

    /// The most frames one socket's fill ring holds: a share of the UMEM that leaves as much again
    /// for frames in RX rings, held by the worker or being transmitted.
    var fillShare: Int {
        min(Int(configuration.fillRingSize), Int(configuration.frameCount) / (sockets.count &+ 1))
    }

    /// Completed transmissions back to the free stack.
    @inline(__always)
    func reapCompletions() {
        for s in sockets {
            let n = Int(clvs_xsk_complete(s.handle, addresses, configuration.ringSize))
            for i in 0..<n {
                let a = addresses[i] & ~frameMask
                state[frameIndex(a)] = 0
                freeStack[freeCount] = a
                freeCount &+= 1
            }
        }
    }

    /// Free frames to every socket's fill ring (split evenly), waking the driver if it asks. A
    /// socket's fill ring holds at most `fillShare` frames: the fill ring of an interface that
    /// receives little (the real servers' side of DR) would otherwise soak up the UMEM a frame at
    /// a time until the busy interface's kernel side finds its fill ring empty and drops.
    @inline(__always)
    func refill() {
        let each = max(1, freeCount / max(1, sockets.count))
        for s in sockets {
            let free = Int(clvs_xsk_fill_free(s.handle))
            let outstanding = Int(configuration.fillRingSize) &- free
            let want = min(free, max(0, fillShare &- outstanding), each, freeCount)
            if want > 0 {
                let base = freeCount &- want
                let put = Int(clvs_xsk_fill(s.handle, freeStack + base, UInt32(want)))
                for i in 0..<put { state[frameIndex(freeStack[base &+ i])] = 1 }
                // The frames not taken stay on the stack (the top `want − put` slots move down).
                if put < want {
                    for i in 0..<(want &- put) { freeStack[base &+ i] = freeStack[base &+ put &+ i] }
                }
                freeCount &-= put
            }
            if configuration.needWakeup { clvs_xsk_wake_fill(s.handle) }
        }
    }

    public func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        reapCompletions()
        refill()
        var n = 0
        let count = sockets.count
        var visited = 0
        while visited < count && n < capacity {
            let s = sockets[nextSocket]
            nextSocket = nextSocket &+ 1 == count ? 0 : nextSocket &+ 1
            visited &+= 1
            let want = UInt32(min(capacity &- n, Int(configuration.ringSize)))
            let got = Int(clvs_xsk_receive(s.handle, descriptors, want))
            for i in 0..<got {
                let d = descriptors[i]
                let chunk = d.addr & ~frameMask
                state[frameIndex(chunk)] = 2
                held[heldCount] = chunk
                heldCount &+= 1
                // No offload metadata comes with an AF_XDP frame (see ReceivedFrame.checksumStateUnknown).
                frames[n] = ReceivedFrame(
                    buffer: area + Int(truncatingIfNeeded: chunk), capacity: Int(configuration.frameSize),
                    start: Int(truncatingIfNeeded: d.addr & frameMask), length: Int(d.len), interface: s.interface,
                    offloadFlags: ReceivedFrame.checksumStateUnknownFlag)
                n &+= 1
            }
        }
        return n
    }

    /// True when a socket's RX ring holds a frame (the worker spins on it for a moment after a batch).
    public var framesWaiting: Bool {
        for s in sockets where clvs_xsk_rx_ready(s.handle) != 0 { return true }
        return false
    }

    /// True when a socket's RX ring holds `eighths`/8 of its size or more (its producer index
    /// against the frames taken).
    public func isBacklogged(eighths: Int) -> Bool {
        let k = UInt32(configuration.ringSize / 8) * UInt32(min(max(eighths, 1), 8))
        for s in sockets where clvs_xsk_rx_ready(s.handle) >= k { return true }
        return false
    }

    /// Has the XDP program drop this share of the SYNs to services on this port's queues (in
    /// 1/65,536ths; 0 steers them all again).
    public func setShedding(_ share: UInt32) {
        guard let program else { return }
        for s in sockets { try? program.maps.setShedding(interface: s.interface, queue: s.queue, share: share) }
    }

    /// The interfaces this port can transmit on.
    public var interfaces: Set<Int32> { Set(sockets.map(\.interface)) }

    /// Removes this port's sockets from `program`'s XSKMAP (before the port is closed).
    public func removeSockets(from program: XDPProgram) {
        for s in sockets {
            program.maps.removeSocket(interface: s.interface, queue: s.queue)
            try? program.maps.setShedding(interface: s.interface, queue: s.queue, share: 0)
        }
    }

    public func release() {
        for i in 0..<heldCount {
            let a = held[i]
            let idx = frameIndex(a)
            if state[idx] == 2 {
                state[idx] = 0
                freeStack[freeCount] = a
                freeCount &+= 1
            }
        }
        heldCount = 0
        refill()
    }

    public func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        reapCompletions()
        let base = UInt(bitPattern: area)
        let end = base &+ UInt(areaBytes)
        let size = UInt64(configuration.frameSize)
        for i in 0..<count {
            let f = frames[i]
            var si = -1
            for j in 0..<sockets.count where sockets[j].interface == f.ifindex {
                si = j
                break
            }
            guard si >= 0 else {
                counts.txNoSocket &+= 1
                continue
            }
            let p = UInt(bitPattern: f.data)
            let len = UInt64(f.len)
            var addr: UInt64 = 0
            if p >= base && p < end {
                addr = UInt64(p &- base)
                let chunk = addr & ~frameMask
                if state[frameIndex(chunk)] == 2 && (addr & frameMask) &+ len <= size {
                    state[frameIndex(chunk)] = 1
                    counts.txInPlace &+= 1
                } else {
                    addr = copyIntoFreeFrame(f.data, len)
                }
            } else {
                addr = copyIntoFreeFrame(f.data, len)
            }
            if addr == UInt64.max { continue }
            sockets[si].pending[sockets[si].pendingCount] = clvs_xsk_desc(addr: addr, len: f.len, options: 0)
            sockets[si].pendingCount &+= 1
            if sockets[si].pendingCount == Int(configuration.ringSize) { flush(si) }
        }
        var sent = 0
        for j in 0..<sockets.count { sent &+= flush(j) }
        return sent
    }

    /// A free frame holding a copy of `len` bytes at `data` (after 256 bytes of headroom), or
    /// UInt64.max (counted).
    @inline(__always)
    func copyIntoFreeFrame(_ data: UnsafeRawPointer?, _ len: UInt64) -> UInt64 {
        guard let data, len &+ 256 <= UInt64(configuration.frameSize) else {
            counts.txTooLong &+= 1
            return UInt64.max
        }
        if freeCount == 0 { reapCompletions() }
        guard freeCount > 0 else {
            counts.txNoFrame &+= 1
            return UInt64.max
        }
        freeCount &-= 1
        let chunk = freeStack[freeCount]
        state[frameIndex(chunk)] = 1
        let addr = chunk &+ 256
        (area + Int(truncatingIfNeeded: addr)).copyMemory(from: data, byteCount: Int(len))
        counts.txCopied &+= 1
        return addr
    }

    /// Queues socket `j`'s pending descriptors; what the ring refuses is counted and its frames freed.
    @discardableResult
    func flush(_ j: Int) -> Int {
        let n = sockets[j].pendingCount
        guard n > 0 else { return 0 }
        sockets[j].pendingCount = 0
        let put = Int(clvs_xsk_transmit(sockets[j].handle, sockets[j].pending, UInt32(n)))
        if put < n {
            counts.txRingFull &+= UInt64(n &- put)
            for i in put..<n {
                let a = sockets[j].pending[i].addr & ~frameMask
                state[frameIndex(a)] = 0
                freeStack[freeCount] = a
                freeCount &+= 1
            }
        }
        return put
    }

    /// The port's counters with the kernel's XDP_STATISTICS summed over the sockets.
    public var statistics: Statistics {
        var s = counts
        var k = clvs_xsk_stats()
        for sock in sockets where clvs_xsk_statistics(sock.handle, &k) == 0 {
            s.rxRingFull &+= k.rx_ring_full
            s.rxFillRingEmpty &+= k.rx_fill_ring_empty_descs
            s.rxDropped &+= k.rx_dropped
            s.rxInvalidDescriptors &+= k.rx_invalid_descs
            s.txInvalidDescriptors &+= k.tx_invalid_descs
        }
        return s
    }

    /// Frames the kernel dropped on the way in (RX ring full, no fill frame, too large).
    public var ringDrops: UInt64 {
        let s = statistics
        return s.rxRingFull &+ s.rxDropped
    }

    /// Frames free for reception or copies (for tests: every frame comes back).
    public var freeFrames: Int { freeCount }
}
