// A NETLINK_ROUTE socket: requests with acknowledgements, dumps, events; and building requests.
import CLVSLinux
import Glibc
import LVSCore
import Synchronization

/// One rtnetlink request being built: the header, a fixed part, then attributes.
public struct RTNetlinkRequest {
    public private(set) var bytes: [UInt8]

    public init(type: UInt16, flags: UInt16, sequence: UInt32) {
        bytes = []
        bytes.reserveCapacity(128)
        append32(0)  // length, set by `message`
        append16(type)
        append16(flags)
        append32(sequence)
        append32(0)  // port id: the kernel fills it
    }

    public mutating func append(_ data: [UInt8]) { bytes += data }
    public mutating func append16(_ v: UInt16) { withUnsafeBytes(of: v) { bytes += $0 } }
    public mutating func append32(_ v: UInt32) { withUnsafeBytes(of: v) { bytes += $0 } }

    /// Appends an rtattr: length, type, data, padding to 4 bytes.
    public mutating func attribute(_ type: UInt16, _ data: [UInt8]) {
        RTNetlink.appendAttribute(type, data, to: &bytes)
    }

    /// The finished message (its length filled in).
    public var message: [UInt8] {
        var m = bytes
        withUnsafeBytes(of: UInt32(m.count)) { for i in 0..<4 { m[i] = $0[i] } }
        return m
    }

    /// A dump request for every object of `type` (RTM_GETLINK, GETADDR, GETROUTE, GETNEIGH) with a
    /// zeroed fixed header of `fixed` bytes whose first byte is `family`.
    public static func dump(type: UInt16, family: UInt8, fixed: Int, sequence: UInt32) -> RTNetlinkRequest {
        var r = RTNetlinkRequest(type: type, flags: RTNetlink.fRequest | RTNetlink.fDump, sequence: sequence)
        r.append([family] + [UInt8](repeating: 0, count: fixed - 1))
        return r
    }

    /// RTM_NEWADDR / RTM_DELADDR of `address` on interface `index`, as `ip addr add|del` sends it:
    /// ifaddrmsg, then IFA_LOCAL, IFA_ADDRESS, and for IPv4 IFA_BROADCAST and IFA_LABEL if given.
    public static func address(
        _ type: UInt16, flags: UInt16, sequence: UInt32, address: IPAddress, prefixLength: Int, scope: UInt8,
        index: Int32, broadcast: IPAddress? = nil, label: String? = nil
    ) -> RTNetlinkRequest {
        var r = RTNetlinkRequest(type: type, flags: RTNetlink.fRequest | flags, sequence: sequence)
        r.append([address.family.rawValue, UInt8(prefixLength), 0, scope])
        r.append32(UInt32(bitPattern: index))
        let bytes = address.bytes
        r.attribute(2, bytes)  // IFA_LOCAL
        r.attribute(1, bytes)  // IFA_ADDRESS
        if address.family == .inet {
            if let broadcast { r.attribute(4, broadcast.bytes) }  // IFA_BROADCAST
            if let label { r.attribute(3, Array(label.utf8) + [0]) }  // IFA_LABEL
        }
        return r
    }

    /// RTM_NEWNEIGH with NTF_USE for `address` on `index`: the kernel creates the entry and
    /// starts ARP / neighbour discovery as if a packet waited for it.
    public static func resolveNeighbor(index: Int32, address: IPAddress, sequence: UInt32) -> RTNetlinkRequest {
        var r = RTNetlinkRequest(
            type: RTNetlink.newNeigh, flags: RTNetlink.fRequest | RTNetlink.fCreate, sequence: sequence)
        // ndmsg: family, pad, pad, ifindex, state NUD_NONE, flags NTF_USE, type
        r.append([address.family.rawValue, 0, 0, 0])
        r.append32(UInt32(bitPattern: index))
        r.append16(0)
        r.append([0x01, 0])
        r.attribute(1, address.bytes)  // NDA_DST
        return r
    }
}

/// A NETLINK_ROUTE socket. It belongs to the network namespace of the thread that opened it,
/// whichever thread uses it later. Requests and dumps (on a blocking socket) are serialised;
/// an event socket (`groups`) is read with `receive`.
public final class RTNetlinkSocket: @unchecked Sendable {
    public let descriptor: Int32
    /// The last sequence number; held while a request waits for its answer.
    private let sequence = Mutex<UInt32>(1)

