// The health-check driver's I/O seams: probes, notifications, local addresses (fakes in tests).
import KeepalivedConfig
import LVSCore

/// Runs one check. Implementations must not block the caller's task for long: the real one
/// does its socket and process work on a thread of its own.
public protocol HealthProbe: Sendable {
    /// Runs the check described by `request` and reports what it found.
    func run(_ request: ProbeRequest) async -> ProbeOutcome
}

/// Carries out the engine's notifications. Every call returns at once.
public protocol HealthCheckNotifier: Sendable {
    /// Starts a notify script (not waited for).
    func runScript(_ script: NotifyScript)
    /// Writes a line to `lvs_notify_fifo`.
    func writeFIFO(_ line: String)
    /// Sends an e-mail alert in the background.
    func sendMail(_ mail: AlertMail)
}

/// The addresses on this host's interfaces (for `ha_suspend`).
public protocol LocalAddressSource: Sendable {
    func current() -> Set<IPAddress>
}
