// /api/v1/sync: the connection-sync daemons as JSON (schema SyncDaemons in the OpenAPI document).

extension StatusAPI {
    /// `/api/v1/sync`: `{"daemons": [...]}`, masters before backups; non-zero drops only.
    public static func sync(_ s: StatusSnapshot) -> [UInt8] { list("daemons", s.sync, daemon) }

    static func daemon(_ d: SyncDaemonStatus, _ j: inout JSONWriter) {
        j.object { j in
            j.member("role", d.role)
            j.member("syncID", Int(d.syncID))
            j.member("interface", d.interface)
            j.member("group", d.group)
            j.member("port", Int(d.port))
            j.member("ttl", Int(d.ttl))
            j.member("maxLength", Int(d.maxLength))
            j.member("running", d.running)
            j.key("sent")
            traffic(d.sent, &j)
            j.key("received")
            traffic(d.received, &j)
            j.key("drops")
            j.object { j in for c in d.drops where c.value != 0 { j.member(c.name, c.value) } }
            j.key("master")
            if let m = d.master {
                j.object { j in
                    j.member("queuedEntries", m.queuedEntries)
                    j.key("oldestQueuedSeconds")
                    optional(m.oldestQueuedSeconds, &j)
                    j.member("bulkAnswers", m.bulkAnswers)
                    j.key("lastBulkAnswer")
                    bulk(m.lastBulkAnswer, &j)
                }
            } else {
                j.null()
            }
            j.key("backup")
            if let b = d.backup {
                j.object { j in
                    j.key("lagSeconds")
                    optional(b.lagSeconds, &j)
                    j.key("applied")
                    j.object { j in for c in b.applied { j.member(c.name, c.value) } }
                    j.key("bulk")
                    j.object { j in
                        j.member("inProgress", b.bulkInProgress)
                        j.member("completed", b.bulkCompleted)
                        j.member("timedOut", b.bulkTimedOut)
                        j.key("last")
                        bulk(b.lastBulk, &j)
                    }
                }
            } else {
                j.null()
            }
        }
    }

    static func traffic(_ t: SyncTraffic, _ j: inout JSONWriter) {
        j.object { j in
            j.member("messages", t.messages)
            j.member("entries", t.entries)
            j.member("bytes", t.bytes)
        }
    }

    static func bulk(_ r: SyncBulkRun?, _ j: inout JSONWriter) {
        guard let r else { return j.null() }
        j.object { j in
            j.member("entries", r.entries)
            j.member("durationSeconds", r.durationSeconds)
        }
    }

    static func optional(_ v: Double?, _ j: inout JSONWriter) {
        if let v { j.value(v) } else { j.null() }
    }
}
