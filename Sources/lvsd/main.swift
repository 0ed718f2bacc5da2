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
// global_defs { lvs_announce_table N }: blackhole routes of the VIPs served, for BIRD to announce.
let announcer = RouteAnnouncer()
vrrp.ownership.addObserver { announcer.passiveChanged($0.passive) }
let dataPlaneStatus = DataPlaneStatusBox()
// LVSD_FAST_PATH=0: XDP steering and AF_XDP sockets, but no flow forwarded by XDP (benchmarks).
// LVSD_WORKER_NICE=N: the packet workers' nice value (default −10, see DataPlane.Configuration.workerNice).
hooks.dataPlane = DataPlaneService.make(
    statisticsFile: environment["LVSD_STATS_FILE"], ownership: vrrp.ownership, spinNanoseconds: spin,
    fastPath: environment["LVSD_FAST_PATH"] != "0", workerNice: environment["LVSD_WORKER_NICE"].flatMap { Int32($0) },
    onForwarding: { announcer.forwardingChanged($0) },
    status: dataPlaneStatus)
hooks.dataPlaneStatus = dataPlaneStatus
// Connection sync: --start-daemon / lvs_sync_daemon run real daemons (sockets, threads) on the table.
let syncRunner = SyncDaemonRunner()
hooks.directorCreated = { director in syncRunner.attach(owner: director, clock: director.clock) }
let keepalivedSync = KeepalivedSyncDaemon(runner: syncRunner, vrrp: vrrp)
let keepalived = KeepalivedDaemonSupport(
    environment: environment, vrrp: vrrp, sync: keepalivedSync, announcer: announcer)
// --http: the director's table, VRRP, checkers, data plane and sync daemons for /metrics, /api/v1
// and the dashboard.
hooks.status = { director in
    DirectorStatusSource(
        director: director, vrrp: vrrp, keepalived: keepalived, dataPlane: dataPlaneStatus, sync: syncRunner)
}
hooks.configuration = keepalived
hooks.reload = keepalived
hooks.additionalServices.append { director, logger in keepalived.makeService(director: director, logger: logger) }
hooks.additionalServices.append { director, logger in keepalivedSync.makeService(director: director, logger: logger) }
// VRRP last: the service group stops services in reverse order, so on SIGTERM the priority-0
// advert goes out and the VIPs are removed first.
hooks.additionalServices.append { _, logger in vrrp.makeService(logger: logger) }
// The announcer after VRRP: on SIGTERM its routes are withdrawn first, while lvsd still forwards.
hooks.additionalServices.append { director, logger in announcer.makeService(director: director, logger: logger) }
exit(
    LVSDaemonMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: environment, hooks: hooks) {
        // net.ipv4.vs.* (sloppy_tcp for scale-out behind ECMP, …): `lvs-sysctl -w` or `-p` on the
        // running lvsd, as sysctl on the kernel's.
        let configuration = IPVSConfiguration()
        // Random hash and cookie keys per start (issue 14).
        let ipvs = IPVS(configuration: DefenceSupport.randomizedConfiguration(configuration))
        ipvs.interfaceMTU = { InterfaceMTU.of($0) }
        ipvs.syncDaemonLauncher = syncRunner
        ipvs.systemAvailablePages = { DefenceSupport.availablePages() }
        return ipvs
    })
