// Memory for frames the worker keeps for a while (held for a neighbour, held by the SYN proxy):
// a fixed number of slots and a free list, allocated once.

/// `count` slots of `slotBytes`, 64-byte aligned; taking and giving back allocate nothing.
final class FrameSlots {
    let slotBytes: Int
    let storage: UnsafeMutableRawPointer
    private var free: [Int] = []

    init(count: Int, slotBytes: Int) {
        self.slotBytes = slotBytes
        storage = .allocate(byteCount: count * slotBytes, alignment: 64)
        free.reserveCapacity(count)
        for s in (0..<count).reversed() { free.append(s) }
    }

    deinit { storage.deallocate() }

    /// A free slot, or nil when all are taken.
    func take() -> Int? { free.popLast() }

    /// Gives a slot back.
    func give(_ slot: Int) { free.append(slot) }

    /// The first byte of a slot.
    func base(_ slot: Int) -> UnsafeMutableRawPointer { storage + slot * slotBytes }
}
