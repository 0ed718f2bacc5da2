// Typed access to the XDP program's maps: steering tables, flows, ports, sockets and summed per-CPU counters.
import CLVSXDP
import Glibc
import LVSCore
import Synchronization

/// The maps of a loaded `XDPProgram`. Every call is one bpf(2) syscall (per-CPU reads: one per map
/// entry, summed over the CPUs); none allocates per call beyond the per-CPU read buffer.
public final class XDPMaps: @unchecked Sendable {
    let services: Int32
    let replySources: Int32
    let addresses: Int32
    let flows: Int32
    let serverStats: Int32
    let counterMap: Int32
    let sockets: Int32
    let socketIndex: Int32
    let socketShed: Int32
    let transmitPorts: Int32
    /// XSKMAP slots by (interface, queue), and the free ones.
    private let socketSlots = Mutex<(used: [UInt64: UInt32], next: UInt32, free: [UInt32])>(([:], 0, []))
    /// The number of possible CPUs (per-CPU values come as one entry per possible CPU).
    public let possibleCPUs: Int
    private let rejected = Atomic<UInt64>(0)
    private let valid = Atomic<Bool>(true)

    init(_ loaded: OpaquePointer) throws(XDPError) {
        func fd(_ name: String) throws(XDPError) -> Int32 {
            let f = clvs_xdp_map_fd(loaded, name)
            guard f >= 0 else { throw XDPError(.open, "the XDP object has no map \(name)") }
            return f
        }
        services = try fd("lvs_services")
        replySources = try fd("lvs_reply_sources")
        addresses = try fd("lvs_addrs")
        flows = try fd("lvs_flows")
        serverStats = try fd("lvs_server_stats")
        counterMap = try fd("lvs_counters")
        sockets = try fd("lvs_xsks")
        socketIndex = try fd("lvs_xsk_index")
        socketShed = try fd("lvs_xsk_shed")
        transmitPorts = try fd("lvs_tx_ports")
        possibleCPUs = max(1, Int(clvs_xdp_possible_cpus()))
    }

    func invalidate() { valid.store(false, ordering: .releasing) }

    private func check(_ r: Int32, _ what: @autoclosure () -> String) throws(XDPError) {
        if r != 0 { throw .from(.map, r, what()) }
    }

    // MARK: steering

    /// Steers `key` (VIP, port 0 = every port, protocol) to lvsd.
    public func putService(_ key: XDPServiceKey, id: UInt32 = 0) throws(XDPError) {
        var k = key.raw
        var v = lvs_xdp_service_value(flags: 0, id: id)
        try check(clvs_xdp_map_update(services, &k, &v, 0), "add service \(key) to XDP")
    }

    /// Stops steering `key` (no error if it was not there).
    public func deleteService(_ key: XDPServiceKey) throws(XDPError) {
        var k = key.raw
        let r = clvs_xdp_map_delete(services, &k)
        if r != -ENOENT { try check(r, "delete service \(key) from XDP") }
    }

    /// Steers frames from a NAT/FULLNAT real server `key` (address, port, protocol) to lvsd.
    public func putReplySource(_ key: XDPServiceKey) throws(XDPError) {
        var k = key.raw
        var v = lvs_xdp_service_value(flags: 0, id: 0)
        try check(clvs_xdp_map_update(replySources, &k, &v, 0), "add reply source \(key) to XDP")
    }

    public func deleteReplySource(_ key: XDPServiceKey) throws(XDPError) {
        var k = key.raw
        let r = clvs_xdp_map_delete(replySources, &k)
        if r != -ENOENT { try check(r, "delete reply source \(key) from XDP") }
    }

    /// Sets an address's flags (`virtual`, `passive`, `replySource`); an empty set deletes it.
    public func setAddress(_ address: IPAddress, flags: XDPAddressFlags) throws(XDPError) {
        var k = addressKey(address)
        if flags.isEmpty {
            let r = clvs_xdp_map_delete(addresses, &k)
            if r != -ENOENT { try check(r, "delete address \(address) from XDP") }
            return
        }
        var v = lvs_xdp_addr_value(flags: flags.rawValue)
        try check(clvs_xdp_map_update(addresses, &k, &v, 0), "set address \(address) in XDP")
    }

