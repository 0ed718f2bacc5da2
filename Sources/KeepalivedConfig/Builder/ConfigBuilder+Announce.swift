// Builds lvsd's `lvs_announce_table N [bird_socket PATH|none]` (global_defs).

extension ConfigBuilder {
    /// `lvs_announce_table N [bird_socket PATH|none]`. A value lvsd cannot use is fatal: lvsd was
    /// asked to announce its VIPs and cannot, so it refuses to start (and a reload is refused).
    mutating func lvsAnnounce(_ node: ConfigNode) -> LVSAnnounceConfig? {
        let a = node.arguments
        let word = ConfigText.trimmed(a[0])
        guard let n = UInt64(word), n <= UInt64(UInt32.max) else {
            report(
                .fatal, "lvs_announce_table '\(a[0])' is not a routing table number (1-4294967295)",
                at: node.location)
            return nil
        }
        if let name = LVSAnnounceConfig.reservedTables[UInt32(n)] {
            report(
                .fatal,
                "lvs_announce_table \(n) is the kernel's '\(name)' table: choose a table of its own (e.g. 100)",
                at: node.location)
            return nil
        }
        var config = LVSAnnounceConfig(table: UInt32(n), location: node.location)
        guard a.count > 1 else { return config }
        guard a[1] == "bird_socket", a.count == 3 else {
            report(
                .fatal,
                "lvs_announce_table: unexpected '\(a[1...].joined(separator: " "))' (expected bird_socket PATH|none)",
                at: node.location)
            return nil
        }
        if a[2] == "none" {
            config.birdSocket = nil
        } else if a[2].hasPrefix("/") {
            config.birdSocket = a[2]
        } else {
            report(
                .fatal, "lvs_announce_table bird_socket '\(a[2])' is not an absolute path (or 'none')",
                at: node.location)
            return nil
        }
        return config
    }
}
