// Sync-message fixtures: connections and the bytes the kernel's layouts give for them (K:ip_vs_sync.c
// struct ip_vs_sync_mesg, ip_vs_sync_v4/v6, ip_vs_sync_mesg_v0, ip_vs_sync_conn_v0), written out
// field by field. They drive the codec tests, the tshark cross-check and the sync benchmark.
import LVSCore

/// One message: what goes in, the exact bytes, and what a backup reads back.
public struct SyncFixture: Sendable {
    public var name: String
    public var version: UInt8
    public var syncID: UInt8
    /// The connections as the master's table gives them.
    public var connections: [SyncConnection]
    /// The message, hex, spaces ignored.
    public var hex: String
    /// What the backup reads (flags masked, SYNC set), when it differs from `connections`.
    public var decoded: [SyncConnection]?

    public var bytes: [UInt8] { SyncFixture.bytes(hex) }

    public static func bytes(_ hex: String) -> [UInt8] {
        let digits = hex.filter { $0.isHexDigit }
        var out: [UInt8] = []
        var i = digits.startIndex
        while i < digits.endIndex {
            let j = digits.index(after: i)
            out.append(UInt8(digits[i...j], radix: 16)!)
            i = digits.index(after: j)
        }
        return out
    }
}

extension SyncConnection {
    /// The backup's view of an entry (version 1): flags masked, SYNC added.
    public var asReceived: SyncConnection {
        var c = self
        c.flags = flags.intersection(.backupMask).union(.sync)
        return c
    }
}

public enum SyncFixtures {
    static func v4(_ s: String) -> RawAddress { RawAddress(IPAddress(s)!) }

    /// A DR connection, ESTABLISHED: 10.0.0.5:51234 → 192.168.0.240:80 → 192.168.0.223:80.
    public static let established = SyncConnection(
        family: .inet, protocolNumber: 6, flags: KernelConnectionFlags(rawValue: 0x0083), state: 1,
        clientPort: 51234, virtualPort: 80, destinationPort: 80, timeout: 900, client: v4("10.0.0.5"),
        virtual: v4("192.168.0.240"), destination: v4("192.168.0.223"))

    /// Its persistence template (ASSURED, 360 s): client port 0, INACTIVE, TEMPLATE.
    public static let template = SyncConnection(
        family: .inet, protocolNumber: 6, flags: KernelConnectionFlags(rawValue: 0x1183), state: 1, clientPort: 0,
        virtualPort: 80, destinationPort: 80, timeout: 360, client: v4("10.0.0.5"), virtual: v4("192.168.0.240"),
        destination: v4("192.168.0.223"))

    /// A SIP template with its Call-ID "a@b" (UDP, NAT): 46 bytes, so the next entry is padded.
    public static let sipTemplate = SyncConnection(
        family: .inet, protocolNumber: 17, flags: KernelConnectionFlags(rawValue: 0x1100), state: 0, clientPort: 0,
        virtualPort: 5060, destinationPort: 5060, timeout: 60, client: v4("10.0.0.6"), virtual: v4("192.168.0.240"),
        destination: v4("192.168.1.10"),
        persistence: SyncPersistenceData(engine: Array("sip".utf8), data: Array("a@b".utf8)))

    /// An IPv6 UDP connection (NAT), fwmark 7.
    public static let udp6 = SyncConnection(
        family: .inet6, protocolNumber: 17, flags: KernelConnectionFlags(rawValue: 0x0100), state: 0,
        clientPort: 5353, virtualPort: 53, destinationPort: 5353, firewallMark: 7, timeout: 300,
        client: RawAddress(IPAddress("2001:db8::5")!), virtual: RawAddress(IPAddress("2001:db8:1::1")!),
        destination: RawAddress(IPAddress("fd00::10")!))

