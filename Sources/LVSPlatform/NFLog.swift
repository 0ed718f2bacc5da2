// nfnetlink_log: a socket bound to one log group, its configuration messages and the packets it reads.
import CLVSLinux
import Glibc

/// nfnetlink_log (NFULNL) — how the kernel hands a logged packet, whole, to user space.
///
/// ```
///  nft: meta mark 1 log group G drop ─▶ nfnetlink_log ─▶ NETLINK_NETFILTER socket bound to G
///  | nlmsghdr: type 4<<8|0 (PACKET) | nfgenmsg: family, version 0, res_id G (be16) | attributes… |
///  attributes (integers big-endian): PACKET_HDR 1 { hw_protocol be16, hook u8, pad }, MARK 2,
///  IFINDEX_INDEV 4, HWADDR 8, PAYLOAD 9 (the IP packet), HWTYPE 15, HWHEADER 16, HWLEN 17
/// ```
public enum NFLog {
    static let subsystem: UInt16 = 4  // NFNL_SUBSYS_ULOG
    static let packetMessage: UInt16 = subsystem << 8 | 0  // NFULNL_MSG_PACKET
    static let configMessage: UInt16 = subsystem << 8 | 1  // NFULNL_MSG_CONFIG

    /// NFULNL_CFG_CMD_BIND / _UNBIND.
    enum Command: UInt8 {
        case bind = 1
        case unbind = 2
    }

    /// A config message: a command (bind, unbind) or, with none, the copy mode (the whole
    /// packet up to `copyRange`), the queue threshold (1: each packet sent at once) and the flush
    /// timeout (0). The buffer size stays the kernel's (a larger one is allocated per packet).
    static func config(group: UInt16, command: Command?, copyRange: UInt32 = 0xFFFF, sequence: UInt32) -> [UInt8] {
        var a: [UInt8] = []
        if let command {
            RTNetlink.appendAttribute(1, [command.rawValue], to: &a)  // NFULA_CFG_CMD
        } else {
            RTNetlink.appendAttribute(2, bigEndian(copyRange) + [2, 0], to: &a)  // NFULA_CFG_MODE: COPY_PACKET
            RTNetlink.appendAttribute(4, bigEndian(UInt32(0)), to: &a)  // NFULA_CFG_TIMEOUT (1/100 s)
            RTNetlink.appendAttribute(5, bigEndian(UInt32(1)), to: &a)  // NFULA_CFG_QTHRESH
        }
        var m = RTNetlinkRequest(type: configMessage, flags: RTNetlink.fRequest | RTNetlink.fAck, sequence: sequence)
        m.append([UInt8(AF_UNSPEC), 0, UInt8(group >> 8), UInt8(group & 0xFF)])
        m.append(a)
        return m.message
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    /// One logged packet, read in place (valid as long as the buffer it was read from).
    public struct Packet {
        /// skb->protocol (0x0800, 0x86DD).
        public var hardwareProtocol: UInt16 = 0
        public var mark: UInt32 = 0
        /// The interface it came in on (0: none).
        public var inputInterface: Int32 = 0
        /// The link-layer header as received (an Ethernet header: 14 bytes), if the kernel gave it.
        public var hardwareHeader: UnsafeRawBufferPointer?
        /// The sender's hardware address (6 bytes for Ethernet), if the kernel gave it.
        public var hardwareAddress: UnsafeRawBufferPointer?
        /// The IP packet.
        public var payload: UnsafeRawBufferPointer?
    }

    /// The packet of an NFULNL_MSG_PACKET message's payload (after the nlmsghdr), or nil if it
    /// has none. Attributes cut short end the walk; unknown ones are skipped.
    public static func packet(_ message: UnsafeRawBufferPointer) -> Packet? {
        guard message.count >= 4, let base = message.baseAddress else { return nil }
        var p = Packet()
        var off = 4  // nfgenmsg
        while off + 4 <= message.count {
            let len = Int(base.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            let type = base.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self) & 0x3FFF
            guard len >= 4, off + len <= message.count else { break }
            let data = UnsafeRawBufferPointer(start: base + off + 4, count: len - 4)
            switch type {
            case 1 where data.count >= 2: p.hardwareProtocol = be16(data)
            case 2 where data.count >= 4: p.mark = be32(data)
            case 4 where data.count >= 4: p.inputInterface = Int32(bitPattern: be32(data))
            case 8 where data.count >= 4:
                let n = min(Int(be16(data)), data.count - 4)
                p.hardwareAddress = UnsafeRawBufferPointer(rebasing: data[4..<(4 + n)])
            case 9: p.payload = data
            case 16: p.hardwareHeader = data
            default: break
            }
            off += (len + 3) & ~3
        }
        return p.payload == nil ? nil : p
    }

    @inline(__always) static func be16(_ b: UnsafeRawBufferPointer) -> UInt16 { UInt16(b[0]) << 8 | UInt16(b[1]) }
    @inline(__always) static func be32(_ b: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }
}

/// A NETLINK_NETFILTER socket bound to one nfnetlink_log group, read without blocking. The
/// group is the kernel's per network namespace: one listener each (binding a group another
/// socket holds fails with EPERM).
public final class NFLogSocket {
    public let descriptor: Int32
    public let group: UInt16
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes of the last datagram read, and how far they were handed out.
    private var filled = 0
    private var offset = 0
    /// Datagrams the kernel could not queue (the socket's buffer was full: ENOBUFS).
    public private(set) var overruns: UInt64 = 0