    /// An address's flags (empty if absent).
    public func addressFlags(_ address: IPAddress) -> XDPAddressFlags {
        var k = addressKey(address)
        var v = lvs_xdp_addr_value()
        return clvs_xdp_map_lookup(addresses, &k, &v) == 0 ? XDPAddressFlags(rawValue: v.flags) : []
    }

    // MARK: flows

    /// Flows refused because the flow map was full (they stay on the slow path).
    public var flowsRejected: UInt64 { rejected.load(ordering: .relaxed) }

    /// Installs or replaces a flow. A full map throws `.mapFull` and counts it in `flowsRejected`.
    public func putFlow(_ key: XDPFlowKey, _ flow: XDPFlow) throws(XDPError) {
        var k = key.raw
        var v = flow.raw
        let r = clvs_xdp_map_update(flows, &k, &v, 0)
        if r == -E2BIG || r == -ENOMEM {
            rejected.add(1, ordering: .relaxed)
            throw XDPError(.mapFull, errno: -r, "the XDP flow map is full: \(key) stays on the slow path")
        }
        try check(r, "add flow \(key) to XDP")
    }

    /// Removes a flow (its packets go to lvsd again). Returns its last state, or nil if absent.
    @discardableResult
    public func deleteFlow(_ key: XDPFlowKey) -> XDPFlowState? {
        let s = flowState(key)
        var k = key.raw
        _ = clvs_xdp_map_delete(flows, &k)
        return s
    }

    /// A flow's last-seen time and counters, or nil if absent.
    public func flowState(_ key: XDPFlowKey) -> XDPFlowState? {
        var k = key.raw
        var v = lvs_xdp_flow()
        guard clvs_xdp_map_lookup(flows, &k, &v) == 0 else { return nil }
        return XDPFlowState(
            lastSeenNanoseconds: v.last_seen_ns, packets: v.packets, bytes: v.bytes,
            nextIPID: UInt16(truncatingIfNeeded: v.ip_id))
    }

    /// Every flow key in the map (for a sweep; the map may change meanwhile).
    public func flowKeys() -> [XDPFlowKey] {
        var out: [XDPFlowKey] = []
        var cur = lvs_xdp_flow_key()
        var next = lvs_xdp_flow_key()
        var r = clvs_xdp_map_next_key(flows, nil, &next)
        while r == 0 {
            out.append(XDPFlowKey(raw: next))
            cur = next
            r = clvs_xdp_map_next_key(flows, &cur, &next)
        }
        return out
    }

    // MARK: ports and sockets

    /// Lets the fast path redirect to `interface` (an XDP-capable device: its peer must have NAPI
    /// on veth, see docs/xdp.md). Flows whose egress is missing here go to lvsd.
    ///
    /// The kernel resolves the ifindex in the **calling thread's** network namespace: call this
    /// from a thread in the interface's namespace (lvsd runs in it; tests use `inNamespace`), or
    /// the entry names another namespace's device with that index.
    public func addTransmitPort(_ interface: Int32) throws(XDPError) {
        var k = UInt32(bitPattern: interface)
        var v: (UInt32, UInt32) = (UInt32(bitPattern: interface), 0)  // struct bpf_devmap_val: ifindex, no program
        try check(clvs_xdp_map_update(transmitPorts, &k, &v, 0), "add interface \(interface) to the XDP devmap")
    }

    public func removeTransmitPort(_ interface: Int32) {
        var k = UInt32(bitPattern: interface)
        _ = clvs_xdp_map_delete(transmitPorts, &k)
    }

