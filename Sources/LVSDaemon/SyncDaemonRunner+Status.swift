// The sync daemons for /metrics (lvsd_sync_*), /api/v1/sync and the dashboard.
import LVSCore
import LVSStatus
import LVSSync

extension SyncDaemonRunner {
    /// Every daemon this runner runs, master first, as the status API shows it; ages measured now.
    public func status() -> [SyncDaemonStatus] {
        let (threads, clock) = daemonsForStatus()
        guard let clock else { return [] }
        let now = clock.now()
        return threads.map { Self.status(of: $0.spec, $0.statistics, running: $0.isRunning, now: now) }
    }

    /// One daemon's status from its spec and counts (pure: `now` given).
    static func status(
        of spec: SyncDaemonSpec, _ s: SyncDaemonStatistics, running: Bool, now: Timestamp
    ) -> SyncDaemonStatus {
        var d = SyncDaemonStatus(
            role: spec.role.rawValue, syncID: spec.syncID, interface: spec.multicastInterface,
            group: "\(spec.group ?? SyncWire.defaultGroup)", port: spec.port == 0 ? SyncWire.defaultPort : spec.port,
            ttl: spec.ttl == 0 ? 1 : spec.ttl, maxLength: spec.maxLength, running: running,
            sent: s.sent)
        switch spec.role {
        case .master:
            d.received = s.bulkRequests
            d.drops = [NamedCounter("queue_full", s.queueDrops), NamedCounter("send_failed", s.sendErrors)]
            d.master = SyncMasterStatus(
                queuedEntries: s.queuedEntries, oldestQueuedSeconds: s.oldestQueued.map { seconds(now - $0) },
                bulkAnswers: s.traffic.bulk,
                lastBulkAnswer: s.lastBulkAnswer.map {
                    SyncBulkRun(entries: $0.entries, durationSeconds: seconds($0.duration))
                })
        case .backup:
            d.received = SyncTraffic(messages: s.traffic.messages, entries: s.traffic.entries, bytes: s.traffic.bytes)
            d.drops = SyncError.Code.allCases.map { NamedCounter(metricName($0), s.traffic.dropped[$0] ?? 0) }
            d.drops.append(NamedCounter("send_failed", s.sendErrors))
            d.backup = SyncBackupStatus(
                lagSeconds: s.lastMessage.map { seconds(now - $0) },
                applied: [
                    NamedCounter("created", s.created), NamedCounter("created_unbound", s.createdUnbound),
                    NamedCounter("updated", s.updated), NamedCounter("replaced", s.replaced),
                    NamedCounter("ignored_stale", s.ignoredStale), NamedCounter("refused", s.refused),
                    NamedCounter("skipped", s.traffic.skippedEntries),
                ], bulkInProgress: s.bulkInProgress, bulkCompleted: s.bulkCompleted, bulkTimedOut: s.bulkTimedOut,
                lastBulk: s.lastBulk.map { SyncBulkRun(entries: $0.entries, durationSeconds: seconds($0.duration)) })
        }
        return d
    }

    /// A drop reason as a metric label: `wrongSyncID` → `wrong_sync_id`.
    static func metricName(_ code: SyncError.Code) -> String {
        var out = ""
        var previousUpper = false
        for ch in code.rawValue {
            if ch.isUppercase {
                if !out.isEmpty && !previousUpper { out.append("_") }
                out.append(Character(ch.lowercased()))
                previousUpper = true
            } else {
                out.append(ch)
                previousUpper = false
            }
        }
        return out
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return max(0, Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }
}

/// `/metrics`'s connection-sync families (`lvsd_sync_*`, docs/operations.md), read from the
/// runner at each scrape.
public struct SyncMetricsProvider: MetricsProvider {
    let runner: SyncDaemonRunner

    public init(runner: SyncDaemonRunner) { self.runner = runner }

    public func writeMetrics(into out: inout PrometheusWriter) async {
        SyncMetrics.write(runner.status(), into: &out)
    }
}
