// swift-tools-version:6.1
// SwiftLVS: the Linux Virtual Server director, ipvsadm and a keepalived-compatible control plane, in user space.
import PackageDescription

/// Packet code is compiled for speed; exclusivity checks cost a few ns per packet on the hot path.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "SwiftLVS",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lvsd", targets: ["lvsd"]),
        .executable(name: "ipvsadm", targets: ["ipvsadm"]),
        .executable(name: "lvs-realserver", targets: ["lvs-realserver"]),
        .executable(name: "lvs-sysctl", targets: ["lvs-sysctl"]),
        .library(name: "LVSCore", targets: ["LVSCore"]),
        .library(name: "LVSPacket", targets: ["LVSPacket"]),
        .library(name: "LVSTestSupport", targets: ["LVSTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // lvsd's HTTP listener (/metrics, /api/v1, the dashboard).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        // core (pure): the IPVS model and packet transforms. No I/O, no Foundation.
        .target(name: "LVSCore", swiftSettings: hotPathSettings),
        .target(name: "LVSPacket", dependencies: ["LVSCore"], swiftSettings: hotPathSettings),

        // control (pure where it can be): control protocol, ipvsadm, keepalived.conf, VRRP, checkers.
        .target(name: "LVSControl", dependencies: ["LVSCore"]),
        .target(name: "IPVSAdmKit", dependencies: ["LVSCore", "LVSControl"]),
        // keepalived.conf: parser, diagnostics, and the IPVS table and VRRP instances it describes.
        .target(name: "KeepalivedConfig", dependencies: ["LVSCore", "LVSVRRP"]),
        // Engines (pure: state machines, codecs, seams) apart from their Linux adapters.
        .target(name: "LVSHealthCheck", dependencies: ["LVSCore", "KeepalivedConfig"]),
        .target(
            name: "LVSHealthCheckLinux",
            dependencies: ["LVSHealthCheck", "LVSCore", "KeepalivedConfig", "CLVSTLS", "LVSPlatform"]),
        // SSL_GET: a small OpenSSL client shim (libssl-dev).
        .target(name: "CLVSTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .target(name: "LVSVRRP", dependencies: ["LVSCore", "LVSPacket"]),
        .target(
            name: "LVSVRRPLinux", dependencies: ["LVSVRRP", "LVSCore", "LVSPacket", "CLVSLinux", "LVSPlatform"]),

        // platform: the Linux plumbing once (rtnetlink, sockets, threads, wake descriptors, the
        // monotonic clock, child processes), over the C target, as NIOPosix sits over CNIOLinux.
        .target(name: "CLVSLinux"),
        .target(name: "LVSPlatform", dependencies: ["CLVSLinux", "LVSCore", "LVSPacket"]),
        // Connection sync: the kernel's wire format and the master/backup engines (pure).
        .target(name: "LVSSync", dependencies: ["LVSCore"]),

        // data plane: Linux packet I/O, nftables guard, neighbours.
        .target(
            name: "LVSDataPlane",
            dependencies: ["LVSCore", "LVSPacket", "CLVSLinux", "LVSPlatform"],
            swiftSettings: hotPathSettings
        ),

        // XDP: the steering/fast-path program (C, compiled by scripts/build-bpf into a committed byte
        // array), its libbpf loader and AF_XDP sockets (libxdp); Debian: libbpf-dev libxdp-dev.
        .target(
            name: "CLVSXDP", exclude: ["bpf"],
            linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("xdp")]
        ),
        .target(
            name: "LVSXDP", dependencies: ["CLVSXDP", "CLVSLinux", "LVSDataPlane", "LVSPacket", "LVSCore"],
            swiftSettings: hotPathSettings
        ),

        // status (pure): what lvsd shows over HTTP — Prometheus text, the JSON API, OpenAPI, the dashboard.
        .target(name: "LVSStatus", dependencies: ["LVSCore"]),
        // lvsd's HTTP listener (swift-nio) and its metrics registry (swift-prometheus, swift-metrics).
        .target(
            name: "LVSHTTP",
            dependencies: [
                "LVSStatus", "LVSPlatform",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // daemon: lifecycle, control server, reload, notifications.
        .target(
            name: "LVSDaemon",
            dependencies: [
                "LVSCore", "LVSControl", "LVSDataPlane", "LVSXDP", "KeepalivedConfig", "LVSHealthCheckLinux",
                "LVSVRRPLinux", "LVSPlatform", "LVSSync", "LVSStatus", "LVSHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // executables: thin, flags → library calls.
        .executableTarget(name: "lvsd", dependencies: ["LVSDaemon"]),
        .executableTarget(name: "ipvsadm", dependencies: ["IPVSAdmKit", "LVSControl", "CLVSLinux"]),
        .executableTarget(name: "lvs-realserver", dependencies: ["LVSDataPlane", "CLVSLinux"]),
        .executableTarget(name: "lvs-sysctl", dependencies: ["IPVSAdmKit", "LVSControl"]),

        // test utilities, shipped as their own target.
        .target(name: "LVSTestSupport", dependencies: ["LVSCore", "LVSPacket", "LVSPlatform", "LVSVRRP"]),

        // benchmarks (not tests): `scripts/bench`, results in bench/RESULTS.md.
        .target(name: "CMallocCounter", path: "bench/CMallocCounter"),
        .executableTarget(
            name: "core-bench", dependencies: ["LVSCore", "LVSTestSupport", "CMallocCounter", "CLVSLinux"],
            path: "bench/CoreBench", swiftSettings: hotPathSettings
        ),
        .target(name: "CPacketBaseline", path: "bench/CPacketBaseline", cSettings: [.unsafeFlags(["-O2"])]),
        .executableTarget(
            name: "packet-bench",
            dependencies: ["LVSPacket", "LVSTestSupport", "CMallocCounter", "CPacketBaseline", "CLVSLinux"],
            path: "bench/PacketBench", swiftSettings: hotPathSettings
        ),
        .executableTarget(
            name: "xdp-bench",
            dependencies: [
                "LVSXDP", "LVSXDPTestSupport", "LVSTestSupport", "LVSDataPlane", "LVSPacket", "LVSCore", "CLVSLinux",
                "CMallocCounter",
            ],
            path: "bench/XDPBench", swiftSettings: hotPathSettings
        ),
        .executableTarget(name: "config-bench", dependencies: ["KeepalivedConfig"], path: "bench/ConfigBench"),
        // lvsd with the allocation counter linked in: its data plane reports mallocs per packet.
        .executableTarget(name: "lvsd-bench", dependencies: ["LVSDaemon", "CMallocCounter"], path: "bench/LvsdBench"),
        .executableTarget(
            name: "health-check-bench", dependencies: ["LVSHealthCheckLinux", "KeepalivedConfig", "LVSCore"],
            path: "bench/HealthCheckBench"),
        .executableTarget(
            name: "sync-bench", dependencies: ["LVSCore", "LVSSync", "LVSTestSupport", "CLVSLinux"],
            path: "bench/SyncBench", swiftSettings: hotPathSettings),
        .executableTarget(
            name: "control-bench", dependencies: ["LVSCore", "LVSControl", "IPVSAdmKit", "CLVSLinux"],
            path: "bench/ControlBench"
        ),

        // /metrics and dashboard rendering at 10,000 × 10, against swift-prometheus's registry.
        .executableTarget(
            name: "status-bench",
            dependencies: ["LVSStatus", "LVSCore", .product(name: "Prometheus", package: "swift-prometheus")],
            path: "bench/StatusBench"),

        .testTarget(
            name: "LVSCoreTests",
            dependencies: [
                "LVSCore", "LVSTestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "LVSPacketTests", dependencies: ["LVSPacket", "LVSTestSupport"]),
        .testTarget(name: "IPVSAdmTests", dependencies: ["IPVSAdmKit", "LVSControl", "LVSTestSupport"]),
        .testTarget(name: "KeepalivedConfigTests", dependencies: ["KeepalivedConfig", "LVSTestSupport"]),
        .testTarget(name: "LVSHealthCheckTests", dependencies: ["LVSHealthCheckLinux", "LVSTestSupport"]),
        .testTarget(
            name: "LVSVRRPTests", dependencies: ["LVSVRRPLinux", "LVSPacket", "LVSPlatform", "LVSTestSupport"]),
        .testTarget(name: "LVSSyncTests", dependencies: ["LVSSync", "LVSCore", "LVSTestSupport"]),
        .testTarget(name: "LVSDaemonTests", dependencies: ["LVSDaemon", "LVSPlatform", "LVSStatus", "LVSTestSupport"]),
        .testTarget(
            name: "LVSDataPlaneTests", dependencies: ["LVSDataPlane", "LVSPlatform", "LVSTestSupport", "CMallocCounter"]),
        .testTarget(name: "LabTests", dependencies: ["LVSTestSupport", "LVSCore"]),
        .target(name: "LVSXDPTestSupport", dependencies: ["LVSXDP", "LVSTestSupport", "LVSPacket", "LVSCore"]),
        .testTarget(
            name: "LVSXDPTests",
            dependencies: ["LVSXDP", "LVSXDPTestSupport", "LVSTestSupport", "LVSPacket", "LVSCore", "CLVSXDP"]),
        .testTarget(
            name: "LVSStatusTests", dependencies: ["LVSStatus", "LVSHTTP", "LVSCore", "LVSPlatform", "IPVSAdmKit", "LVSTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
