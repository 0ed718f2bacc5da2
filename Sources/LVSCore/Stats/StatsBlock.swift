// Counters with a zero point and the kernel's 2-second rate estimator (K:ip_vs_est.c).

/// The statistics of one service, one real server or the whole table: running counters, the
/// zero point `ipvsadm -Z` sets, and the rate estimator's scaled averages.
public struct StatsBlock: Sendable {
    /// Counters since creation (never reset).
    public var counters = IPVSCounters()
    /// The counters' values at the last `-Z` (`kstats0`).
    var zeroPoint = IPVSCounters()
    /// The counters at the previous estimator tick (`last_*`).
    var last = IPVSCounters()
    /// Scaled averages: cps/pps ×1024 (2^10), bps ×32 (2^5).
    var cps: Int64 = 0
    var inPPS: Int64 = 0
    var outPPS: Int64 = 0
    var inBPS: Int64 = 0
    var outBPS: Int64 = 0

    public init() {}

    /// Counters as listed: the running counters minus the zero point.
    public var shown: IPVSCounters {
        IPVSCounters(
            connections: counters.connections &- zeroPoint.connections,
            inPackets: counters.inPackets &- zeroPoint.inPackets,
            outPackets: counters.outPackets &- zeroPoint.outPackets,
            inBytes: counters.inBytes &- zeroPoint.inBytes,
            outBytes: counters.outBytes &- zeroPoint.outBytes)
    }

    /// Rates as read back by ipvsadm: `(x + 0x1FF) >> 10` for cps/pps, `(x + 0xF) >> 5` for bps
    /// (`K:ip_vs_est.c ip_vs_read_estimator`).
    public var rates: IPVSRates {
        func r10(_ x: Int64) -> UInt64 { UInt64(bitPattern: (x &+ 0x1FF) >> 10) }
        func r5(_ x: Int64) -> UInt64 { UInt64(bitPattern: (x &+ 0xF) >> 5) }
        return IPVSRates(cps: r10(cps), inPPS: r10(inPPS), outPPS: r10(outPPS), inBPS: r5(inBPS), outBPS: r5(outBPS))
    }

    /// One estimator step, run every 2 seconds: `rate = Δ/2` scaled (`Δ << 9` for ×1024/2,
    /// `Δ << 4` for ×32/2), then `avg += (rate − avg) >> 2` with an arithmetic shift.
    public mutating func estimate() {
        func step(_ avg: inout Int64, _ now: UInt64, _ before: UInt64, _ shift: Int64) {
            let rate = Int64(bitPattern: (now &- before) << UInt64(shift))
            avg &+= (rate &- avg) >> 2
        }
        step(&cps, counters.connections, last.connections, 9)
        step(&inPPS, counters.inPackets, last.inPackets, 9)
        step(&outPPS, counters.outPackets, last.outPackets, 9)
        step(&inBPS, counters.inBytes, last.inBytes, 4)
        step(&outBPS, counters.outBytes, last.outBytes, 4)
        last = counters
    }

    /// `ipvsadm -Z`: the current counters become the zero point and the rates restart from 0
    /// (`ip_vs_zero_stats` + `ip_vs_zero_estimator`).
    public mutating func zero() {
        zeroPoint = counters
        last = counters
        cps = 0
        inPPS = 0
        outPPS = 0
        inBPS = 0
        outBPS = 0
    }

    /// Counts one new connection.
    @inlinable public mutating func countConnection() { counters.connections &+= 1 }

    /// Counts one packet from client to server of `bytes` IP bytes.
    @inlinable public mutating func countIn(bytes: UInt64) {
        counters.inPackets &+= 1
        counters.inBytes &+= bytes
    }

    /// Counts one packet from server to client of `bytes` IP bytes.
    @inlinable public mutating func countOut(bytes: UInt64) {
        counters.outPackets &+= 1
        counters.outBytes &+= bytes
    }

    /// Counts `packets` client → server packets of `bytes` IP bytes in all (a fast path's batch).
    @inlinable public mutating func countIn(packets: UInt64, bytes: UInt64) {
        counters.inPackets &+= packets
        counters.inBytes &+= bytes
    }

    /// Counts `packets` server → client packets of `bytes` IP bytes in all (a fast path's batch).
    @inlinable public mutating func countOut(packets: UInt64, bytes: UInt64) {
        counters.outPackets &+= packets
        counters.outBytes &+= bytes
    }
}
