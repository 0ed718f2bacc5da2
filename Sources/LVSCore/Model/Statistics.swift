// Counters and rates of a service, a real server or the whole table, as ipvsadm shows them.

/// 64-bit counters (`struct ip_vs_kstats`): connections (templates excluded), packets and bytes
/// in (client→server, IP length) and out (server→client, NAT only).
public struct IPVSCounters: Hashable, Sendable {
    public var connections: UInt64 = 0
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0

    public init(
        connections: UInt64 = 0, inPackets: UInt64 = 0, outPackets: UInt64 = 0, inBytes: UInt64 = 0,
        outBytes: UInt64 = 0
    ) {
        self.connections = connections
        self.inPackets = inPackets
        self.outPackets = outPackets
        self.inBytes = inBytes
        self.outBytes = outBytes
    }

    /// Adds another set of counters to this one.
    @inlinable public mutating func add(_ o: IPVSCounters) {
        connections &+= o.connections
        inPackets &+= o.inPackets
        outPackets &+= o.outPackets
        inBytes &+= o.inBytes
        outBytes &+= o.outBytes
    }
}

/// Rates as the estimator reports them (already unscaled): connections, packets and **bytes**
/// per second.
public struct IPVSRates: Hashable, Sendable {
    public var cps: UInt64 = 0
    public var inPPS: UInt64 = 0
    public var outPPS: UInt64 = 0
    public var inBPS: UInt64 = 0
    public var outBPS: UInt64 = 0

    public init(cps: UInt64 = 0, inPPS: UInt64 = 0, outPPS: UInt64 = 0, inBPS: UInt64 = 0, outBPS: UInt64 = 0) {
        self.cps = cps
        self.inPPS = inPPS
        self.outPPS = outPPS
        self.inBPS = inBPS
        self.outBPS = outBPS
    }
}
