// The map keys of the XDP program as Swift values: services, reply sources, addresses, flows.
import CLVSXDP
import LVSCore
import LVSPacket

/// Writes `address` into a 16-byte C array in network order (IPv4 in the first 4 bytes).
@inlinable
func storeAddress<T>(_ address: IPAddress, into tuple: inout T) {
    withUnsafeMutableBytes(of: &tuple) { b in
        for i in 0..<b.count { b[i] = 0 }
        switch address {
        case .v4(let a): b.storeBytes(of: a.value.bigEndian, toByteOffset: 0, as: UInt32.self)
        case .v6(let a):
            b.storeBytes(of: a.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: a.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
    }
}

/// Reads an address of `family` from a 16-byte C array.
@inlinable
func loadAddress<T>(_ family: UInt8, from tuple: T) -> IPAddress {
    withUnsafeBytes(of: tuple) { b in
        if family == UInt8(LVS_XDP_AF_INET6) {
            return .v6(
                IPv6Address(
                    high: UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                    low: UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
        }
        return .v4(IPv4Address(UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt32.self))))
    }
}

@inlinable
func familyByte(_ a: IPAddress) -> UInt8 {
    a.family == .inet6 ? UInt8(LVS_XDP_AF_INET6) : UInt8(LVS_XDP_AF_INET)
}

/// A virtual service as the program matches it: VIP, port (0 = every port) and protocol. The
/// same key names a NAT/FULLNAT real server in the reply-source map.
public struct XDPServiceKey: Hashable, Sendable, CustomStringConvertible {
    public var protocolNumber: UInt8
    public var address: IPAddress
    public var port: UInt16

    public init(protocolNumber: UInt8, address: IPAddress, port: UInt16) {
        self.protocolNumber = protocolNumber
        self.address = address
        self.port = port
    }

    /// The C key (zeroed, then filled).
    public var raw: lvs_xdp_service_key {
        var k = lvs_xdp_service_key()
        k.family = familyByte(address)
        k.protocol = protocolNumber
        k.port = port.bigEndian
        storeAddress(address, into: &k.addr)
        return k
    }

    public var description: String { "\(protocolNumber) \(Endpoint(address, port))" }
}

/// Flags of an address in `lvs_addrs`.
public struct XDPAddressFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The address of a virtual service.
    public static let virtual = XDPAddressFlags(rawValue: LVS_XDP_ADDR_VIP)
    /// A passive VIP: its frames go to the kernel.
    public static let passive = XDPAddressFlags(rawValue: LVS_XDP_ADDR_PASSIVE)
    /// The address of a NAT/FULLNAT real server.
    public static let replySource = XDPAddressFlags(rawValue: LVS_XDP_ADDR_REPLY_SOURCE)
}

/// An address key.
@inlinable
func addressKey(_ a: IPAddress) -> lvs_xdp_addr_key {
    var k = lvs_xdp_addr_key()
    k.family = familyByte(a)
    storeAddress(a, into: &k.addr)
    return k
}

/// A flow: the 5-tuple of one direction of a connection as its frames arrive (TCP or UDP).
public struct XDPFlowKey: Hashable, Sendable, CustomStringConvertible {
    public var protocolNumber: UInt8
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16

    public init(
        protocolNumber: UInt8, source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16
    ) {
        self.protocolNumber = protocolNumber
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
    }

    /// A packet's own flow (`PacketInfo.flow(in:)` for a packet that is not an ICMP error).
    public init(_ f: FlowKey) {
        self.init(
            protocolNumber: f.protocolNumber, source: f.source, sourcePort: f.sourcePort, destination: f.destination,
            destinationPort: f.destinationPort)
    }

    /// True if the fast path can carry this flow (TCP or UDP, both addresses of one family).
    public var isFastPathProtocol: Bool {
        (protocolNumber == IPProtocolNumber.tcp || protocolNumber == IPProtocolNumber.udp)
            && source.family == destination.family
    }

    public var raw: lvs_xdp_flow_key {
        var k = lvs_xdp_flow_key()
        k.family = familyByte(source)
        k.protocol = protocolNumber
        k.sport = sourcePort.bigEndian
        k.dport = destinationPort.bigEndian
        storeAddress(source, into: &k.saddr)
        storeAddress(destination, into: &k.daddr)
        return k
    }

    public init(raw k: lvs_xdp_flow_key) {
        self.init(
            protocolNumber: k.protocol, source: loadAddress(k.family, from: k.saddr),
            sourcePort: UInt16(bigEndian: k.sport),
            destination: loadAddress(k.family, from: k.daddr), destinationPort: UInt16(bigEndian: k.dport))
    }

    public var description: String {
        "\(protocolNumber) \(Endpoint(source, sourcePort)) > \(Endpoint(destination, destinationPort))"
    }
}
