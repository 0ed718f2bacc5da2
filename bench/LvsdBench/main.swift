// lvsd for benchmarks: the same daemon, with CMallocCounter linked so the data plane counts allocations.
import CMallocCounter
import Glibc
import LVSCore
import LVSDaemon
import LVSDataPlane

var environment: [String: String] = [:]
var entry = environ
while let p = entry.pointee {
    let text = String(cString: p)
    if let eq = text.firstIndex(of: "=") {
        environment[String(text[..<eq])] = String(text[text.index(after: eq)...])
    }
    entry += 1
}
// Read on each worker thread: the worker counts its own allocations, not the other threads'.
AllocationCounter.install { lvs_malloc_thread_count() }
var hooks = LVSDaemonHooks()
hooks.configurationTester = KeepalivedConfigurationTester(environment: environment)
hooks.dataPlane = DataPlaneService.make(
    statisticsFile: environment["LVSD_STATS_FILE"], fastPath: environment["LVSD_FAST_PATH"] != "0")
exit(
    LVSDaemonMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: environment, hooks: hooks) {
        IPVS()
    })
