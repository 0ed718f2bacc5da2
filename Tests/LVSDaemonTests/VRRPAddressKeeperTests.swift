// The keeper of VRRP addresses: what it deletes when lvsd goes (a fake `ip` records the commands).
import Foundation
import LVSCore
import LVSDaemon
import LVSVRRP
import Testing

/// A VIP installer that records (and can refuse) what it is asked.
final class RecordingVIPInstaller: VIPInstaller, @unchecked Sendable {
    let lock = NSLock()
    var calls: [String] = []
    var refuse = false

    func add(_ address: VirtualIPAddress, interface: String) throws(VRRPError) {
        lock.withLock { calls.append("add \(address.address)") }
        if refuse { throw VRRPError(.netlink, "refused") }
    }

    func remove(_ address: VirtualIPAddress, interface: String) throws(VRRPError) {
        lock.withLock { calls.append("remove \(address.address)") }
    }
}

@Suite struct VRRPAddressKeeperTests {
    /// A keeper whose `ip` is a script appending its arguments to a file.
    func keeper() throws -> (VRRPAddressKeeper, String) {
        let dir = NSTemporaryDirectory() + "lvs-keeper-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fake = dir + "/ip"
        try "#!/bin/sh\necho \"$@\" >> \(dir)/calls\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let (k, problem) = VRRPAddressKeeper.start(ip: fake)
        return (try #require(k, "\(problem ?? "")"), dir + "/calls")
    }

    func vip(_ s: String, _ prefix: Int, dev: String? = nil) -> VirtualIPAddress {
        VirtualIPAddress(IPAddress(s)!, prefixLength: prefix, device: dev)
    }

    @Test("when lvsd goes, the keeper deletes the addresses VRRP still holds (those removed meanwhile stay removed)")
    func deletesWhatIsHeld() throws {
        let (k, calls) = try keeper()
        let installer = KeptVIPInstaller(RecordingVIPInstaller(), keeper: k)
        try installer.add(vip("10.9.0.101", 24), interface: "eth0")
        try installer.add(vip("10.9.0.102", 24, dev: "eth1"), interface: "eth0")
        try installer.add(vip("2001:db8::1", 64), interface: "eth0")
        try installer.remove(vip("10.9.0.101", 24), interface: "eth0")
        // Added twice (a reload), removed once: gone.
        try installer.add(vip("10.9.0.103", 32), interface: "eth0")
        try installer.add(vip("10.9.0.103", 32), interface: "eth0")
        try installer.remove(vip("10.9.0.103", 32), interface: "eth0")
        k.release()  // as lvsd's exit closes the pipe
        let text = try String(contentsOfFile: calls, encoding: .utf8)
        #expect(text == "addr del 10.9.0.102/24 dev eth1\naddr del 2001:db8::1/64 dev eth0\n")
    }

    @Test("an address the installer could not add is not the keeper's to delete; nothing held, nothing deleted")
    func refusedAddressIsForgotten() throws {
        let (k, calls) = try keeper()
        let inner = RecordingVIPInstaller()
        inner.refuse = true
        let installer = KeptVIPInstaller(inner, keeper: k)
        #expect(throws: VRRPError.self) { try installer.add(self.vip("10.9.0.101", 24), interface: "eth0") }
        k.release()
        #expect(!FileManager.default.fileExists(atPath: calls))
        #expect(inner.calls == ["add 10.9.0.101"])
    }
}
