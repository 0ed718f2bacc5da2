// The worker allocates nothing per packet or per batch in steady forwarding (NAT both ways, DR), counted per thread.
import CMallocCounter
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

/// A port that replays a fixed set of frames from preallocated memory and counts what is sent,
/// allocating nothing after `init` (so every allocation the test counts is the worker's).
///
/// ```
///  templates (copied once) ─▶ receive: copy into 64 fixed slots ─▶ worker ─▶ transmit: counted by ifindex
/// ```
final class ReplayPort: PacketPort {
    static let slotBytes = 2048
    static let headroom = 256
    let slots: UnsafeMutableRawPointer
    let templates: UnsafeMutableRawPointer
    let templateLengths: [Int]
    let templateInterfaces: [Int32]
    /// Frames left to hand out, and the next template.
    var budget = 0
    var next = 0
    /// Frames sent, by interface index (0…15), and their bytes.
    let sentByInterface = UnsafeMutablePointer<Int>.allocate(capacity: 16)
    var sentBytes = 0

    init(_ frames: [(bytes: [UInt8], interface: Int32)]) {
        slots = .allocate(byteCount: DataPlaneWorker.batchSize * Self.slotBytes, alignment: 64)
        let t = UnsafeMutableRawPointer.allocate(byteCount: max(1, frames.count) * Self.slotBytes, alignment: 64)
        for (i, f) in frames.enumerated() {
            f.bytes.withUnsafeBytes { (t + i * Self.slotBytes).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        templates = t
        templateLengths = frames.map(\.bytes.count)
        templateInterfaces = frames.map(\.interface)
        sentByInterface.initialize(repeating: 0, count: 16)
    }

    deinit {
        slots.deallocate()
        templates.deallocate()
        sentByInterface.deallocate()
    }

    var pollDescriptor: Int32 { -1 }
    var ringDrops: UInt64 { 0 }

    func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        let n = min(capacity, budget, DataPlaneWorker.batchSize)
        for i in 0..<n {
            let t = next
            next = next + 1 == templateLengths.count ? 0 : next + 1
            let slot = slots + i * Self.slotBytes
            (slot + Self.headroom).copyMemory(from: templates + t * Self.slotBytes, byteCount: templateLengths[t])
            frames[i] = ReceivedFrame(
                buffer: slot, capacity: Self.slotBytes, start: Self.headroom, length: templateLengths[t],
                interface: templateInterfaces[t])
        }
        budget -= n
        return n
    }

    func release() {}

    func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        for i in 0..<count {
            sentByInterface[Int(frames[i].ifindex) & 15] += 1
            sentBytes += Int(frames[i].len)
        }
        return count
    }

    func sent(on interface: Int32) -> Int { sentByInterface[Int(interface)] }
}

/// What one measured run saw.
struct AllocationRun {
    var frames = 0
    /// Allocations on this thread over the whole run (receive, batch, transmit, timers).
    var threadAllocations: UInt64 = 0
    /// The worker's own in-batch count (`DataPlaneCounter.mallocs`).
    var workerMallocs: UInt64 = 0
}

/// Runs `batches` full batches through `worker` on this thread, 20 ms of virtual time apart (the
/// rate estimator's 2 s and the defences' 1 s timers fire along the way).
func measureBatches(_ worker: DataPlaneWorker, _ port: ReplayPort, batches: Int, from start: Timestamp)
    -> AllocationRun
{
    var run = AllocationRun()
    let mallocsBefore = worker.statistics()[.mallocs]
    port.budget = batches * DataPlaneWorker.batchSize
    let before = lvs_malloc_thread_count()
    var now = start
    for _ in 0..<batches {
        run.frames += worker.runOnce(now: now)
        now = now + .milliseconds(20)
    }
    run.threadAllocations = lvs_malloc_thread_count() &- before
    run.workerMallocs = worker.statistics()[.mallocs] &- mallocsBefore
    return run
}

#if DEBUG
    /// Debug builds allocate where release builds do not (unspecialized generics, boxed captures).
    let isDebugBuild = true
#else
    let isDebugBuild = false
#endif

@Suite(
    "Data plane worker allocations (per thread, release build)",
    .disabled(if: isDebugBuild, "allocation counts are a property of release builds"))
struct WorkerAllocationTests {
    /// 32 client flows of `l4` to the VIP (ports 40000…), the client's first packets and, for NAT,
    /// the server's replies.
    static func flows(_ l4: PacketBuilder.L4, server: Endpoint, flags: UInt8) -> (
        inbound: [(bytes: [UInt8], interface: Int32)], outbound: [(bytes: [UInt8], interface: Int32)]
    ) {
        var inbound: [(bytes: [UInt8], interface: Int32)] = []
        var outbound: [(bytes: [UInt8], interface: Int32)] = []
        for i in 0..<32 {
            let c = Endpoint(client.address, UInt16(40000 + i))
            inbound.append((PacketBuilder.frame(l4, from: c, to: vip, frameSize: 64, tcpFlags: flags), 2))
            outbound.append(
                (
                    PacketBuilder.frame(
                        l4, from: server, to: c, srcMAC: Macs.server, dstMAC: Macs.directorInside, frameSize: 64,
                        tcpFlags: flags), 3
                ))
        }
        return (inbound, outbound)
    }