    /// Steers the frames lvsd owns that arrive on `interface`'s receive queue `queue` to the
    /// AF_XDP socket `fd` (bound to that interface and queue).
    public func insertSocket(interface: Int32, queue: UInt32, fd: Int32) throws(XDPError) {
        let key = UInt64(UInt32(bitPattern: interface)) << 32 | UInt64(queue)
        let slot = socketSlots.withLock { s -> UInt32 in
            if let i = s.used[key] { return i }
            let i =
                s.free.popLast()
                ?? {
                    s.next += 1
                    return s.next - 1
                }()
            s.used[key] = i
            return i
        }
        var k = slot
        var v = UInt32(bitPattern: fd)
        try check(
            clvs_xdp_map_update(sockets, &k, &v, 0), "add the AF_XDP socket of \(interface)/\(queue) to the XSKMAP")
        var ik = lvs_xdp_xsk_key(ifindex: UInt32(bitPattern: interface), queue: queue)
        try check(clvs_xdp_map_update(socketIndex, &ik, &k, 0), "index the AF_XDP socket of \(interface)/\(queue)")
    }

    /// Stops steering to `interface`'s queue `queue` (its frames are then dropped, counted as
    /// `xdp_steer_no_socket`, until a socket is inserted again).
    public func removeSocket(interface: Int32, queue: UInt32) {
        let key = UInt64(UInt32(bitPattern: interface)) << 32 | UInt64(queue)
        guard
            let slot = socketSlots.withLock({ s -> UInt32? in
                guard let i = s.used.removeValue(forKey: key) else { return nil }
                s.free.append(i)
                return i
            })
        else { return }
        var ik = lvs_xdp_xsk_key(ifindex: UInt32(bitPattern: interface), queue: queue)
        _ = clvs_xdp_map_delete(socketIndex, &ik)
        var k = slot
        _ = clvs_xdp_map_delete(sockets, &k)
    }

    /// Which share of the SYNs to services arriving on `interface`'s queue `queue` the program
    /// drops (its worker is behind: `xdp_shed_new`), in 1/65,536ths: 0 steers them all as usual,
    /// 65,536 or more drops every one.
    public func setShedding(interface: Int32, queue: UInt32, share: UInt32) throws(XDPError) {
        var k = lvs_xdp_xsk_key(ifindex: UInt32(bitPattern: interface), queue: queue)
        if share > 0 {
            var v: UInt32 = share
            try check(clvs_xdp_map_update(socketShed, &k, &v, 0), "shed new connections on \(interface)/\(queue)")
        } else {
            _ = clvs_xdp_map_delete(socketShed, &k)
        }
    }

    // MARK: counters

    /// Every counter of the program, summed over the CPUs.
    public func counters() -> XDPCounters {
        var c = XDPCounters()
        var buf = [UInt64](repeating: 0, count: possibleCPUs)
        for i in 0..<XDPCounter.allCases.count {
            var k = UInt32(i)
            guard clvs_xdp_map_lookup(counterMap, &k, &buf) == 0 else { continue }
            c.values[i] = buf.reduce(0, &+)
        }
        return c
    }

    /// The fast path's counters of one real server's slot, summed over the CPUs.
    public func serverStatistics(slot: UInt32) -> XDPServerStatistics {
        var buf = [lvs_xdp_server_stats](repeating: lvs_xdp_server_stats(), count: possibleCPUs)
        var k = slot
        guard clvs_xdp_map_lookup(serverStats, &k, &buf) == 0 else { return XDPServerStatistics() }
        var s = XDPServerStatistics()
        for v in buf {
            s.inPackets &+= v.packets_in
            s.outPackets &+= v.packets_out
            s.inBytes &+= v.bytes_in
            s.outBytes &+= v.bytes_out
        }
        return s
    }

    /// Zeroes a slot (before it is given to another real server).
    public func resetServerStatistics(slot: UInt32) throws(XDPError) {
        var buf = [lvs_xdp_server_stats](repeating: lvs_xdp_server_stats(), count: possibleCPUs)
        var k = slot
        try check(clvs_xdp_map_update(serverStats, &k, &buf, 0), "reset XDP server slot \(slot)")
    }
}

/// The fast path's per-server counters (the slow path's are in the IPVS model).
public struct XDPServerStatistics: Sendable, Equatable {
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0
    public init() {}
}
