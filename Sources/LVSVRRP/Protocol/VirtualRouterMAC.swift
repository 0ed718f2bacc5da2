// The VRRP virtual router MAC address (RFC 5798 §7.3).
import LVSCore
import LVSPacket

extension MACAddress {
    /// The VRRP virtual MAC 00-00-5E-00-01-VRID (IPv4) or 00-00-5E-00-02-VRID (IPv6).
    public static func virtualRouter(vrid: UInt8, family: AddressFamily) -> MACAddress {
        MACAddress(0, 0, 0x5E, 0, family == .inet ? 1 : 2, vrid)
    }
}
