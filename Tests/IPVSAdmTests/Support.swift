// Test helpers: a director stand-in that answers listings from fixed entries and records changes.
import IPVSAdmKit
import LVSControl
import LVSCore
import LVSTestSupport

/// Answers listing requests from fixed values and records every state change it receives
/// (answering with `results` when given, else `.ok`). For format and parse tests only: it has
/// no IPVS semantics.
final class StaticBackend: IPVSAdmBackend {
    var info = IPVSInfo()
    var services: [VirtualServiceEntry] = []
    var connections: [ConnectionEntry] = []
    var timeouts = IPVSTimeouts.defaults
    var daemons: [SyncDaemonSpec] = []
    var received: [ControlRequest] = []
    var frames: [[ControlRequest]] = []
    /// Answers for state changes, consumed in order.
    var results: [ControlResult] = []
    var unreachable: IPVSAdmBackendError?

    func perform(_ requests: [ControlRequest]) throws(IPVSAdmBackendError) -> [ControlResult] {
        if let unreachable { throw unreachable }
        frames.append(requests)
        return requests.map { r in
            received.append(r)
            switch r {
            case .getInfo: return .info(info)
            case .listServices: return .services(services)
            case .getService(let k):
                if let s = services.first(where: { $0.spec.key == k }) { return .service(s) }
                return .failure(IPVSError(.noSuchService))
            case .getTimeouts: return .timeouts(timeouts)
            case .getSyncDaemons: return .syncDaemons(daemons)
            case .listConnections: return .connections(connections)
            default: return results.isEmpty ? .ok : results.removeFirst()
            }
        }
    }

    /// The state changes received, in order.
    var changes: [ControlRequest] { received.filter(\.isMutating) }
}

/// One ipvsadm run's outcome.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `ipvsadm ARGS` (program name "ipvsadm") against `backend` with `stdin`.
func ipvsadm(
    _ args: [String], backend: any IPVSAdmBackend, stdin: String = "",
    resolver: any IPVSAdmNameResolver = NumericOnlyResolver(), program: String = "ipvsadm"
) -> Run {
    let out = CapturedOutput()
    let adm = IPVSAdm(program: program, backend: backend, resolver: resolver, output: out, input: BufferInput(stdin))
    let status = adm.run(args)
    return Run(status: status, stdout: out.stdout, stderr: out.stderr)
}

/// Splits a shell-like command line on blanks (no quoting needed by these tests).
func words(_ line: String) -> [String] { line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }

func v4(_ s: String) -> IPAddress { IPAddress(s)! }
func ep(_ a: String, _ p: UInt16) -> Endpoint { Endpoint(IPAddress(a)!, p) }

func tcp(_ a: String, _ p: UInt16) -> ServiceKey { .endpoint(.tcp, ep(a, p)) }
func udp(_ a: String, _ p: UInt16) -> ServiceKey { .endpoint(.udp, ep(a, p)) }

func server(
    _ a: String, _ p: UInt16, _ f: ForwardingMethod = .route, weight: Int32 = 1, active: UInt32 = 0,
    inactive: UInt32 = 0, persistent: UInt32 = 0, upper: UInt32 = 0, lower: UInt32 = 0,
    counters: IPVSCounters = .init(), rates: IPVSRates = .init()
) -> RealServerEntry {
    RealServerEntry(
        spec: RealServerSpec(
            endpoint: ep(a, p), forwarding: f, weight: weight, upperThreshold: upper, lowerThreshold: lower),
        activeConnections: active, inactiveConnections: inactive, persistentConnections: persistent,
        counters: counters, rates: rates)
}

/// A real IPVS table behind the real wire format: each request frame is encoded, decoded,
/// applied to the table and answered through an encoded response, as lvsd does it.
final class InProcessDirector: IPVSAdmBackend {
    let ipvs: IPVS
    let clock: FakeClock
    var mayChangeState = true

    init(_ ipvs: IPVS = IPVS(), clock: FakeClock = FakeClock()) {
        self.ipvs = ipvs
        self.clock = clock
    }

    func perform(_ requests: [ControlRequest]) throws(IPVSAdmBackendError) -> [ControlResult] {
        do {
            let frame = ControlCodec.encodeRequestFrame(requests)
            _ = try ControlCodec.decodeHeader(frame, maxBody: ControlProtocol.maxRequestBody)
            let decoded = try ControlCodec.decodeRequests(body: Array(frame[ControlProtocol.headerSize...]))
            let results = decoded.map { $0.perform(on: ipvs, now: clock.now(), mayChangeState: mayChangeState) }
            let response = ControlCodec.encodeResponseFrame(results)
            return try ControlCodec.decodeResults(
                body: Array(response[ControlProtocol.headerSize...]), expected: requests.count)
        } catch {
            throw IPVSAdmBackendError(message: "codec failure: \(error)")
        }
    }
}

/// Runs a shell-like script line by line against `director`, as `sh script` would: each line is
/// one ipvsadm invocation (lines not starting with ipvsadm's path are skipped). Returns the runs.
@discardableResult
func runScript(
    _ script: String, on director: any IPVSAdmBackend, resolver: any IPVSAdmNameResolver = NumericOnlyResolver()
)
    -> [Run]
{
    var runs: [Run] = []
    for line in script.split(separator: "\n") {
        var w = words(String(line))
        guard let first = w.first, first.hasSuffix("ipvsadm") else { continue }
        w.removeFirst()
        runs.append(ipvsadm(w, backend: director, resolver: resolver, program: first))
    }
    return runs
}
