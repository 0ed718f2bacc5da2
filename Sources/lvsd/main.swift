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
// -f FILE: the keepalived configuration's table, health checks, VRRP and SIGHUP reload.
let vrrp = VRRPDaemon(hostName: VRRPDaemon.systemHostName())
// The services of a VRRP address this lvsd does not own (BACKUP) are left to the local stack.
// LVSD_SPIN_US: how long the packet worker watches its ring before sleeping (default 50 µs).
let spin = environment["LVSD_SPIN_US"].flatMap { UInt64($0) }.map { $0 * 1000 }
hooks.dataPlane = DataPlaneService.make(
    statisticsFile: environment["LVSD_STATS_FILE"], ownership: vrrp.ownership, spinNanoseconds: spin)
let keepalived = KeepalivedDaemonSupport(environment: environment, vrrp: vrrp)
hooks.configuration = keepalived
hooks.reload = keepalived
hooks.additionalServices.append { director, logger in keepalived.makeService(director: director, logger: logger) }
// VRRP last: the service group stops services in reverse order, so on SIGTERM the priority-0
// advert goes out and the VIPs are removed first.
hooks.additionalServices.append { _, logger in vrrp.makeService(logger: logger) }
exit(
    LVSDaemonMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: environment, hooks: hooks) {
        let ipvs = IPVS(configuration: DefenceSupport.randomizedConfiguration())
        ipvs.interfaceMTU = { InterfaceMTU.of($0) }
        ipvs.systemAvailablePages = { DefenceSupport.availablePages() }
        return ipvs
    })
