// Address parsing and printing match inet_pton / inet_ntop.
import LVSCore
import Testing

@Suite struct AddressTests {
    @Test("inet_pton(AF_INET) accepts only four decimal octets")
    func ipv4Parsing() {
        #expect(IPv4Address("10.0.0.1")?.value == 0x0A00_0001)
        #expect(IPv4Address("255.255.255.255")?.value == 0xFFFF_FFFF)
        #expect(IPv4Address("0.0.0.0")?.value == 0)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3."] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
        #expect(IPv4Address(192, 168, 0, 1).description == "192.168.0.1")
    }

    @Test("inet_ntop(AF_INET6) compresses the longest zero run, first on ties, never a single group")
    func ipv6Printing() {
        let cases: [(String, String)] = [
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
            ("fe80::1:2", "fe80::1:2"),
            ("ff02::12", "ff02::12"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::0.0.0.2", "::2"),
        ]
        for (input, printed) in cases {
            #expect(IPv6Address(input)?.description == printed, "\(input)")
        }
        for bad in ["", ":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:", "::1.2.3"] {
            #expect(IPv6Address(bad) == nil, "\(bad)")
        }
    }

    @Test("ipvsadm prints IPv6 endpoints as [addr]:port")
    func endpoints() {
        #expect(Endpoint(IPAddress("2001:db8::1")!, 80).description == "[2001:db8::1]:80")
        #expect(Endpoint(IPAddress("10.0.0.1")!, 80).description == "10.0.0.1:80")
    }

    @Test("the schedulers' IPv6 fold XORs the four words (ip_vs_sh_hashkey)")
    func fold() {
        let a = IPAddress("1:2:3:4:5:6:7:8")!
        #expect(a.folded32 == (0x0001_0002 ^ 0x0003_0004 ^ 0x0005_0006 ^ 0x0007_0008))
    }
}
