// A NETLINK_NETFILTER socket: nf_tables transactions with their errors, and table look-ups.
import CLVSLinux
import Glibc
import Synchronization

/// A NETLINK_NETFILTER socket for nf_tables. It belongs to the network namespace of the thread
/// that opened it. Tables created with `ownedBySocket` live as long as this socket: `close()`,
/// or the process ending in any way, deletes them (the kernel does it).
///
/// ```
///  apply: send [BATCH_BEGIN … BATCH_END] ─▶ kernel: all or nothing, NLMSG_ERROR per failing message
///         send GETGEN ─▶ its answer comes last: every error of the batch has arrived before it
/// ```
public final class NFTablesSocket: @unchecked Sendable {
    /// The socket; -1 once closed. Guarded by `state`.
    private let state: Mutex<(descriptor: Int32, sequence: UInt32)>

    /// Opens the socket.
    public init() throws(PlatformError) {
        let fd = clvs_nfnetlink_open(1 << 20)
        guard fd >= 0 else { throw .system(.nftables, "nf_tables netlink socket") }
        state = Mutex((fd, UInt32(truncatingIfNeeded: time(nil))))
    }

    deinit { close() }

    /// The socket's descriptor (-1 once closed): a child that inherits it keeps the tables this
    /// socket owns alive until it exits too.
    public var descriptor: Int32 { state.withLock { $0.descriptor } }

    /// Closes the socket (tables it owns go with it).
    public func close() {
        state.withLock {
            if $0.descriptor >= 0 { Glibc.close($0.descriptor) }
            $0.descriptor = -1
        }
    }

    /// A refusal of the kernel: which message, errno, and the kernel's own words if it gave any.
    public struct Refusal: Sendable, Hashable {
        public var what: String
        public var errno: Int32
        public var kernelMessage: String?
    }

    /// Applies `transaction` as one batch; throws the first refused message (nothing of the
    /// batch is then applied). An empty transaction does nothing.
    public func apply(_ transaction: NFTables.Transaction) throws(PlatformError) {
        guard !transaction.isEmpty else { return }
        let refusals = try exchange(transaction)
        if let r = refusals.first {
            var line = "\(r.what): \(errorText(r.errno))"
            if let m = r.kernelMessage, !m.isEmpty { line += " (\(m))" }
            throw PlatformError(.nftables, line, errno: r.errno)
        }
    }

    /// The table `family name` as the kernel has it, or nil if there is none.
    public func table(_ family: NFTables.Family, _ name: String) throws(PlatformError) -> NFTables.TableInfo? {
        try state.withLock { (s: inout (descriptor: Int32, sequence: UInt32)) throws(PlatformError) in
            guard s.descriptor >= 0 else { throw PlatformError(.nftables, "nf_tables socket closed", errno: EBADF) }
            s.sequence &+= 1
            let seq = s.sequence
            try Self.send(s.descriptor, NFTables.tableRequest(family, name, sequence: seq))
            var info: NFTables.TableInfo?
            var failure: Int32?
            try Self.receive(s.descriptor, until: seq) { type, mseq, payload in
                guard mseq == seq else { return false }
                if type == RTNetlink.error {
                    let e = RTNetlink.errorNumber(payload)
                    if e != 0 && e != ENOENT { failure = e }
                    return true
                }
                if type == NFTables.Message.newTable.type { info = NFTables.TableInfo(payload) }
                return true
            }
            if let failure {
                throw PlatformError(
                    .nftables, "get table \(family.nftName) \(name): \(errorText(failure))", errno: failure)
            }
            return info
        }
    }

    private func exchange(_ t: NFTables.Transaction) throws(PlatformError) -> [Refusal] {
        try state.withLock { (s: inout (descriptor: Int32, sequence: UInt32)) throws(PlatformError) -> [Refusal] in
            guard s.descriptor >= 0 else { throw PlatformError(.nftables, "nf_tables socket closed", errno: EBADF) }
            let first = s.sequence &+ 1
            let last = first &+ UInt32(t.items.count) &+ 1  // batch end
            let fence = last &+ 1
            s.sequence = fence
            let batch = t.encoded(firstSequence: first)
            // A batch is one datagram: the send buffer must hold it (nft grows it the same way).
            var size = Int32(clamping: batch.count + 65536)
            if size > 212_992 { setsockopt(s.descriptor, SOL_SOCKET, SO_SNDBUFFORCE, &size, 4) }
            try Self.send(s.descriptor, batch)
            try Self.send(s.descriptor, NFTables.generationRequest(sequence: fence))
            var refusals: [Refusal] = []
            try Self.receive(s.descriptor, until: fence) { type, mseq, payload in
                if mseq == fence { return true }
                guard type == RTNetlink.error, mseq &- first <= last &- first else { return false }
                let e = RTNetlink.errorNumber(payload)
                guard e != 0 else { return false }
                let index = Int(mseq &- first) - 1
                let what =
                    index >= 0 && index < t.items.count
                    ? t.items[index].what : index < 0 ? "nf_tables transaction" : "nf_tables commit"
                refusals.append(Refusal(what: what, errno: e, kernelMessage: Self.extendedMessage(payload)))
                return false
            }
            return refusals
        }
    }

    /// NLMSGERR_ATTR_MSG of an error answer (after errno and the 16-byte header of the request).
    static func extendedMessage(_ payload: UnsafeRawBufferPointer) -> String? {
        guard payload.count > 20 else { return nil }
        let tlvs = UnsafeRawBufferPointer(rebasing: payload[20...])
        return RTNetlink.string(RTNetlinkAttributes(tlvs, fixed: 0)[1])
    }

    static func send(_ fd: Int32, _ message: [UInt8]) throws(PlatformError) {
        let n = message.withUnsafeBytes { clvs_netlink_send(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw .system(.nftables, "nf_tables netlink send") }
    }

    /// Reads answers, calling `each(type, sequence, payload)` until it returns true for an
    /// answer of sequence `fence`; waits at most 5 s for each datagram.
    static func receive(
        _ fd: Int32, until fence: UInt32, _ each: (UInt16, UInt32, UnsafeRawBufferPointer) -> Bool
    ) throws(PlatformError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 5000)
            if ready == 0 { throw PlatformError(.nftables, "nf_tables: no answer from the kernel", errno: ETIMEDOUT) }
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system(.nftables, "nf_tables netlink poll")
            }
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(.nftables, "nf_tables netlink recv")
            }
            var done = false
            RTNetlink.forEachMessage(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { type, seq, payload in
                if !done && each(type, seq, payload) && seq == fence { done = true }
            }
            if done { return }
        }
    }
}
