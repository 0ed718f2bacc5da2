// Review finding 4: a reload refuses a configuration with any error (keepalived's
// reload_check_config), so the live services it would drop stay.
import Foundation
import KeepalivedConfig
import LVSDaemon
import Testing

@Suite("reload check (finding 4)")
struct ReloadCheckTests {
    func refusals(_ text: String, files: [String: String] = [:]) throws -> [String] {
        let dir = NSTemporaryDirectory() + "lvsd-reload-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, body) in files { try body.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        let main = dir + "/keepalived.conf"
        try text.replacingOccurrences(of: "DIR", with: dir).write(toFile: main, atomically: true, encoding: .utf8)
        let result = try KeepalivedConfigLoader.load(file: main, options: ConfigReaderOptions(configID: "test"))
        return KeepalivedDaemonSupport.reloadRefusals(result.diagnostics).map(\.description)
    }

    let service =
        "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    lb_algo rr\n    real_server 10.0.0.2 80 {\n    }\n}\n"

    @Test("a missing plain include is refused, with file:line")
    func missingInclude() throws {
        let r = try refusals("include DIR/services.conf\n" + service)
        #expect(r.count == 1 && r[0].contains("keepalived.conf:1:"))
    }

    @Test("an invalid virtual server address is refused")
    func invalidAddress() throws {
        let r = try refusals(service + "virtual_server 10.0.0.300 80 {\n    protocol TCP\n}\n")
        #expect(r.contains { $0.contains("invalid virtual server address") })
    }

    @Test("a clean configuration (warnings at most) reloads")
    func clean() throws {
        #expect(try refusals("include DIR/services.conf\n", files: ["services.conf": service]).isEmpty)
    }
}
