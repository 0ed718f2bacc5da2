// What a control request does to the IPVS model: one request in, one result out.
import LVSCore

/// The IPVS model operations the control protocol drives. `LVSCore.IPVS` conforms; the
/// protocol keeps the request mapping independent of how the model is built.
public protocol IPVSControlTarget: AnyObject {
    var info: IPVSInfo { get }
    func addService(_ spec: VirtualServiceSpec) throws(IPVSError)
    func editService(_ spec: VirtualServiceSpec) throws(IPVSError)
    func deleteService(_ key: ServiceKey) throws(IPVSError)
    func flush()
    func addRealServer(_ spec: RealServerSpec, to service: ServiceKey) throws(IPVSError)
    func editRealServer(_ spec: RealServerSpec, in service: ServiceKey) throws(IPVSError)
    func deleteRealServer(_ endpoint: Endpoint, from service: ServiceKey) throws(IPVSError)
    func zero(_ service: ServiceKey?) throws(IPVSError)
    var timeouts: IPVSTimeouts { get }
    func setTimeouts(_ t: IPVSTimeouts)
    func services() -> [VirtualServiceEntry]
    func service(_ key: ServiceKey) throws(IPVSError) -> VirtualServiceEntry
    func connections(now: Timestamp) -> [ConnectionEntry]
    func startSyncDaemon(_ spec: SyncDaemonSpec) throws(IPVSError)
    func stopSyncDaemon(_ role: SyncDaemonSpec.Role) throws(IPVSError)
    var syncDaemons: [SyncDaemonSpec] { get }
    func addLocalAddress(_ address: IPAddress, to key: ServiceKey) throws(IPVSError)
    func deleteLocalAddress(_ address: IPAddress, from key: ServiceKey) throws(IPVSError)
    /// Every knob and its value (`lvs-sysctl -a`).
    func knobValues() -> [KnobValue]
    /// Writes one knob (`lvs-sysctl -w`).
    func setKnob(_ name: String, to value: String) throws(IPVSError)
}

extension IPVSControlTarget {
    /// Models without knobs (fakes) have none.
    public func knobValues() -> [KnobValue] { [] }
    public func setKnob(_ name: String, to value: String) throws(IPVSError) {
        throw IPVSError(.noSuchKnob, detail: name)
    }
}

extension ControlRequest {
    /// Applies the request to `model` and returns its result. A state change from a client that
    /// may not change state is refused with `permissionDenied` (ipvsadm: "Permission denied (you
    /// must be root)") before it touches the model.
    public func perform(on model: some IPVSControlTarget, now: Timestamp, mayChangeState: Bool = true)
        -> ControlResult
    {
        if isMutating && !mayChangeState { return .failure(IPVSError(.permissionDenied)) }
        do throws(IPVSError) {
            switch self {
            case .getInfo: return .info(model.info)
            case .listServices: return .services(model.services())
            case .getService(let k): return .service(try model.service(k))
            case .getTimeouts: return .timeouts(model.timeouts)
            case .getSyncDaemons: return .syncDaemons(model.syncDaemons)
            case .listConnections: return .connections(model.connections(now: now))
            case .addService(let s): try model.addService(s)
            case .editService(let s): try model.editService(s)
            case .deleteService(let k): try model.deleteService(k)
            case .flush: model.flush()
            case .addRealServer(let s, let k): try model.addRealServer(s, to: k)
            case .editRealServer(let s, let k): try model.editRealServer(s, in: k)
            case .deleteRealServer(let e, let k): try model.deleteRealServer(e, from: k)
            case .zero(let k): try model.zero(k)
            case .setTimeouts(let t): model.setTimeouts(t)
            case .startSyncDaemon(let d): try model.startSyncDaemon(d)
            case .stopSyncDaemon(let r): try model.stopSyncDaemon(r)
            case .addLocalAddress(let a, let k): try model.addLocalAddress(a, to: k)
            case .deleteLocalAddress(let a, let k): try model.deleteLocalAddress(a, from: k)
            case .getKnobs: return .knobs(model.knobValues())
            case .setKnob(let name, let value): try model.setKnob(name, to: value)
            }
            return .ok
        } catch {
            return .failure(error)
        }
    }
}

/// The IPVS table is the model lvsd serves.
extension IPVS: IPVSControlTarget {
    public func knobValues() -> [KnobValue] {
        IPVS.knobs.map { KnobValue(name: $0.name, value: (try? knobValue($0.name)) ?? "") }
    }
}
