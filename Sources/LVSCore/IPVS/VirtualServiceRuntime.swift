// A virtual service at run time: its spec, its real-server list in kernel order, scheduler, stats.

/// A virtual service as the table holds it. `members` lists its real servers' slots in the
/// kernel's order: a new server goes at the head (`list_add_rcu` in `__ip_vs_update_dest`).
@_spi(Internals) public final class VirtualServiceRuntime {
    public internal(set) var slot: Int32
    public internal(set) var spec: VirtualServiceSpec
    public internal(set) var members: [Int32] = []
    public internal(set) var scheduler: Scheduler?
    /// FULLNAT local addresses.
    public internal(set) var localAddresses: [IPAddress] = []
    /// The next local address to hand out (FULLNAT round robin).
    var localCursor: UInt32 = 0
    let shTableBits: Int
    let mhTableIndex: Int
    let lblcExpiration: Duration
    let lblcrExpiration: Duration

    init(slot: Int32, spec: VirtualServiceSpec, configuration: IPVSConfiguration) {
        self.slot = slot
        self.spec = spec
        shTableBits = configuration.shTableBits
        mhTableIndex = configuration.mhTableIndex
        lblcExpiration = configuration.sysctls.lblcExpiration
        lblcrExpiration = configuration.sysctls.lblcrExpiration
    }
}
