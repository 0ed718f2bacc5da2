// Helpers for the VRRP unit tests: time, configs, adverts as packets, action filters.
import LVSCore
import LVSVRRP

/// `s` seconds after the origin.
func at(_ s: Double) -> Timestamp { .seconds(s) }

func ip(_ s: String) -> IPAddress { IPAddress(s)! }

/// An independent Internet checksum: 16-bit words added with the carry folded at every step.
func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
    var b = bytes
    if b.count % 2 == 1 { b.append(0) }
    var s: UInt32 = 0
    for i in stride(from: 0, to: b.count, by: 2) {
        s += UInt32(b[i]) << 8 + UInt32(b[i + 1])
        s = (s & 0xFFFF) + (s >> 16)
    }
    return ~UInt16(s & 0xFFFF)
}

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// A config for tests: interface eth0, VIP 192.168.0.240, v2 by default.
func config(
    _ name: String = "VI_1", priority: UInt8 = 100, state: VRRPState? = .backup, version: VRRPVersion? = nil,
    configure: (inout VRRPInstanceConfig) -> Void = { _ in }
) -> VRRPInstanceConfig {
    var c = VRRPInstanceConfig(
        name: name, interface: "eth0", virtualRouterID: 51, priority: priority, initialState: state, version: version,
        virtualIPAddresses: [VirtualIPAddress(ip("192.168.0.240"))])
    configure(&c)
    return c
}

/// A received advert as the instance would see it (checksummed for the given addresses).
func advertPacket(
    for c: VRRPInstanceConfig, priority: UInt8, from source: String = "192.168.0.2",
    to destination: String = "224.0.0.18", ttl: Int = 255, interval: UInt16? = nil, version: VRRPVersion? = nil,
    addresses: [IPAddress]? = nil, password: String? = nil
) -> ReceivedVRRPPacket {
    let v = version ?? c.effectiveVersion
    let iv =
        interval
        ?? (v == .v2 ? UInt16(c.advertInterval.components.seconds) : UInt16(c.advertInterval / .milliseconds(10)))
    let auth: VRRPAuthentication = password.map { .pass($0) } ?? c.authentication
    let a = VRRPAdvert(
        version: v, virtualRouterID: c.virtualRouterID, priority: priority,
        addresses: addresses ?? c.advertisedAddresses.map(\.address), interval: iv,
        authType: v == .v2 ? auth.wireType : 0, authData: auth.passwordBytes)
    let bytes = a.encoded(source: ip(source), destination: ip(destination), checksumAsV2: c.v3ChecksumAsV2)
    return ReceivedVRRPPacket(source: ip(source), destination: ip(destination), hopLimit: ttl, payload: bytes)
}

extension Array where Element == VRRPAction {
    /// The actions without the trailing timer and logs.
    var effects: [VRRPAction] {
        filter {
            switch $0 {
            case .log, .scheduleTimer: return false
            default: return true
            }
        }
    }

    var logs: [String] {
        compactMap {
            if case .log(let l) = $0 { return l }
            return nil
        }
    }

    var timer: Timestamp? {
        for a in self { if case .scheduleTimer(let t) = a { return t } }
        return nil
    }

    var adverts: [UInt8] {
        compactMap {
            if case .sendAdvert(let p) = $0 { return p }
            return nil
        }
    }

    var states: [VRRPState] {
        compactMap {
            if case .stateChanged(_, let s) = $0 { return s }
            return nil
        }
    }

    var notifies: [VRRPNotifyInvocation] {
        compactMap {
            if case .notify(let n) = $0 { return n }
            return nil
        }
    }
}

extension Array where Element == VRRPNodeAction {
    var actions: [VRRPAction] { map(\.action) }
    func of(_ instance: String) -> [VRRPAction] { filter { $0.instance == instance }.map(\.action) }
}

/// Starts an instance at t=0 and runs it to MASTER via its timer.
func masterInstance(_ c: VRRPInstanceConfig, source: String = "192.168.0.1") -> VRRPInstance {
    var i = VRRPInstance(config: c, sourceAddress: ip(source))
    let s = i.handle(.start, now: at(0))
    if i.state != .master { _ = i.handle(.timer, now: s.timer!) }
    return i
}
