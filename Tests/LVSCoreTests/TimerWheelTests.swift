// The timing wheel fires every timer exactly at its tick, however often and whichever way it moves.
@_spi(Internals) @_spi(Testing) import LVSCore
import Testing

@Suite struct TimerWheelTests {
    @Test("random timers, re-armed earlier and later, fire at exactly their tick (±0), never lost")
    func exactExpiry() {
        var g = ScenarioRandom(state: 42)
        let table = ConnectionTable(maxConnections: 100_000, seed: 1)
        var now: UInt32 = 1_000
        table.startClock(now)
        var due: [UInt32: UInt32] = [:]  // id → expiry tick
        var fired = 0
        for step in 0..<20_000 {
            let op = g.below(10)
            if op < 4 || due.isEmpty {
                let id = table.allocate()!
                let at = now &+ UInt32(g.below(g.below(4) == 0 ? 200_000 : 3_000))
                table.arm(id, expires: at)
                due[id] = at
            } else if op < 8 {
                let id = Array(due.keys)[g.below(due.count)]
                let at = now &+ UInt32(g.below(g.below(3) == 0 ? 100_000 : 2_000))
                table.arm(id, expires: at)
                due[id] = at
            } else {
                now &+= UInt32(g.below(op == 9 ? 20_000 : 50))
                table.advance(to: now) { id, tick in
                    #expect(
                        due[id] == tick, "step \(step): id \(id) due \(due[id].map(String.init) ?? "-") fired \(tick)")
                    due[id] = nil
                    table.free(id)
                    fired += 1
                }
                // Nothing overdue is left behind.
                #expect(!due.values.contains { Int32(bitPattern: $0 &- now) <= 0 })
            }
        }
        #expect(fired > 1000)
    }

    @Test("a timer may be re-armed from inside an expiry handler (expire later by 60 s)")
    func rearmInHandler() {
        let table = ConnectionTable(maxConnections: 10, seed: 1)
        table.startClock(0)
        let id = table.allocate()!
        table.arm(id, expires: 100)
        var fires: [UInt32] = []
        table.advance(to: 10_000) { id, tick in
            fires.append(tick)
            if fires.count < 3 { table.arm(id, expires: tick + 3577) }
        }
        #expect(fires == [100, 3677, 7254])
    }
}
