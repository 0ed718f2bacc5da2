// What the SYN proxy needs from the table: whether a service proxies, and the per-connection
// proxy state (phase, sequence and timestamp deltas) kept beside the connection's entry.

extension IPVS {
    /// True when the TCP virtual service of `address`:`port` has the SYN proxy on.
    public func isSynProxied(address: IPAddress, port: UInt16) -> Bool {
        guard let s = findService(transport: .tcp, address: address, port: port) else { return false }
        return service(slot: s).spec.flags.contains(.synProxy)
    }

    /// The id of a client's connection to `virtual`:`virtualPort`, or nil.
    public func connectionID(
        protocolNumber: UInt8, client: IPAddress, clientPort: UInt16, virtual: IPAddress, virtualPort: UInt16
    ) -> UInt32? {
        let id = connections.lookupIn(
            protocol: protocolNumber, family: client.family, client: RawAddress(client), clientPort: clientPort,
            virtual: RawAddress(virtual), virtualPort: virtualPort)
        return id == ConnectionTable.none ? nil : id
    }

    /// A connection's SYN proxy state: `packed` 0 when it is not proxied.
    public func synProxyState(ofConnection id: UInt32) -> (
        packed: UInt16, sequenceDelta: UInt32, timestampDelta: UInt32
    ) {
        guard id != ConnectionTable.none else { return (0, 0, 0) }
        let e = connections.proxyEntry(id)
        return (e.packed, e.sequenceDelta, e.timestampDelta)
    }

    /// Stores a connection's SYN proxy state.
    public func setSynProxyState(ofConnection id: UInt32, packed: UInt16, sequenceDelta: UInt32, timestampDelta: UInt32)
    {
        guard id != ConnectionTable.none else { return }
        connections.setProxyEntry(
            id, SynProxyEntry(packed: packed, sequenceDelta: sequenceDelta, timestampDelta: timestampDelta))
    }
}
