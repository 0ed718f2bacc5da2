// VIPs added and removed with RTM_NEWADDR / RTM_DELADDR, as `ip addr add|del` does.
import Glibc
import LVSCore
import LVSPlatform
import LVSVRRP

/// Adds and removes VIPs over an rtnetlink socket of the namespace it was created in.
public final class NetlinkVIPInstaller: VIPInstaller, @unchecked Sendable {
    let netlink: RTNetlinkSocket

    /// Opens the netlink socket in the calling thread's network namespace.
    public init() throws(VRRPError) {
        do { netlink = try RTNetlinkSocket() } catch { throw VRRPError(error) }
    }

    public func add(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        let err = try change(
            a, interface: interface, type: RTNetlink.newAddr, flags: RTNetlink.fCreate | RTNetlink.fExcl)
        if err != 0 && err != EEXIST {
            throw VRRPError(.netlink, "cannot add \(a) to \(interface): \(errorText(err))")
        }
    }

    public func remove(_ a: VirtualIPAddress, interface: String) throws(VRRPError) {
        let err = try change(a, interface: interface, type: RTNetlink.delAddr, flags: 0)
        if err != 0 && err != EADDRNOTAVAIL && err != ENODEV {
            throw VRRPError(.netlink, "cannot remove \(a) from \(interface): \(errorText(err))")
        }
    }

    private func change(_ a: VirtualIPAddress, interface: String, type: UInt16, flags: UInt16) throws(VRRPError)
        -> Int32
    {
        do {
            let idx = try netlink.index(of: interface)
            return try netlink.request { seq in
                .address(
                    type, flags: RTNetlink.fAck | flags, sequence: seq, address: a.address,
                    prefixLength: a.prefixLength,
                    scope: a.scope.rawValue, index: idx, broadcast: a.broadcast.map { .v4($0) }, label: a.label)
            }
        } catch {
            throw VRRPError(error)
        }
    }
}

extension VRRPError {
    /// A platform failure as VRRP reports it.
    init(_ e: PlatformError) {
        switch e.code {
        case .netlink: self.init(.netlink, e.message)
        case .noSuchInterface: self.init(.noSuchInterface, e.message)
        default: self.init(.socket, e.message)
        }
    }
}
