// The statistics file's text (LVSD_STATS_FILE): the same lines as ever, now built in one reserved buffer.
import LVSDataPlane
import LVSPacket
import Testing

@Suite("Data plane statistics text")
struct StatisticsTextTests {
    /// The text as `name value` lines built by interpolation (the format the benchmarks parse).
    static func interpolated(_ st: DataPlaneStatistics) -> String {
        var s = ""
        for c in DataPlaneCounter.allCases { s += "\(c) \(st[c])\n" }
        if let m = st.mallocsPerMillionPackets { s += "mallocs_per_million_packets \(Int(m))\n" }
        for r in DropReason.allCases where st[r] != 0 { s += "drop_\(r) \(st[r])\n" }
        s += "workers \(st.workers)\n"
        for i in st.interfaces {
            let egress = i.mode.isXDP ? (i.fastPathEgress ? " fast-path-egress" : " no-fast-path-egress") : ""
            s += "interface_\(i.name) \(i.mode.rawValue)\(egress)\n"
        }
        let f = st.fastPath
        s += "fast_path_flows \(f.active)\nfast_path_installed \(f.installed)\nfast_path_removed \(f.removed)\n"
        s += "fast_path_rejected_full \(f.rejectedFull)\nfast_path_packets \(f.fastPackets)\n"
        s += "control_jobs \(st.controlJobs)\n"
        for c in st.xdp { s += "\(c.name) \(c.value)\n" }
        return s
    }

    @Test("every counter, non-zero drops, interfaces, fast path and XDP counters, line for line")
    func sameLines() {
        var st = DataPlaneStatistics()
        for (i, c) in DataPlaneCounter.allCases.enumerated() { st.counters[c.rawValue] = UInt64(i) * 1_000_003 }
        st.counters[DataPlaneCounter.received.rawValue] = 18_446_744_073_709_551_615
        st.drops[Int(DropReason.allCases[1].rawValue)] = 7
        st.workers = 2
        st.interfaces = [
            InterfaceStatus(name: "lo", index: 1, mode: .afPacket, fastPathEgress: false, note: ""),
            InterfaceStatus(name: "eth0-with-a-long-name", index: 2, mode: .xdpNative, fastPathEgress: true, note: ""),
            InterfaceStatus(name: "d1", index: 3, mode: .xdpGeneric, fastPathEgress: false, note: ""),
        ]
        st.fastPath.active = 12
        st.fastPath.fastPackets = 123_456_789_012
        st.controlJobs = 3
        st.xdp = [NamedCounter(name: "xdp_steered_to_socket", value: 99), NamedCounter(name: "xdp_pass", value: 0)]
        #expect(st.text == Self.interpolated(st))
        #expect(DataPlaneStatistics().text == Self.interpolated(DataPlaneStatistics()))
    }
}