    /// A masquerade connection with sequence adjustment (IN_SEQ | OUT_SEQ), FIN_WAIT.
    public static var withSequence: SyncConnection {
        var c = SyncConnection(
            family: .inet, protocolNumber: 6, flags: KernelConnectionFlags(rawValue: 0x0700), state: 4,
            clientPort: 40000, virtualPort: 21, destinationPort: 21, timeout: 120, client: v4("10.0.0.7"),
            virtual: v4("192.168.0.240"), destination: v4("192.168.1.11"))
        c.hasSequence = true
        c.inSequence = SyncSequence(initialSequence: 0x0102_0304, delta: 5, previousDelta: 0)
        c.outSequence = SyncSequence(initialSequence: 0xA0B0_C0D0, delta: 0xFFFF_FFFE, previousDelta: 1)
        return c
    }

    /// Every fixture.
    public static let all: [SyncFixture] = [
        SyncFixture(
            name: "v1, one IPv4 DR connection, ESTABLISHED", version: 1, syncID: 7, connections: [established],
            hex: """
                00 07 00 2c  01 01 00 00
                00 06 00 24  00 00 00 83  00 01 c8 22  00 50 00 50  00 00 00 00  00 00 03 84
                0a 00 00 05  c0 a8 00 f0  c0 a8 00 df
                """),
        SyncFixture(
            name: "v1, a connection then its template (ASSURED)", version: 1, syncID: 0,
            connections: [established, template],
            hex: """
                00 00 00 50  02 01 00 00
                00 06 00 24  00 00 00 83  00 01 c8 22  00 50 00 50  00 00 00 00  00 00 03 84
                0a 00 00 05  c0 a8 00 f0  c0 a8 00 df
                00 06 00 24  00 00 11 83  00 01 00 00  00 50 00 50  00 00 00 00  00 00 01 68
                0a 00 00 05  c0 a8 00 f0  c0 a8 00 df
                """),
        SyncFixture(
            name: "v1, SIP template (pe_data, pe_name) padded to 4 bytes, then an IPv6 UDP entry with fwmark",
            version: 1, syncID: 9, connections: [sipTemplate, udp6],
            hex: """
                00 09 00 80  02 01 00 00
                00 11 00 2e  00 00 11 00  00 00 00 00  13 c4 13 c4  00 00 00 00  00 00 00 3c
                0a 00 00 06  c0 a8 00 f0  c0 a8 01 0a  02 03 61 40  62 03 03 73  69 70 00 00
                01 11 00 48  00 00 01 00  00 00 14 e9  00 35 14 e9  00 00 00 07  00 00 01 2c
                20 01 0d b8  00 00 00 00  00 00 00 00  00 00 00 05
                20 01 0d b8  00 01 00 00  00 00 00 00  00 00 00 01
                fd 00 00 00  00 00 00 00  00 00 00 00  00 00 00 10
                """),
        SyncFixture(
            name: "v1, sequence option (IPVS_OPT_SEQ_DATA, 24 bytes)", version: 1, syncID: 1,
            connections: [withSequence],
            hex: """
                00 01 00 46  01 01 00 00
                00 06 00 3e  00 00 07 00  00 04 9c 40  00 15 00 15  00 00 00 00  00 00 00 78
                0a 00 00 07  c0 a8 00 f0  c0 a8 01 0b
                01 18  01 02 03 04  00 00 00 05  00 00 00 00  a0 b0 c0 d0  ff ff ff fe  00 00 00 01
                """),
        SyncFixture(
            name: "v0, two IPv4 connections (24 bytes each, no timeout)", version: 0, syncID: 3,
            connections: [established, template],
            hex: """
                02 03 00 34
                00 06 c8 22  00 50 00 50  0a 00 00 05  c0 a8 00 f0  c0 a8 00 df  00 83 00 01
                00 06 00 00  00 50 00 50  0a 00 00 05  c0 a8 00 f0  c0 a8 00 df  11 83 00 01
                """,
            decoded: [established, template].map { c in
                var r = c
                r.flags.insert(.sync)
                r.timeout = 0
                return r
            }),
    ]
}
