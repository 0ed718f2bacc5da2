// The checks a received advert must pass, in keepalived's order (vrrp_check_packet), with its log lines.
import LVSCore

/// Why a received advert was dropped. `logLine(instance:)` is keepalived's message for it.
public enum VRRPDropReason: Hashable, Sendable {
    /// The packet carries IPsec AH (IP protocol 51); AH is not implemented.
    case authenticationHeader
    /// 1. Shorter than its header says.
    case length(received: Int, expected: Int)
    /// 2. Multicast TTL / hop limit other than 255.
    case ttl(received: Int)
    /// 3. Version differs from the instance's.
    case version(received: UInt8, expected: UInt8)
    /// 4. Auth type not 0, 1 or 2.
    case invalidAuthType(UInt8)
    /// 4. Auth type differs from ours.
    case authTypeMismatch(received: UInt8, expected: UInt8)
    /// 4. PASS password differs.
    case password
    /// 4. (v2) Advert interval differs from ours: dropped so two masters cannot share a VRID.
    case intervalMismatch(mine: Int, received: Int)
    /// 5. Type is not 1 (advertisement).
    case type(UInt8)
    /// 6. Bad checksum.
    case checksum(version: UInt8)
    /// 7. Multicast expected but unicast received, or the reverse.
    case castMismatch(expectedMulticast: Bool)
    /// 8. Address count differs from our VIP count.
    case addressCount(received: Int, expected: Int)
    /// 8. One of our VIPs is not in the advert.
    case addressMissing(IPAddress, vrid: UInt8)
    /// 9. `check_unicast_src`: the source is not a unicast peer.
    case notUnicastPeer(IPAddress)
    /// 9. The TTL is outside the peer's `min_ttl`…`max_ttl`.
    case ttlOutOfRange(received: Int, min: Int, max: Int)

    /// The log line keepalived writes for this drop.
    public func logLine(instance n: String) -> String {
        switch self {
        case .authenticationHeader:
            return "(\(n)) Received AH header but auth type not AH (IPsec AH is not supported)"
        case .length(let r, let e):
            return "(\(n)) vrrp packet too \(r > e ? "long" : "short"), length \(r) and expect \(e)"
        case .ttl(let r): return "(\(n)) invalid TTL/HL. Received \(r) and expect 255"
        case .version(let r, let e): return "(\(n)) wrong version. Received \(r) and expect \(e)"
        case .invalidAuthType(let t): return "(\(n)) Invalid auth type: \(t)"
        case .authTypeMismatch(let r, let e): return "(\(n)) received a \(r) auth, expecting \(e)!"
        case .password: return "(\(n)) received an invalid passwd!"
        case .intervalMismatch(let m, let r):
            return "(\(n)) advertisement interval mismatch mine=\(m) sec rcv'd=\(r) sec"
        case .type(let t): return "(\(n)) Invalid packet type. \(t) and expect 1"
        case .checksum(let v): return "(\(n)) Invalid VRRPv\(v) checksum"
        case .castMismatch(let m):
            return "(\(n)) Expected \(m ? "mult" : "un")icast packet but received \(m ? "un" : "mult")icast packet"
        case .addressCount(let r, let e): return "(\(n)) received an unexpected ip number count \(r), expected \(e)!"
        case .addressMissing(let a, let vrid):
            return "(\(n)) ip address associated with VRID \(vrid) not present in MASTER advert : \(a)"
        case .notUnicastPeer(let a): return "(\(n)) unicast source address \(a) not a unicast peer"
        case .ttlOutOfRange(let r, let lo, let hi): return "(\(n)) TTL/HL \(r) not in range \(lo) - \(hi)"
        }
    }
}

/// The outcome of the receive checks.
public enum VRRPReceiveResult: Hashable, Sendable {
    case accepted(VRRPAdvert)
    case dropped(VRRPDropReason)
}

