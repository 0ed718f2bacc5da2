// Gratuitous ARP and unsolicited neighbour advertisement frames announcing a VIP's new owner.
import LVSCore

/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 6)
        self.bytes = bytes
    }

    /// Parses `aa:bb:cc:dd:ee:ff`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        var b: [UInt8] = []
        for p in parts {
            guard p.count <= 2, let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        bytes = b
    }

    public static let broadcast = MACAddress([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])

    /// The VRRP virtual MAC 00-00-5E-00-01-VRID (IPv4) or 00-00-5E-00-02-VRID (IPv6).
    public static func virtualRouter(vrid: UInt8, family: AddressFamily) -> MACAddress {
        MACAddress([0, 0, 0x5E, 0, family == .inet ? 1 : 2, vrid])
    }

    /// `aa:bb:cc:dd:ee:ff`, lower case.
    public var description: String {
        bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: ":")
    }
}

/// Builders of the frames sent when becoming master (keepalived vrrp_arp.c / vrrp_ndisc.c).
public enum GratuitousFrames {
    /// A gratuitous ARP (RFC 5227 §3 announcement style, as keepalived sends it): an Ethernet
    /// broadcast carrying an ARP request whose sender and target IP are both the VIP, sender
    /// hardware address our MAC and target hardware address ff:ff:ff:ff:ff:ff. 42 bytes.
    ///
    /// ```
    /// | dst ff:ff:ff:ff:ff:ff | src MAC | 0x0806 | htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op 1 |
    /// | sha MAC | spa VIP | tha ff:ff:ff:ff:ff:ff | tpa VIP |
    /// ```
    public static func gratuitousARP(address: IPv4Address, mac: MACAddress) -> [UInt8] {
        var f: [UInt8] = MACAddress.broadcast.bytes + mac.bytes + [0x08, 0x06]
        f += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]
        f += mac.bytes + address.bytes + MACAddress.broadcast.bytes + address.bytes
        return f
    }

    /// The all-nodes multicast address ff02::1.
    public static let allNodes = IPv6Address(groups: [0xFF02, 0, 0, 0, 0, 0, 0, 1])

    /// An unsolicited neighbour advertisement (RFC 4861 §7.2.6) for `target`, sent from `source`
    /// (a link-local address of the interface) to ff02::1 (MAC 33:33:00:00:00:01) with hop limit
    /// 255, the Override flag, the Router flag when `router` (IPv6 forwarding on), and a target
    /// link-layer address option. ICMPv6 checksum over the IPv6 pseudo-header. 86 bytes.
    public static func unsolicitedNA(target: IPv6Address, source: IPv6Address, mac: MACAddress, router: Bool) -> [UInt8]
    {
        let dst = allNodes
        var icmp: [UInt8] = [136, 0, 0, 0, (router ? 0x80 : 0) | 0x20, 0, 0, 0]
        icmp += target.bytes
        icmp += [2, 1] + mac.bytes
        let sum = InternetChecksum.pseudoHeaderSum(
            source: .v6(source), destination: .v6(dst), protocol: 58, length: icmp.count)
        let c = InternetChecksum.finish(InternetChecksum.sum(icmp, initial: sum))
        icmp[2] = UInt8(c >> 8)
        icmp[3] = UInt8(truncatingIfNeeded: c)
        var f: [UInt8] = [0x33, 0x33, 0, 0, 0, 1] + mac.bytes + [0x86, 0xDD]
        f += [0x60, 0, 0, 0, UInt8(icmp.count >> 8), UInt8(truncatingIfNeeded: icmp.count), 58, 255]
        f += source.bytes + dst.bytes
        return f + icmp
    }
}
