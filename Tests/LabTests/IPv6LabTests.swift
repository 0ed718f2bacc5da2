// IPv6 through the data plane: NAT, DR and TUN (ip6ip6, ipip6, GUE and GRE over IPv6) with nginx and curl.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: IPv6", .lab)
struct IPv6LabTests {
    @Test(
        "IPv6 NAT: [fd00:1::1]:80 → [fd00:2::11]:80 and [fd00:2::12]:80, remote and local clients, ipvsadm -Ln with [addr]:port, packet-too-big towards a smaller inside MTU"
    )
    func natIPv6() throws {
        let l = try IPv6NATLab("v6", bigBytes: 1_000_000)
        let (lab, client, dir) = (l.lab, l.client, l.director)
        defer { lab.close() }
        try dir.startLVSD()
        try dir.ipvsadmScript([
            "-A -t [fd00:1::1]:80 -s rr", "-a -t [fd00:1::1]:80 -r [fd00:2::11]:80 -m",
            "-a -t [fd00:1::1]:80 -r [fd00:2::12]:80 -m",
        ])
        #expect(try client.curlTimes(2, "http://[fd00:1::1]/") == ["rs2 nginx", "rs1 nginx"])
        #expect(try dir.curlTimes(2, "http://[fd00:1::1]/") == ["rs2 nginx", "rs1 nginx"])
        #expect(try dir.ipvsadm("-Lnc").stdout.contains("[fd00:1::2]:"))
        // ipvsadm -Ln writes IPv6 endpoints as [addr]:port.
        let listing = try dir.ipvsadm("-Ln").stdout
        #expect(listing.contains("TCP  [fd00:1::1]:80 rr\n"), "\(listing)")
        #expect(listing.contains("  -> [fd00:2::11]:80              Masq    1      0          2"), "\(listing)")
        #expect(listing.contains("  -> [fd00:2::12]:80              Masq    1      0          2"), "\(listing)")
        // The real servers see the client's own address.
        #expect(try client.curl("http://[fd00:1::1]/ip")?.contains("fd00:1::2") == true)
        // 1 MB downloads through the director (GSO super-frames from the servers, segmented and
        // rewritten) arrive whole, from either server.
        let originals = try ["rs1", "rs2"].map {
            try LabNetwork.run(["/bin/sh", "-c", "sha1sum < \(lab.directory)/nginx-\($0)/html/big"]).stdout
        }
        for _ in 0..<2 {
            let r = try client.run(["/bin/sh", "-c", "curl -s -m 20 http://[fd00:1::1]/big | sha1sum"])
            #expect(originals.contains(r.stdout))
        }
        // K:ip_vs_xmit.c ip_vs_nat_xmit_v6 → __mtu_check_toobig_v6: with a smaller MTU towards the
        // real servers, a full-size packet from the client gets packet-too-big (MTU 1400). lvsd
        // learns the new MTU from rtnetlink, and the switch port behind eth0 still takes 1500
        // bytes: a transfer that starts before lvsd has it gets no packet-too-big, so it is
        // repeated, three times at most, until the client has lowered its path MTU. The servers'
        // sinks count what they read (nginx answers a POST to a file without reading the body).
        for rs in [l.rs1, l.rs2] { try rs.startByteSink(port: 9000) }
        try dir.ipvsadmScript([
            "-A -t [fd00:1::1]:9000 -s rr", "-a -t [fd00:1::1]:9000 -r [fd00:2::11]:9000 -m",
            "-a -t [fd00:1::1]:9000 -r [fd00:2::12]:9000 -m",
        ])
        try dir.ip("link set eth0 mtu 1400")
        var learnt = false
        for _ in 0..<3 where !learnt {
            let answer = try client.sendBytes(100_000, to: "fd00:1::1", port: 9000)
            #expect(answer == "100000", "the sink read \(answer)")
            learnt = try client.run(["/usr/sbin/ip", "-6", "route", "get", "fd00:1::1"]).stdout.contains("mtu 1400")
            if !learnt { usleep(500_000) }
        }
        #expect(learnt)
    }

