// lvsd's own families: VRRP, health checkers, the data plane, the process.

/// VRRP instances: `lvsd_vrrp_state` (keepalived_exporter's numbering), `lvsd_vrrp_priority`.
public enum VRRPMetrics {
    public static func write(_ instances: [VRRPInstanceStatus], into out: inout PrometheusWriter) {
        guard !instances.isEmpty else { return }
        out.family(
            "lvsd_vrrp_state", .gauge,
            help: "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP (keepalived_exporter's numbering).",
            each: instances, value: { UInt64($0.stateNumber) }, labels: labels)
        out.family(
            "lvsd_vrrp_priority", .gauge, help: "VRRP priority in force (after tracked scripts and interfaces).",
            each: instances, value: { UInt64(max(0, $0.priority)) }, labels: labels)
    }

    static func labels(_ i: VRRPInstanceStatus, _ l: inout PrometheusWriter) {
        l.label("instance", i.name)
        l.label("interface", i.interface)
        l.label("vrid", UInt64(i.virtualRouterID))
    }
}

/// Health checkers: `lvsd_checker_up` and `lvsd_checker_latency_seconds` per real server and
/// checker, `lvsd_real_server_alive` per real server.
public enum CheckerMetrics {
    public static func write(_ checkers: [CheckerStatus], into out: inout PrometheusWriter) {
        guard !checkers.isEmpty else { return }
        out.family(
            "lvsd_checker_up", .gauge, help: "1 when the health checker's last verdict is up, else 0.", each: checkers,
            value: { $0.up ? 1 : 0 }, labels: { labels($0, &$1, checker: true) })
        out.family(
            "lvsd_checker_latency_seconds", .gauge, help: "Duration of the health checker's last finished probe.",
            each: checkers, float: \.lastLatencySeconds, labels: { labels($0, &$1, checker: true) })
        var seen = Set<String>()
        out.family(
            "lvsd_real_server_alive", .gauge, help: "1 when every checker of the real server is up (in service).",
            each: checkers.filter { seen.insert("\($0.virtualServer)|\($0.protocolName)|\($0.realServer)").inserted },
            value: { $0.realServerAlive ? 1 : 0 }, labels: { labels($0, &$1, checker: false) })
    }

    static func labels(_ c: CheckerStatus, _ l: inout PrometheusWriter, checker: Bool) {
        if checker { l.label("checker", c.kind) }
        l.label("proto", c.protocolName)
        l.label("remote_address", c.realServer.address)
        l.label("remote_port", UInt64(c.realServer.port))
        l.label("virtual_server", c.virtualServer)
    }
}

/// The data plane: mode, packets by path and drops by reason, per worker and interface.
public enum DataPlaneMetrics {
    public static func write(_ dp: DataPlaneStatus?, into out: inout PrometheusWriter) {
        out.single(
            "lvsd_dataplane_up", .gauge,
            help: "1 when the packet path runs, 0 when lvsd serves the control endpoint only.", value: dp == nil ? 0 : 1
        )
        guard let dp else { return }
        out.family(
            "lvsd_dataplane_mode", .gauge, help: "The packet path's mode (af_packet or xdp): 1 for the one in use.")
        out.sample("lvsd_dataplane_mode", value: 1) { l in l.label("mode", dp.mode) }
        out.family("lvsd_dataplane_packets_total", .counter, help: "Frames handled by the data plane, by path.")
        perWorker("lvsd_dataplane_packets_total", "path", \.packets)
        out.family("lvsd_dataplane_drops_total", .counter, help: "Frames the data plane dropped, by reason.")
        perWorker("lvsd_dataplane_drops_total", "reason", \.drops)

        /// One sample per worker and counter, the counter's name as label `label`.
        func perWorker(_ name: StaticString, _ label: StaticString, _ counters: (WorkerStatus) -> [NamedCounter]) {
            for w in dp.workers {
                for c in counters(w) {
                    out.sample(name, value: c.value) { l in
                        l.label("interface", w.interface)
                        l.label(label, c.name)
                        l.label("worker", UInt64(w.worker))
                    }
                }
            }
        }
    }
}

/// The process: the standard `process_*` names of the Prometheus client libraries, and
/// `lvsd_build_info`.
public enum ProcessMetrics {
    public static func write(_ p: ProcessStatus, into out: inout PrometheusWriter) {
        out.family("lvsd_build_info", .gauge, help: "lvsd's version, as a label.")
        out.sample("lvsd_build_info", value: 1) { l in l.label("version", p.version) }
        out.single(
            "process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.",
            float: p.cpuSeconds)
        let gauges: [(StaticString, StaticString, UInt64)] = [
            ("process_resident_memory_bytes", "Resident memory size in bytes.", p.residentMemoryBytes),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtualMemoryBytes),
            ("process_open_fds", "Number of open file descriptors.", UInt64(p.openFileDescriptors)),
            ("process_max_fds", "Maximum number of open file descriptors.", UInt64(p.maxFileDescriptors)),
        ]
        for (name, help, value) in gauges { out.single(name, .gauge, help: help, value: value) }
        out.single(
            "process_start_time_seconds", .gauge, help: "Start time of the process since unix epoch in seconds.",
            float: p.startTimeSeconds)
        out.single("lvsd_threads", .gauge, help: "Threads of the lvsd process.", value: UInt64(p.threads))
    }
}
