// ARP replies, gratuitous ARP and IPv6 unsolicited neighbour advertisements, as VRRP and DR send them.
import LVSCore

/// Builds the link-layer announcements the director sends for its addresses.
public enum NeighborFrames {
    /// Length of an ARP frame without VLAN tag (14 + 28; the NIC pads it to 60 on the wire).
    public static let arpLength = 42
    /// Length of an unsolicited NA without VLAN tag (14 + 40 + 24 + 8).
    public static let neighborAdvertisementLength = 86

    /// A gratuitous ARP for `address` as keepalived sends it (vrrp_arp.c): broadcast, an ARP
    /// *request* whose sender and target IP are both `address`, sender MAC `mac`, target MAC
    /// ff:ff:ff:ff:ff:ff. Returns the frame length, or 0 if `out` is too small.
    public static func gratuitousARP(
        address: IPv4Address, mac: MACAddress, vlan: UInt16? = nil, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        writeARP(
            operation: 1, ethDestination: .broadcast, senderMAC: mac, senderIP: address, targetMAC: .broadcast,
            targetIP: address, vlan: vlan, into: out)
    }

    /// The reply to an ARP request for an address the director owns (RFC 826): to the requester,
    /// from `mac`, sender = the requested address. Returns 0 (nothing to send) if `request` is not
    /// a request or `out` is too small.
    public static func arpReply(
        to request: ARPInfo, mac: MACAddress, vlan: UInt16? = nil, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        guard request.operation == 1 else { return 0 }
        return writeARP(
            operation: 2, ethDestination: request.senderMAC, senderMAC: mac, senderIP: request.targetIP,
            targetMAC: request.senderMAC, targetIP: request.senderIP, vlan: vlan, into: out)
    }

    static func writeARP(
        operation: UInt16, ethDestination: MACAddress, senderMAC: MACAddress, senderIP: IPv4Address,
        targetMAC: MACAddress, targetIP: IPv4Address, vlan: UInt16?, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        let l2 = vlan == nil ? 14 : 18
        guard let o = out.baseAddress, out.count >= l2 + 28 else { return 0 }
        senderMAC.storeEthernetHeader(o, to: ethDestination, vlan: vlan, etherType: EtherType.arp)
        let a = o + l2
        a.setBE16(1, 0)  // Ethernet
        a.setBE16(EtherType.ipv4, 2)
        a.setU8(6, 4)
        a.setU8(4, 5)
        a.setBE16(operation, 6)
        senderMAC.store(a, 8)
        a.setBE32(senderIP.value, 14)
        targetMAC.store(a, 18)
        a.setBE32(targetIP.value, 24)
        return l2 + 28
    }

    /// An unsolicited neighbour advertisement for `address` (RFC 4861 §7.2.6) as keepalived sends
    /// it (vrrp_ndisc.c): from `source` (VRRP: the interface's link-local address; default
    /// `address`) to ff02::1 (MAC 33:33:00:00:00:01), hop limit 255, Override set, Router set if
    /// `router` (the interface forwards), a target link-layer address option with `mac`. Returns
    /// the frame length, or 0 if `out` is too small.
    public static func unsolicitedNeighborAdvertisement(
        address: IPv6Address, mac: MACAddress, router: Bool, source: IPv6Address? = nil, vlan: UInt16? = nil,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        let l2 = vlan == nil ? 14 : 18
        guard let o = out.baseAddress, out.count >= l2 + 72 else { return 0 }
        mac.storeEthernetHeader(o, to: .ipv6Multicast(lastWord: 1), vlan: vlan, etherType: EtherType.ipv6)
        let ip = o + l2
        let allNodes = IPv6Address(high: 0xFF02_0000_0000_0000, low: 1)
        ip.setBE32(6 << 28, 0)
        ip.setBE16(32, 4)
        ip.setU8(IPProtocolNumber.icmpv6, 6)
        ip.setU8(255, 7)
        WireAddress.store(.v6(source ?? address), ip, 8)
        WireAddress.store(.v6(allNodes), ip, 24)
        let na = ip + 40
        na.setU8(136, 0)
        na.setU8(0, 1)
        na.setBE16(0, 2)
        na.setBE32((router ? 0x8000_0000 : 0) | 0x2000_0000, 4)  // R, S=0, O
        WireAddress.store(.v6(address), na, 8)
        na.setU8(2, 24)  // target link-layer address
        na.setU8(1, 25)
        mac.store(na, 26)
        let pseudo = InternetChecksum.pseudoHeader(
            source: .v6(source ?? address), destination: .v6(allNodes), protocol: IPProtocolNumber.icmpv6, length: 32)
        na.setBE16(InternetChecksum.checksum(UnsafeRawPointer(na), 32, adding: pseudo), 2)
        return l2 + 72
    }
}

extension NeighborFrames {
    /// A frame built by one of the writers above, as an array (control-plane callers).
    public static func frame(_ write: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 128)
        let n = f.withUnsafeMutableBytes { write($0) }
        return Array(f[0..<n])
    }
}
