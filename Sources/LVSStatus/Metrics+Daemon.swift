// lvsd's own families: VRRP, health checkers, the data plane, the process.

/// VRRP instances: `lvsd_vrrp_state` (keepalived_exporter's numbering), `lvsd_vrrp_priority`.
public enum VRRPMetrics {
    public static func write(_ instances: [VRRPInstanceStatus], into out: inout PrometheusWriter) {
        guard !instances.isEmpty else { return }
        out.family(
            "lvsd_vrrp_state", .gauge,
            help: "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP (keepalived_exporter's numbering).")
        for i in instances {
            out.sample("lvsd_vrrp_state", value: UInt64(i.stateNumber)) { l in labels(i, &l) }
        }
        out.family("lvsd_vrrp_priority", .gauge, help: "VRRP priority in force (after tracked scripts and interfaces).")
        for i in instances {
            out.sample("lvsd_vrrp_priority", value: UInt64(max(0, i.priority))) { l in labels(i, &l) }
        }
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
        out.family("lvsd_checker_up", .gauge, help: "1 when the health checker's last verdict is up, else 0.")
        for c in checkers {
            out.sample("lvsd_checker_up", value: c.up ? 1 : 0) { l in labels(c, &l, checker: true) }
        }
        out.family(
            "lvsd_checker_latency_seconds", .gauge, help: "Duration of the health checker's last finished probe.")
        for c in checkers {
            guard let latency = c.lastLatencySeconds else { continue }
            out.sample("lvsd_checker_latency_seconds", float: latency) { l in labels(c, &l, checker: true) }
        }
        out.family(
            "lvsd_real_server_alive", .gauge, help: "1 when every checker of the real server is up (in service).")
        var seen = Set<String>()
        for c in checkers where seen.insert("\(c.virtualServer)|\(c.protocolName)|\(c.realServer)").inserted {
            out.sample("lvsd_real_server_alive", value: c.realServerAlive ? 1 : 0) { l in
                labels(c, &l, checker: false)
            }
        }
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
        out.family(
            "lvsd_dataplane_up", .gauge,
            help: "1 when the packet path runs, 0 when lvsd serves the control endpoint only.")
        out.sample("lvsd_dataplane_up", value: dp == nil ? 0 : 1) { _ in }
        guard let dp else { return }
        out.family(
            "lvsd_dataplane_mode", .gauge, help: "The packet path's mode (af_packet or xdp): 1 for the one in use.")
        out.sample("lvsd_dataplane_mode", value: 1) { l in l.label("mode", dp.mode) }
        out.family("lvsd_dataplane_packets_total", .counter, help: "Frames handled by the data plane, by path.")
        for w in dp.workers {
            for c in w.packets {
                out.sample("lvsd_dataplane_packets_total", value: c.value) { l in
                    l.label("interface", w.interface)
                    l.label("path", c.name)
                    l.label("worker", UInt64(w.worker))
                }
            }
        }
        out.family("lvsd_dataplane_drops_total", .counter, help: "Frames the data plane dropped, by reason.")
        for w in dp.workers {
            for c in w.drops {
                out.sample("lvsd_dataplane_drops_total", value: c.value) { l in
                    l.label("interface", w.interface)
                    l.label("reason", c.name)
                    l.label("worker", UInt64(w.worker))
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
        out.family("process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.")
        out.sample("process_cpu_seconds_total", float: p.cpuSeconds) { _ in }
        out.family("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.")
        out.sample("process_resident_memory_bytes", value: p.residentMemoryBytes) { _ in }
        out.family("process_virtual_memory_bytes", .gauge, help: "Virtual memory size in bytes.")
        out.sample("process_virtual_memory_bytes", value: p.virtualMemoryBytes) { _ in }
        out.family("process_open_fds", .gauge, help: "Number of open file descriptors.")
        out.sample("process_open_fds", value: UInt64(p.openFileDescriptors)) { _ in }
        out.family("process_max_fds", .gauge, help: "Maximum number of open file descriptors.")
        out.sample("process_max_fds", value: UInt64(p.maxFileDescriptors)) { _ in }
        out.family("process_start_time_seconds", .gauge, help: "Start time of the process since unix epoch in seconds.")
        out.sample("process_start_time_seconds", float: p.startTimeSeconds) { _ in }
        out.family("lvsd_threads", .gauge, help: "Threads of the lvsd process.")
        out.sample("lvsd_threads", value: UInt64(p.threads)) { _ in }
    }
}
