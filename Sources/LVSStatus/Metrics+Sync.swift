// Connection sync in /metrics: lvsd_sync_* per daemon (role, sync id, interface).

/// The sync daemons' families. Every sample carries `interface`, `role` and `syncid`; labels are
/// written sorted by name, as client_golang writes them.
///
/// | family | type | extra label |
/// |---|---|---|
/// | `lvsd_sync_daemon_up` | gauge | |
/// | `lvsd_sync_messages_total`, `lvsd_sync_entries_total`, `lvsd_sync_bytes_total` | counter | `direction` (sent, received) |
/// | `lvsd_sync_drops_total` | counter | `reason` |
/// | `lvsd_sync_master_queue_entries`, `lvsd_sync_master_queue_oldest_seconds` | gauge | |
/// | `lvsd_sync_backup_lag_seconds` | gauge | |
/// | `lvsd_sync_backup_applied_entries_total` | counter | `result` |
/// | `lvsd_sync_bulk_resync_in_progress` | gauge | |
/// | `lvsd_sync_bulk_resyncs_total` | counter | `result` (completed, timed_out; master: answered) |
/// | `lvsd_sync_bulk_resync_last_duration_seconds`, `lvsd_sync_bulk_resync_last_entries` | gauge | |
public enum SyncMetrics {
    public static func write(_ daemons: [SyncDaemonStatus], into out: inout PrometheusWriter) {
        guard !daemons.isEmpty else { return }
        out.family(
            "lvsd_sync_daemon_up", .gauge,
            help: "1 while the connection-sync daemon's thread runs (ipvsadm -L --daemon lists it).", each: daemons,
            value: { $0.running ? 1 : 0 }, labels: { labels($0, &$1) })

        out.family(
            "lvsd_sync_messages_total", .counter,
            help: "Sync datagrams sent (accepted by the socket) or received (accepted by the decoder).")
        for d in daemons {
            traffic("lvsd_sync_messages_total", d) { $0.messages }
        }
        out.family(
            "lvsd_sync_entries_total", .counter, help: "Connection entries in the sync messages sent or received.")
        for d in daemons {
            traffic("lvsd_sync_entries_total", d) { $0.entries }
        }
        out.family(
            "lvsd_sync_bytes_total", .counter, help: "Bytes of the sync messages sent or received (UDP payload).")
        for d in daemons {
            traffic("lvsd_sync_bytes_total", d) { $0.bytes }
        }

        out.family(
            "lvsd_sync_drops_total", .counter,
            help:
                "Sync datagrams dropped, by reason (backup: decoder and authentication; master: queue_full, send_failed)."
        )
        for d in daemons {
            for c in d.drops {
                out.sample("lvsd_sync_drops_total", value: c.value) { l in labels(d, &l, "reason", c.name) }
            }
        }

        let masters = daemons.filter { $0.master != nil }
        if !masters.isEmpty {
            out.family(
                "lvsd_sync_master_queue_entries", .gauge,
                help:
                    "Connection entries queued by the master and not sent yet (sent when a message fills, or after 2 s).",
                each: masters, value: { UInt64(max(0, $0.master!.queuedEntries)) }, labels: { labels($0, &$1) })
            out.family(
                "lvsd_sync_master_queue_oldest_seconds", .gauge,
                help: "Age of the oldest connection entry the master has queued (0 when none waits).", each: masters,
                float: { $0.master!.oldestQueuedSeconds ?? 0 }, labels: { labels($0, &$1) })
        }

        let backups = daemons.filter { $0.backup != nil }
        if !backups.isEmpty {
            out.family(
                "lvsd_sync_backup_lag_seconds", .gauge,
                help: "Seconds since the backup accepted a message from a master (absent before the first).",
                each: backups, float: { $0.backup!.lagSeconds }, labels: { labels($0, &$1) })
            out.family(
                "lvsd_sync_backup_applied_entries_total", .counter,
                help: "Received connection entries by what the backup's table did with them.")
            for d in backups {
                for c in d.backup!.applied {
                    out.sample("lvsd_sync_backup_applied_entries_total", value: c.value) { l in
                        labels(d, &l, "result", c.name)
                    }
                }
            }
            out.family(
                "lvsd_sync_bulk_resync_in_progress", .gauge,
                help: "1 while the backup awaits the answer to its bulk resync request.", each: backups,
                value: { $0.backup!.bulkInProgress ? 1 : 0 }, labels: { labels($0, &$1) })
        }

        out.family(
            "lvsd_sync_bulk_resyncs_total", .counter,
            help: "Bulk resyncs: a backup's completed or timed_out requests, a master's answered ones.")
        for d in daemons {
            if let b = d.backup {
                out.sample("lvsd_sync_bulk_resyncs_total", value: b.bulkCompleted) { l in
                    labels(d, &l, "result", "completed")
                }
                out.sample("lvsd_sync_bulk_resyncs_total", value: b.bulkTimedOut) { l in
                    labels(d, &l, "result", "timed_out")
                }
            }
            if let m = d.master {
                out.sample("lvsd_sync_bulk_resyncs_total", value: m.bulkAnswers) { l in
                    labels(d, &l, "result", "answered")
                }
            }
        }
        let runs = daemons.compactMap { d in (d.backup?.lastBulk ?? d.master?.lastBulkAnswer).map { (d, $0) } }
        if !runs.isEmpty {
            out.family(
                "lvsd_sync_bulk_resync_last_duration_seconds", .gauge,
                help: "Duration of the last bulk resync (backup: request to end marker; master: the answer).",
                each: runs, float: { $0.1.durationSeconds }, labels: { labels($0.0, &$1) })
            out.family(
                "lvsd_sync_bulk_resync_last_entries", .gauge, help: "Connection entries of the last bulk resync.",
                each: runs, value: { $0.1.entries }, labels: { labels($0.0, &$1) })
        }

        func traffic(_ name: StaticString, _ d: SyncDaemonStatus, _ value: (SyncTraffic) -> UInt64) {
            out.sample(name, value: value(d.received)) { l in labels(d, &l, "direction", "received") }
            out.sample(name, value: value(d.sent)) { l in labels(d, &l, "direction", "sent") }
        }
    }

    /// The daemon's labels and one extra, sorted by name: `direction`, `interface`, `reason` /
    /// `result`, `role`, `syncid`.
    static func labels(
        _ d: SyncDaemonStatus, _ l: inout PrometheusWriter, _ extra: StaticString? = nil, _ value: String = ""
    ) {
        let first = extra.map { "\($0)" < "interface" } ?? false
        if first, let extra { l.label(extra, value) }
        l.label("interface", d.interface)
        if !first, let extra { l.label(extra, value) }
        l.label("role", d.role)
        l.label("syncid", UInt64(d.syncID))
    }
}
