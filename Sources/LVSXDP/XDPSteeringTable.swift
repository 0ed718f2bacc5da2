// The steering maps as a set the control side describes: services, NAT/FULLNAT reply sources, passive VIPs; applied as a diff.
import LVSCore

/// What the XDP program must steer, described as sets, and the map operations that take the maps
/// from one description to the next.
///
/// ```
///  IPVS table changed ─▶ XDPSteeringTable(services:replySources:passive:) ─▶ table.changes(from: last)
///                                                                        └─▶ XDPMaps.apply(changes)
/// ```
/// The address map is derived: every service VIP gets `.virtual` (plus `.passive` when it is in
/// `passive`), every reply source's address `.replySource`. Pure: no I/O, tested without root.
public struct XDPSteeringTable: Equatable, Sendable {
    /// Virtual services (VIP, port — 0 for every port —, protocol). Firewall-mark services have no
    /// address and are not steered.
    public var services: Set<XDPServiceKey>
    /// NAT and FULLNAT real servers (address, port, protocol): their replies are lvsd's.
    public var replySources: Set<XDPServiceKey>
    /// VIPs whose frames go to the kernel (a VRRP backup's; `DataPlane.setPassiveAddresses`).
    public var passive: Set<IPAddress>

    public init(services: Set<XDPServiceKey> = [], replySources: Set<XDPServiceKey> = [], passive: Set<IPAddress> = [])
    {
        self.services = services
        self.replySources = replySources
        self.passive = passive
    }

    /// The flags of every address the maps must hold.
    public var addresses: [IPAddress: XDPAddressFlags] {
        var a: [IPAddress: XDPAddressFlags] = [:]
        for s in services {
            a[s.address, default: []].insert(.virtual)
            if passive.contains(s.address) { a[s.address, default: []].insert(.passive) }
        }
        for r in replySources { a[r.address, default: []].insert(.replySource) }
        return a
    }

    /// One map operation.
    public enum Change: Equatable, Sendable {
        case putService(XDPServiceKey)
        case deleteService(XDPServiceKey)
        case putReplySource(XDPServiceKey)
        case deleteReplySource(XDPServiceKey)
        /// Empty flags delete the address.
        case setAddress(IPAddress, XDPAddressFlags)
    }

    /// The operations that turn `old`'s maps into this table's. Order: additions and address
    /// flags first, deletions last, so a frame never finds a service without its address flags
    /// (a passive VIP's flag is set before its service appears).
    public func changes(from old: XDPSteeringTable) -> [Change] {
        var out: [Change] = []
        let newAddresses = addresses
        let oldAddresses = old.addresses
        for (a, f) in newAddresses where oldAddresses[a] != f { out.append(.setAddress(a, f)) }
        for s in services.subtracting(old.services) { out.append(.putService(s)) }
        for r in replySources.subtracting(old.replySources) { out.append(.putReplySource(r)) }
        for s in old.services.subtracting(services) { out.append(.deleteService(s)) }
        for r in old.replySources.subtracting(replySources) { out.append(.deleteReplySource(r)) }
        for a in oldAddresses.keys where newAddresses[a] == nil { out.append(.setAddress(a, [])) }
        return out
    }
}

extension XDPMaps {
    /// Applies steering changes in order; stops at the first failure (the caller logs it and
    /// may retry with a full `changes(from: XDPSteeringTable())`).
    public func apply(_ changes: [XDPSteeringTable.Change]) throws(XDPError) {
        for c in changes {
            switch c {
            case .putService(let k): try putService(k)
            case .deleteService(let k): try deleteService(k)
            case .putReplySource(let k): try putReplySource(k)
            case .deleteReplySource(let k): try deleteReplySource(k)
            case .setAddress(let a, let f): try setAddress(a, flags: f)
            }
        }
    }
}
