// libFuzzer target for lvsd's untrusted inputs besides packets: keepalived.conf text, control frames
// (requests and responses), VRRP adverts through the receive checks and the state machine, and
// connection-sync datagrams decoded and applied to a backup's table.
import KeepalivedConfig
import LVSControl
import LVSCore
import LVSSync
import LVSVRRP

// Selector byte → input kind:
//   0…99    keepalived.conf text: read, built, validated, mapped to the IPVS table and VRRP setup
//   100…179 a control frame: header, request body, response body and rejection decoding; a request
//           that decodes is applied to a scratch IPVS table and its response re-encoded and decoded
//   180…229 a VRRP advert (v2 and v3) received by a MASTER and a BACKUP instance
//   230…255 a sync datagram: decoded (any sync id, with and without a size limit), and its
//           connections applied to a backup table that has one service
// Every input must end in a result or a clear error: a trap (crash) is a finding.

func configInput(_ text: String) {
    let r = KeepalivedConfigLoader.check(text: text, options: ConfigReaderOptions(configID: "fuzz"))
    for d in r.diagnostics { _ = d.description }
    _ = r.configuration.ipvsConfiguration()
    _ = VRRPSetup(configuration: r.configuration, hostName: "fuzz")
}

func controlInput(_ bytes: [UInt8]) {
    if let h = try? ControlCodec.decodeHeader(bytes, maxBody: 1 << 20) { _ = h.bodyLength }
    let body = Array(bytes.dropFirst(min(bytes.count, 12)))
    if let requests = try? ControlCodec.decodeRequests(body: body) {
        let ipvs = IPVS()
        let results = requests.prefix(64).map { $0.perform(on: ipvs, now: .zero, mayChangeState: true) }
        let frame = ControlCodec.encodeResponseFrame(results)
        guard let back = try? ControlCodec.decodeResults(body: Array(frame.dropFirst(12)), expected: results.count),
            back == results
        else { fatalError("a response did not decode back to what was encoded") }
    }
    for n in [0, 1, 2, 7] { _ = try? ControlCodec.decodeResults(body: body, expected: n) }
    _ = try? ControlCodec.decodeRejection(body: body)
}

nonisolated(unsafe) var master: LVSVRRP.VRRPInstance? = nil
nonisolated(unsafe) var backup: LVSVRRP.VRRPInstance? = nil
nonisolated(unsafe) var clockSeconds: Double = 0

func vrrpInput(_ bytes: [UInt8]) {
    guard bytes.count >= 3 else { return }
    let version: VRRPVersion = bytes[0] & 1 == 0 ? .v2 : .v3
    var c = VRRPInstanceConfig(
        name: "VI_F", interface: "eth0", virtualRouterID: 51, priority: 100, initialState: .backup, version: version,
        virtualIPAddresses: [VirtualIPAddress(IPAddress("192.168.0.240")!)])
    if bytes[1] & 1 == 1 {
        c.unicastPeers = [UnicastPeer(IPAddress("192.168.0.2")!)]
        c.unicastSourceIP = IPAddress("192.168.0.1")
    }
    clockSeconds += 0.001 * Double(bytes[2])
    let now = Timestamp.seconds(clockSeconds)
    let packet = ReceivedVRRPPacket(
        source: IPAddress("192.168.0.\(bytes[1] >> 1)")!,
        destination: bytes[1] & 1 == 1
            ? IPAddress("192.168.0.1")! : IPAddress("224.0.0.18")!,
        hopLimit: Int(bytes[2]), payload: Array(bytes.dropFirst(3)))
    _ = VRRPReceiveCheck.check(packet, config: c)
    if master == nil || master!.config.effectiveVersion != version {
        var m = LVSVRRP.VRRPInstance(config: c, sourceAddress: IPAddress("192.168.0.1")!)
        let s = m.handle(.start, now: now)
        for a in s { if case .scheduleTimer(let t) = a { _ = m.handle(.timer, now: t) } }
        master = m
        var b = LVSVRRP.VRRPInstance(config: c, sourceAddress: IPAddress("192.168.0.3")!)
        _ = b.handle(.start, now: now)
        backup = b
    }
    _ = master!.handle(.packet(packet), now: now)
    _ = backup!.handle(.packet(packet), now: now)
}

nonisolated(unsafe) let backupTable: IPVS = {
    let t = IPVS()
    let vip = Endpoint(IPAddress("192.168.0.240")!, 80)
    try? t.addService(VirtualServiceSpec(key: .endpoint(.tcp, vip), scheduler: "rr"))
    try? t.addRealServer(RealServerSpec(endpoint: Endpoint(IPAddress("192.168.0.223")!, 80)), to: .endpoint(.tcp, vip))
    return t
}()

func syncInput(_ bytes: [UInt8]) {
    for decoder in [SyncDecoder(), SyncDecoder(syncID: 1, maximumLength: 1472)] {
        let r = bytes.withUnsafeBytes { decoder.decode($0) }
        if case .success(.connections(let m)) = r {
            clockSeconds += 0.01
            for c in m.connections { _ = backupTable.applySynced(c, now: .seconds(clockSeconds)) }
            backupTable.advance(to: .seconds(clockSeconds))
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let sel = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch sel {
    case 0..<100: configInput(String(decoding: bytes, as: UTF8.self))
    case 100..<180: controlInput(bytes)
    case 180..<230: vrrpInput(bytes)
    default: syncInput(bytes)
    }
    return 0
}
