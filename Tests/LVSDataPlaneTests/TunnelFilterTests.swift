// Review finding 12: lvs-realserver --tun delivers only inner packets to its VIPs, and with
// --from only from the listed directors.
import LVSCore
import LVSDataPlane
import LVSTestSupport
import Testing

@Suite("lvs-realserver tunnel filter (finding 12)")
struct TunnelFilterTests {
    let director = IPv4Address(192, 168, 0, 109)
    let rs = IPv4Address(192, 168, 0, 112)
    let vip = IPAddress("192.168.0.240")!

    func ipip(from outer: IPv4Address, innerTo: IPAddress) -> [UInt8] {
        let inner = PacketBuilder.ipPacket(
            PacketBuilder.frame(
                .tcp, from: Endpoint(IPAddress("10.1.1.1")!, 40000), to: Endpoint(innerTo, 80), payload: []))
        let outerPacket = PacketBuilder.ipv4(src: outer, dst: rs, proto: 4, payload: inner)
        return PacketBuilder.ethernet(
            dst: Macs.server, src: Macs.directorInside, etherType: 0x0800, payload: outerPacket)
    }

    func delivered(_ f: [UInt8], _ filter: TunnelDecapsulator.Filter) -> Bool {
        f.withUnsafeBytes {
            TunnelDecapsulator.innerPacket($0.baseAddress!, f.count, guePort: nil, filter: filter) != nil
        }
    }

    @Test("without --from: any director, but only inner packets to a VIP")
    func anyDirector() {
        let filter = TunnelDecapsulator.Filter(directors: [], vips: [vip])
        #expect(delivered(ipip(from: director, innerTo: vip), filter))
        #expect(delivered(ipip(from: IPv4Address(203, 0, 113, 9), innerTo: vip), filter))
        #expect(!delivered(ipip(from: director, innerTo: IPAddress("127.0.0.1")!), filter))
        #expect(!delivered(ipip(from: director, innerTo: IPAddress("192.168.0.112")!), filter))
    }

    @Test("with --from: other outer sources are refused")
    func listedDirectors() {
        let filter = TunnelDecapsulator.Filter(directors: [.v4(director)], vips: [vip])
        #expect(delivered(ipip(from: director, innerTo: vip), filter))
        #expect(!delivered(ipip(from: IPv4Address(203, 0, 113, 9), innerTo: vip), filter))
    }

    @Test("--from parses one address or a list, repeatable, and implies --tun; a bad address is a usage error")
    func parse() throws {
        let s = try RealServerSetup.parse([
            "start", "192.168.0.240", "--from", "192.168.0.109,192.168.0.110", "--from", "10.0.0.1",
        ])
        #expect(s.tunnel && s.vips == [vip])
        #expect(s.directors.map(\.description) == ["192.168.0.109", "192.168.0.110", "10.0.0.1"])
        #expect(throws: RealServerSetup.Failure.self) {
            try RealServerSetup.parse(["start", "192.168.0.240", "--from", "x"])
        }
        #expect(throws: RealServerSetup.Failure.self) {
            try RealServerSetup.parse(["start", "192.168.0.240", "--from"])
        }
    }
}
