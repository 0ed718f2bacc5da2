// The seeds' topologies as labs: seed 000's NAT (two director interfaces) and the DR/TUN LAN of seeds 000/003.
import Foundation

/// Seed 000's NAT set-up.
///
/// ```
///  client 192.168.1.200 ──eth0──eth1── director 192.168.1.109 (the VIP)
///                                      director eth0 192.168.0.109 ── switch ──┬── rs1 192.168.0.112 (gw .109)
///                                                                              └── rs2 192.168.0.113 (gw .109)
/// ```
/// rs1 and rs2 run nginx serving "rs1 nginx" / "rs2 nginx" on ports 80 and 8080, `/ip` answering
/// the client address nginx saw, and a UDP echo on port 5353; lvsd runs on the director.
public struct SeedNATLab {
    public let lab: LabNetwork
    public let client: LabHost
    public let director: LabHost
    public let rs1: LabHost
    public let rs2: LabHost
    /// The switch of the real servers' LAN (ports p1 director, p2 rs1, p3 rs2).
    public let lan: LabSwitch
    public static let vip = "192.168.1.109"
    public static let rs1Address = "192.168.0.112"
    public static let rs2Address = "192.168.0.113"

    /// `keepalivedConf`, if given, is written to the lab directory and lvsd runs it with `-f`;
    /// `lvsdArguments` are added to lvsd's command line (`--data-plane af-packet`, `--http 127.0.0.1:9110`).
    public init(
        _ tag: String, bigBytes: Int = 0, keepalivedConf: String? = nil, lvsdArguments: [String] = [],
        statisticsFile: String? = nil
    ) throws {
        lab = try LabNetwork(tag)
        do {
            let n = try NATTopology(
                lab, clientAddress: "192.168.1.200/24", vip: "192.168.1.109/24", gateway: "192.168.0.109/24",
                servers: [Self.rs1Address, Self.rs2Address], prefix: 24
            ) { h, body in
                try h.startNginx(body: body, ports: [80, 8080], bigBytes: bigBytes)
                try h.startUDPEcho(port: 5353, reply: body.replacingOccurrences(of: " nginx", with: ""))
            }
            (client, director, rs1, rs2, lan) = (n.client, n.director, n.rs1, n.rs2, n.lan)
            if let conf = keepalivedConf {
                let path = lab.directory + "/keepalived.conf"
                try conf.write(toFile: path, atomically: true, encoding: .utf8)
                try director.startLVSD(["-f", path] + lvsdArguments, statisticsFile: statisticsFile)
            } else {
                try director.startLVSD(lvsdArguments, statisticsFile: statisticsFile)
            }
        } catch {
            lab.close()
            throw error
        }
    }
}

/// Seed 000's NAT set-up in IPv6 (lvsd not started: tests start it with what they need).
///
/// ```
///  client fd00:1::2 ──eth0──eth1── director fd00:1::1 (the VIP)
///                                  director eth0 fd00:2::1 ── switch ──┬── rs1 fd00:2::11 (gw fd00:2::1)
///                                                                      └── rs2 fd00:2::12
/// ```
/// The real servers run nginx ("rs1 nginx" / "rs2 nginx") on `ports` with a random `/big` of
/// `bigBytes`.
public struct IPv6NATLab {
    public let lab: LabNetwork
    public let client: LabHost
    public let director: LabHost
    public let rs1: LabHost
    public let rs2: LabHost

    public init(_ tag: String, ports: [Int] = [80], bigBytes: Int = 0) throws {
        lab = try LabNetwork(tag)
        do {
            let n = try NATTopology(
                lab, clientAddress: "fd00:1::2/64", vip: "fd00:1::1/64", gateway: "fd00:2::1/64",
                servers: ["fd00:2::11", "fd00:2::12"], prefix: 64
            ) { h, body in try h.startNginx(body: body, ports: ports, bigBytes: bigBytes, ipv6: true) }
            (client, director, rs1, rs2) = (n.client, n.director, n.rs1, n.rs2)
        } catch {
            lab.close()
            throw error
        }
    }
}

