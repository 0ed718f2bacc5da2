// The ipvsadm verbs and their kernel error cases; statistics and the rate estimator's arithmetic.
@_spi(Testing) import LVSCore
import LVSTestSupport
import Testing

@Suite struct FacadeTests {
    let vip = Endpoint("10.0.0.1:80")
    var key: ServiceKey { .endpoint(.tcp, vip) }

    func error(_ body: () throws -> Void) -> IPVSError.Code? {
        do {
            try body()
            return nil
        } catch let e as IPVSError {
            return e.code
        } catch {
            return nil
        }
    }

    @Test("service verbs: EEXIST, ESRCH, ENOENT (scheduler or pe), EINVAL (name ≥ 16, IPv6 prefix)")
    func serviceErrors() throws {
        let ipvs = IPVS()
        try ipvs.addService(VirtualServiceSpec(key: key))
        #expect(error { try ipvs.addService(VirtualServiceSpec(key: key)) } == .serviceExists)
        #expect(error { try ipvs.editService(VirtualServiceSpec(key: .endpoint(.udp, vip))) } == .noSuchService)
        #expect(error { try ipvs.deleteService(.endpoint(.udp, vip)) } == .noSuchService)
        #expect(error { try ipvs.zero(.endpoint(.udp, vip)) } == .noSuchService)
        #expect(error { try ipvs.service(.firewallMark(1, .inet)) } == .noSuchService)
        let other = ServiceKey.endpoint(.tcp, Endpoint("10.0.0.2:80"))
        #expect(error { try ipvs.addService(VirtualServiceSpec(key: other, scheduler: "bogus")) } == .schedulerNotFound)
        #expect(
            error { try ipvs.addService(VirtualServiceSpec(key: other, persistenceEngine: "http")) }
                == .schedulerNotFound)
        #expect(
            error { try ipvs.addService(VirtualServiceSpec(key: other, scheduler: "abcdefghijklmnop")) }
                == .invalidArgument)
        let v6 = ServiceKey.endpoint(.tcp, Endpoint("[2001:db8::1]:80"))
        #expect(error { try ipvs.addService(VirtualServiceSpec(key: v6, netmask: 129)) } == .invalidArgument)
        try ipvs.addService(VirtualServiceSpec(key: v6, flags: .persistent, persistenceTimeout: 360, netmask: 64))
        #expect(IPVSError(.serviceExists).message == "Service already exists")
        #expect(IPVSError(.serviceNotDefined).message == "Service not defined")
    }

    @Test(
        "real-server verbs: ESRCH → \"Service not defined\", EEXIST, ENOENT, ERANGE, EINVAL (GUE port 0, mixed family)")
    func realServerErrors() throws {
        let ipvs = IPVS()
        let rs = Endpoint("192.168.0.2:80")
        #expect(error { try ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key) } == .serviceNotDefined)
        try ipvs.addService(VirtualServiceSpec(key: key))
        try ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key)
        #expect(error { try ipvs.addRealServer(RealServerSpec(endpoint: rs), to: key) } == .destinationExists)
        let other = Endpoint("192.168.0.3:80")
        #expect(error { try ipvs.editRealServer(RealServerSpec(endpoint: other), in: key) } == .noSuchDestination)
        #expect(error { try ipvs.deleteRealServer(other, from: key) } == .noSuchDestination)
        #expect(error { try ipvs.addRealServer(RealServerSpec(endpoint: other, weight: -1), to: key) } == .outOfRange)
        #expect(
            error {
                try ipvs.addRealServer(RealServerSpec(endpoint: other, upperThreshold: 5, lowerThreshold: 6), to: key)
            }
                == .outOfRange)
        #expect(
            error {
                try ipvs.addRealServer(
                    RealServerSpec(endpoint: other, forwarding: .tunnel(TunnelSpec(type: .gue, port: 0))), to: key)
            } == .invalidArgument)
        let v6 = Endpoint("[2001:db8::2]:80")
        #expect(error { try ipvs.addRealServer(RealServerSpec(endpoint: v6), to: key) } == .invalidArgument)
        try ipvs.addRealServer(RealServerSpec(endpoint: v6, forwarding: .tunnel(TunnelSpec())), to: key)
    }

    @Test("listing: servers in kernel order (newest first), forwarding names, flush, delete")
    func listing() throws {
        let ipvs = IPVS()
        try ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr", flags: [.persistent], persistenceTimeout: 20))
        for (i, m) in [ForwardingMethod.route, .masquerade, .tunnel(TunnelSpec())].enumerated() {
            try ipvs.addRealServer(
                RealServerSpec(endpoint: Endpoint(.v4(IPv4Address(192, 168, 0, UInt8(i + 1))), 80), forwarding: m),
                to: key)
        }
        let e = try ipvs.service(key)
        #expect(e.realServers.map(\.spec.forwarding.listingName) == ["Tunnel", "Masq", "Route"])
        #expect(e.spec.scheduler == "rr" && e.spec.persistenceTimeout == 20 && e.spec.netmask == 0xFFFF_FFFF)
        #expect(ipvs.info.connectionTableSize == 4096 && ipvs.info.serviceCount == 1)
        ipvs.flush()
        #expect(ipvs.services().isEmpty)
    }

    @Test("modern __ip_vs_update_dest keeps the configured method for a server on a local address")
    func localServer() throws {
        let ipvs = IPVS()
        ipvs.isLocalAddress = { $0 == IPAddress(literal: "10.0.0.1") }
        try ipvs.addService(VirtualServiceSpec(key: key))
        try ipvs.addRealServer(RealServerSpec(endpoint: Endpoint("10.0.0.1:8080"), forwarding: .masquerade), to: key)
        #expect(try ipvs.service(key).realServers[0].spec.forwarding == .masquerade)
    }

    @Test(
        "K:ip_vs_est.c: every 2 s rate = Δ<<9 (cps, pps) or Δ<<4 (bps), avg += (rate−avg)>>2, read (x+0x1FF)>>10, (x+0xF)>>5"
    )
    func estimator() {
        var s = StatsBlock()
        var shown: [UInt64] = []
        for _ in 0..<6 {
            for _ in 0..<10 { s.countConnection() }
            s.countIn(bytes: 1000)
            s.estimate()
            shown.append(s.rates.cps)
        }
        // avg: 1280, 2240, 2960, 3500, 3905, 4209 → cps 1, 2, 3, 3, 4, 4
        #expect(shown == [1, 2, 3, 3, 4, 4])
        // Bytes: Δ = 1000 each tick: rate 16000; avg after one tick 4000 → (4000+15)>>5 = 125.
        var b = StatsBlock()
        b.countIn(bytes: 1000)
        b.estimate()
        #expect(b.rates.inBPS == 125 && b.rates.inPPS == 0)
        // A quiet period decays with an arithmetic shift.
        for _ in 0..<40 { b.estimate() }
        #expect(b.rates.inBPS == 0)
        b.zero()
        #expect(b.rates == IPVSRates() && b.shown == IPVSCounters())
    }

    @Test("the table runs the estimator every 2 s of the injected clock")
    func estimatorCadence() throws {
        let d = IPVSDriver()
        try d.ipvs.addService(VirtualServiceSpec(key: .endpoint(.udp, Endpoint("10.0.0.1:53")), scheduler: "rr"))
        try d.ipvs.addRealServer(
            RealServerSpec(endpoint: Endpoint("192.168.0.2:53")), to: .endpoint(.udp, Endpoint("10.0.0.1:53")))
        d.advance(seconds: 0)
        for _ in 0..<300 {
            for _ in 0..<20 { d.udp(Endpoint("172.16.0.1:\(d.clientPort())"), Endpoint("10.0.0.1:53"), length: 100) }
            d.advance(seconds: 0.2)
        }
        // 100 packets/s, 10 kB/s, 100 conns/s for 60 s (30 steps of weight 1/4): converged within a unit.
        let r = d.ipvs.totals.rates
        #expect((98...100).contains(r.inPPS) && (98...100).contains(r.cps) && (9_800...10_000).contains(r.inBPS))
    }
}
