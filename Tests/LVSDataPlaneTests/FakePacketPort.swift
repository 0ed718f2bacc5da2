// A packet port that queues frames given by a test and records what the worker sends.
import LVSCore
import LVSDataPlane
import LVSPacket

/// Frames in from the test, frames out recorded; memory with headroom like the ring's.
final class FakePacketPort: PacketPort {
    struct Sent: Equatable {
        var bytes: [UInt8]
        var interface: Int32
    }
    var pollDescriptor: Int32 { -1 }
    var ringDrops: UInt64 { 0 }
    private var queued:
        [(
            bytes: [UInt8], interface: Int32, meta: (UInt8, UInt8, UInt8, UInt16, UInt16, UInt16),
            mark: UInt32, copy: Bool
        )] = []
    private var buffers: [UnsafeMutableRawPointer] = []
    var sent: [Sent] = []
    static let headroom = 128
    /// The receive ring the fake stands for: frames still queued fill it (`isBacklogged`).
    var ringSize = 4096

    deinit { for b in buffers { b.deallocate() } }

    /// Queues a frame arriving on `interface`, with virtio_net_hdr metadata if given; `firewallMark`
    /// as a logged packet has it, `kernelHasCopy` as the AF_PACKET tap's frames have it.
    func inject(
        _ bytes: [UInt8], interface: Int32, packetType: UInt8 = 0, offloadFlags: UInt8 = 0, gsoType: UInt8 = 0,
        gsoSize: UInt16 = 0, checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0, firewallMark: UInt32 = 0,
        kernelHasCopy: Bool = false
    ) {
        queued.append(
            (
                bytes, interface, (packetType, offloadFlags, gsoType, gsoSize, checksumStart, checksumOffset),
                firewallMark, kernelHasCopy
            ))
    }

    func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        var n = 0
        while n < capacity && !queued.isEmpty {
            let q = queued.removeFirst()
            let cap = Self.headroom + q.bytes.count
            let b = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
            buffers.append(b)
            q.bytes.withUnsafeBytes { (b + Self.headroom).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            frames[n] = ReceivedFrame(
                buffer: b, capacity: cap, start: Self.headroom, length: q.bytes.count, interface: q.interface,
                packetType: q.meta.0, offloadFlags: q.meta.1, gsoType: q.meta.2, gsoSize: q.meta.3,
                checksumStart: q.meta.4, checksumOffset: q.meta.5, firewallMark: q.mark, kernelHasCopy: q.copy)
            n += 1
        }
        return n
    }

    func release() {}

    func isBacklogged(eighths: Int) -> Bool { queued.count * 8 >= ringSize * eighths }

    /// What the worker told the port's kernel side (`setShedding`), in order.
    var sheddingChanges: [UInt32] = []
    func setShedding(_ share: UInt32) { sheddingChanges.append(share) }

    func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        for i in 0..<count {
            let f = frames[i]
            let bytes = Array(UnsafeRawBufferPointer(start: f.data, count: Int(f.len)))
            sent.append(Sent(bytes: bytes, interface: f.ifindex))
        }
        return count
    }

    func takeSent() -> [Sent] {
        defer { sent = [] }
        return sent
    }
}

/// The IPVS table without a daemon around it.
final class FakeOwner: IPVSOwner, @unchecked Sendable {
    let ipvs = IPVS()
    func withIPVS(_ body: (IPVS) -> Void) { body(ipvs) }
}
