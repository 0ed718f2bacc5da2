// A virtual service at run time: its spec, its real-server list in kernel order, scheduler, stats.

/// A virtual service as the table holds it. `members` lists its real servers' slots in the
/// kernel's order: a new server goes at the head (`list_add_rcu` in `__ip_vs_update_dest`).
@_spi(Internals) public final class VirtualServiceRuntime {
    public internal(set) var slot: Int32
    /// A number no other service object of this table has had (slots are reused).
    public let serial: UInt64
    public internal(set) var spec: VirtualServiceSpec
    public internal(set) var members: [Int32] = []
    public internal(set) var scheduler: Scheduler?
    /// FULLNAT local addresses.
    public internal(set) var localAddresses: [IPAddress] = []
    /// The next local address to hand out (FULLNAT round robin).
    var localCursor: UInt32 = 0
    let shTableBits: Int
    let mhTableIndex: Int
    /// `lblc_expiration` and `lblcr_expiration`, kept current by the table.
    var lblcExpiration: Duration
    var lblcrExpiration: Duration
    /// `lvsd_service_cps_max`: the second being counted and its new connections so far.
    var limitSecond: UInt32 = .max
    var newThisSecond = 0

    init(
        slot: Int32, serial: UInt64, spec: VirtualServiceSpec, shTableBits: Int, mhTableIndex: Int, sysctls: IPVSSysctls
    ) {
        self.slot = slot
        self.serial = serial
        self.spec = spec
        self.shTableBits = shTableBits
        self.mhTableIndex = mhTableIndex
        lblcExpiration = sysctls.lblcExpiration
        lblcrExpiration = sysctls.lblcrExpiration
    }
}
