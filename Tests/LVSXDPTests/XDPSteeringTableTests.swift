// XDPSteeringTable: the diff from one IPVS description to the next, and its effect on the program.
import LVSCore
import LVSPacket
import LVSTestSupport
import LVSXDP
import Testing

@Suite("XDP steering table diff")
struct XDPSteeringTableTests {
    static let vip = IPAddress("192.0.2.10")!
    static let rs = IPAddress("10.0.2.11")!
    static let web = XDPServiceKey(protocolNumber: 6, address: vip, port: 80)
    static let dns = XDPServiceKey(protocolNumber: 17, address: vip, port: 53)
    static let rsWeb = XDPServiceKey(protocolNumber: 6, address: rs, port: 8080)

    @Test("from empty: addresses first, then services and reply sources")
    func fromEmpty() {
        let t = XDPSteeringTable(services: [Self.web], replySources: [Self.rsWeb])
        let c = t.changes(from: XDPSteeringTable())
        #expect(c.count == 4)
        let firstService = c.firstIndex { if case .putService = $0 { return true } else { return false } }!
        #expect(c[..<firstService].allSatisfy { if case .setAddress = $0 { return true } else { return false } })
        #expect(c.contains(.setAddress(Self.vip, .virtual)))
        #expect(c.contains(.setAddress(Self.rs, .replySource)))
    }

    @Test("a VIP turning passive changes only its address flags; its last service deleted removes the address")
    func passiveAndRemoval() {
        let a = XDPSteeringTable(services: [Self.web, Self.dns])
        var b = a
        b.passive = [Self.vip]
        #expect(b.changes(from: a) == [.setAddress(Self.vip, [.virtual, .passive])])
        var c = b
        c.services = [Self.dns]
        #expect(c.changes(from: b) == [.deleteService(Self.web)])
        let d = XDPSteeringTable(passive: [Self.vip])
        #expect(d.changes(from: c) == [.deleteService(Self.dns), .setAddress(Self.vip, [])])
        #expect(d.changes(from: d).isEmpty)
    }

    @Test("an address both VIP and reply source keeps both flags")
    func bothRoles() {
        let t = XDPSteeringTable(
            services: [XDPServiceKey(protocolNumber: 6, address: Self.rs, port: 443)], replySources: [Self.rsWeb])
        #expect(t.addresses[Self.rs] == [.virtual, .replySource])
    }

    @Test("applied to the program: a service added and removed is steered, then passed")
    func applied() throws {
        if let why = XDPTestEnvironment.unavailableReason {
            print("skipped: \(why)")
            return
        }
        let xdp = try XDPProgram(limits: .init(flows: 16, services: 16, addresses: 16, serverSlots: 4))
        defer { xdp.close() }
        let frame = PacketBuilder.frame(
            .tcp, from: Endpoint(IPAddress("203.0.113.5")!, 40000), to: Endpoint(Self.vip, 80))
        let t = XDPSteeringTable(services: [Self.web], replySources: [Self.rsWeb])
        try xdp.maps.apply(t.changes(from: XDPSteeringTable()))
        var before = xdp.maps.counters()
        _ = try xdp.testRun(frame)
        #expect(xdp.maps.counters().since(before)[.steerService] == 1)
        #expect(xdp.maps.addressFlags(Self.vip) == .virtual)
        try xdp.maps.apply(XDPSteeringTable().changes(from: t))
        before = xdp.maps.counters()
        #expect(try xdp.testRun(frame).action == .pass)
        #expect(xdp.maps.counters().since(before)[.passNotOurs] == 1)
        #expect(xdp.maps.addressFlags(Self.vip).isEmpty)
    }
}