    @Test(
        "IPv6 DR: [fd00:1::240]:80 to real servers with the VIP on lo (lvs-realserver); the client's NS for the VIP is answered by the director only; lvsd resolves the servers by NS"
    )
    func directRoutingIPv6() throws {
        let l = try DualStackLAN("v6dr")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] { try rs.prepareRealServer("start \(DualStackLAN.vip6)") }
        try l.director.ipvsadmScript([
            "-A -t [\(DualStackLAN.vip6)]:80 -s rr", "-a -t [\(DualStackLAN.vip6)]:80 -r [fd00:1::223]:80 -g",
            "-a -t [\(DualStackLAN.vip6)]:80 -r [fd00:1::224]:80 -g",
        ])
        #expect(
            try l.client.curlTimes(4, "http://[\(DualStackLAN.vip6)]/") == [
                "rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx",
            ])
        #expect(try l.client.curl("http://[\(DualStackLAN.vip6)]/ip")?.contains("fd00:1::220") == true)
        // Neighbour discovery: the VIP resolves to the director's MAC (a real server does not answer
        // NS for an address on lo), and the director learnt the servers' MACs through NS/NA.
        let directorMAC = try l.director.mac("eth0")
        let clientNeigh = try l.client.run(["/usr/sbin/ip", "-6", "neigh", "show", DualStackLAN.vip6]).stdout
        #expect(clientNeigh.contains("lladdr \(directorMAC)"), "\(clientNeigh)")
        for (rs, a) in [(l.rs1, "fd00:1::223"), (l.rs2, "fd00:1::224")] {
            let n = try l.director.run(["/usr/sbin/ip", "-6", "neigh", "show", a]).stdout
            #expect(n.contains("lladdr \(try rs.mac("eth0"))"), "\(n)")
        }
        let listing = try l.director.ipvsadm("-Ln").stdout
        #expect(listing.contains("TCP  [fd00:1::240]:80 rr\n"))
        #expect(listing.contains("  -> [fd00:1::223]:80             Route   1      0          2"), "\(listing)")
    }

    @Test(
        "IPv6 TUN: ip6ip6 and GUE over IPv6, then GRE over IPv6 with a checksum, and an IPv4 VIP over IPv6 tunnels (ipip6); real servers decapsulate with lvs-realserver --tun"
    )
    func tunnelIPv6() throws {
        let l = try DualStackLAN("v6tun")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] {
            try rs.prepareRealServer("start \(DualStackLAN.vip6) \(DualStackLAN.vip4) --tun --gue 6080 --gre")
        }
        let v = "[\(DualStackLAN.vip6)]:80"
        try l.director.ipvsadmScript([
            "-A -t \(v) -s rr", "-a -t \(v) -r [fd00:1::223]:80 -i",
            "-a -t \(v) -r [fd00:1::224]:80 -i --tun-type gue --tun-port 6080",
        ])
        let url = "http://[\(DualStackLAN.vip6)]/"
        let first = try l.client.curlTimes(4, url)
        #expect(first == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        try l.director.ipvsadmScript([
            "-e -t \(v) -r [fd00:1::223]:80 -i --tun-type gre",
            "-e -t \(v) -r [fd00:1::224]:80 -i --tun-type gre --tun-csum",
        ])
        let second = try l.client.curlTimes(4, url)
        #expect(second == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        let info = try l.director.ipvsadm("-Ln --tun-info").stdout
        #expect(info.contains("[fd00:1::224]:80") && info.contains("gre"), "\(info)")
        // An IPv4 service whose real servers are reached over IPv6 tunnels (mixed families).
        let v4 = "\(DualStackLAN.vip4):80"
        try l.director.ipvsadmScript([
            "-A -t \(v4) -s rr", "-a -t \(v4) -r [fd00:1::223]:80 -i",
            "-a -t \(v4) -r [fd00:1::224]:80 -i --tun-type gre",
        ])
        #expect(
            try l.client.curlTimes(2, "http://\(DualStackLAN.vip4)/") == ["rs2 nginx", "rs1 nginx"])
        #expect(try l.client.curl("http://\(DualStackLAN.vip4)/ip")?.contains("192.168.0.220") == true)
    }

    @Test(
        "K:ip_vs_xmit.c ip_vs_tunnel_xmit_v6 → __mtu_check_toobig_v6: a full-size IPv6 packet that does not fit the tunnel gets ICMPv6 packet-too-big (MTU 1460) from the VIP, and the client lowers its path MTU to the VIP"
    )
    func packetTooBig() throws {
        let l = try DualStackLAN("v6ptb")
        defer { l.lab.close() }
        try l.rs1.prepareRealServer("start \(DualStackLAN.vip6) --tun")
        // A sink on rs1 that counts what it reads (an upload to nginx could end before a full-size
        // packet was sent on a loaded machine: nginx answers a POST to a file without reading it).
        try l.rs1.startByteSink(port: 9000)
        try l.director.ipvsadmScript([
            "-A -t [\(DualStackLAN.vip6)]:9000 -s rr", "-a -t [\(DualStackLAN.vip6)]:9000 -r [fd00:1::223]:9000 -i",
        ])
        let before = try l.client.run(["/usr/sbin/ip", "-6", "route", "get", DualStackLAN.vip6]).stdout
        #expect(!before.contains("mtu 1460"))
        // 200,000 bytes in 1500-byte packets (MSS 1440): the first that does not fit the tunnel
        // gets the director's packet-too-big, the client lowers its path MTU and sends the rest
        // in smaller packets. The sink must have read every byte.
        let answer = try l.client.sendBytes(200_000, to: DualStackLAN.vip6, port: 9000)
        #expect(answer == "200000", "the sink read \(answer)")
        let after = try l.client.run(["/usr/sbin/ip", "-6", "route", "get", DualStackLAN.vip6]).stdout
        #expect(after.contains("mtu 1460"), "\(after)")
    }
}

