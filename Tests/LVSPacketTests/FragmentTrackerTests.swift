// The fragment tracker: later fragments find their first one by ID for a while, bounded, expiring by Timestamp.
import LVSCore
import LVSPacket
import LVSTestSupport
import Testing

@Suite("Fragment tracker")
struct FragmentTrackerTests {
    func fragments(id: UInt16, client: Endpoint = FixtureNet.v4.client) -> (PacketInfo, PacketInfo) {
        let n = FixtureNet.v4
        let d = PacketBuilder.ipPacket(
            PacketBuilder.frame(
                .udp, from: client, to: n.virtual, dontFragment: false, payload: PacketBuilder.pattern(2000), id: id))
        let fr = PacketBuilder.ipv4Fragments(d, sizes: [1480, 0]).map {
            parse(PacketBuilder.ethernet(dst: Macs.director, src: Macs.client, etherType: 0x0800, payload: $0)).1
        }
        return (fr[0], fr[1])
    }

    @Test("a later fragment gets the first fragment's ports and value within the timeout, not after")
    func resolve() {
        let clock = FakeClock()
        var t = FragmentTracker(capacity: 64, timeout: .seconds(2))
        let (first, later) = fragments(id: 7)
        #expect(first.isFirstFragment && first.hasPorts)
        #expect(later.isLaterFragment && !later.hasPorts)
        var l = later
        #expect(t.resolve(&l, now: clock.now()) == nil)
        let fit = t.recordFirst(first, value: 42, now: clock.now())
        #expect(fit)
        clock.advance(seconds: 1.5)
        #expect(t.resolve(&l, now: clock.now()) == 42)
        #expect(l.hasPorts && l.sourcePort == 40000 && l.destinationPort == 80)
        clock.advance(seconds: 1)
        var l2 = later
        #expect(t.resolve(&l2, now: clock.now()) == nil)
        #expect(t.liveCount(now: clock.now()) == 0)
    }

    @Test("IDs, addresses and families keep datagrams apart")
    func separate() {
        var t = FragmentTracker(capacity: 64)
        let (a, la) = fragments(id: 1)
        let (_, lb) = fragments(id: 2)
        let (_, lc) = fragments(id: 1, client: Endpoint(.v4(IPv4Address(203, 0, 113, 6)), 40000))
        t.recordFirst(a, value: 1, now: .zero)
        #expect(t.lookup(la, now: .zero)?.value == 1)
        #expect(t.lookup(lb, now: .zero) == nil)
        #expect(t.lookup(lc, now: .zero) == nil)
    }

    @Test("bounded: when a set is full of live entries the oldest is evicted and counted")
    func overflow() {
        var t = FragmentTracker(capacity: 4)  // one set of 4 ways
        #expect(t.capacity == 4)
        var infos: [PacketInfo] = []
        for id in 0..<5 {
            let (f, l) = fragments(id: UInt16(id))
            infos.append(l)
            let fit = t.recordFirst(f, value: UInt64(id), now: Timestamp(nanoseconds: UInt64(id + 1)))
            #expect(fit == (id < 4))
        }
        #expect(t.overflows == 1)
        #expect(t.lookup(infos[0], now: Timestamp(nanoseconds: 10)) == nil)  // the oldest went
        #expect(t.lookup(infos[4], now: Timestamp(nanoseconds: 10))?.value == 4)
        #expect(t.liveCount(now: Timestamp(nanoseconds: 10)) == 4)
    }
}
