// sync-bench: connection sync's costs, driven through the core and the engines without packets or
// sockets: worker-path CPU with and without a master daemon, sync traffic at 10k new connections/s,
// and a bulk resync of 1M connections (master walk + encode, backup decode + apply).
//
// Usage: swift run -c release sync-bench [--quick]
import CLVSLinux
@_spi(Internals) @_spi(Testing) import LVSCore
import LVSSync
import LVSTestSupport

#if canImport(Glibc)
    import Glibc
#endif

let quick = CommandLine.arguments.contains("--quick")
func ns() -> UInt64 { clvs_monotonic_ns() }
let vip = Endpoint(.v4(IPv4Address(192, 168, 0, 240)), 80)
let key = ServiceKey.endpoint(.tcp, vip)

func director(persistent: Bool) -> IPVSDriver {
    let d = IPVSDriver()
    try! d.ipvs.addService(
        VirtualServiceSpec(key: key, scheduler: "rr", flags: persistent ? .persistent : [], persistenceTimeout: 300))
    for i in 0..<8 {
        try! d.ipvs.addRealServer(
            RealServerSpec(endpoint: Endpoint(.v4(IPv4Address(192, 168, 1, UInt8(10 + i))), 80)), to: key)
    }
    return d
}

func client(_ i: Int) -> Endpoint {
    Endpoint(.v4(IPv4Address(0x0A00_0000 | UInt32(i / 60000))), UInt16(1024 + i % 60000))
}

func facts(_ c: Endpoint, _ flags: TCPFlags) -> PacketFacts {
    PacketFacts(
        transport: .tcp, source: c.address, sourcePort: c.port, destination: vip.address, destinationPort: 80,
        tcpFlags: flags, length: 60)
}

// MARK: 1. worker path

print("## Worker-path cost of sync (ns per inbound packet, established connections, release build)\n")
print("| table | no sync daemon | master daemon | cost |")
print("|---|---|---|---|")
for persistent in [false, true] {
    var results: [Double] = []
    for master in [false, true] {
        let d = director(persistent: persistent)
        if master { try! d.ipvs.startSyncDaemon(SyncDaemonSpec(role: .master)) }
        let conns = 10_000
        for i in 0..<conns {
            _ = d.ipvs.processInbound(facts(client(i), [.syn]), now: d.clock.now())
            _ = d.ipvs.processInbound(facts(client(i), [.ack]), now: d.clock.now())
        }
        let packets = quick ? 2_000_000 : 10_000_000
        var buffer: [SyncConnection] = []
        buffer.reserveCapacity(1 << 16)
        let prebuilt = (0..<conns).map { facts(client($0), [.ack]) }
        let now = d.clock.now()
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = ns()
            var i = 0
            while i < packets {
                for j in 0..<1000 { _ = d.ipvs.processInbound(prebuilt[(i + j) % conns], now: now) }
                i += 1000
                if i % 50_000 == 0 { d.ipvs.drainSyncQueue(into: &buffer) }
            }
            best = min(best, Double(ns() - t0) / Double(packets))
        }
        results.append(best)
    }
    print(
        "| \(persistent ? "persistent (template with every packet)" : "not persistent") | \(String(format: "%.1f", results[0])) | \(String(format: "%.1f", results[1])) | \(String(format: "%+.1f%%", (results[1] / results[0] - 1) * 100)) |"
    )
}

// MARK: 2. traffic at 10k new connections/s

