// lvsd entry point: the director of this network namespace (keepalived's flags, ipvsadm's control endpoint).
import Glibc
import LVSCore
import LVSDaemon

var environment: [String: String] = [:]
var entry = environ
while let p = entry.pointee {
    let text = String(cString: p)
    if let eq = text.firstIndex(of: "=") {
        environment[String(text[..<eq])] = String(text[text.index(after: eq)...])
    }
    entry += 1
}
var hooks = LVSDaemonHooks()
hooks.configurationTester = KeepalivedConfigurationTester(environment: environment)
hooks.dataPlane = DataPlaneService.make(statisticsFile: environment["LVSD_STATS_FILE"])
// -f FILE: the keepalived configuration's table, health checks and SIGHUP reload.
let keepalived = KeepalivedDaemonSupport(environment: environment)
hooks.configuration = keepalived
hooks.reload = keepalived
hooks.additionalServices.append { director, logger in keepalived.makeService(director: director, logger: logger) }
exit(
    LVSDaemonMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: environment, hooks: hooks) {
        let ipvs = IPVS()
        ipvs.interfaceMTU = { InterfaceMTU.of($0) }
        return ipvs
    })