/// Runs the receive checks of keepalived's `vrrp_check_packet` (reference §2 "Receive checks")
/// in order: length, TTL, version, authentication (and the v2 interval), type, checksum,
/// unicast/multicast destination, VIPs, unicast source.
public enum VRRPReceiveCheck {
    /// Checks `packet` against an instance's configuration.
    public static func check(_ packet: ReceivedVRRPPacket, config c: VRRPInstanceConfig) -> VRRPReceiveResult {
        if packet.ipProtocol == VRRPAdvert.ahProtocol { return .dropped(.authenticationHeader) }
        let family = c.family
        let p = packet.payload
        // 1. Length (trailing padding allowed).
        guard p.count >= 8 else { return .dropped(.length(received: p.count, expected: 8)) }
        let expected = VRRPAdvert.wireLength(version: p[0] >> 4, family: family, count: Int(p[3]))
        guard p.count >= expected else { return .dropped(.length(received: p.count, expected: expected)) }
        let message = Array(p[0..<expected])
        guard let advert = try? VRRPAdvert.decode(message, family: family) else {
            return .dropped(.length(received: p.count, expected: expected))
        }
        // 2. TTL / hop limit 255 in multicast mode.
        if !c.isUnicast, let h = packet.hopLimit, h != Int(VRRPAdvert.requiredTTL) {
            return .dropped(.ttl(received: h))
        }
        // 3. Version.
        let version = c.effectiveVersion.rawValue
        guard advert.version == version else { return .dropped(.version(received: advert.version, expected: version)) }
        // 4. Authentication (v2), then the v2 interval.
        if version == 2 {
            guard advert.authType <= 2 else { return .dropped(.invalidAuthType(advert.authType)) }
            guard advert.authType == c.authentication.wireType else {
                return .dropped(.authTypeMismatch(received: advert.authType, expected: c.authentication.wireType))
            }
            if case .pass = c.authentication, !constantTimeEqual(advert.authData, c.authentication.passwordBytes) {
                return .dropped(.password)
            }
            let mine = Int(c.advertInterval.components.seconds)
            if Int(advert.interval) != mine {
                return .dropped(.intervalMismatch(mine: mine, received: Int(advert.interval)))
            }
        }
        // 5. Type.
        guard advert.type == VRRPAdvert.advertisementType else { return .dropped(.type(advert.type)) }
        // 6. Checksum (the IPv6 destination may be unknown: the kernel verified it then).
        let destinationKnown = packet.destination != .any(packet.destination.family)
        if version == 2 || destinationKnown {
            let residue = VRRPAdvert.computeChecksum(
                message, version: version, source: packet.source, destination: packet.destination,
                checksumAsV2: c.v3ChecksumAsV2)
            if residue != 0 { return .dropped(.checksum(version: version)) }
        }
        // 7. Unicast versus multicast destination.
        if destinationKnown && packet.destination.isMulticast == c.isUnicast {
            return .dropped(.castMismatch(expectedMulticast: !c.isUnicast))
        }
        // 8. VIP count and addresses.
        let ours = c.advertisedAddresses
        if advert.addresses.count != ours.count {
            return .dropped(.addressCount(received: advert.addresses.count, expected: ours.count))
        }
        for v in ours where !advert.addresses.contains(v.address) {
            return .dropped(.addressMissing(v.address, vrid: c.virtualRouterID))
        }
        // 9. Unicast source must be a listed peer (lvsd: on by default, see VRRPSetup).
        if c.isUnicast && c.checkUnicastSource {
            guard let peer = c.unicastPeers.first(where: { $0.address == packet.source }) else {
                return .dropped(.notUnicastPeer(packet.source))
            }
            if let h = packet.hopLimit, peer.minTTL != nil || peer.maxTTL != nil {
                let lo = peer.minTTL ?? 0
                let hi = peer.maxTTL ?? 255
                if h < lo || h > hi { return .dropped(.ttlOutOfRange(received: h, min: lo, max: hi)) }
                return .accepted(advert)
            }
        }
        // 10. (lvsd) A unicast advert must arrive with TTL 255, as multicast ones must (RFC 5082's
        // GTSM: only an on-link sender can): keepalived sends unicast with TTL 255 unless
        // `unicast_ttl` lowers it. Peers further away need `unicast_ttl` (then this check is off)
        // or a `min_ttl`/`max_ttl` range on the peer.
        if c.isUnicast, c.unicastTTL == VRRPAdvert.requiredTTL, let h = packet.hopLimit,
            h != Int(VRRPAdvert.requiredTTL)
        {
            return .dropped(.ttl(received: h))
        }
        return .accepted(advert)
    }

    /// Compares two byte arrays in time that depends only on their length.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
