// Lab: VIPs added and removed through our own rtnetlink messages, and GARP / NA reaching a neighbour.
import Foundation
import LVSCore
import LVSTestSupport
import LVSVRRPLinux
import Testing

@Suite("VRRP lab: VIPInstaller (rtnetlink) and GARPSender (AF_PACKET)")
struct AddressAndGARPLabTests {
    @Test(
        "RTM_NEWADDR/RTM_DELADDR: VIP with /prefix, brd, scope and label appears in `ip addr` and goes away",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func addRemoveVIP() throws {
        let lab = try LabPair()
        defer { lab.destroy() }
        let am = try inNamespace(lab.a) { try NetlinkVIPInstaller() }
        let vip = VirtualIPAddress(
            IPAddress(lab.vip)!, prefixLength: 24, label: "va:vip", broadcast: IPv4Address("\(lab.prefix).255")!,
            scope: .global)
        try am.add(vip, interface: "va")
        try am.add(vip, interface: "va")  // already present: not an error
        let shown = sh("ip -n \(lab.a) -4 addr show dev va").output
        #expect(shown.contains("inet \(lab.vip)/24 brd \(lab.prefix).255 scope global secondary va:vip"), "\(shown)")
        let host = VirtualIPAddress(IPAddress("\(lab.prefix).101")!, scope: .host)
        try am.add(host, interface: "va")
        #expect(sh("ip -n \(lab.a) -4 addr show dev va").output.contains("inet \(lab.prefix).101/32 scope host va"))
        let v6 = VirtualIPAddress(IPAddress("2001:db8:\(lab.net)::100")!, prefixLength: 64)
        try am.add(v6, interface: "va")
        #expect(
            sh("ip -n \(lab.a) -6 addr show dev va").output.contains("inet6 2001:db8:\(lab.net)::100/64 scope global"))
        try am.remove(vip, interface: "va")
        try am.remove(vip, interface: "va")  // already absent: not an error
        try am.remove(host, interface: "va")
        try am.remove(v6, interface: "va")
        let after = sh("ip -n \(lab.a) addr show dev va").output
        #expect(
            !after.contains(lab.vip) && !after.contains("\(lab.prefix).101") && !after.contains("::100"), "\(after)")
        #expect(throws: VRRPError.self) { try am.add(vip, interface: "nosuchif0") }
    }

    @Test(
        "keepalived vrrp_arp.c: a gratuitous ARP updates the neighbour's stale entry for the VIP to our MAC",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func garpReachesNeighbour() async throws {
        let lab = try LabPair()
        defer { lab.destroy() }
        sh("ip netns exec \(lab.b) sysctl -qw net.ipv4.neigh.vb.locktime=0")
        sh("ip -n \(lab.b) neigh replace \(lab.vip) lladdr 02:00:00:00:99:99 dev vb nud stale")
        #expect(sh("ip -n \(lab.b) neigh show \(lab.vip)").output.contains("02:00:00:00:99:99"))
        let garp = try inNamespace(lab.a) { try LinuxGARPSender() }
        try garp.announce(VirtualIPAddress(IPAddress(lab.vip)!), interface: "va", count: 2)
        let updated = await waitUntil(seconds: 3) {
            sh("ip -n \(lab.b) neigh show \(lab.vip)").output.contains("02:00:00:aa:00:01")
        }
        #expect(updated, "\(sh("ip -n \(lab.b) neigh show").output)")
    }

    @Test(
        "RFC 4861 §7.2.6: an unsolicited NA with the Override flag updates the neighbour's entry to our MAC",
        .enabled(if: labSkipReason == nil, Comment(rawValue: labSkipReason ?? "")))
    func naReachesNeighbour() async throws {
        let lab = try LabPair()
        defer { lab.destroy() }
        let vip6 = "2001:db8:\(lab.net)::100"
        sh("ip -n \(lab.b) addr add 2001:db8:\(lab.net)::2/64 dev vb")
        sh("ip -n \(lab.b) -6 neigh replace \(vip6) lladdr 02:00:00:00:99:99 dev vb nud stale")
        // Wait for va's link-local address, which the NA is sent from.
        _ = await waitUntil(seconds: 3) { sh("ip -n \(lab.a) -6 addr show dev va").output.contains("fe80::") }
        let garp = try inNamespace(lab.a) { try LinuxGARPSender() }
        try garp.announce(VirtualIPAddress(IPAddress(vip6)!), interface: "va", count: 2)
        let updated = await waitUntil(seconds: 3) {
            sh("ip -n \(lab.b) -6 neigh show \(vip6)").output.contains("02:00:00:aa:00:01")
        }
        #expect(updated, "\(sh("ip -n \(lab.b) -6 neigh show").output)")
    }
}
