// Connection sync in the status API: /api/v1/sync, the lvsd_sync_* families, the route.
import Foundation
import LVSStatus
import Testing

/// A master (sync id 1, something queued, one bulk answer) and a backup accepting every id
/// (lag 0.25 s, drops, one completed bulk resync) on eth1.
func sampleSyncDaemons() -> [SyncDaemonStatus] {
    [
        SyncDaemonStatus(
            role: "master", syncID: 1, interface: "eth1", group: "224.0.0.81", port: 8848, ttl: 1, maxLength: 1472,
            running: true, sent: SyncTraffic(messages: 12, entries: 300, bytes: 11000),
            received: SyncTraffic(messages: 1, entries: 0, bytes: 20),
            drops: [NamedCounter("queue_full", 0), NamedCounter("send_failed", 2)],
            master: SyncMasterStatus(
                queuedEntries: 4, oldestQueuedSeconds: 0.5, bulkAnswers: 1,
                lastBulkAnswer: SyncBulkRun(entries: 250, durationSeconds: 0.012))),
        SyncDaemonStatus(
            role: "backup", syncID: 0, interface: "eth1", group: "224.0.0.81", port: 8848, ttl: 1, maxLength: 1472,
            running: true, sent: SyncTraffic(messages: 1, entries: 0, bytes: 20),
            received: SyncTraffic(messages: 30, entries: 700, bytes: 26000),
            drops: [NamedCounter("wrong_sync_id", 0), NamedCounter("unauthenticated", 5)],
            backup: SyncBackupStatus(
                lagSeconds: 0.25, applied: [NamedCounter("created", 690), NamedCounter("updated", 10)],
                bulkInProgress: false, bulkCompleted: 1, bulkTimedOut: 0,
                lastBulk: SyncBulkRun(entries: 400, durationSeconds: 0.5))),
    ]
}

