// The packet I/O seam: frames in (with their offload metadata) and frames out, behind a protocol.
import CLVSLinux
import Glibc

/// A received frame, in memory the port owns until `PacketPort.release()`.
///
/// ```
///  buffer            start                    start+length
///  |<-- headroom -->|[eth][ip][l4 ...]        |
/// ```
/// The headroom in front of the frame may be written (tunnel encapsulation grows into it).
public struct ReceivedFrame {
    public var buffer: UnsafeMutableRawPointer
    /// Bytes usable from `buffer` (headroom + frame).
    public var capacity: Int
    public var start: Int
    /// Bytes captured.
    public var length: Int
    /// The interface it arrived on.
    public var interface: Int32
    /// PACKET_HOST (0), PACKET_BROADCAST (1), PACKET_MULTICAST (2), PACKET_OTHERHOST (3), ...
    public var packetType: UInt8
    /// virtio_net_hdr flags: bit 0 NEEDS_CSUM (a partial checksum to complete), bit 1 DATA_VALID.
    public var offloadFlags: UInt8
    /// virtio_net_hdr gso_type: 0 none, 1 TCPv4, 4 TCPv6, 3 UDP (with 0x80 ECN).
    public var gsoType: UInt8
    /// The segment payload size of a GSO super-frame.
    public var gsoSize: UInt16
    /// Frame-relative start of the checksummed region and the checksum field's offset in it.
    public var checksumStart: UInt16
    public var checksumOffset: UInt16
    /// The firewall mark the kernel gave the packet (a logged packet: `FirewallMarkPort`); 0 for
    /// frames read from a ring or an AF_XDP socket, which come before any mark is set.
    public var firewallMark: UInt32
    /// True for a copy the kernel also handles (the AF_PACKET tap); false for a frame lvsd alone
    /// has (AF_XDP, a logged packet whose original the kernel dropped).
    public var kernelHasCopy: Bool

    public init(
        buffer: UnsafeMutableRawPointer, capacity: Int, start: Int, length: Int, interface: Int32,
        packetType: UInt8 = 0, offloadFlags: UInt8 = 0, gsoType: UInt8 = 0, gsoSize: UInt16 = 0,
        checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0, firewallMark: UInt32 = 0, kernelHasCopy: Bool = false
    ) {
        self.buffer = buffer
        self.capacity = capacity
        self.start = start
        self.length = length
        self.interface = interface
        self.packetType = packetType
        self.offloadFlags = offloadFlags
        self.gsoType = gsoType
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
        self.firewallMark = firewallMark
        self.kernelHasCopy = kernelHasCopy
    }

    /// `offloadFlags` bit of a frame whose checksum state nobody reported (AF_XDP): a TCP/UDP
    /// checksum field that holds only the pseudo-header sum is taken for a partial checksum
    /// (`DataPlaneWorker.completeIfPartial`).
    public static let checksumStateUnknownFlag: UInt8 = 0x80

    /// True for a frame read without offload metadata (AF_XDP): see `checksumStateUnknownFlag`.
    @inlinable public var checksumStateUnknown: Bool { offloadFlags & Self.checksumStateUnknownFlag != 0 }

    /// True if the frame carries a partial checksum that must be completed before it leaves.
    @inlinable public var needsChecksum: Bool { offloadFlags & 1 != 0 }
    /// True for a GSO super-frame.
    @inlinable public var isGSO: Bool { gsoType & 0x7F != 0 }
}

/// A frame to send: bytes, length, interface (`clvs_dp_tx`).
public typealias TransmitFrame = clvs_dp_tx

/// Packet input and output. The AF_PACKET implementation reads a TPACKET_V2 ring and sends with
/// sendmmsg; tests use a fake that queues frames and records what is sent. A later AF_XDP port
/// implements the same protocol.
public protocol PacketPort: AnyObject {
    /// A descriptor that becomes readable when frames wait (-1 if the port cannot be polled).
    var pollDescriptor: Int32 { get }
    /// Fills up to `capacity` descriptors without blocking. The frames stay valid (and writable)
    /// until `release()`.
    func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int
    /// Gives the memory of the frames returned so far back to the port.
    func release()
    /// Sends frames; returns how many were handed to the kernel.
    func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int
    /// Frames the kernel dropped because the ring was full (cumulative).
    var ringDrops: UInt64 { get }
    /// True when a frame waits (cheap: the worker spins on it for a moment after a batch).
    var framesWaiting: Bool { get }
    /// True when, after the batch just read, frames still waiting fill at least `eighths`/8 of a
    /// receive ring (a load or two: the worker asks after every full batch, and sheds new
    /// connections while it is this far behind).
    func isBacklogged(eighths: Int) -> Bool
    /// Tells the port's kernel side which share of new connections' SYNs to drop before they
    /// reach the worker (`ShedShare`: 0 none … 65,536 every one), where it can (the XDP program).
    /// The worker sheds what reaches it while it is behind either way.
    func setShedding(_ share: UInt32)
    /// The AF_PACKET ring this port reads, itself or behind it (nil for none): its interface
    /// filter grows when an interface appears after start (`adoptLateInterfaces`).
    var packetRing: AFPacketPort? { get }
}

extension PacketPort {
    public var framesWaiting: Bool { false }
    public func isBacklogged(eighths: Int) -> Bool { false }
    public func setShedding(_ share: UInt32) {}
    public var packetRing: AFPacketPort? { nil }
}

/// Shares of new connections' SYNs dropped by a port's kernel side, in 1/65,536ths.
public enum ShedShare {
    public static let none: UInt32 = 0
    public static let all: UInt32 = 65_536
}
