// lvs-realserver entry point: real-server set-up for DR and TUN (the seeds' lvs_rs.sh / realserver.sh).
import Glibc
import LVSDataPlane

func printTo(_ fd: Int32, _ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }

do {
    let setup = try RealServerSetup.parse(Array(CommandLine.arguments.dropFirst()))
    for line in try setup.run() { printTo(1, line + "\n") }
    exit(0)
} catch {
    if error.exitCode == 0 {
        printTo(1, error.message)
        exit(0)
    }
    printTo(2, "lvs-realserver: \(error.message)\n")
    exit(error.exitCode)
}
