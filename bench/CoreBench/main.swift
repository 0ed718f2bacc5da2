// core-bench: scheduler decision cost and connection-table cost/memory of LVSCore (issue 2).
//
// Usage: swift run -c release core-bench [--quick]
import CLVSLinux
import CMallocCounter
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSTestSupport

#if canImport(Glibc)
    import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
let tableOnly = CommandLine.arguments.contains("--table-only")

func now() -> UInt64 { clvs_monotonic_ns() }

/// Resident set size in bytes (from /proc/self/statm).
func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0
    var resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(f, "%d %d", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func f1(_ x: Double) -> String {
    let v = (x * 10).rounded() / 10
    return String(v)
}

// MARK: schedulers

let schedulers = ["rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos", "lblc", "lblcr", "dh", "sh", "mh"]
let sizes = [2, 100, 1000]
let vip = Endpoint(.v4(IPv4Address(10, 0, 0, 1)), 80)
let key = ServiceKey.endpoint(.tcp, vip)

if !tableOnly {
    print("## Scheduler decision cost (ns per decision, release build)\n")
    print("| scheduler | 2 servers | 100 servers | 1000 servers | 1000 servers, with a load update per decision |")
    print("|---|---|---|---|---|")
    for name in schedulers {
        var cells: [String] = []
        var withUpdate = ""
        for n in sizes {
            let ipvs = IPVS()
            try! ipvs.addService(VirtualServiceSpec(key: key, scheduler: name))
            var slots: [Int32] = []
            for i in 0..<n {
                let e = Endpoint(.v4(IPv4Address(0xC0A8_0000 + UInt32(i) + 1)), 80)
                try! ipvs.addRealServer(RealServerSpec(endpoint: e, weight: Int32(1 + i % 7)), to: key)
                slots.append(ipvs.serverSlot(e, in: key)!)
            }
            // A realistic spread of loads.
            for (i, s) in slots.enumerated() {
                ipvs.setLoad(slot: s, active: Int32(i * 7 % 13), inactive: Int32(i * 31 % 50), overloaded: false)
            }
            let iterations = quick ? 200_000 : 2_000_000
            var requests: [SchedulingRequest] = []
            for i in 0..<1024 {
                requests.append(
                    SchedulingRequest(
                        transport: .tcp, source: .v4(IPv4Address(0xAC10_0000 &+ UInt32(i) &* 2_654_435_761)),
                        sourcePort: UInt16(truncatingIfNeeded: 1024 + i),
                        destination: .v4(IPv4Address(0x0A00_0000 + UInt32(i % 64))),
                        destinationPort: 80))
            }
            var sink: Int64 = 0
            let t0 = now()
            let sslot = ipvs.serviceSlot(key)!
            for i in 0..<iterations { sink &+= Int64(ipvs.pickServer(serviceSlot: sslot, requests[i & 1023])) }
            let t1 = now()
            cells.append(f1(Double(t1 - t0) / Double(iterations)))
            if n == 1000 {
                let t2 = now()
                for i in 0..<iterations {
                    let d = ipvs.pickServer(serviceSlot: sslot, requests[i & 1023])
                    if d >= 0 {
                        let a = ipvs.store.activeConnections(d)
                        ipvs.setLoad(slot: d, active: (a + 1) % 50, inactive: 3, overloaded: false)
                    }
                    sink &+= Int64(d)
                }
                let t3 = now()
                withUpdate = f1(Double(t3 - t2) / Double(iterations))
            }
            if sink == 42 { print("") }
        }
        print("| \(name) | \(cells[0]) | \(cells[1]) | \(cells[2]) | \(withUpdate) |")
    }
}

// MARK: connection table

print("\n## Connection table (release build)\n")
print(
    "| entries | insert ns/conn (new SYN, full path) | lookup ns/packet (ACK, full path) | raw lookupIn ns | expire ns/conn | bytes/conn (table) | bytes/conn (RSS) | mallocs per 1M lookups |"
)
print("|---|---|---|---|---|---|---|---|")
let tableSizes = quick ? [1_000_000] : [1_000_000, 10_000_000]
for n in tableSizes {
    var config = IPVSConfiguration()
    config.maxConnections = n + 1000
    let rss0 = residentBytes()
    let ipvs = IPVS(configuration: config)
    try! ipvs.addService(VirtualServiceSpec(key: key, scheduler: "rr"))
    for i in 0..<10 {
        try! ipvs.addRealServer(
            RealServerSpec(
                endpoint: Endpoint(.v4(IPv4Address(0xC0A8_0000 + UInt32(i) + 1)), 80), forwarding: .masquerade),
            to: key)
    }
    func client(_ i: Int) -> (IPAddress, UInt16) {
        (.v4(IPv4Address(0xAC10_0000 &+ UInt32(i >> 14))), UInt16(1024 + (i & 0x3FFF)))
    }
    var t = Timestamp.seconds(1)
    var facts = PacketFacts(
        transport: .tcp, source: .v4(.any), sourcePort: 0, destination: vip.address, destinationPort: 80,
        tcpFlags: [.syn])
    let t0 = now()
    for i in 0..<n {
        let (a, p) = client(i)
        facts.source = a
        facts.sourcePort = p
        _ = ipvs.processInbound(facts, now: t)
    }
    let t1 = now()
    let insertNs = Double(t1 - t0) / Double(n)
    let rss1 = residentBytes()
    // Lookups: ACKs of existing connections, random order.
    facts.tcpFlags = [.ack]
    let lookups = quick ? 1_000_000 : 5_000_000
    var x: UInt64 = 88_172_645_463_325_252
    let m0 = lvs_malloc_count()
    let t2 = now()
    for _ in 0..<lookups {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        let (a, p) = client(Int(x % UInt64(n)))
        facts.source = a
        facts.sourcePort = p
        _ = ipvs.processInbound(facts, now: t)
    }
    let t3 = now()
    let m1 = lvs_malloc_count()
    // Raw lookups in the table.
    let table = ipvs.connections
    var found: UInt64 = 0
    let t4 = now()
    for _ in 0..<lookups {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        let (a, p) = client(Int(x % UInt64(n)))
        let id = table.lookupIn(
            protocol: 6, family: .inet, client: RawAddress(a), clientPort: p, virtual: RawAddress(vip.address),
            virtualPort: 80)
        found &+= UInt64(id & 1)
    }
    let t5 = now()
    if found == 1 { print("") }
    let bytesPerConn = Double(table.memoryBytes) / Double(ipvs.connectionCount)
    let rssPerConn = Double(rss1 - rss0) / Double(n)
    // Expire: all are ESTABLISHED (900 s); jump past it.
    t = t + .seconds(1000)
    let t6 = now()
    ipvs.advance(to: t)
    let t7 = now()
    let expired = n - ipvs.connectionCount
    print(
        "| \(n) | \(f1(insertNs)) | \(f1(Double(t3 - t2) / Double(lookups))) | \(f1(Double(t5 - t4) / Double(lookups))) | \(f1(Double(t7 - t6) / Double(max(expired, 1)))) | \(f1(bytesPerConn)) | \(f1(rssPerConn)) | \(Double(m1 - m0) / Double(lookups) * 1_000_000) |"
    )
}
print("\nConnectionRecord stride: \(MemoryLayout<ConnectionRecord>.stride) bytes")
