// ipvsadm's listing and save formats (list_all, print_service_entry, print_conn, …) written byte for byte.
import LVSCore

/// printf-style appends onto a byte buffer: `%-Ns`, `%Ns`, `%u`, `%d`.
struct TextOut {
    var bytes: [UInt8] = []

    mutating func s(_ t: String) { bytes.append(contentsOf: t.utf8) }
    mutating func b(_ t: [UInt8]) { bytes.append(contentsOf: t) }
    /// `%-Ns`
    mutating func left(_ t: [UInt8], _ width: Int) {
        bytes.append(contentsOf: t)
        if t.count < width { bytes.append(contentsOf: repeatElement(0x20, count: width - t.count)) }
    }
    mutating func left(_ t: String, _ width: Int) { left(Array(t.utf8), width) }
    /// `" %-Ns"` for each (text, width).
    mutating func columns(_ columns: (String, Int)...) {
        for (t, width) in columns {
            s(" ")
            left(t, width)
        }
    }
    /// `%Ns`
    mutating func right(_ t: String, _ width: Int) {
        let u = Array(t.utf8)
        if u.count < width { bytes.append(contentsOf: repeatElement(0x20, count: width - u.count)) }
        bytes.append(contentsOf: u)
    }
    mutating func newline() { bytes.append(0x0A) }
}

/// Formats what lvsd reports exactly as ipvsadm 1.31 prints it.
public struct IPVSListingFormatter {
    public let resolver: any IPVSAdmNameResolver

    public init(resolver: any IPVSAdmNameResolver) { self.resolver = resolver }

    // MARK: numbers and names

    /// `print_largenum`: `%9llu` below 10⁸, then `%8llu` + K/M/G/T; with `--exact`, the whole
    /// number right-aligned in 9 columns (or its length + 1 when longer).
    public static func largeNumber(_ i: UInt64, exact: Bool) -> String {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        if exact {
            let s = String(i)
            return pad(s, s.count <= 8 ? 9 : s.count + 1)
        }
        if i < 100_000_000 { return pad(String(i), 9) }
        if i < 1_000_000_000 { return pad(String(i / 1000), 8) + "K" }
        if i < 100_000_000_000 { return pad(String(i / 1_000_000), 8) + "M" }
        if i < 100_000_000_000_000 { return pad(String(i / 1_000_000_000), 8) + "G" }
        return pad(String(i / 1_000_000_000_000), 8) + "T"
    }

    /// `addrport_to_anyname`: `a.b.c.d:port` / `[v6]:port`, names unless numeric; at most 59 bytes.
    func addressPort(_ a: IPAddress, _ port: UInt16, protocolNumber: UInt8, numeric: Bool) -> [UInt8] {
        var out: [UInt8] = []
        let v6 = a.family == .inet6
        if v6 { out.append(0x5B) }
        if !numeric, let name = resolver.hostName(of: a) {
            out.append(contentsOf: name.utf8)
        } else {
            out.append(contentsOf: a.description.utf8)
        }
        if v6 { out.append(0x5D) }
        out.append(0x3A)
        if !numeric, let proto = IPProtocolNumber.serviceProtocolName(protocolNumber),
            let name = resolver.serviceName(ofPort: port, protocol: proto)
        {
            out.append(contentsOf: name.utf8)
        } else {
            out.append(contentsOf: String(port).utf8)
        }
        if out.count > 59 { out.removeSubrange(59...) }
        return out
    }

    static func protocolName(_ p: TransportProtocol) -> String { p.description }

    static func optionFor(_ p: TransportProtocol) -> String {
        switch p {
        case .tcp: return "-t"
        case .udp: return "-u"
        case .sctp: return "--sctp-service"
        }
    }

    /// `print_sched_flags`: the flag names for the service's scheduler, comma-separated.
    static func schedulerFlags(_ spec: VirtualServiceSpec) -> String {
        var names: [String] = []
        let f = spec.flags
        switch spec.scheduler {
        case "sh":
            if f.contains(.scheduler1) { names.append("sh-fallback") }
            if f.contains(.scheduler2) { names.append("sh-port") }
        case "mh":
            if f.contains(.scheduler1) { names.append("mh-fallback") }
            if f.contains(.scheduler2) { names.append("mh-port") }
        default:
            if f.contains(.scheduler1) { names.append("flag-1") }
            if f.contains(.scheduler2) { names.append("flag-2") }
            if f.contains(.scheduler3) { names.append("flag-3") }
        }
        return names.joined(separator: ",")
    }

    static func netmaskText(_ spec: VirtualServiceSpec) -> String? {
        if spec.key.family == .inet {
            return spec.netmask != 0xFFFF_FFFF ? IPv4Address(spec.netmask).description : nil
        }
        return spec.netmask != 128 ? String(Int32(bitPattern: spec.netmask)) : nil
    }

