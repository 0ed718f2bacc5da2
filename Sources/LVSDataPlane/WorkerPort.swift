// One worker's packet I/O in XDP mode: its AF_XDP sockets and the AF_PACKET port, behind one PacketPort.
import CLVSLinux
import Glibc

/// The ports of one worker, as one `PacketPort`.
///
/// ```
///  AF_XDP sockets (this worker's interface queues) ─┐
///  AF_PACKET ring (lo, interfaces without XDP) ─────┴▶ receive ─▶ worker
///  worker ─▶ transmit: egress with a socket of this worker ─▶ AF_XDP TX (in place)
///                      any other egress (lo, bridges, another worker's queue) ─▶ AF_PACKET sendmmsg
/// ```
public final class WorkerPort: PacketPort {
    let xdp: PacketPort?
    let packet: AFPacketPort
    /// Interfaces `xdp` transmits on, by ifindex.
    let xdpTransmit: [Bool]
    let epoll: Int32
    let toXDP: UnsafeMutablePointer<TransmitFrame>
    let toPacket: UnsafeMutablePointer<TransmitFrame>
    static let capacity = 1024

    /// `xdp` transmits on `xdpInterfaces`; `packet` receives what its filter lets through and
    /// transmits on every other interface.
    public init(xdp: PacketPort?, xdpInterfaces: Set<Int32>, packet: AFPacketPort) {
        self.xdp = xdp
        self.packet = packet
        let n = Int(xdpInterfaces.max() ?? 0) + 1
        xdpTransmit = (0..<n).map { xdpInterfaces.contains(Int32($0)) }
        epoll = clvs_epoll_pair(xdp?.pollDescriptor ?? -1, packet.pollDescriptor)
        toXDP = .allocate(capacity: Self.capacity)
        toPacket = .allocate(capacity: Self.capacity)
    }

    deinit {
        if epoll >= 0 { close(epoll) }
        toXDP.deallocate()
        toPacket.deallocate()
    }

    public var pollDescriptor: Int32 { epoll }

    public func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        var n = xdp?.receive(into: frames, capacity: capacity) ?? 0
        if n < capacity { n += packet.receive(into: frames + n, capacity: capacity - n) }
        return n
    }

    public func release() {
        xdp?.release()
        packet.release()
    }

    public func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        var sent = 0
        var i = 0
        while i < count {
            var nx = 0
            var np = 0
            while i < count && nx < Self.capacity && np < Self.capacity {
                let f = frames[i]
                let x = Int(f.ifindex)
                if xdp != nil && x >= 0 && x < xdpTransmit.count && xdpTransmit[x] {
                    toXDP[nx] = f
                    nx += 1
                } else {
                    toPacket[np] = f
                    np += 1
                }
                i += 1
            }
            if nx > 0, let xdp { sent += xdp.transmit(toXDP, count: nx) }
            if np > 0 { sent += packet.transmit(toPacket, count: np) }
        }
        return sent
    }

    public var ringDrops: UInt64 { (xdp?.ringDrops ?? 0) &+ packet.ringDrops }

    public var framesWaiting: Bool { (xdp?.framesWaiting ?? false) || packet.framesWaiting }

    public func setShedding(_ share: UInt32) { xdp?.setShedding(share) }

    public var packetRing: AFPacketPort? { packet }

    public func isBacklogged(eighths: Int) -> Bool {
        (xdp?.isBacklogged(eighths: eighths) ?? false) || packet.isBacklogged(eighths: eighths)
    }
}