print("\n## Sync traffic at 10 000 new connections/s (10 inbound packets each: SYN, 7 ACKs, FIN, ACK; DR)\n")
print("| table | entries/s | messages/s | bytes/s (UDP payload) |")
print("|---|---|---|---|")
for persistent in [false, true] {
    let d = director(persistent: persistent)
    try! d.ipvs.startSyncDaemon(SyncDaemonSpec(role: .master))
    var engine = SyncMasterEngine(syncID: 0, maximumLength: 1472)
    var buffer: [SyncConnection] = []
    let seconds = quick ? 5 : 20
    let perTick = 200  // 10 000/s in 20 ms ticks
    var next = 0
    var messages = 0
    var bytes = 0
    var entries = 0
    for _ in 0..<(seconds * 50) {
        // Each tick: 200 new connections, each sends its 10 packets within the tick.
        for _ in 0..<perTick {
            let c = client(next)
            next += 1
            let flags: [TCPFlags] = [[.syn]] + Array(repeating: [.ack], count: 7) + [[.fin, .ack], [.ack]]
            for f in flags { _ = d.ipvs.processInbound(facts(c, f), now: d.clock.now()) }
        }
        d.clock.advance(by: .milliseconds(20))
        d.ipvs.advance(to: d.clock.now())
        d.ipvs.drainSyncQueue(into: &buffer)
        entries += buffer.count
        let out = engine.enqueue(buffer, version: 1, now: d.clock.now()) + engine.tick(now: d.clock.now())
        messages += out.count
        bytes += out.reduce(0) { $0 + $1.count }
    }
    print(
        "| \(persistent ? "persistent" : "not persistent") | \(entries / seconds) | \(messages / seconds) | \(bytes / seconds) (\(String(format: "%.2f", Double(bytes) / Double(seconds) * 8 / 1e6)) Mbit/s) |"
    )
}

// MARK: 3. bulk resync of 1M connections

let total = quick ? 200_000 : 1_000_000
print("\n## Bulk resync of \(total) connections (in memory: master walk + encode, backup decode + apply)\n")
let m = director(persistent: false)
for i in 0..<total {
    _ = m.ipvs.processInbound(facts(client(i), [.syn]), now: m.clock.now())
    _ = m.ipvs.processInbound(facts(client(i), [.ack]), now: m.clock.now())
}
var engine = SyncMasterEngine(syncID: 0, maximumLength: 1472)
var cursor = SyncTableCursor()
var chunk: [SyncConnection] = []
var wire: [[UInt8]] = []
wire.reserveCapacity(total / 40 + 10)
var t0 = ns()
var walked = 0
var lockHolds: [UInt64] = []
while !cursor.isFinished {
    chunk.removeAll(keepingCapacity: true)
    let h0 = ns()
    m.ipvs.syncTableSnapshot(from: &cursor, limit: 512, into: &chunk)
    lockHolds.append(ns() - h0)
    walked += chunk.count
    wire += engine.enqueue(chunk, version: 1, now: m.clock.now())
}
wire += engine.flush()
let masterTime = Double(ns() - t0) / 1e9
let b = director(persistent: false)
var backup = SyncBackupEngine(syncID: 0, maximumLength: 65507)
t0 = ns()
var applied = 0
for datagram in wire {
    if case .apply(let cs) = datagram.withUnsafeBytes({ backup.receive($0, now: .zero) }) {
        for c in cs { _ = b.ipvs.applySynced(c, now: b.clock.now()) }
        applied += cs.count
    }
}
let backupTime = Double(ns() - t0) / 1e9
let wireBytes = wire.reduce(0) { $0 + $1.count }
lockHolds.sort()
print("| | value |")
print("|---|---|")
print("| entries | \(walked) walked, \(applied) applied, backup table \(b.ipvs.connectionCount) |")
print("| messages | \(wire.count) (\(wireBytes / 1_000_000) MB) |")
print(
    "| master: walk + encode | \(String(format: "%.2f", masterTime)) s; lock held per 512-entry chunk: median \(lockHolds[lockHolds.count / 2] / 1000) µs, max \(lockHolds.last! / 1000) µs |"
)
print("| backup: decode + apply | \(String(format: "%.2f", backupTime)) s |")
let paced = Double(wire.count) / (Double(128) / 0.002)
print("| the answer's pacing (128 datagrams per 2 ms) alone | \(String(format: "%.2f", paced)) s |")
