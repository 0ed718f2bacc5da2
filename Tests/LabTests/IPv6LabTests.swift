// IPv6 through the data plane: NAT of a [VIP]:80 service, from a client and from the director.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: IPv6", .lab)
struct IPv6LabTests {
    @Test("IPv6 NAT: [fd00:1::1]:80 → [fd00:2::11]:80 and [fd00:2::12]:80, remote and local clients")
    func natIPv6() throws {
        let lab = try LabNetwork("v6")
        defer { lab.close() }
        let client = try lab.host("cli")
        let dir = try lab.host("dir")
        let rs1 = try lab.host("rs1")
        let rs2 = try lab.host("rs2")
        let lan = try lab.makeSwitch("sw")
        try lab.link(client, "eth0", dir, "eth1")
        try client.ip("addr add fd00:1::2/64 dev eth0 nodad")
        try dir.ip("addr add fd00:1::1/64 dev eth1 nodad")
        try lan.attach(dir, "eth0")
        try dir.ip("addr add fd00:2::1/64 dev eth0 nodad")
        for (h, a, body) in [(rs1, "fd00:2::11", "rs1 nginx"), (rs2, "fd00:2::12", "rs2 nginx")] {
            try lan.attach(h, "eth0")
            try h.ip("addr add \(a)/64 dev eth0 nodad")
            try h.ip("-6 route add default via fd00:2::1")
            try h.startNginx(body: body, ports: [80], ipv6: true)
        }
        try dir.startLVSD()
        try dir.ipvsadmScript([
            "-A -t [fd00:1::1]:80 -s rr", "-a -t [fd00:1::1]:80 -r [fd00:2::11]:80 -m",
            "-a -t [fd00:1::1]:80 -r [fd00:2::12]:80 -m",
        ])
        #expect(try client.curlTimes(2, "http://[fd00:1::1]/") == ["rs2 nginx", "rs1 nginx"])
        #expect(try dir.curlTimes(2, "http://[fd00:1::1]/") == ["rs2 nginx", "rs1 nginx"])
        #expect(try dir.ipvsadm("-Lnc").stdout.contains("[fd00:1::2]:"))
    }
}