    static func worker(_ method: ForwardingMethod, server: Endpoint, replay: ReplayPort, setup: ReplayPort) throws
        -> (DataPlaneWorker, FakeOwner)
    {
        AllocationCounter.install { lvs_malloc_thread_count() }
        let owner = FakeOwner()
        // The worker reads from `setup` first (connections made), then from `replay`.
        let port = SwitchingPort(first: setup, then: replay)
        let worker = DataPlaneWorker(port: port, owner: owner)
        worker.tables = seedTables()
        for p in [TransportProtocol.tcp, .udp] {
            try owner.ipvs.addService(VirtualServiceSpec(key: .endpoint(p, vip), scheduler: "rr"))
            try owner.ipvs.addRealServer(RealServerSpec(endpoint: server, forwarding: method), to: .endpoint(p, vip))
        }
        return (worker, owner)
    }

    @Test(
        "NAT, UDP and TCP: 2 000 batches of established flows both ways, 0 allocations on the worker's thread (issue 12)",
        arguments: [PacketBuilder.L4.udp, .tcp])
    func natSteadyState(_ l4: PacketBuilder.L4) throws {
        let (inbound, outbound) = Self.flows(l4, server: rs, flags: 0x10)
        let (syns, _) = Self.flows(l4, server: rs, flags: 0x02)
        // Connections first (allocations allowed: a new entry may grow a table), then one pass of
        // the steady traffic, then the measured batches.
        let setup = ReplayPort(syns + inbound + outbound)
        let replay = ReplayPort(zip(inbound, outbound).flatMap { [$0, $1] })
        let (worker, _) = try Self.worker(.masquerade, server: rs, replay: replay, setup: setup)
        setup.budget = 32 * 3
        var now = t0
        while worker.runOnce(now: now) > 0 { now = now + .milliseconds(1) }
        #expect(setup.sent(on: 3) == 64 && setup.sent(on: 2) == 32)
        let run = measureBatches(worker, replay, batches: 2000, from: now)
        #expect(run.frames == 2000 * 64)
        // Every frame forwarded: client → server out of eth0 (3), replies out of eth1 (2).
        #expect(replay.sent(on: 3) == run.frames / 2 && replay.sent(on: 2) == run.frames / 2)
        #expect(worker.statistics()[.inbound] == UInt64(32 * 2 + run.frames / 2))
        #expect(run.threadAllocations == 0)
        #expect(run.workerMallocs == 0)
    }

    @Test(
        "DR, UDP and TCP: 2 000 batches of client packets, 0 allocations on the worker's thread (issue 12)",
        arguments: [PacketBuilder.L4.udp, .tcp])
    func drSteadyState(_ l4: PacketBuilder.L4) throws {
        let server = Endpoint(rs.address, 80)
        let (inbound, _) = Self.flows(l4, server: server, flags: 0x10)
        let (syns, _) = Self.flows(l4, server: server, flags: 0x02)
        let setup = ReplayPort(syns + inbound)
        let replay = ReplayPort(inbound)
        let (worker, _) = try Self.worker(.route, server: server, replay: replay, setup: setup)
        setup.budget = 32 * 2
        var now = t0
        while worker.runOnce(now: now) > 0 { now = now + .milliseconds(1) }
        #expect(setup.sent(on: 3) == 64)
        let run = measureBatches(worker, replay, batches: 2000, from: now)
        #expect(run.frames == 2000 * 64)
        #expect(replay.sent(on: 3) == run.frames)
        #expect(run.threadAllocations == 0)
        #expect(run.workerMallocs == 0)
    }

    @Test("idle: 2 000 empty polls (timers, estimator, defences) allocate nothing on the worker's thread")
    func idle() throws {
        let replay = ReplayPort([])
        let (worker, _) = try Self.worker(.masquerade, server: rs, replay: replay, setup: ReplayPort([]))
        #expect(Self.idleAllocations(worker, polls: 2000) == 0)
    }

    /// Allocations on this thread over `polls` empty batches 20 ms apart (after a first one).
    static func idleAllocations(_ worker: DataPlaneWorker, polls: Int) -> UInt64 {
        _ = worker.runOnce(now: t0)
        let before = lvs_malloc_thread_count()
        var now = t0
        for _ in 0..<polls {
            now = now + .milliseconds(20)
            _ = worker.runOnce(now: now)
        }
        return lvs_malloc_thread_count() &- before
    }

    @Test("the count is live: a defence hook that allocates (as reading /proc/meminfo into an Array did) is seen")
    func countIsLive() throws {
        let replay = ReplayPort([])
        let (worker, owner) = try Self.worker(.masquerade, server: rs, replay: replay, setup: ReplayPort([]))
        // What DefenceSupport did before issue 12's fix: a fresh buffer on every read (once a second).
        final class Kept { var buffer: [UInt8] = [] }
        let kept = Kept()
        owner.ipvs.systemAvailablePages = {
            kept.buffer = [UInt8](repeating: 0, count: 4096)
            return kept.buffer.count
        }
        // 4 s of virtual time: the defences ran 4 times.
        #expect(Self.idleAllocations(worker, polls: 200) >= 4)
    }
}

/// Reads from `first` until it has nothing, then from `then`; sends to the port that gave the
/// batch's frames (neither allocates).
final class SwitchingPort: PacketPort {
    let first: ReplayPort
    let then: ReplayPort
    var current: ReplayPort

    init(first: ReplayPort, then: ReplayPort) {
        self.first = first
        self.then = then
        current = first
    }

    var pollDescriptor: Int32 { -1 }
    var ringDrops: UInt64 { 0 }

    func receive(into frames: UnsafeMutablePointer<ReceivedFrame>, capacity: Int) -> Int {
        if first.budget > 0 {
            current = first
            return first.receive(into: frames, capacity: capacity)
        }
        current = then
        return then.receive(into: frames, capacity: capacity)
    }

    func release() {}

    func transmit(_ frames: UnsafePointer<TransmitFrame>, count: Int) -> Int {
        current.transmit(frames, count: count)
    }
}
