// Checker epilogs: what one probe result does to a checker (retry, up, down), per checker kind.
import KeepalivedConfig
import LVSCore

extension HealthCheckEngine {
    /// Words keepalived uses in its log lines and alert bodies for each kind.
    struct KindWords {
        var successLog: String
        var failLog: String
        var upMail: String
        var downMail: String
    }

    func words(_ v: Int, _ r: Int, _ c: Int, detail: String) -> KindWords {
        let ck = virtualServers[v].realServers[r].checkers[c]
        let chk = formatRS(v, r)
        let retries = ck.hasRun && ck.retry > 0 ? " after \(ck.retry) retries" : ""
        switch ck.config.kind {
        case .tcp:
            return KindWords(
                successLog: "TCP connection to \(chk) success.",
                failLog: "TCP_CHECK on service \(chk) failed\(retries).",
                upMail: "=> TCP CHECK succeed on service <=", downMail: "=> TCP CHECK failed on service <=")
        case .udp:
            return KindWords(
                successLog: "UDP connection to \(chk) success.",
                failLog: "UDP_CHECK on service \(chk) failed\(retries).",
                upMail: "=> UDP CHECK succeed on service <=", downMail: "=> UDP CHECK failed on service <=")
        case .ping:
            let fail =
                retries.isEmpty
                ? "ICMP CHECK on service \(chk) failed."
                : "ICMP CHECK on service \(chk) of \(formatVS(v)) failed\(retries)."
            return KindWords(
                successLog: "ICMP connection to \(chk) success.", failLog: fail,
                upMail: "=> ICMP CHECK succeed on service <=", downMail: "=> ICMP CHECK failed on service <=")
        case .dns:
            return KindWords(
                successLog: "DNS_CHECK (\(chk)) succeeded.", failLog: "DNS_CHECK (\(chk)) \(detail)\(retries)",
                upMail: "=> DNS_CHECK: succeed on service <=", downMail: "=> DNS_CHECK: failed on service <=")
        case .smtp:
            return KindWords(
                successLog: "Remote SMTP server \(chk) succeed on service.", failLog: "SMTP_CHECK \(detail)",
                upMail: "=> CHECK succeed on service <=", downMail: "=> CHECK failed on service : \(detail) <=")
        default:
            return KindWords(
                successLog: "Remote Web server \(chk) succeed on service.",
                failLog: "HTTP_CHECK on service \(chk) failed\(retries).", upMail: "=> CHECK succeed on service <=",
                downMail: "=> CHECK failed on service : HTTP request failed <=")
        }
    }

    /// TCP_CHECK, SMTP_CHECK (`tcp_epilog`, `smtp_final`): retry every `delay_before_retry`
    /// up to `retry` times, then down; one success brings it up; otherwise every `delay_loop`.
    /// UDP_CHECK, PING_CHECK, DNS_CHECK (`udp_epilog`, `icmp_epilog`, `dns_final`): the same,
    /// except that only an up checker retries.
    mutating func layer4Epilog(_ v: Int, _ r: Int, _ c: Int, _ outcome: ProbeOutcome, now: Timestamp) {
        let ck = virtualServers[v].realServers[r].checkers[c]
        let w = words(v, r, c, detail: outcome.detail)
        var delay = ck.delayLoop
        let mayConclude: Bool
        switch ck.style {
        case .retryAlways: mayConclude = outcome.success || ck.retryIt >= ck.retry
        default: mayConclude = outcome.success || ((ck.isUp || !ck.hasRun) && ck.retryIt >= ck.retry)
        }
        if !outcome.success && ck.isUp
            && (ck.config.logAllFailures ?? configuration.globalDefs.checkerLogAllFailures ?? false)
        {
            log("\(ck.config.kind.keyword) to \(formatRS(v, r)) failed: \(outcome.detail)")
        }
        if mayConclude {
            virtualServers[v].realServers[r].checkers[c].retryIt = 0
            if outcome.success && (!ck.isUp || !ck.hasRun) {
                log(w.successLog)
                transition(v, r, c, up: true, mail: w.upMail)
            } else if !outcome.success && (ck.isUp || !ck.hasRun) {
                log(w.failLog)
                if !outcome.detail.isEmpty { log("\(ck.config.kind.keyword) \(formatRS(v, r)): \(outcome.detail)") }
                transition(v, r, c, up: false, mail: w.downMail)
            }
        } else if ck.style == .retryAlways || ck.isUp {
            delay = ck.delayBeforeRetry
            virtualServers[v].realServers[r].checkers[c].retryIt += 1
        }
        virtualServers[v].realServers[r].checkers[c].hasRun = true
        virtualServers[v].realServers[r].checkers[c].nextRun = now + delay
    }

