// The libc conversions ipvsadm relies on, checked against glibc's documented behaviour.
import IPVSAdmKit
import Testing

@Suite("libc text conversions")
struct CTextTests {
    func aton(_ s: String) -> UInt32? { CText.inetAton(Array(s.utf8)) }

    @Test("glibc inet_aton: 1–4 parts, decimal/octal/hex, last part fills the rest, trailing blank ends it")
    func inetAton() {
        #expect(aton("192.168.0.1") == 0xC0A8_0001)
        #expect(aton("10.1") == 0x0A00_0001)
        #expect(aton("10.1.2") == 0x0A01_0002)
        #expect(aton("167772161") == 0x0A00_0001)
        #expect(aton("0x7f.1") == 0x7F00_0001)
        #expect(aton("010.0.0.1") == 0x0800_0001)
        #expect(aton("1.2.3.4 trailing") == 0x0102_0304)
        #expect(aton("1.2.3.4x") == nil)
        #expect(aton("08.1.1.1") == nil)
        #expect(aton("1.2.3.256") == nil)
        #expect(aton("256.1.1") == nil)
        #expect(aton("1.2.65536") == nil)
        #expect(aton("1.2.3.4.5") == nil)
        #expect(aton("0x") == nil)
        #expect(aton("") == nil)
        #expect(aton(".1") == nil)
        #expect(aton("4294967296") == nil)
    }

    @Test("string_to_number: strtol base 10, whole string, range checked")
    func numbers() {
        func n(_ s: String) -> Int64? { CText.number(Array(s.utf8), min: 0, max: 65535) }
        #expect(n("80") == 80)
        #expect(n(" 80") == 80)
        #expect(n("+80") == 80)
        #expect(n("-0") == 0)
        #expect(n("80 ") == nil)
        #expect(n("") == nil)
        #expect(n("65536") == nil)
        #expect(n("0x50") == nil)
        #expect(n("99999999999999999999999") == nil)
    }
}
