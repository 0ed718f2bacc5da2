// A worker that falls behind sheds new connections and keeps forwarding established ones (issue 12).
import LVSCore
import LVSDataPlane
import LVSPacket
import LVSTestSupport
import Testing

@Suite("Data plane overload: established before new (fake port)")
struct OverloadWorkerTests {
    /// Client A's connection, then `pairs` × (a packet of A, a SYN of a new client port).
    func establishedAndNew(_ h: Harness, pairs: Int) {
        h.port.ringSize = 256
        for i in 0..<pairs {
            h.port.inject(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [1], tcpFlags: 0x18), interface: 2)
            let newcomer = Endpoint(client.address, UInt16(50_000 + i))
            h.port.inject(PacketBuilder.frame(.tcp, from: newcomer, to: vip, payload: [], tcpFlags: 0x02), interface: 2)
        }
    }

    @Test(
        "half a ring waiting after a full batch: SYNs of new connections are shed and counted, the established connection's packets are forwarded, until the ring drains"
    )
    func shedsNewUntilDrained() throws {
        let h = try Harness()
        #expect(h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2).count == 1)
        establishedAndNew(h, pairs: 96)  // 192 frames: three batches of 64 with a 256-frame ring

        h.worker.runOnce(now: t0)  // 128 still wait (half the ring): behind
        #expect(h.worker.shedding)
        #expect(h.port.takeSent().count == 32)  // A's 32 packets; the 32 SYNs shed
        #expect(h.worker.statistics()[.overloadShed] == 32)
        #expect(h.owner.ipvs.connectionCount == 1)

        h.worker.runOnce(now: t0)  // 64 still wait (a quarter): still behind
        #expect(h.worker.shedding)
        #expect(h.port.takeSent().count == 32)

        h.worker.runOnce(now: t0)  // nothing waits: caught up, the last 32 SYNs are scheduled
        #expect(!h.worker.shedding)
        #expect(h.port.takeSent().count == 64)
        #expect(h.owner.ipvs.connectionCount == 33)
        let s = h.worker.statistics()
        #expect(s[.overloadShed] == 64)
        #expect(s[.overloadEpisodes] == 1)
        #expect(s[.ipvsDropped] == 0)
        #expect(h.owner.ipvs.refusalCounts.first { $0.reason == "overload" }?.count == 64)
        // The XDP program was told once to drop 15 SYNs in 16, and to stop 100 ms after the
        // worker was last behind.
        #expect(h.port.sheddingChanges == [61440])
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 99_000_000))
        #expect(h.port.sheddingChanges == [61440])
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 100_000_000))
        #expect(h.port.sheddingChanges == [61440, 0])
        #expect(h.worker.programShare == 0)
    }

    @Test(
        "behind again within the hold: the program keeps shedding, told nothing new, until 100 ms after the last time")
    func programHoldsWhileBehindAgain() throws {
        let h = try Harness()
        #expect(h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2).count == 1)
        for step in 0..<3 {
            establishedAndNew(h, pairs: 96)  // half a ring waits after each first batch
            let at = Timestamp(nanoseconds: t0.nanoseconds + UInt64(step) * 60_000_000)
            h.worker.runOnce(now: at)
            #expect(h.worker.shedding)
            h.worker.runOnce(now: at)
            h.worker.runOnce(now: at)  // caught up
            #expect(!h.worker.shedding)
            _ = h.port.takeSent()
        }
        // Last behind at t0 + 120 ms: still shedding at + 219 ms, not at + 220 ms.
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 219_000_000))
        #expect(h.port.sheddingChanges == [61440])
        h.worker.runOnce(now: Timestamp(nanoseconds: t0.nanoseconds + 220_000_000))
        #expect(h.port.sheddingChanges == [61440, 0])
        #expect(h.worker.statistics()[.overloadEpisodes] == 3)
    }

    @Test("a full batch that leaves less than half the ring waiting sheds nothing")
    func keepsUpUnderHalf() throws {
        let h = try Harness()
        #expect(h.run(PacketBuilder.frame(.tcp, from: client, to: vip, payload: [], tcpFlags: 0x02), on: 2).count == 1)
        establishedAndNew(h, pairs: 50)  // 100 frames: 36 wait after the first batch
        h.worker.runOnce(now: t0)
        h.worker.runOnce(now: t0)
        #expect(!h.worker.shedding)
        #expect(h.port.takeSent().count == 100)
        #expect(h.owner.ipvs.connectionCount == 51)
        #expect(h.worker.statistics()[.overloadShed] == 0)
    }
}