    /// Opens a socket subscribed to `groups` (none: requests only), blocking unless
    /// `nonBlocking`, with a receive buffer of `receiveBuffer` bytes when given.
    public init(groups: [RTNetlink.Group] = [], nonBlocking: Bool = false, receiveBuffer: Int32 = 0)
        throws(PlatformError)
    {
        let fd = clvs_netlink_open(RTNetlink.mask(groups), nonBlocking ? 1 : 0, receiveBuffer)
        guard fd >= 0 else { throw .system(.netlink, "netlink socket") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// A fresh sequence number.
    public func nextSequence() -> UInt32 {
        sequence.withLock {
            $0 &+= 1
            return $0
        }
    }

    /// Sends one message; throws on failure.
    public func send(_ message: [UInt8]) throws(PlatformError) {
        let n = message.withUnsafeBytes { clvs_netlink_send(descriptor, $0.baseAddress, $0.count) }
        if n < 0 { throw .system(.netlink, "netlink send") }
    }

    /// Receives one datagram into `buffer`: its length, 0 if none is waiting (`wait` false), or
    /// -1 on error (errno; ENOBUFS means events were lost: dump again).
    public func receive(into buffer: UnsafeMutableRawBufferPointer, wait: Bool = true) -> Int {
        let n = recv(descriptor, buffer.baseAddress, buffer.count, wait ? 0 : Int32(MSG_DONTWAIT))
        if n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK) { return 0 }
        return n
    }

    /// Sends the request `make` builds for a sequence number (with NLM_F_ACK among its flags)
    /// and waits for the kernel's answer; returns its errno (0 = done). Blocking socket only.
    public func request(_ make: (UInt32) -> RTNetlinkRequest) throws(PlatformError) -> Int32 {
        try exchange(make) { type, payload in
            type == RTNetlink.error ? .finished(RTNetlink.errorNumber(payload)) : .more
        }
    }

    /// Dumps every object of `type` (a zeroed fixed header of `fixed` bytes) and calls `each`
    /// with the type and payload of each answer. Blocking socket only.
    public func dump(type: UInt16, fixed: Int, _ each: (UInt16, UnsafeRawBufferPointer) -> Void)
        throws(PlatformError)
    {
        let e = try exchange {
            RTNetlinkRequest.dump(type: type, family: 0, fixed: fixed, sequence: $0)
        } answer: { t, payload in
            if t == RTNetlink.done { return .finished(0) }
            if t == RTNetlink.error { return .finished(RTNetlink.errorNumber(payload)) }
            each(t, payload)
            return .more
        }
        if e != 0 { throw PlatformError(.netlink, "netlink dump: error \(e)", errno: e) }
    }

    enum Answer {
        case more
        case finished(Int32)
    }

    /// One request and its answers (messages of its sequence number), under the lock.
    private func exchange(
        _ make: (UInt32) -> RTNetlinkRequest,
        answer: (UInt16, UnsafeRawBufferPointer) -> Answer
    ) throws(PlatformError) -> Int32 {
        try sequence.withLock { (seq: inout UInt32) throws(PlatformError) -> Int32 in
            seq &+= 1
            let s = seq
            try send(make(s).message)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
            defer { buffer.deallocate() }
            while true {
                let n = receive(into: buffer)
                if n < 0 { throw .system(.netlink, "netlink recv") }
                var result: Int32?
                RTNetlink.forEachMessage(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { type, mseq, payload in
                    guard result == nil, mseq == s else { return }
                    if case .finished(let e) = answer(type, payload) { result = e }
                }
                if let result { return result }
            }
        }
    }
}

extension RTNetlinkSocket {
    /// Every named interface of the namespace (RTM_GETLINK dump).
    public func links() throws(PlatformError) -> [RTNetlinkLink] {
        var out: [RTNetlinkLink] = []
        try dump(type: RTNetlink.getLink, fixed: 16) { type, payload in
            if type == RTNetlink.newLink, let l = RTNetlinkLink(payload), l.name != nil { out.append(l) }
        }
        return out
    }

    /// Every address of the namespace (RTM_GETADDR dump).
    public func addresses() throws(PlatformError) -> [RTNetlinkAddress] {
        var out: [RTNetlinkAddress] = []
        try dump(type: RTNetlink.getAddr, fixed: 8) { type, payload in
            if type == RTNetlink.newAddr, let a = RTNetlinkAddress(payload) { out.append(a) }
        }
        return out
    }

    /// The index of interface `name`.
    public func index(of name: String) throws(PlatformError) -> Int32 {
        guard let l = try links().first(where: { $0.name == name }) else {
            throw PlatformError(.noSuchInterface, "interface \(name) does not exist")
        }
        return l.index
    }

    /// Link changes waiting on an event socket (opened with `groups: [.link]`); blocks until one
    /// datagram arrives.
    public func receiveLinkChanges() throws(PlatformError) -> [RTNetlinkLink] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        let n = receive(into: buffer)
        if n < 0 { throw .system(.netlink, "netlink recv") }
        var out: [RTNetlinkLink] = []
        RTNetlink.forEachMessage(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { type, _, payload in
            if type == RTNetlink.newLink, let l = RTNetlinkLink(payload), l.name != nil { out.append(l) }
        }
        return out
    }
}
