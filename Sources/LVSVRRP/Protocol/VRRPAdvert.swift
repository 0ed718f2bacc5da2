// VRRP advertisements: the v2 (RFC 3768) and v3 (RFC 5798) message formats and their checksums.
import LVSCore
import LVSPacket

/// A VRRP advertisement message (the IP payload).
///
/// ```
///  v2 (RFC 3768 §5.1)                      v3 (RFC 5798 §5.1)
///  0       4       8              16              24             32
///  |Ver=2|Type=1|  VRID  | Priority | Count IPv4 |   |Ver=3|Type=1| VRID | Priority | Count IPvX |
///  | Auth Type  | Adver Int (s) |    Checksum    |   |Rsvd| Max Adver Int (cs) |    Checksum     |
///  | IPv4 address(es) ...                        |   | IPv4 or IPv6 address(es) ...             |
///  | Authentication Data (8 bytes)               |
/// ```
/// The v2 checksum covers the message only; the v3 checksum adds the IPv4 or IPv6 pseudo-header
/// (unless `v3_checksum_as_v2`, IPv4 only).
public struct VRRPAdvert: Hashable, Sendable {
    public var version: UInt8
    public var type: UInt8
    public var virtualRouterID: UInt8
    public var priority: UInt8
    /// The advertised addresses (all of one family).
    public var addresses: [IPAddress]
    /// v2: the advert interval in seconds (8 bits). v3: the max advert interval in centiseconds (12 bits).
    public var interval: UInt16
    /// v2 only: the auth type (0 none, 1 PASS, 2 AH).
    public var authType: UInt8
    /// v2 only: the 8 bytes of authentication data.
    public var authData: [UInt8]
    /// The checksum field as sent or received.
    public var checksum: UInt16

    /// The message type of an advertisement.
    public static let advertisementType: UInt8 = 1
    /// IP protocol number of VRRP.
    public static let ipProtocol: UInt8 = 112
    /// IP protocol number of IPsec AH.
    public static let ahProtocol: UInt8 = 51
    /// The TTL / hop limit VRRP multicast packets must carry.
    public static let requiredTTL: UInt8 = 255

    public init(
        version: VRRPVersion, virtualRouterID: UInt8, priority: UInt8, addresses: [IPAddress], interval: UInt16,
        authType: UInt8 = 0, authData: [UInt8] = [UInt8](repeating: 0, count: 8), type: UInt8 = 1
    ) {
        self.version = version.rawValue
        self.type = type
        self.virtualRouterID = virtualRouterID
        self.priority = priority
        self.addresses = addresses
        self.interval = interval
        self.authType = authType
        self.authData = authData
        self.checksum = 0
    }

    /// The length on the wire: 8 bytes of header, the addresses, and (v2) 8 bytes of auth data.
    public static func wireLength(version: UInt8, family: AddressFamily, count: Int) -> Int {
        8 + count * (family == .inet ? 4 : 16) + (version == 2 ? 8 : 0)
    }

    /// Encodes the message with its checksum. v3 needs `source` and `destination` for the
    /// pseudo-header (the real destination: the multicast group or the unicast peer) unless
    /// `checksumAsV2` is set (IPv4 only).
    public func encoded(source: IPAddress? = nil, destination: IPAddress? = nil, checksumAsV2: Bool = false) -> [UInt8]
    {
        var b = body(checksum: 0)
        let c = Self.computeChecksum(
            b, version: version, source: source, destination: destination,
            checksumAsV2: checksumAsV2)
        b[6] = UInt8(c >> 8)
        b[7] = UInt8(truncatingIfNeeded: c)
        return b
    }

    /// The message bytes with a given checksum field.
    func body(checksum: UInt16) -> [UInt8] {
        var b: [UInt8] = [
            version << 4 | (type & 0x0F), virtualRouterID, priority, UInt8(truncatingIfNeeded: addresses.count),
        ]
        if version == 2 {
            b += [authType, UInt8(truncatingIfNeeded: interval)]
        } else {
            b += [UInt8((interval >> 8) & 0x0F), UInt8(truncatingIfNeeded: interval)]
        }
        b += [UInt8(checksum >> 8), UInt8(truncatingIfNeeded: checksum)]
        for a in addresses { b += a.bytes }
        if version == 2 {
            var auth = Array(authData.prefix(8))
            while auth.count < 8 { auth.append(0) }
            b += auth
        }
        return b
    }

    /// The checksum of a message whose checksum field is zero (or, to verify, as received: a
    /// correct message then sums to 0xFFFF and this returns 0).
    public static func computeChecksum(
        _ message: [UInt8], version: UInt8, source: IPAddress?, destination: IPAddress?, checksumAsV2: Bool
    ) -> UInt16 {
        var initial: UInt64 = 0
        if version == 3, let s = source, let d = destination {
            let isV4 = s.family == .inet
            if !(isV4 && checksumAsV2) {
                initial = InternetChecksum.pseudoHeader(
                    source: s, destination: d, protocol: ipProtocol, length: message.count)
            }
        }
        return InternetChecksum.checksum(message, adding: initial)
    }

