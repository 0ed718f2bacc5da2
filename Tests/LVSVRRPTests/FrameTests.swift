// Gratuitous ARP and unsolicited neighbour advertisement frames as VRRP sends them (LVSPacket's builders), byte for byte.
import LVSCore
import LVSPacket
import LVSVRRP
import Testing

@Suite("GARP and unsolicited NA frames")
struct FrameTests {
    let mac = MACAddress("02:00:00:aa:00:01")!

    @Test("keepalived vrrp_arp.c: ARP request, sender = target = VIP, tha ff:ff:ff:ff:ff:ff, broadcast, 42 bytes")
    func garp() {
        let f = NeighborFrames.frame {
            NeighborFrames.gratuitousARP(address: IPv4Address("192.168.0.240")!, mac: mac, into: $0)
        }
        #expect(
            f
                == hex(
                    "ffffffffffff020000aa00010806" + "0001080006040001" + "020000aa0001c0a800f0"
                        + "ffffffffffffc0a800f0"))
    }

    @Test(
        "RFC 4861 §7.2.6 / keepalived vrrp_ndisc.c: NA to ff02::1, hop limit 255, Override flag, target link-layer option"
    )
    func na() {
        let f = na(router: false)
        #expect(f.count == 86)
        #expect(Array(f[0..<14]) == hex("333300000001020000aa000186dd"))
        #expect(f[14] == 0x60 && f[18] == 0 && f[19] == 32 && f[20] == 58 && f[21] == 255)
        #expect(Array(f[38..<54]) == IPv6Address("ff02::1")!.bytes)
        let icmp = Array(f[54...])
        #expect(icmp[0] == 136 && icmp[4] == 0x20)
        #expect(icmp[2] == 0x26 && icmp[3] == 0xBA)
        // Independent check: pseudo-header + message sums to zero.
        let pseudo = IPv6Address("fe80::1")!.bytes + IPv6Address("ff02::1")!.bytes + [0, 0, 0, 32, 0, 0, 0, 58]
        #expect(referenceChecksum(pseudo + icmp) == 0)
        #expect(Array(icmp[24...]) == [2, 1] + hex("020000aa0001"))
        let r = na(router: true)
        #expect(r[54 + 4] == 0xA0)
        #expect(referenceChecksum(pseudo + Array(r[54...])) == 0)
    }

    /// VRRP's NA: from the interface's link-local address, not the VIP.
    func na(router: Bool) -> [UInt8] {
        NeighborFrames.frame {
            NeighborFrames.unsolicitedNeighborAdvertisement(
                address: IPv6Address("2001:db8::100")!, mac: mac, router: router, source: IPv6Address("fe80::1")!,
                into: $0)
        }
    }

    @Test("MAC parsing and the VRRP virtual MAC 00-00-5E-00-01-VRID")
    func macs() {
        #expect(mac.description == "02:00:00:aa:00:01")
        #expect(MACAddress("zz:00:00:00:00:00") == nil)
        #expect(MACAddress.virtualRouter(vrid: 51, family: .inet).description == "00:00:5e:00:01:33")
        #expect(MACAddress.virtualRouter(vrid: 51, family: .inet6).description == "00:00:5e:00:02:33")
    }
}
