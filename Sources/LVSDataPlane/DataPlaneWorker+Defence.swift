// The worker's defences: ICMP errors rate limited, nat_icmp_send, fragments checked against
// their connection.
import Glibc
import LVSCore
import LVSPacket

extension DataPlaneWorker {
    /// True when an ICMP error to `destination` may go out now (the kernel's icmp_ratelimit and
    /// icmp_msgs_per_sec / icmp_msgs_burst, with lvsd's `lvsd_icmp_*` knobs); counted otherwise.
    func allowICMP(to destination: IPAddress) -> Bool {
        let l = batchLimits
        if icmpLimiter.allow(
            destination: destination, now: batchNow.nanoseconds, intervalMilliseconds: l.icmpRateLimitMilliseconds,
            perSecond: l.icmpMessagesPerSecond, burst: l.icmpMessagesBurst)
        {
            return true
        }
        counters.add(.icmpRateLimited)
        return false
    }

    /// `nat_icmp_send`: a NAT real server's packet that matches no connection (and is not a TCP
    /// RST or an SCTP ABORT) is answered with ICMP port unreachable and dropped
    /// (K:ip_vs_core.c ip_vs_out_hook). Packets to the director's own addresses (its health
    /// checks, local clients) are exempt: they are the local stack's.
    func answerStrayReply(_ f: ReceivedFrame, _ info: PacketInfo) {
        let isReset =
            (info.protocolNumber == IPProtocolNumber.tcp && info.tcpFlags & 0x04 != 0)
            || (info.protocolNumber == IPProtocolNumber.sctp && sctpChunk(f, info) == 6)
        guard !isReset else {
            counters.add(.ignored)
            return
        }
        guard case .success(let back) = tables.egress(to: info.source), let source = back.sourceAddress else {
            counters.add(.noRoute)
            return
        }
        counters.add(.natICMPSent)
        sendError(.portUnreachable, about: f, info, source: source)
    }

    /// A random key for the limiter's hash.
    static func randomKey() -> UInt64 {
        var key: UInt64 = 0x9E37_79B9_7F4A_7C15
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = withUnsafeMutableBytes(of: &key) { Glibc.read(fd, $0.baseAddress, 8) }
            close(fd)
        }
        return key
    }
}

extension ForwardingDecision {
    /// True when a later fragment's addresses are those of this connection in its direction:
    /// client → VIP inbound; server → client (NAT) or server → local address (FULLNAT) outbound.
    func matchesFragment(_ info: PacketInfo, inbound: Bool) -> Bool {
        if inbound { return info.source == client.address && info.destination == virtual.address }
        return info.source == server.address
            && (info.destination == client.address || info.destination == local?.address)
    }
}
