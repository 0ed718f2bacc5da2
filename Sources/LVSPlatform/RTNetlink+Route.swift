// rtnetlink route requests: a typed route (blackhole, table, protocol, metric) added or deleted, and a route dump.
import Glibc
import LVSCore

/// RTN_* route types (linux/rtnetlink.h).
public enum RTNetlinkRouteType: UInt8, Sendable {
    case unicast = 1
    case blackhole = 6
}

extension RTNetlinkRequest {
    /// RTM_NEWROUTE / RTM_DELROUTE of `destination/prefixLength` as `ip route add|del TYPE PREFIX
    /// table T proto P metric M` sends it: rtmsg (table in the header when it fits in a byte),
    /// then RTA_DST, RTA_PRIORITY and RTA_TABLE.
    public static func route(
        _ type: UInt16, flags: UInt16, sequence: UInt32, destination: IPAddress, prefixLength: Int, table: UInt32,
        protocolNumber: UInt8, routeType: RTNetlinkRouteType, metric: UInt32
    ) -> RTNetlinkRequest {
        var r = RTNetlinkRequest(type: type, flags: RTNetlink.fRequest | flags, sequence: sequence)
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope (universe), type, flags
        r.append([
            destination.family.rawValue, UInt8(prefixLength), 0, 0, table < 256 ? UInt8(table) : 0, protocolNumber, 0,
            routeType.rawValue,
        ])
        r.append32(0)
        r.attribute(1, destination.bytes)  // RTA_DST
        withUnsafeBytes(of: metric) { r.attribute(6, Array($0)) }  // RTA_PRIORITY
        withUnsafeBytes(of: table) { r.attribute(15, Array($0)) }  // RTA_TABLE
        return r
    }
}

extension RTNetlinkSocket {
    /// Every route of the namespace, of every table and family (RTM_GETROUTE dump).
    public func routes() throws(PlatformError) -> [RTNetlinkRoute] {
        var out: [RTNetlinkRoute] = []
        try dump(type: RTNetlink.getRoute, fixed: 12) { type, payload in
            if type == RTNetlink.newRoute, let r = RTNetlinkRoute(payload) { out.append(r) }
        }
        return out
    }
}