/// The hosts and wiring both seed-000 NAT labs share: the client on the director's eth1, the real
/// servers on a switch behind its eth0 with the director as their gateway; `serve` starts what each
/// real server runs (its body text "rs1 nginx" / "rs2 nginx").
struct NATTopology {
    let client: LabHost
    let director: LabHost
    let rs1: LabHost
    let rs2: LabHost
    let lan: LabSwitch

    init(
        _ lab: LabNetwork, clientAddress: String, vip: String, gateway: String, servers: [String], prefix: Int,
        serve: (LabHost, String) throws -> Void
    ) throws {
        let ipv6 = vip.contains(":")
        let dad = ipv6 ? " nodad" : ""
        client = try lab.host("cli")
        director = try lab.host("dir")
        rs1 = try lab.host("rs1")
        rs2 = try lab.host("rs2")
        lan = try lab.makeSwitch("sw")
        try lab.link(client, "eth0", director, "eth1")
        try client.ip("addr add \(clientAddress) dev eth0\(dad)")
        try director.ip("addr add \(vip) dev eth1\(dad)")
        try lan.attach(director, "eth0")
        try director.ip("addr add \(gateway) dev eth0\(dad)")
        let via = String(gateway.prefix { $0 != "/" })
        for (h, a, body) in [(rs1, servers[0], "rs1 nginx"), (rs2, servers[1], "rs2 nginx")] {
            try lan.attach(h, "eth0")
            try h.ip("addr add \(a)/\(prefix) dev eth0\(dad)")
            // seed 000 step 4: the real servers' gateway is the director.
            try h.ip("\(ipv6 ? "-6 " : "")route add default via \(via)")
            try serve(h, body)
        }
    }
}

/// The LAN of seed 000's DR part and seed 003 (all hosts on one segment, the VIP on the director
/// as `eth0:0`).
///
/// ```
///  switch ──┬── client   192.168.0.220
///           ├── director 192.168.0.109, VIP 192.168.0.240/32 (label eth0:0)
///           ├── rs1      192.168.0.223
///           └── rs2      192.168.0.224
/// ```
/// The real servers run nginx ("rs1 nginx" / "rs2 nginx", ports 80 and 8080) and a UDP echo on
/// 5353; they are *not* prepared: tests run `lvs-realserver` as the seeds run lvs_rs.sh.
public struct SeedLANLab {
    public let lab: LabNetwork
    public let client: LabHost
    public let director: LabHost
    public let rs1: LabHost
    public let rs2: LabHost
    public static let vip = "192.168.0.240"
    public static let rs1Address = "192.168.0.223"
    public static let rs2Address = "192.168.0.224"
    public static let directorAddress = "192.168.0.109"
    public static let clientAddress = "192.168.0.220"

    public init(_ tag: String, statisticsFile: String? = nil) throws {
        lab = try LabNetwork(tag)
        do {
            client = try lab.host("cli")
            director = try lab.host("dir")
            rs1 = try lab.host("rs1")
            rs2 = try lab.host("rs2")
            let lan = try lab.makeSwitch("sw")
            for (h, a) in [
                (client, Self.clientAddress), (director, Self.directorAddress), (rs1, Self.rs1Address),
                (rs2, Self.rs2Address),
            ] {
                try lan.attach(h, "eth0")
                try h.ip("addr add \(a)/24 dev eth0")
            }
            // seed 003: ifconfig eth0:0 192.168.0.240 ... up
            try director.ip("addr add \(Self.vip)/32 dev eth0 label eth0:0")
            try rs1.startNginx(body: "rs1 nginx", ports: [80, 8080])
            try rs2.startNginx(body: "rs2 nginx", ports: [80, 8080])
            try rs1.startUDPEcho(port: 5353, reply: "rs1")
            try rs2.startUDPEcho(port: 5353, reply: "rs2")
            try director.startLVSD([], statisticsFile: statisticsFile)
        } catch {
            lab.close()
            throw error
        }
    }
}
