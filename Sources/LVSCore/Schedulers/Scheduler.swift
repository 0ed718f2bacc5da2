// The scheduler interface: what a scheduler sees of a packet and of its service's real servers.

/// The packet that needs a real server, as a scheduler sees it.
public struct SchedulingRequest: Sendable {
    /// The transport protocol, or nil for other IP protocols (fwmark services).
    public var transport: TransportProtocol?
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16
    public var now: Timestamp

    public init(
        transport: TransportProtocol?, source: IPAddress, sourcePort: UInt16, destination: IPAddress,
        destinationPort: UInt16, now: Timestamp = .zero
    ) {
        self.transport = transport
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.now = now
    }
}

/// The kernel's pseudo-random numbers (`prandom_u32`) for twos, from a seedable generator
/// (SplitMix64) so tests are repeatable.
public struct SchedulerRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 32-bit value.
    public mutating func next32() -> UInt32 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt32(truncatingIfNeeded: (z ^ (z >> 31)) >> 32)
    }
}

/// `hash_32(v, bits)` of include/linux/hash.h: multiply by GOLDEN_RATIO_32, keep the top bits.
@inlinable public func hash32(_ v: UInt32, bits: Int) -> UInt32 {
    (v &* 0x61C8_8647) >> UInt32(32 - bits)
}

/// A scheduler bound to one virtual service. Subclasses implement the kernel's algorithms; the
/// hooks mirror the kernel's `add_dest`/`del_dest`/`upd_dest`, plus load and overload
/// notifications that feed the O(log n) indices.
@_spi(Internals) open class Scheduler {
    /// The service whose list this scheduler chooses from.
    public unowned(unsafe) let service: VirtualServiceRuntime
    /// Every real server's runtime state.
    public let store: DestinationStore

    /// The list, copied into unmanaged memory so the packet path reads it without reference
    /// counting: `memberSlots[p]` is the slot at position p.
    public private(set) var memberSlots: UnsafeMutablePointer<Int32>
    public private(set) var memberCount = 0
    private var memberCapacity = 0

    public required init(service: VirtualServiceRuntime, store: DestinationStore) {
        self.service = service
        self.store = store
        memberSlots = .allocate(capacity: 1)
        syncMembers()
    }

    deinit { memberSlots.deallocate() }

    /// Copies the service's list; called by the table before every add/remove hook.
    public final func syncMembers() {
        let m = service.members
        if m.count > memberCapacity {
            memberSlots.deallocate()
            memberCapacity = max(m.count, memberCapacity * 2, 8)
            memberSlots = .allocate(capacity: memberCapacity)
        }
        for (i, s) in m.enumerated() { memberSlots[i] = s }
        memberCount = m.count
    }

    /// The scheduler's name (`rr`, `wlc`, …).
    open class var name: String { "" }

    /// A server was added at the head of the list (`add_dest`).
    open func destinationAdded(_ slot: Int32) {}
    /// A server at `formerPosition` was removed from the list (`del_dest`).
    open func destinationRemoved(_ slot: Int32, formerPosition: Int) {}
    /// A server's weight, thresholds or forwarding changed (`upd_dest`).
    open func destinationUpdated(_ slot: Int32) {}
    /// A listed server's active/inactive counts changed.
    open func loadChanged(_ slot: Int32) {}
    /// A listed server's overload flag changed.
    open func overloadChanged(_ slot: Int32) {}
    /// The periodic timer (every 60 s for lblc/lblcr cleanup).
    open func periodic(now: Timestamp) {}

    /// Picks a real server for the request: a destination slot, or -1 for "no destination
    /// available".
    open func schedule(_ request: SchedulingRequest, random: inout SchedulerRandom) -> Int32 { -1 }

    /// The list: slots in kernel order (head = newest).
    @inlinable public var members: [Int32] { service.members }

    /// The list position of `slot`, or nil when it is not listed.
    final func listPosition(_ slot: Int32) -> Int? {
        let p = Int(store.position(slot))
        return p >= 0 ? p : nil
    }

    /// The greatest common divisor of the positive weights of `slots` (0 if none) and the largest
    /// weight: wrr's `ip_vs_wrr_gcd_weight` and `ip_vs_wrr_max_weight`, mh's `ip_vs_mh_gcd_weight`
    /// and `ip_vs_mh_shift_weight`'s maximum.
    static func weightGCDAndMaximum(_ slots: [Int32], _ weight: (Int32) -> Int32) -> (gcd: Int32, maximum: Int32) {
        var g: Int32 = 0
        var maxW: Int32 = 0
        for s in slots {
            let w = weight(s)
            if w > 0 { g = g > 0 ? gcd(w, g) : w }
            if w > maxW { maxW = w }
        }
        return (g, maxW)
    }

    private static func gcd(_ a: Int32, _ b: Int32) -> Int32 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }
}
