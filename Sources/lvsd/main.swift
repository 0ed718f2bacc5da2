// lvsd entry point: the director of this network namespace (keepalived's flags, ipvsadm's control endpoint).
import Glibc
import LVSCore
import LVSDaemon

var environment: [String: String] = [:]
for name in ["LVSD_CONTROL"] {
    if let v = getenv(name) { environment[name] = String(cString: v) }
}
exit(
    LVSDaemonMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: environment) {
        IPVS()
    })
