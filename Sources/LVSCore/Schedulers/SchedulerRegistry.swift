// The fourteen schedulers by name, as `ipvsadm -s` and keepalived's lb_algo name them.

/// Looks schedulers up by name.
@_spi(Internals) public enum SchedulerRegistry {
    /// Every scheduler the kernel ships, by `-s` name.
    public static let all: [String: Scheduler.Type] = [
        "rr": RoundRobinScheduler.self,
        "wrr": WeightedRoundRobinScheduler.self,
        "lc": LeastConnectionScheduler.self,
        "wlc": WeightedLeastConnectionScheduler.self,
        "sed": ShortestExpectedDelayScheduler.self,
        "nq": NeverQueueScheduler.self,
        "fo": WeightedFailoverScheduler.self,
        "ovf": WeightedOverflowScheduler.self,
        "twos": PowerOfTwoChoicesScheduler.self,
        "lblc": LocalityBasedLeastConnectionScheduler.self,
        "lblcr": LocalityBasedLeastConnectionReplicationScheduler.self,
        "dh": DestinationHashingScheduler.self,
        "sh": SourceHashingScheduler.self,
        "mh": MaglevHashingScheduler.self,
    ]

    /// The scheduler class for a name, or nil (`ipvsadm`: "Scheduler or persistence engine not found").
    public static func named(_ name: String) -> Scheduler.Type? { all[name] }
}