    /// MISC_CHECK (`misc_check_child_thread`): exit 0 is success, 1 failure; with
    /// `misc_dynamic`, exit 2...255 is success with weight = status − 2 (exit 0: the configured
    /// weight); a killed or timed-out script fails. The next run is timed from the start of
    /// this one: `delay_before_retry` while retrying, else `delay_loop`.
    mutating func miscEpilog(_ v: Int, _ r: Int, _ c: Int, _ outcome: ProbeOutcome, now: Timestamp) {
        let ck = virtualServers[v].realServers[r].checkers[c]
        guard case .misc(let misc) = ck.config.kind else { return }
        let program = misc.script?.program ?? ""
        var exitType: String?
        var reason = ""
        var success = false
        if let status = outcome.exitStatus {
            if status == 0 || (misc.dynamic && (2...255).contains(status)) {
                let weight = status >= 2 ? Int64(status - 2) : virtualServers[v].realServers[r].configuredWeight
                if status != ck.lastExitCode {
                    updateWeight(weight, v, r, updateQuorum: true)
                    virtualServers[v].realServers[r].checkers[c].lastExitCode = status
                }
                if !ck.isUp || !ck.hasRun {
                    exitType = "succeeded"
                    success = true
                }
                virtualServers[v].realServers[r].checkers[c].retryIt = 0
            } else if ck.isUp || !ck.hasRun {
                reason = " (exited with status \(status))"
                if ck.retryIt < ck.retry {
                    virtualServers[v].realServers[r].checkers[c].retryIt += 1
                } else {
                    exitType = "failed"
                    virtualServers[v].realServers[r].checkers[c].retryIt = 0
                    virtualServers[v].realServers[r].checkers[c].lastExitCode = status
                }
            }
        } else if ck.isUp || !ck.hasRun {
            // Killed: by our timeout, or by a signal of its own.
            if !outcome.timedOut, let s = outcome.signal { reason = " (due to signal \(s))" }
            if ck.retryIt < ck.retry {
                virtualServers[v].realServers[r].checkers[c].retryIt += 1
            } else {
                exitType = outcome.timedOut ? "timed out" : "failed"
                virtualServers[v].realServers[r].checkers[c].retryIt = 0
            }
        }
        if let exitType {
            let retries = !success && ck.retry > 0 ? " after \(ck.retry) retries" : ""
            log("Misc check for [\(formatRS(v, r)) VS \(formatVS(v))] by [\(program)] \(exitType)\(retries)\(reason).")
            transition(
                v, r, c, up: success, mail: "=> MISC CHECK \(exitType) on service <=", requireCheckerChange: false)
        }
        let after = virtualServers[v].realServers[r].checkers[c]
        var next = after.startedAt + (after.retryIt > 0 ? after.delayBeforeRetry : after.delayLoop)
        if next <= now { next = now + .microseconds(1) }
        virtualServers[v].realServers[r].checkers[c].hasRun = true
        virtualServers[v].realServers[r].checkers[c].nextRun = next
    }

