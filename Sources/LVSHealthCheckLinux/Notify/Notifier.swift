// Notification seams: notify scripts, lvs_notify_fifo lines and SMTP alerts, never blocking checks.
import Glibc
import KeepalivedConfig
import LVSHealthCheck
import LVSPlatform
import Synchronization

/// The real notifier: child processes, a FIFO opened read-write (so writes never block for
/// want of a reader), and SMTP exchanges on threads of their own.
public final class SystemNotifier: HealthCheckNotifier, @unchecked Sendable {
    private let fifoFD: Int32
    private let smtp: SMTPAlertSettings?
    private let log: @Sendable (String) -> Void
    /// SMTP exchanges under way.
    private let mailsInFlight = Mutex(0)

    /// At most this many alerts are sent at once; more are dropped with a log line.
    public static let maxMailsInFlight = 16

    public init(globalDefs: GlobalDefs, hostName: String, log: @escaping @Sendable (String) -> Void) {
        self.log = log
        smtp = SMTPAlertSettings(globalDefs: globalDefs, hostName: hostName)
        if let fifo = globalDefs.lvsNotifyFIFO {
            // Only a FIFO, never through a symbolic link (SafeFiles.openFIFO).
            switch SafeFiles.openFIFO(fifo.path) {
            case .success(let fd): fifoFD = fd
            case .failure(let e):
                fifoFD = -1
                log("Unable to open lvs_notify_fifo \(fifo.path): \(e.message)")
            }
            if let script = globalDefs.lvsNotifyFIFOScript, fifoFD >= 0 {
                // keepalived runs the FIFO script with the FIFO's name appended.
                ScriptProcess.runDetached(
                    script.arguments + [fifo.path], user: script.user ?? globalDefs.scriptUser,
                    group: script.user != nil ? script.group : globalDefs.scriptGroup, log: log)
            }
        } else {
            fifoFD = -1
        }
    }

    deinit { if fifoFD >= 0 { close(fifoFD) } }

    public func runScript(_ script: NotifyScript) {
        ScriptProcess.runDetached(script.arguments, user: script.user, group: script.group, log: log)
    }

    public func writeFIFO(_ line: String) {
        guard fifoFD >= 0 else { return }
        let bytes = Array(line.utf8)
        let n = bytes.withUnsafeBytes { write(fifoFD, $0.baseAddress, $0.count) }
        if n < 0 { log("lvs_notify_fifo write failed: \(String(cString: strerror(errno)))") }
    }

    public func sendMail(_ mail: AlertMail) {
        guard let smtp else { return }
        let admitted = mailsInFlight.withLock { n in
            guard n < Self.maxMailsInFlight else { return false }
            n += 1
            return true
        }
        guard admitted else {
            log("SMTP alert dropped (\(Self.maxMailsInFlight) alerts already in flight): \(mail.subject)")
            return
        }
        let log = self.log
        // keepalived's SMTP exchange blocks for up to its timeouts: on a thread of its own.
        let started = PlatformThread.detach(name: "lvsd-smtp") { [self] in
            if let problem = SMTPAlertClient.send(mail, settings: smtp) {
                log(problem)
            } else {
                log("SMTP alert successfully sent.")
            }
            mailsInFlight.withLock { $0 -= 1 }
        }
        if !started {
            mailsInFlight.withLock { $0 -= 1 }
            log("SMTP alert dropped (no thread to send it): \(mail.subject)")
        }
    }

    /// Alerts still being sent.
    public var pendingMails: Int { mailsInFlight.withLock { $0 } }
}

extension ScriptProcess {
    /// Starts `argv` and reaps it on a thread of its own, logging a failure to start.
    static func runDetached(_ argv: [String], user: String?, group: String?, log: @escaping @Sendable (String) -> Void)
    {
        switch spawn(argv, user: user, group: group) {
        case .failure(let e): log("Failed to run script \(argv.joined(separator: " ")): \(e.message)")
        case .success(let pid):
            PlatformThread.detach(name: "lvsd-reap") { ChildProcess.reap(pid) }
        }
    }
}
