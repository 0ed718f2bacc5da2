// XDP mode for the data plane: the program, its steering and flow maps, AF_XDP ports and the transmit probe, behind LVSDataPlane's XDPBackend.
import CLVSXDP
import Glibc
import LVSCore
import LVSDataPlane
import LVSPacket
import Synchronization

/// `XDPBackend` over a loaded `XDPProgram`.
///
/// ```
///  DataPlane ─ attach(interface) ─▶ lvs_xdp on the interface (native, else generic if allowed)
///            ─ openPort(queues) ──▶ XDPSocketPort (AF_XDP, one UMEM per worker)
///            ─ probeTransmit ─────▶ throw-away frames XDP_TX'd into a veth; its *_xdp_xmit counters tell
///            ─ applySteering ─────▶ XDPSteeringTable diff ─▶ lvs_services, lvs_reply_sources, lvs_addrs
///  workers   ─ install/remove ────▶ lvs_flows (XDPFlow builders)
/// ```
public final class XDPDataPlaneBackend: XDPBackend, @unchecked Sendable {
    public let program: XDPProgram
    private let steering = Mutex(XDPSteeringTable())
    private let attachLock = Mutex(())

    /// Loads the program. A verifier refusal throws `XDPError(.verifier)` whose message is one line.
    public init(limits: XDPProgram.Limits = .init(flows: 262_144)) throws(XDPError) {
        program = try XDPProgram(limits: limits)
    }

    public func attach(interface: Int32, name: String, allowGeneric: Bool) throws -> InterfaceMode {
        try attachLock.withLock { _ throws -> InterfaceMode in
            let mode = try program.attach(interface: interface, mode: allowGeneric ? nil : .native)
            return mode == .native ? .xdpNative : .xdpGeneric
        }
    }

    public func detach(interface: Int32) {
        attachLock.withLock { _ in try? program.detach(interface: interface) }
    }

    public func queueCount(interface name: String) -> Int {
        // /sys/class/net/IF/queues/rx-N (lvsd runs with its namespace's sysfs).
        guard let dir = opendir("/sys/class/net/\(name)/queues") else { return 1 }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) {
            let entryName = withUnsafeBytes(of: e.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if entryName.hasPrefix("rx-") { n += 1 }
        }
        return max(n, 1)
    }

    /// Opens the AF_XDP sockets. A queue still bound by an lvsd that was just killed reports EBUSY
    /// until the kernel has released that socket (a moment after its process ended): retried for
    /// up to 3 s before the error stands.
    public func openPort(_ queues: [(interface: Int32, name: String, queue: UInt32)]) throws -> PacketPort {
        let q = queues.map { ($0.interface, $0.name, $0.queue) }
        var tries = 0
        while true {
            let result: Result<XDPSocketPort, XDPError>
            do throws(XDPError) {
                result = .success(try XDPSocketPort(queues: q, program: program))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let port): return port
            case .failure(let e):
                guard e.errno == EBUSY, tries < 30 else { throw e }
                tries += 1
                usleep(100_000)
            }
        }
    }

    public func probeTransmit(interface: Int32, name: String) -> (Bool, String) {
        var driver = [CChar](repeating: 0, count: 64)
        let d =
            clvs_xdp_driver_name(name, &driver, driver.count) == 0
            ? driver.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : "unknown"
        // Physical NICs with native XDP take XDP_TX and redirects (ndo_xdp_xmit).
        guard d == "veth" else { return (true, "driver \(d)") }
        var delivered: UInt64 = 0
        let r = clvs_xdp_transmit_probe(interface, name, 8, &delivered)
        if r < 0 {
            return (false, "veth transmit probe failed (\(errorText(-r))): the fast path does not transmit here")
        }
        if delivered >= 8 { return (true, "veth peer has NAPI (probe frames delivered)") }
        return (
            false,
            "veth peer has no NAPI (no XDP program, GRO off): frames XDP sends into it are dropped silently; "
                + "enable GRO on the peer (ethtool -K PEER gro on) to use the fast path"
        )
    }

    public func allowTransmit(interface: Int32) throws { try program.maps.addTransmitPort(interface) }

    public func disallowTransmit(interface: Int32) { program.maps.removeTransmitPort(interface) }

    public func applySteering(_ s: SteeringSet) throws {
        let next = XDPSteeringTable(
            services: Set(
                s.services.map { XDPServiceKey(protocolNumber: $0.protocolNumber, address: $0.address, port: $0.port) }),
            replySources: Set(
                s.replySources.map {
                    XDPServiceKey(protocolNumber: $0.protocolNumber, address: $0.address, port: $0.port)
                }),
            passive: s.passive)
        try steering.withLock { last throws in
            guard last != next else { return }
            do {
                try program.maps.apply(next.changes(from: last))
                last = next
            } catch {
                // Half applied: start again from nothing next time.
                last = XDPSteeringTable(services: [], replySources: [], passive: [])
                try? program.maps.apply(next.changes(from: last))
                throw error
            }
        }
    }

    public func counters() -> [(name: String, value: UInt64)] {
        let c = program.maps.counters()
        return XDPCounter.allCases.map { ("\($0)", c[$0]) }
    }

    public var flowsRejected: UInt64 { program.maps.flowsRejected }

    public func close() { program.close() }

    // MARK: flows

    public func install(_ flow: FastPathFlow) -> FastPathInstallResult {
        let key = XDPFlowKey(flow.key)
        guard key.isFastPathProtocol else { return .unsupported }
        let value: XDPFlow?
        switch flow.rewrite {
        case .directRoute:
            value = .directRoute(link: flow.link, interface: flow.interface, serverSlot: nil)
        case .translate(let source, let destination, let reply):
            value = .translate(
                key, source: source, destination: destination, link: flow.link, interface: flow.interface,
                serverSlot: nil, reply: reply)
        case .tunnel(let source, let destination, let spec, let sport, let ipID):
            value = .tunnel(
                source: source, destination: destination, spec: spec, gueSourcePort: sport, firstIPID: ipID,
                link: flow.link, interface: flow.interface, serverSlot: nil)
        }
        guard let value else { return .unsupported }
        do {
            try program.maps.putFlow(key, value)
            return .installed
        } catch {
            return error.code == .mapFull ? .full : .failed(error.message)
        }
    }

    public func remove(_ key: FlowKey) -> FastPathFlowCounts? {
        program.maps.deleteFlow(XDPFlowKey(key)).map {
            FastPathFlowCounts(packets: $0.packets, bytes: $0.bytes, lastSeenNanoseconds: $0.lastSeenNanoseconds)
        }
    }

    public func counts(_ key: FlowKey) -> FastPathFlowCounts? {
        program.maps.flowState(XDPFlowKey(key)).map {
            FastPathFlowCounts(packets: $0.packets, bytes: $0.bytes, lastSeenNanoseconds: $0.lastSeenNanoseconds)
        }
    }
}