    /// HTTP_GET / SSL_GET (`epilog()`, `timeout_epilog()` in check_http.c): one URL per run.
    /// A passing URL moves on to the next after `delay_loop`; when all have passed, the checker
    /// is up. A failing URL of an up checker is retried every `delay_before_retry`; after
    /// `retry` retries the checker goes down and that URL is checked every
    /// max(`delay_before_retry`, `delay_loop`) until it passes, then all URLs again.
    mutating func httpEpilog(_ v: Int, _ r: Int, _ c: Int, _ outcome: ProbeOutcome, now: Timestamp) {
        enum Method { case new, retry, failed }
        var ck = virtualServers[v].realServers[r].checkers[c]
        let urlCount = ck.urls.count
        let method: Method
        if outcome.success {
            method = .new
        } else if ck.isUp || !ck.hasRun {
            if ck.config.logAllFailures ?? configuration.globalDefs.checkerLogAllFailures ?? false {
                log("\(outcome.detail) server \(formatRS(v, r)).")
            }
            ck.hasRun = true
            method = .retry
        } else {
            method = .failed
        }
        if method == .new {
            let next = (ck.urlIndex ?? 0) + 1
            ck.urlIndex = next < urlCount ? next : nil
            ck.retryIt = 0
        } else if method == .retry {
            ck.retryIt += 1
        }
        virtualServers[v].realServers[r].checkers[c] = ck
        let w = words(v, r, c, detail: outcome.detail)
        if method == .new && ck.urlIndex == nil && ck.failedURL == nil {
            if !ck.isUp || !ck.hasRun {
                log(w.successLog)
                transition(v, r, c, up: true, mail: w.upMail)
                virtualServers[v].realServers[r].checkers[c].hasRun = true
            }
            virtualServers[v].realServers[r].checkers[c].urlIndex = 0
            virtualServers[v].realServers[r].checkers[c].retryIt = 0
        } else if method == .retry && ck.retryIt > ck.retry {
            if ck.isUp || !ck.hasRun {
                let retries = ck.hasRun && ck.retry > 0 ? " after \(ck.retryIt - 1) retries" : ""
                log("HTTP_CHECK on service \(formatRS(v, r)) failed\(retries).")
                transition(v, r, c, up: false, mail: w.downMail)
            }
            virtualServers[v].realServers[r].checkers[c].failedURL = ck.urlIndex ?? 0
        } else if method == .new && ck.failedURL != nil {
            virtualServers[v].realServers[r].checkers[c].failedURL = nil
            virtualServers[v].realServers[r].checkers[c].urlIndex = 0
            virtualServers[v].realServers[r].checkers[c].retryIt = 0
        }
        ck = virtualServers[v].realServers[r].checkers[c]
        var delay: Duration
        if method == .new {
            delay = ck.delayLoop
            if !ck.hasRun { virtualServers[v].realServers[r].checkers[c].retryIt = ck.retry }
        } else if ck.failedURL != nil {
            delay = max(ck.delayBeforeRetry, ck.delayLoop)
        } else {
            delay = ck.delayBeforeRetry
        }
        if case .http(let h) = ck.config.kind, h.fastRecovery, !ck.hasRun || (!ck.isUp && ck.failedURL == nil) {
            delay = .zero
        } else if case .ssl(let h) = ck.config.kind, h.fastRecovery, !ck.hasRun || (!ck.isUp && ck.failedURL == nil) {
            delay = .zero
        }
        virtualServers[v].realServers[r].checkers[c].nextRun = now + delay
    }

    /// A checker concluded up or down: update the real server and send the checker's alert
    /// (`smtp_alert(SMTP_MSG_RS, ...)`) when the checker changed and, unless
    /// `no_checker_emails`, even when the real server did not.
    mutating func transition(_ v: Int, _ r: Int, _ c: Int, up: Bool, mail: String, requireCheckerChange: Bool = true) {
        let checkerWasUp = virtualServers[v].realServers[r].checkers[c].isUp
        let rsWasAlive = virtualServers[v].realServers[r].alive
        updateCheckerState(v, r, c, alive: up)
        let rs = virtualServers[v].realServers[r]
        let checkerChanged = up ? !checkerWasUp : checkerWasUp
        if rs.smtpAlert && (checkerChanged || !requireCheckerChange) && (rsWasAlive != rs.alive || !noCheckerEmails) {
            realServerMail(v, r, state: rs.alive ? "UP" : "DOWN", body: mail)
        }
    }
}
