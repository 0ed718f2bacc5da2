// Seed 000's observed sequences come out of the kernel's rules.
import LVSCore
import LVSTestSupport
import Testing

@Suite struct SeedSchedulingTests {
    let vip = Endpoint("192.168.1.109:80")
    let rs1 = Endpoint("192.168.0.112:80")
    let rs2 = Endpoint("192.168.0.113:80")

    func names(_ d: IPVSDriver, _ n: Int) -> [String] {
        (0..<n).map { _ in
            let s = d.connect(from: IPAddress(literal: "192.168.1.109"), to: vip)
            return s == rs1 ? "rs1" : s == rs2 ? "rs2" : "none"
        }
    }

    @Test("seed 000 rr: a new server goes at the head of the list, so the first curl lands on rs2")
    func roundRobin() throws {
        let d = IPVSDriver()
        try d.ipvs.addService(VirtualServiceSpec(key: .endpoint(.tcp, vip), scheduler: "rr"))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs1, forwarding: .masquerade), to: .endpoint(.tcp, vip))
        try d.ipvs.addRealServer(RealServerSpec(endpoint: rs2, forwarding: .masquerade), to: .endpoint(.tcp, vip))
        #expect(names(d, 4) == ["rs2", "rs1", "rs2", "rs1"])
    }

    @Test("seed 000 wrr 1:2: from a fresh table rs2 rs1 rs2 rs2 rs1 rs2 (K:ip_vs_wrr.c cw kept on add)")
    func weightedRoundRobin() throws {
        let d = IPVSDriver()
        try d.ipvs.addService(VirtualServiceSpec(key: .endpoint(.tcp, vip), scheduler: "wrr"))
        try d.ipvs.addRealServer(
            RealServerSpec(endpoint: rs1, forwarding: .masquerade, weight: 1), to: .endpoint(.tcp, vip))
        try d.ipvs.addRealServer(
            RealServerSpec(endpoint: rs2, forwarding: .masquerade, weight: 2), to: .endpoint(.tcp, vip))
        let seq = names(d, 9)
        #expect(seq == ["rs2", "rs1", "rs2", "rs2", "rs1", "rs2", "rs2", "rs1", "rs2"])
        // The seed's observed run is a window of it.
        #expect(seq[1...6].elementsEqual(["rs1", "rs2", "rs2", "rs1", "rs2", "rs2"]))
    }

    @Test("ipvs-semantics §1: wrr A(4) B(3) C(2) in list order A, B, C gives A A B A B C A B C")
    func wrrReferenceExample() throws {
        let d = IPVSDriver()
        let key = ServiceKey.endpoint(.tcp, vip)
        // The example starts with cw = mw, which is what wrr's init_service gives when the servers
        // are already in place: build the list under rr, then switch the service to wrr (-E).
        try d.ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
        let a = Endpoint("10.0.0.1:80")
        let b = Endpoint("10.0.0.2:80")
        let c = Endpoint("10.0.0.3:80")
        // List order A, B, C means C was added first (new servers go at the head).
        try d.ipvs.addRealServer(RealServerSpec(endpoint: c, weight: 2), to: key)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: b, weight: 3), to: key)
        try d.ipvs.addRealServer(RealServerSpec(endpoint: a, weight: 4), to: key)
        try d.ipvs.editService(VirtualServiceSpec(key: key, scheduler: "wrr"))
        let picks = (0..<9).map { _ -> String in
            let s = d.connect(from: IPAddress(literal: "172.16.0.1"), to: vip)
            return s == a ? "A" : s == b ? "B" : s == c ? "C" : "?"
        }
        #expect(picks.joined(separator: " ") == "A A B A B C A B C")
    }
}
