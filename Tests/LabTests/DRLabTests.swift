// Direct routing (seeds 000 and 003): the VIP on the director, real servers prepared by lvs-realserver.
import Foundation
import LVSTestSupport
import Testing

@Suite("Lab: direct routing (seeds 000/003)", .lab, .serialized)
struct DRLabTests {
    @Test("seed 000 lvs_dr.sh + lvs_rs.sh: curl from a separate client alternates; replies bypass the director")
    func roundRobin() throws {
        let l = try SeedLANLab("dr-rr")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] { try rs.prepareRealServer("start 192.168.0.240") }
        try l.director.ipvsadmScript([
            "-C", "-A -t 192.168.0.240:80 -s rr", "-a -t 192.168.0.240:80 -r 192.168.0.223:80 -g -w 1",
            "-a -t 192.168.0.240:80 -r 192.168.0.224:80 -g -w 1",
        ])
        #expect(
            try l.client.curlTimes(4, "http://192.168.0.240/") == ["rs2 nginx", "rs1 nginx", "rs2 nginx", "rs1 nginx"])
        // The real server saw the client itself, and no reply passed through the director:
        // IPVS counts no outgoing packet for DR (as the kernel's).
        #expect(
            try l.client.curl("http://192.168.0.240/ip")?.trimmingCharacters(in: .whitespacesAndNewlines)
                == "192.168.0.220")
        let stats = try l.director.ipvsadm("-Ln --stats").stdout.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true)
        }
        let service = try #require(stats.first { $0.first == "TCP" })
        // Prot LocalAddress:Port Conns InPkts OutPkts InBytes OutBytes
        #expect(
            service[3] != "0" && service[4] == "0" && service[6] == "0",
            "InPkts counted, OutPkts/OutBytes 0: \(service)")
    }

    @Test("seed 003: -p 20 keeps a client on one server; -Lnc shows FIN_WAIT with --set 30 5 60; --stats counts")
    func persistenceAndConnections() throws {
        let l = try SeedLANLab("dr-persist")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] { try rs.prepareRealServer("start 192.168.0.240") }
        // seed 003 ipvs_server.sh start.
        try l.director.ipvsadmScript([
            "-C", "--set 30 5 60", "-A -t 192.168.0.240:80 -s rr -p 20",
            "-a -t 192.168.0.240:80 -r 192.168.0.223 -g -w 1", "-a -t 192.168.0.240:80 -r 192.168.0.224 -g -w 1",
        ])
        #expect(try l.director.ipvsadm("-L --timeout").stdout == "Timeout (tcp tcpfin udp): 30 5 60\n")
        let bodies = try l.client.curlTimes(4, "http://192.168.0.240/")
        #expect(Set(bodies).count == 1 && bodies[0].hasSuffix("nginx"), "one server for one client: \(bodies)")
        let lines = connectionLines(try l.director.ipvsadm("-Lnc").stdout)
        let finished = lines.filter { $0.count == 6 && $0[0] == "TCP" && $0[2] == "FIN_WAIT" }
        #expect(finished.count == 4, "\(lines)")
        // FIN_WAIT expires after tcpfin = 5 s: the listing counts down from at most 00:05.
        #expect(finished.allSatisfy { $0[1] <= "00:05" })
        let template = lines.filter { $0.count == 6 && $0[3] == "192.168.0.220:0" }
        #expect(template.count == 1 && template[0][2] == "ASSURED", "\(lines)")
        let stats = try l.director.ipvsadm("-Ln --stats").stdout
        let service = try #require(
            stats.split(separator: "\n").first { $0.hasPrefix("TCP") }?.split(
                separator: " ", omittingEmptySubsequences: true))
        #expect(service[2] == "4", "4 connections counted: \(service)")
        #expect((Int(service[3]) ?? 0) >= 20, "in packets counted: \(service)")
        #expect((Int(service[5]) ?? 0) > 1000, "in bytes counted: \(service)")
        // -Lnc expiry is real: after 6 s the finished connections are gone, the template stays.
        sleep(6)
        let later = connectionLines(try l.director.ipvsadm("-Lnc").stdout)
        #expect(!later.contains { $0.count == 6 && $0[2] == "FIN_WAIT" }, "\(later)")
        #expect(later.contains { $0.count == 6 && $0[3] == "192.168.0.220:0" })
    }

    @Test("UDP in DR: the echo answers the client directly with the VIP as source")
    func udpDR() throws {
        let l = try SeedLANLab("dr-udp")
        defer { l.lab.close() }
        for rs in [l.rs1, l.rs2] { try rs.prepareRealServer("start 192.168.0.240") }
        try l.director.ipvsadmScript([
            "-A -u 192.168.0.240:5353 -s rr", "-a -u 192.168.0.240:5353 -r 192.168.0.223 -g",
            "-a -u 192.168.0.240:5353 -r 192.168.0.224 -g",
        ])
        var answers: [String] = []
        for i in 0..<4 {
            answers.append(
                try l.client.udpRequest(SeedLANLab.vip, 5353, "q\(i)", sourcePort: UInt16(41000 + i)) ?? "(none)")
        }
        #expect(answers == ["rs2 q0", "rs1 q1", "rs2 q2", "rs1 q3"])
    }
}