    /// `fwd_name`: the Forward column.
    static func forwardName(_ f: ForwardingMethod) -> String { f.listingName }

    /// `fwd_switch`: the -S option of a forwarding method.
    static func forwardSwitch(_ f: ForwardingMethod) -> String {
        switch f {
        case .masquerade: return "-m"
        case .tunnel: return "-i"
        case .local, .route: return "-g"
        case .fullNAT: return "--fullnat"
        }
    }

    static let tunnelFlagNames = ["-c", "+c", "r+c"]
    static let tunnelFlagOptions = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]

    /// `fwd_tun_info`: `ipip`, `gue:PORT:FLAGS`, `gre:FLAGS`, or nil for other methods.
    static func tunnelInfo(_ f: ForwardingMethod) -> String? {
        guard case .tunnel(let t) = f else { return nil }
        let flags = Int(t.flags.rawValue) < tunnelFlagNames.count ? tunnelFlagNames[Int(t.flags.rawValue)] : "?"
        switch t.type {
        case .ipip: return "ipip"
        case .gue: return String("gue:\(t.port):\(flags)".prefix(15))
        case .gre: return String("gre:\(flags)".prefix(15))
        }
    }

    // MARK: service tables

    /// `print_title`.
    public static func title(_ format: ListingFormat) -> String {
        func col(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        func rcol(_ s: String, _ w: Int) -> String {
            s.count >= w ? s : String(repeating: " ", count: w - s.count) + s
        }
        let prot = col("Prot LocalAddress:Port", 33)
        if format.contains(.stats) {
            return prot + " "
                + ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"].map { rcol($0, 8) }.joined(
                    separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.rate) {
            return prot + " "
                + ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"].map { rcol($0, 8) }.joined(
                    separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.thresholds) {
            return prot + " " + col("Uthreshold", 10) + " " + col("Lthreshold", 10) + " " + col("ActiveConn", 10)
                + " " + col("InActConn", 10) + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.persistentConn) {
            return prot + " " + col("Weight", 9) + " " + col("PersistConn", 11) + " " + col("ActiveConn", 10) + " "
                + col("InActConn", 10) + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.tunInfo) {
            return "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        }
        if !format.contains(.rule) {
            return "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        }
        return ""
    }

    /// The whole table (`ipvsadm -L`, `-S`): header, title, services in ipvsadm's order.
    public func listAll(info: IPVSInfo, services: [VirtualServiceEntry], format: ListingFormat) -> [UInt8] {
        var out = TextOut()
        out.bytes.reserveCapacity(128 + services.count * 400)
        if !format.contains(.rule) {
            let v = info.versionCode
            out.s(
                "IP Virtual Server version \((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF) "
                    + "(size=\(Int32(bitPattern: info.connectionTableSize)))\n")
        }
        var list = services
        if !format.contains(.noSort) { GlibcSort.mergeSort(&list, by: GlibcSort.compareServices) }
        out.s(Self.title(format))
        for s in list { service(s, format: format, into: &out) }
        return out.bytes
    }

    /// One service (`ipvsadm -L -t VIP:PORT`): title and the service, no version header.
    public func listService(_ entry: VirtualServiceEntry, format: ListingFormat) -> [UInt8] {
        var out = TextOut()
        out.s(Self.title(format))
        service(entry, format: format, into: &out)
        return out.bytes
    }

    /// `print_service_entry`.
    func service(_ entry: VirtualServiceEntry, format: ListingFormat, into out: inout TextOut) {
        let spec = entry.spec
        let numeric = format.contains(.numeric)
        let rule = format.contains(.rule)
        var name: [UInt8]
        var protoNumber: UInt8 = 0
        switch spec.key {
        case .firewallMark(let m, let f):
            if rule {
                name = Array((f == .inet6 ? "-f \(m) -6" : "-f \(m)").utf8)
            } else {
                name = Array((f == .inet6 ? "FWM  \(m) IPv6" : "FWM  \(m)").utf8)
            }
        case .endpoint(let p, let e):
            protoNumber = p.rawValue
            let vname = addressPort(e.address, e.port, protocolNumber: p.rawValue, numeric: numeric)
            if rule {
                name = Array((Self.optionFor(p) + " ").utf8) + vname
            } else {
                var t = TextOut()
                t.left(Self.protocolName(p), 4)
                t.s(" ")
                t.b(vname)
                name = t.bytes
                if e.address.family != .inet6 && name.count > 33 { name.removeSubrange(33...) }
            }
        }

        let hasSchedFlags = !spec.flags.intersection(.schedulerFlags).isEmpty
        if rule {
            out.s("-A ")
            out.b(name)
            out.s(" -s \(spec.scheduler)")
            if spec.isPersistent {
                out.s(" -p \(spec.persistenceTimeout)")
                if let m = Self.netmaskText(spec) { out.s(" -M \(m)") }
            }
            if let pe = spec.persistenceEngine, !pe.isEmpty { out.s(" --pe \(pe)") }
            if spec.flags.contains(.onePacket) { out.s(" -o") }
            if hasSchedFlags { out.s(" -b \(Self.schedulerFlags(spec))") }
            if spec.flags.contains(.synProxy) { out.s(" --synproxy") }
        } else if format.contains(.stats) {
            out.left(name, 33)
            let c = entry.counters
            for v in [c.connections, c.inPackets, c.outPackets, c.inBytes, c.outBytes] {
                out.s(Self.largeNumber(v, exact: format.contains(.exact)))
            }
        } else if format.contains(.rate) {
            out.left(name, 33)
            let r = entry.rates
            for v in [r.cps, r.inPPS, r.outPPS, r.inBPS, r.outBPS] {
                out.s(Self.largeNumber(v, exact: format.contains(.exact)))
            }
        } else {
            out.b(name)
            out.s(" \(spec.scheduler)")
            if hasSchedFlags { out.s(" (\(Self.schedulerFlags(spec)))") }
            if spec.isPersistent {
                out.s(" persistent \(spec.persistenceTimeout)")
                if let m = Self.netmaskText(spec) { out.s(" mask \(m)") }
                if let pe = spec.persistenceEngine, !pe.isEmpty { out.s(" pe \(pe)") }
            }
            if spec.flags.contains(.onePacket) { out.s(" ops") }
            if spec.flags.contains(.synProxy) { out.s(" synproxy") }
        }
        out.newline()

        var servers = entry.realServers
        if !format.contains(.noSort) { GlibcSort.mergeSort(&servers, by: GlibcSort.compareRealServers) }
        for d in servers { realServer(d, service: name, protocolNumber: protoNumber, format: format, into: &out) }
        // SwiftLVS: FULLNAT local addresses are saved as DPVS-style -P lines (never present on a
        // mainline table, so mainline output is unchanged).
        if rule {
            for a in entry.localAddresses {
                out.s("-P ")
                out.b(name)
                out.s(" -z \(a)\n")
            }
        }
    }

    /// `ipvsadm -G -t VIP:PORT` (SwiftLVS, DPVS syntax): a service's FULLNAT local addresses.
    public func listLocalAddresses(_ entry: VirtualServiceEntry, format: ListingFormat) -> [UInt8] {
        var out = TextOut()
        out.left("VIP:VPORT", 20)
        out.s(" ")
        out.left("TOTAL", 8)
        out.s(" SNAT_IP\n")
        let vip: [UInt8]
        switch entry.spec.key {
        case .endpoint(let p, let e):
            vip = addressPort(e.address, e.port, protocolNumber: p.rawValue, numeric: format.contains(.numeric))
        case .firewallMark(let m, let f):
            vip = Array((f == .inet6 ? "FWM \(m) IPv6" : "FWM \(m)").utf8)
        }
        out.left(vip, 20)
        out.s(" ")
        out.left(String(entry.localAddresses.count), 8)
        out.newline()
        for a in entry.localAddresses {
            out.s(String(repeating: " ", count: 30))
            out.s(a.description)
            out.newline()
        }
        return out.bytes
    }

    func realServer(
        _ d: RealServerEntry, service svcName: [UInt8], protocolNumber: UInt8, format: ListingFormat,
        into out: inout TextOut
    ) {
        let e = d.spec.endpoint
        var dname = addressPort(e.address, e.port, protocolNumber: protocolNumber, numeric: format.contains(.numeric))
        let rule = format.contains(.rule)
        if !rule && e.address.family != .inet6 && dname.count > 28 { dname.removeSubrange(28...) }
        let exact = format.contains(.exact)
        if rule {
            out.s("-a ")
            out.b(svcName)
            out.s(" -r ")
            out.b(dname)
            out.s(" \(Self.forwardSwitch(d.spec.forwarding)) -w \(d.spec.weight)")
            if case .tunnel(let t) = d.spec.forwarding {
                let flags = Int(t.flags.rawValue)
                let flagOption = flags < Self.tunnelFlagOptions.count ? Self.tunnelFlagOptions[flags] : ""
                switch t.type {
                case .gre: out.s(" --tun-type gre \(flagOption)")
                case .gue: out.s(" --tun-type gue --tun-port \(t.port) \(flagOption)")
                case .ipip: out.s(" --tun-type ipip")
                }
            }
            out.newline()
        } else if format.contains(.stats) {
            out.s("  -> ")
            out.left(dname, 28)
            let c = d.counters
            for v in [c.connections, c.inPackets, c.outPackets, c.inBytes, c.outBytes] {
                out.s(Self.largeNumber(v, exact: exact))
            }
            out.newline()
        } else if format.contains(.rate) {
            out.s("  -> ")
            out.left(dname, 28)
            let r = d.rates
            out.s(" ")
            out.right(String(r.cps), 8)
            out.s(" ")
            out.right(String(r.inPPS), 8)
            out.s(" ")
            out.right(String(r.outPPS), 8)
            out.s(Self.largeNumber(r.inBPS, exact: exact))
            out.s(Self.largeNumber(r.outBPS, exact: exact))
            out.newline()
        } else if format.contains(.thresholds) {
            out.s("  -> ")
            out.left(dname, 28)
            out.columns(
                (String(d.spec.upperThreshold), 10), (String(d.spec.lowerThreshold), 10),
                (String(d.activeConnections), 10), (String(d.inactiveConnections), 10))
            out.newline()
        } else if format.contains(.persistentConn) {
            out.s("  -> ")
            out.left(dname, 28)
            out.columns(
                (String(UInt32(bitPattern: d.spec.weight)), 9), (String(d.persistentConnections), 11),
                (String(d.activeConnections), 10), (String(d.inactiveConnections), 10))
            out.newline()
        } else {
            out.s("  -> ")
            out.left(dname, 28)
            out.columns((Self.forwardName(d.spec.forwarding), 7))
            if format.contains(.tunInfo) { out.columns((Self.tunnelInfo(d.spec.forwarding) ?? "n/a", 13)) }
            out.columns(
                (String(d.spec.weight), 6), (String(d.activeConnections), 10), (String(d.inactiveConnections), 10))
            out.newline()
        }
    }

    // MARK: other listings

    /// `list_conn` (`ipvsadm -L -c`).
    public func listConnections(_ conns: [ConnectionEntry], format: ListingFormat) -> [UInt8] {
        var out = TextOut()
        out.s("IPVS connection entries\n")
        let pc = format.contains(.persistentConn)
        out.s("pro expire ")
        out.left("state", 11)
        out.s(" ")
        out.left("source", 18)
        out.s(" ")
        out.left("virtual", 18)
        out.s(" ")
        if pc {
            out.left("destination", 18)
            out.s(" ")
            out.left("pe name", 16)
            out.s(" pe_data\n")
        } else {
            out.s("destination\n")
        }
        let numeric = format.contains(.numeric)
        for c in conns {
            let proto = TransportProtocol(name: c.protocolName)?.rawValue ?? IPProtocolNumber.ip
            let minutes = c.expiresInSeconds / 60
            let seconds = c.expiresInSeconds % 60
            let expire = (minutes < 10 ? "0" : "") + String(minutes) + ":" + (seconds < 10 ? "0" : "") + String(seconds)
            out.left(c.protocolName, 3)
            out.s(" ")
            out.left(expire, 6)
            out.s(" ")
            out.left(c.state, 11)
            out.s(" ")
            out.left(addressPort(c.client.address, c.client.port, protocolNumber: proto, numeric: numeric), 18)
            out.s(" ")
            out.left(addressPort(c.virtual.address, c.virtual.port, protocolNumber: proto, numeric: numeric), 18)
            out.s(" ")
            let dname = addressPort(
                c.destination.address, c.destination.port, protocolNumber: proto, numeric: numeric)
            if pc, let pe = c.persistenceEngine, let data = c.persistenceEngineData {
                out.left(dname, 16)
                out.s(" ")
                out.left(pe, 18)
                out.s(" ")
                out.s(data)
            } else {
                out.b(dname)
            }
            out.newline()
        }
        return out.bytes
    }

    /// `list_timeout` (`ipvsadm -L --timeout`).
    public static func timeouts(_ t: IPVSTimeouts) -> String {
        "Timeout (tcp tcpfin udp): \(Int32(bitPattern: t.tcp)) \(Int32(bitPattern: t.tcpFin)) \(Int32(bitPattern: t.udp))\n"
    }

    /// `list_daemon` (`ipvsadm -L --daemon`): master first, then backup.
    public static func syncDaemons(_ daemons: [SyncDaemonSpec]) -> String {
        var s = ""
        for role in [SyncDaemonSpec.Role.master, .backup] {
            guard let d = daemons.first(where: { $0.role == role }) else { continue }
            s += "\(role.rawValue) sync daemon (mcast=\(d.multicastInterface), syncid=\(d.syncID)"
            if d.maxLength != 0 { s += ", maxlen=\(d.maxLength)" }
            if let g = d.group { s += ", group=\(g)" }
            if d.port != 0 { s += ", port=\(d.port)" }
            if d.ttl != 0 { s += ", ttl=\(d.ttl)" }
            s += ")\n"
        }
        return s
    }
}
