// The IPVS table as metrics: node_exporter's node_ipvs_* families, then lvsd's per-service/per-server ones.
import LVSCore

/// Writes the IPVS table's families.
///
/// node_exporter's IPVS collector (collector/ipvs_linux.go with procfs' ipvs.go) is matched name
/// for name and label for label, so existing dashboards work unchanged:
/// - `node_ipvs_connections_total`, `_incoming_packets_total`, `_outgoing_packets_total`,
///   `_incoming_bytes_total`, `_outgoing_bytes_total`: the table's totals (`/proc/net/ip_vs_stats`),
///   counters without labels;
/// - `node_ipvs_backend_connections_active`, `_inactive`, `node_ipvs_backend_weight`: gauges per
///   real server with `local_address`, `local_port`, `remote_address`, `remote_port`, `proto`,
///   `local_mark`. As procfs reads `/proc/net/ip_vs`: a fwmark service has `local_address=""`,
///   `local_port="0"`, `proto="FWM"` and `local_mark` = the mark as `%08X`; address services
///   have `local_mark=""`. Labels are written sorted by name, as client_golang writes them.
///   SwiftLVS addition: SCTP services are listed too (`proto="SCTP"`; procfs skips them).
///
/// lvsd's own families add what `ipvsadm -Ln --stats` and `--rate` show per service and per
/// real server (`lvsd_ipvs_service_*`, `lvsd_ipvs_backend_*_total`) and the connection table's
/// fill (`lvsd_ipvs_connections`, `lvsd_ipvs_connection_limit`).
public enum IPVSMetrics {
    /// node_exporter's families only (the totals and the three per-server gauges).
    public static func writeNodeExporter(_ table: TableStatus, into out: inout PrometheusWriter) {
        write(table, into: &out, lvsdFamilies: false)
    }

    /// Every family of `table`: node_exporter's, then lvsd's (unless `lvsdFamilies` is false);
    /// the per-real-server counters only with `backendStats` (`/metrics?collect[]=backend_stats`:
    /// five series per real server, half a million at 10,000 × 10).

