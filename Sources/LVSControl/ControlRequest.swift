// The operations a control client can ask of lvsd, and what each one answers.
import LVSCore

/// One operation in a control request. Each maps to one call on the director's IPVS model.
public enum ControlRequest: Hashable, Sendable {
    /// Table-wide facts (`ipvsadm -L` header).
    case getInfo
    /// Every virtual service with its real servers (`ipvsadm -L`, `-S`).
    case listServices
    /// One virtual service (`ipvsadm -L -t VIP:PORT`).
    case getService(ServiceKey)
    /// The `--set` timeouts (`ipvsadm -L --timeout`).
    case getTimeouts
    /// The connection-sync daemons (`ipvsadm -L --daemon`).
    case getSyncDaemons
    /// The connection table (`ipvsadm -L -c`).
    case listConnections

    /// `ipvsadm -A`.
    case addService(VirtualServiceSpec)
    /// `ipvsadm -E`.
    case editService(VirtualServiceSpec)
    /// `ipvsadm -D`.
    case deleteService(ServiceKey)
    /// `ipvsadm -C`.
    case flush
    /// `ipvsadm -a`.
    case addRealServer(RealServerSpec, ServiceKey)
    /// `ipvsadm -e`.
    case editRealServer(RealServerSpec, ServiceKey)
    /// `ipvsadm -d`.
    case deleteRealServer(Endpoint, ServiceKey)
    /// `ipvsadm -Z [service]` (nil zeroes every service).
    case zero(ServiceKey?)
    /// `ipvsadm --set tcp tcpfin udp` (0 leaves a value unchanged).
    case setTimeouts(IPVSTimeouts)
    /// `ipvsadm --start-daemon`.
    case startSyncDaemon(SyncDaemonSpec)
    /// `ipvsadm --stop-daemon`.
    case stopSyncDaemon(SyncDaemonSpec.Role)
    /// `ipvsadm -P -z ADDR` (SwiftLVS, DPVS syntax): adds a FULLNAT local address to a service.
    case addLocalAddress(IPAddress, ServiceKey)
    /// `ipvsadm -Q -z ADDR` (SwiftLVS, DPVS syntax): removes a FULLNAT local address.
    case deleteLocalAddress(IPAddress, ServiceKey)

    /// `lvs-sysctl NAME` / `-a`: every knob (name under `net.ipv4.vs.`, value as /proc prints it).
    case getKnobs
    /// `lvs-sysctl -w net.ipv4.vs.NAME=VALUE`.
    case setKnob(name: String, value: String)

    /// True when the operation changes the director's state (only a peer with CAP_NET_ADMIN may
    /// send it).
    public var isMutating: Bool {
        switch self {
        case .getInfo, .listServices, .getService, .getTimeouts, .getSyncDaemons, .listConnections, .getKnobs:
            return false
        default: return true
        }
    }

    /// True for the operations that walk a whole table (at most one per frame).
    public var isListing: Bool {
        switch self {
        case .listServices, .listConnections: return true
        default: return false
        }
    }
}

/// The answer to one `ControlRequest`.
public enum ControlResult: Hashable, Sendable {
    /// A state change succeeded.
    case ok
    /// The IPVS model refused the operation (ipvsadm prints `error.message`).
    case failure(IPVSError)
    case info(IPVSInfo)
    case services([VirtualServiceEntry])
    case service(VirtualServiceEntry)
    case timeouts(IPVSTimeouts)
    case syncDaemons([SyncDaemonSpec])
    case connections([ConnectionEntry])
    /// Every knob with its value (`getKnobs`).
    case knobs([KnobValue])
}

/// One knob and its value as `/proc/sys/net/ipv4/vs/NAME` would print it.
public struct KnobValue: Hashable, Sendable {
    /// The name under `net.ipv4.vs.` (`sloppy_tcp`).
    public var name: String
    /// Integers separated by tabs (`3\t50`).
    public var value: String
}