/// One IPv6 (and IPv4) LAN, as seed 003's but dual-stack:
///
/// ```
///  switch ──┬── client   fd00:1::220   192.168.0.220
///           ├── director fd00:1::109   192.168.0.109, VIPs fd00:1::240/128, 192.168.0.240/32 on eth0
///           ├── rs1      fd00:1::223   192.168.0.223   nginx "rs1 nginx" on 80, 8080 (v4 and v6)
///           └── rs2      fd00:1::224   192.168.0.224   nginx "rs2 nginx"
/// ```
struct DualStackLAN {
    let lab: LabNetwork
    let client: LabHost
    let director: LabHost
    let rs1: LabHost
    let rs2: LabHost
    static let vip6 = "fd00:1::240"
    static let vip4 = "192.168.0.240"

    init(_ tag: String) throws {
        lab = try LabNetwork(tag)
        do {
            client = try lab.host("cli")
            director = try lab.host("dir")
            rs1 = try lab.host("rs1")
            rs2 = try lab.host("rs2")
            let lan = try lab.makeSwitch("sw")
            for (h, n) in [(client, 220), (director, 109), (rs1, 223), (rs2, 224)] {
                // No duplicate address detection for the link-local addresses either: until it
                // ends the kernel sends no NS (ndisc_solicit needs a usable link-local source),
                // and the first connection of a test would wait for a retransmission.
                try h.sysctl("net.ipv6.conf.default.accept_dad", "0")
                try lan.attach(h, "eth0")
                try h.ip("addr add fd00:1::\(n)/64 dev eth0 nodad")
                try h.ip("addr add 192.168.0.\(n)/24 dev eth0")
            }
            try director.ip("addr add \(Self.vip6)/128 dev eth0 nodad")
            try director.ip("addr add \(Self.vip4)/32 dev eth0 label eth0:0")
            try rs1.startNginx(body: "rs1 nginx", ports: [80, 8080], ipv6: true)
            try rs2.startNginx(body: "rs2 nginx", ports: [80, 8080], ipv6: true)
            try director.startLVSD()
        } catch {
            lab.close()
            throw error
        }
    }
}

extension LabHost {
    /// The MAC address of `interface`.
    func mac(_ interface: String) throws -> String {
        try run(["/bin/cat", "/sys/class/net/\(interface)/address"]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}
