// The three timeouts that `ipvsadm --set` reads and writes.

/// The timeouts of `ipvsadm --set tcp tcpfin udp`, in seconds (`K:ip_vs_ctl.c ip_vs_set_timeout`):
/// TCP ESTABLISHED, TCP FIN_WAIT and UDP. Zero in a request means "leave unchanged".
public struct IPVSTimeouts: Hashable, Sendable {
    public var tcp: UInt32
    public var tcpFin: UInt32
    public var udp: UInt32

    public init(tcp: UInt32, tcpFin: UInt32, udp: UInt32) {
        self.tcp = tcp
        self.tcpFin = tcpFin
        self.udp = udp
    }

    /// The kernel's defaults: 900 120 300.
    public static let defaults = IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300)
}