    /// Decodes the fixed fields and the addresses of a message of the given family. Throws
    /// `malformedPacket` when the bytes are shorter than the header says.
    public static func decode(_ b: [UInt8], family: AddressFamily) throws(VRRPError) -> VRRPAdvert {
        guard b.count >= 8 else {
            throw VRRPError(.malformedPacket, "vrrp packet too short, length \(b.count) and expect 8")
        }
        let version = b[0] >> 4
        let count = Int(b[3])
        let expected = wireLength(version: version, family: family, count: count)
        guard b.count >= expected else {
            throw VRRPError(.malformedPacket, "vrrp packet too short, length \(b.count) and expect \(expected)")
        }
        var addrs: [IPAddress] = []
        addrs.reserveCapacity(count)
        let alen = family == .inet ? 4 : 16
        for i in 0..<count {
            let o = 8 + i * alen
            addrs.append(family == .inet ? .v4(IPv4Address(bytes: b, at: o)) : .v6(IPv6Address(bytes: b, at: o)))
        }
        var a = VRRPAdvert(
            version: .v2, virtualRouterID: b[1], priority: b[2], addresses: addrs,
            interval: version == 2 ? UInt16(b[5]) : (UInt16(b[4] & 0x0F) << 8 | UInt16(b[5])),
            authType: version == 2 ? b[4] : 0,
            authData: version == 2
                ? Array(b[(8 + count * alen)..<(16 + count * alen)]) : [UInt8](repeating: 0, count: 8),
            type: b[0] & 0x0F)
        a.version = version
        a.checksum = UInt16(b[6]) << 8 | UInt16(b[7])
        return a
    }

    /// The advert interval as a duration: seconds for v2, centiseconds for v3.
    public var intervalDuration: Duration {
        version == 2 ? .seconds(Int(interval)) : .milliseconds(Int(interval) * 10)
    }
}

/// Building and parsing the IPv4 datagrams that carry VRRP (IP_HDRINCL sockets send them whole).
public enum VRRPIPv4 {
    /// A 20-byte IPv4 header (TOS 0xC0 internetwork control, id 0, DF clear, as keepalived sends)
    /// followed by `payload`, with the header checksum filled in.
    public static func datagram(
        payload: [UInt8], source: IPv4Address, destination: IPv4Address, ttl: UInt8,
        protocol proto: UInt8 = VRRPAdvert.ipProtocol
    ) -> [UInt8] {
        let total = 20 + payload.count
        var h: [UInt8] = [
            0x45, 0xC0, UInt8(truncatingIfNeeded: total >> 8), UInt8(truncatingIfNeeded: total), 0, 0, 0, 0, ttl,
            proto, 0, 0,
        ]
        h += source.bytes + destination.bytes
        let c = InternetChecksum.checksum(h)
        h[10] = UInt8(c >> 8)
        h[11] = UInt8(truncatingIfNeeded: c)
        return h + payload
    }

    /// Splits a received IPv4 datagram into a `ReceivedVRRPPacket` (nil if the IP header is bad).
    /// Bytes past the IP total length (Ethernet padding) are dropped.
    public static func parse(_ d: [UInt8], interface: String? = nil) -> ReceivedVRRPPacket? {
        guard d.count >= 20, d[0] >> 4 == 4 else { return nil }
        let ihl = Int(d[0] & 0x0F) * 4
        let total = Int(d[2]) << 8 | Int(d[3])
        guard ihl >= 20, total >= ihl, d.count >= total else { return nil }
        var payload = Array(d[ihl..<total])
        var proto = d[9]
        if proto == VRRPAdvert.ahProtocol {
            // Keep the AH marker: the receive checks refuse it with keepalived's message.
            if payload.count >= 12 { payload = Array(payload[12...]) }
        } else {
            proto = d[9]
        }
        return ReceivedVRRPPacket(
            source: .v4(IPv4Address(bytes: d, at: 12)), destination: .v4(IPv4Address(bytes: d, at: 16)),
            hopLimit: Int(d[8]), ipProtocol: proto, payload: payload, interface: interface)
    }
}

/// A VRRP packet as it arrives: the IP-level facts the receive checks need, and the VRRP message.
public struct ReceivedVRRPPacket: Hashable, Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    /// The IPv4 TTL or IPv6 hop limit; nil if the socket could not tell.
    public var hopLimit: Int?
    /// 112 (VRRP) or 51 (AH).
    public var ipProtocol: UInt8
    /// The VRRP message (the IP payload, after an AH header if any).
    public var payload: [UInt8]
    /// The interface it arrived on, if known.
    public var interface: String?

    public init(
        source: IPAddress, destination: IPAddress, hopLimit: Int?, ipProtocol: UInt8 = VRRPAdvert.ipProtocol,
        payload: [UInt8], interface: String? = nil
    ) {
        self.source = source
        self.destination = destination
        self.hopLimit = hopLimit
        self.ipProtocol = ipProtocol
        self.payload = payload
        self.interface = interface
    }

    /// The VRID byte, if the message is long enough to have one.
    public var virtualRouterID: UInt8? { payload.count >= 2 ? payload[1] : nil }
}
