// The fixture table: every method × family × protocol × direction, ICMP errors, limits, fragments, malformed frames.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

extension PacketFixture: CustomTestStringConvertible {
    public var testDescription: String { name }
}

/// Where two byte arrays first differ, for readable failures.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
    for i in 0..<min(a.count, b.count) where a[i] != b[i] {
        return "first difference at byte \(i): got 0x\(String(a[i], radix: 16)), want 0x\(String(b[i], radix: 16))"
    }
    return a.count == b.count ? "equal" : "lengths \(a.count) vs \(b.count)"
}

@Suite("Packet fixtures")
struct FixtureTests {
    @Test("fixture", arguments: PacketFixtures.all)
    func fixture(_ f: PacketFixture) {
        let (verdict, outputs) = PacketFixtures.run(f)
        #expect(verdict == f.verdict)
        #expect(outputs.count == f.expected.count, "\(outputs.count) frames out, want \(f.expected.count)")
        for (i, (got, want)) in zip(outputs, f.expected).enumerated() where got != want {
            Issue.record("frame \(i): \(firstDifference(got, want))")
        }
    }

    @Test("the table covers every method × family × protocol × direction")
    func coverage() {
        let names = PacketFixtures.forwarding(frameSize: 64).map(\.name)
        for method in ["nat-in", "nat-out", "dr", "fullnat-in", "fullnat-out", "tun-ipip", "tun-gue", "tun-gre"] {
            for fam in ["IPv4", "IPv6"] {
                #expect(names.contains { $0.hasPrefix(method + " ") && $0.contains(fam) }, "\(method) \(fam)")
            }
        }
        for method in ["nat-in", "nat-out", "dr", "fullnat-in", "fullnat-out", "tun-ipip"] {
            for proto in ["tcp", "udp", "sctp"] {
                #expect(
                    names.contains { $0.hasPrefix(method + " ") && $0.contains(" \(proto) ") }, "\(method) \(proto)")
            }
        }
        #expect(PacketFixtures.all.count > 200)
        // Every drop reason a parser can give appears in the malformed table.
        let reasons = Set(
            PacketFixtures.malformed.compactMap { f -> DropReason? in
                if case .drop(let r) = f.verdict { return r }
                return nil
            })
        for r: DropReason in [
            .truncatedEthernet, .stackedVLAN, .truncatedIPv4Header, .badIPVersion, .badIPv4HeaderLength,
            .badIPv4Checksum, .badIPv4Options, .badIPLength, .truncatedIPPacket, .martianSource, .truncatedIPv6Header,
            .truncatedExtensionHeader, .badExtensionHeaders, .badFragment, .tinyFragment, .truncatedTCPHeader,
            .badTCPDataOffset, .truncatedUDPHeader, .badUDPLength, .truncatedSCTPHeader, .truncatedICMPHeader,
            .badICMPEmbedded,
        ] {
            #expect(reasons.contains(r), "no malformed fixture for \(r)")
        }
    }

    @Test("every forwarded frame parses again as a valid packet")
    func outputsParse() {
        for f in PacketFixtures.all {
            for out in f.expected {
                var info = PacketInfo()
                let v = out.withUnsafeBytes { PacketParser.parse($0, into: &info) }
                #expect(v == .ip, "\(f.name): \(v)")
            }
        }
    }
}