    /// Opens the socket and binds `group`, copying whole packets (up to 64 KiB) at once.
    public init(group: UInt16, receiveBuffer: Int32 = 8 << 20) throws(PlatformError) {
        let fd = clvs_nfnetlink_open(receiveBuffer)
        guard fd >= 0 else { throw .system(.nftables, "nfnetlink_log socket") }
        descriptor = fd
        self.group = group
        buffer = .allocate(byteCount: 1 << 18, alignment: 8)
        // A refusal throws with every property set: deinit closes the socket and frees the buffer.
        try request(
            NFLog.config(group: group, command: .bind, sequence: 1), sequence: 1, what: "bind log group \(group)")
        try request(
            NFLog.config(group: group, command: nil, sequence: 2), sequence: 2, what: "configure log group \(group)")
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        Glibc.close(descriptor)
        buffer.deallocate()
    }

    /// Sends a config request and waits for its acknowledgement (the answer with its sequence
    /// number; anything else read meanwhile is dropped).
    private func request(_ message: [UInt8], sequence: UInt32, what: String) throws(PlatformError) {
        let sent = message.withUnsafeBytes { clvs_netlink_send(descriptor, $0.baseAddress, $0.count) }
        guard sent == message.count else { throw .system(.nftables, what) }
        while true {
            var p = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 5000) == 1 else { throw PlatformError(.nftables, "\(what): no answer", errno: ETIMEDOUT) }
            let n = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if n < 0 && (errno == EINTR || errno == ENOBUFS) { continue }
            guard n > 0 else { throw .system(.nftables, what) }
            var answer: Int32?
            RTNetlink.forEachMessage(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { type, seq, payload in
                if type == RTNetlink.error && seq == sequence { answer = RTNetlink.errorNumber(payload) }
            }
            guard let answer else { continue }
            if answer != 0 { throw PlatformError(.nftables, "\(what): \(errorText(answer))", errno: answer) }
            return
        }
    }

    /// True while packets of the last datagram wait to be handed out.
    public var hasPending: Bool { offset < filled }

    /// Hands out the next logged packet, reading a datagram when the last one is used up; nil
    /// when none waits. The packet's memory is valid until the next call that reads.
    public func next() -> NFLog.Packet? {
        while true {
            while offset + 16 <= filled {
                let base = UnsafeRawPointer(buffer.baseAddress!)
                let len = Int(base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                guard len >= 16, offset + len <= filled else {
                    offset = filled
                    break
                }
                let type = base.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
                let message = UnsafeRawBufferPointer(start: base + offset + 16, count: len - 16)
                offset += (len + 3) & ~3
                if type == NFLog.packetMessage, let p = NFLog.packet(message) { return p }
            }
            let n = recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n < 0 {
                if errno == ENOBUFS {
                    overruns &+= 1
                    continue
                }
                return nil
            }
            guard n > 0 else { return nil }
            filled = n
            offset = 0
        }
    }
}