    public static func write(
        _ table: TableStatus, into out: inout PrometheusWriter, lvsdFamilies: Bool = true, backendStats: Bool = true,
        scratch: PrometheusWriter? = nil
    ) {
        // Room for every line up front: growing a buffer of ~10^8 bytes by doubling costs more
        // than writing it (copies and page faults).
        let servers = table.services.reduce(0) { $0 + $1.realServers.count }
        out.sink.reserve(
            servers * (lvsdFamilies && backendStats ? 8 : 3) * 150 + table.services.count * 10 * 110 + 8192)
        writeNodeExporterTotals(table.totals, into: &out)
        // Label blocks, built once and used by every per-server family.
        var blocks = scratch ?? PrometheusWriter(capacity: servers * 128 + 64)
        blocks.removeAll()
        var ends: [Int] = []
        var serviceBlocks = PrometheusWriter(capacity: table.services.count * 80 + 64)
        var serviceEnds: [Int] = []
        ends.reserveCapacity(table.services.count * 10)
        serviceEnds.reserveCapacity(table.services.count)
        for s in table.services {
            let (address, port, proto, mark) = serviceLabels(s.spec.key)
            serviceBlocks.serviceLabels(address: address, mark: mark, port: port, proto: proto)
            serviceEnds.append(serviceBlocks.count)
            for r in s.realServers {
                blocks.label("local_address", address)
                blocks.labelRaw("local_mark", mark)
                blocks.label("local_port", UInt64(port))
                blocks.labelRaw("proto", proto)
                blocks.label("remote_address", r.spec.endpoint.address)
                blocks.label("remote_port", UInt64(r.spec.endpoint.port))
                ends.append(blocks.count)
                blocks.separate()
            }
            serviceBlocks.separate()
        }

        func perServer(
            _ name: StaticString, _ kind: PrometheusWriter.Kind, _ help: StaticString,
            _ value: (RealServerEntry) -> UInt64
        ) {
            out.family(name, kind, help: help)
            var i = 0
            var start = 0
            for s in table.services {
                for r in s.realServers {
                    out.sample(name, value: value(r), block: blocks.sink, start..<ends[i])
                    start = ends[i] + 1
                    i += 1
                }
            }
        }
        perServer(
            "node_ipvs_backend_connections_active", .gauge,
            "The current active connections by local and remote address."
        ) { UInt64($0.activeConnections) }
        perServer(
            "node_ipvs_backend_connections_inactive", .gauge,
            "The current inactive connections by local and remote address."
        ) { UInt64($0.inactiveConnections) }
        // procfs parses the weight as unsigned; the kernel's weight is never negative.
        perServer("node_ipvs_backend_weight", .gauge, "The current backend weight by local and remote address.") {
            UInt64(max(0, $0.spec.weight))
        }
        guard lvsdFamilies else { return }

        func perService(
            _ name: StaticString, _ kind: PrometheusWriter.Kind, _ help: StaticString,
            _ value: (VirtualServiceEntry) -> UInt64
        ) {
            out.family(name, kind, help: help)
            var start = 0
            for (i, s) in table.services.enumerated() {
                out.sample(name, value: value(s), block: serviceBlocks.sink, start..<serviceEnds[i])
                start = serviceEnds[i] + 1
            }
        }
        perService(
            "lvsd_ipvs_service_connections_total", .counter,
            "Connections scheduled by the virtual service (ipvsadm -Ln --stats Conns)."
        ) { $0.counters.connections }
        perService(
            "lvsd_ipvs_service_incoming_packets_total", .counter,
            "Packets from clients to the virtual service (ipvsadm --stats InPkts)."
        ) { $0.counters.inPackets }
        perService(
            "lvsd_ipvs_service_outgoing_packets_total", .counter,
            "Packets from real servers back to clients, NAT only (ipvsadm --stats OutPkts)."
        ) { $0.counters.outPackets }
        perService(
            "lvsd_ipvs_service_incoming_bytes_total", .counter,
            "Bytes from clients to the virtual service (ipvsadm --stats InBytes)."
        ) { $0.counters.inBytes }
        perService(
            "lvsd_ipvs_service_outgoing_bytes_total", .counter,
            "Bytes from real servers back to clients, NAT only (ipvsadm --stats OutBytes)."
        ) { $0.counters.outBytes }
        perService(
            "lvsd_ipvs_service_connections_per_second", .gauge,
            "The rate estimator's connections per second (ipvsadm -Ln --rate CPS)."
        ) { $0.rates.cps }
        perService(
            "lvsd_ipvs_service_incoming_packets_per_second", .gauge,
            "The rate estimator's incoming packets per second (ipvsadm --rate InPPS)."
        ) { $0.rates.inPPS }
        perService(
            "lvsd_ipvs_service_outgoing_packets_per_second", .gauge,
            "The rate estimator's outgoing packets per second (ipvsadm --rate OutPPS)."
        ) { $0.rates.outPPS }
        perService(
            "lvsd_ipvs_service_incoming_bytes_per_second", .gauge,
            "The rate estimator's incoming bytes per second (ipvsadm --rate InBPS)."
        ) { $0.rates.inBPS }
        perService(
            "lvsd_ipvs_service_outgoing_bytes_per_second", .gauge,
            "The rate estimator's outgoing bytes per second (ipvsadm --rate OutBPS)."
        ) { $0.rates.outBPS }

        if backendStats {
            perServer(
                "lvsd_ipvs_backend_connections_total", .counter,
                "Connections scheduled to the real server (ipvsadm -Ln --stats Conns)."
            ) { $0.counters.connections }
            perServer(
                "lvsd_ipvs_backend_incoming_packets_total", .counter,
                "Packets from clients forwarded to the real server (ipvsadm --stats InPkts)."
            ) { $0.counters.inPackets }
            perServer(
                "lvsd_ipvs_backend_outgoing_packets_total", .counter,
                "Packets from the real server back to clients, NAT only (ipvsadm --stats OutPkts)."
            ) { $0.counters.outPackets }
            perServer(
                "lvsd_ipvs_backend_incoming_bytes_total", .counter,
                "Bytes from clients forwarded to the real server (ipvsadm --stats InBytes)."
            ) { $0.counters.inBytes }
            perServer(
                "lvsd_ipvs_backend_outgoing_bytes_total", .counter,
                "Bytes from the real server back to clients, NAT only (ipvsadm --stats OutBytes)."
            ) { $0.counters.outBytes }

        }
        out.single(
            "lvsd_ipvs_services", .gauge, help: "Virtual services in the table.", value: UInt64(table.services.count))
        out.family("lvsd_ipvs_backends", .gauge, help: "Real servers in the table.")
        out.sample("lvsd_ipvs_backends", value: UInt64(table.services.reduce(0) { $0 + $1.realServers.count })) { _ in
        }
        out.family(
            "lvsd_ipvs_connections", .gauge, help: "Entries in the connection table (ipvsadm -Lnc), templates included."
        )
        out.sample("lvsd_ipvs_connections", value: UInt64(table.connections)) { _ in }
        out.single(
            "lvsd_ipvs_connection_limit", .gauge,
            help: "Size limit of the connection table; new connections are dropped beyond it.",
            value: UInt64(table.connectionLimit))
        out.family(
            "lvsd_ipvs_refused_total", .counter,
            help: "Packets IPVS refused a connection for, or connections the defences dropped, by reason.")
        for r in table.refusals {
            out.sample("lvsd_ipvs_refused_total", value: r.count) { l in l.label("reason", r.reason) }
        }
    }

    /// The five totals of `/proc/net/ip_vs_stats`, with node_exporter's help texts.
    static func writeNodeExporterTotals(_ t: IPVSCounters, into out: inout PrometheusWriter) {
        let totals: [(StaticString, StaticString, UInt64)] = [
            ("node_ipvs_connections_total", "The total number of connections made.", t.connections),
            ("node_ipvs_incoming_packets_total", "The total number of incoming packets.", t.inPackets),
            ("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", t.outPackets),
            ("node_ipvs_incoming_bytes_total", "The total amount of incoming data.", t.inBytes),
            ("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", t.outBytes),
        ]
        for (name, help, value) in totals { out.single(name, .counter, help: help, value: value) }
    }

    /// The label values procfs derives from a `/proc/net/ip_vs` service line.
    public static func serviceLabels(_ key: ServiceKey) -> (
        address: IPAddress?, port: UInt16, proto: StaticString, mark: String
    ) {
        switch key {
        case .endpoint(let p, let e):
            return (e.address, e.port, p.name, "")
        case .firewallMark(let m, _):
            return (nil, 0, "FWM", hex8(m))
        }
    }

    /// `%08X`.
    static func hex8(_ v: UInt32) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var s: [UInt8] = []
        for shift in stride(from: 28, through: 0, by: -4) { s.append(digits[Int((v >> UInt32(shift)) & 0xF)]) }
        return String(decoding: s, as: UTF8.self)
    }
}

extension PrometheusWriter {
    mutating func serviceLabels(address: IPAddress?, mark: String, port: UInt16, proto: StaticString) {
        label("local_address", address)
        labelRaw("local_mark", mark)
        label("local_port", UInt64(port))
        labelRaw("proto", proto)
    }
}
