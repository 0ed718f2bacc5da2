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
// -f FILE: the configuration's VRRP instances (VIPs, GARP, notify scripts), reloaded on SIGHUP.
let vrrp = VRRPDaemon(hostName: VRRPDaemon.systemHostName())
let vrrpConfiguration = VRRPConfigurationSupport(daemon: vrrp, environment: environment)
hooks.configuration = vrrpConfiguration
hooks.reload = vrrpConfiguration
hooks.additionalServices.append { _, logger in vrrp.makeService(logger: logger) }
exit(
    LVSDaemonMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: environment, hooks: hooks) {
        IPVS()
    })