@Suite("/api/v1/sync and lvsd_sync_*")
struct SyncStatusTests {
    @Test("route: GET /api/v1/sync; other methods 405")
    func route() {
        #expect(StatusRoutes.route(method: "GET", target: "/api/v1/sync") == .sync)
        #expect(StatusRoutes.route(method: "HEAD", target: "/api/v1/sync") == .sync)
        #expect(StatusRoutes.route(method: "POST", target: "/api/v1/sync") == .methodNotAllowed)
        #expect(StatusParts.needed(by: .sync) == .sync)
        #expect(
            !StatusParts.needed(by: .metrics(backendStats: false)).contains(.sync),
            "/metrics has sync from its provider")
        #expect(StatusRoute.sync.name == "sync")
    }

    @Test(
        "the document: one object per daemon, master and backup parts, non-zero drops only, null for what is not known")
    func document() throws {
        var s = sampleSnapshot()
        let doc = try json(StatusResponse.api(.sync, s).body)
        let daemons = try #require(doc["daemons"] as? [[String: Any]])
        #expect(daemons.map { $0["role"] as? String } == ["master", "backup"])
        let m = daemons[0]
        #expect(m["syncID"] as? Int == 1 && m["interface"] as? String == "eth1" && m["running"] as? Bool == true)
        #expect((m["sent"] as? [String: Int]) == ["messages": 12, "entries": 300, "bytes": 11000])
        #expect((m["drops"] as? [String: Int]) == ["send_failed": 2])
        #expect(m["backup"] is NSNull)
        let mq = try #require(m["master"] as? [String: Any])
        #expect(mq["queuedEntries"] as? Int == 4 && mq["oldestQueuedSeconds"] as? Double == 0.5)
        #expect((mq["lastBulkAnswer"] as? [String: Any])?["entries"] as? Int == 250)
        let b = daemons[1]
        #expect(b["master"] is NSNull)
        #expect((b["drops"] as? [String: Int]) == ["unauthenticated": 5])
        let bq = try #require(b["backup"] as? [String: Any])
        #expect(bq["lagSeconds"] as? Double == 0.25)
        #expect((bq["applied"] as? [String: Int]) == ["created": 690, "updated": 10])
        let bulk = try #require(bq["bulk"] as? [String: Any])
        #expect(bulk["completed"] as? Int == 1 && bulk["inProgress"] as? Bool == false)
        #expect((bulk["last"] as? [String: Any])?["durationSeconds"] as? Double == 0.5)

        // Nothing received yet, nothing queued: null, not 0.
        s.sync[0].master?.oldestQueuedSeconds = nil
        s.sync[0].master?.lastBulkAnswer = nil
        s.sync[1].backup?.lagSeconds = nil
        let fresh = try #require(try json(StatusAPI.sync(s))["daemons"] as? [[String: Any]])
        #expect((fresh[0]["master"] as? [String: Any])?["oldestQueuedSeconds"] is NSNull)
        #expect((fresh[0]["master"] as? [String: Any])?["lastBulkAnswer"] is NSNull)
        #expect((fresh[1]["backup"] as? [String: Any])?["lagSeconds"] is NSNull)
        s.sync = []
        #expect(String(decoding: StatusAPI.sync(s), as: UTF8.self) == #"{"daemons":[]}"#)
    }

    @Test("lvsd_sync_* families: labels sorted by name, both directions, drops with zeros, role-specific gauges")
    func metrics() {
        var w = PrometheusWriter()
        SyncMetrics.write(sampleSyncDaemons(), into: &w)
        let text = w.withBytes { String(decoding: $0, as: UTF8.self) }
        let m = #"interface="eth1",role="master",syncid="1""#
        let b = #"interface="eth1",role="backup",syncid="0""#
        for line in [
            "# TYPE lvsd_sync_daemon_up gauge",
            "lvsd_sync_daemon_up{\(m)} 1",
            "# TYPE lvsd_sync_messages_total counter",
            #"lvsd_sync_messages_total{direction="sent",\#(m)} 12"#,
            #"lvsd_sync_messages_total{direction="received",\#(b)} 30"#,
            #"lvsd_sync_entries_total{direction="received",\#(b)} 700"#,
            #"lvsd_sync_bytes_total{direction="sent",\#(m)} 11000"#,
            #"lvsd_sync_drops_total{interface="eth1",reason="queue_full",role="master",syncid="1"} 0"#,
            #"lvsd_sync_drops_total{interface="eth1",reason="unauthenticated",role="backup",syncid="0"} 5"#,
            "lvsd_sync_master_queue_entries{\(m)} 4",
            "lvsd_sync_master_queue_oldest_seconds{\(m)} 0.5",
            "lvsd_sync_backup_lag_seconds{\(b)} 0.25",
            #"lvsd_sync_backup_applied_entries_total{interface="eth1",result="created",role="backup",syncid="0"} 690"#,
            "lvsd_sync_bulk_resync_in_progress{\(b)} 0",
            #"lvsd_sync_bulk_resyncs_total{interface="eth1",result="completed",role="backup",syncid="0"} 1"#,
            #"lvsd_sync_bulk_resyncs_total{interface="eth1",result="answered",role="master",syncid="1"} 1"#,
            "lvsd_sync_bulk_resync_last_duration_seconds{\(b)} 0.5",
            "lvsd_sync_bulk_resync_last_entries{\(m)} 250",
        ] {
            #expect(text.contains(line + "\n"), "\(line)\n\(text)")
        }
        // A master has no lag, a backup no queue.
        #expect(!text.contains("lvsd_sync_backup_lag_seconds{\(m)}"))
        #expect(!text.contains("lvsd_sync_master_queue_entries{\(b)}"))
        // Every family is declared once.
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(Set(types).count == types.count)
        var none = PrometheusWriter()
        SyncMetrics.write([], into: &none)
        #expect(none.count == 0)
    }
}
