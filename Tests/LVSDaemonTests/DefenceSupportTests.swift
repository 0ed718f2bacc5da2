// /proc/meminfo's MemAvailable for the defences (amemthresh), read by the packet worker without allocating.
import LVSDaemon
import Testing

@Suite("Defence support: MemAvailable")
struct DefenceSupportTests {
    static func pages(_ text: String) -> Int? {
        Array(text.utf8).withUnsafeBufferPointer { DefenceSupport.memAvailablePages(in: $0) }
    }

    @Test("MemAvailable in kB becomes 4 KiB pages (K:ip_vs_ctl.c update_defense_level: si_mem_available)")
    func parses() {
        let meminfo = """
            MemTotal:       24594836 kB
            MemFree:        16093424 kB
            MemAvailable:   21354044 kB
            Buffers:          412876 kB

            """
        #expect(Self.pages(meminfo) == 21_354_044 / 4)
    }

    @Test("the last line without a newline, and a key only at a line's start")
    func edges() {
        #expect(Self.pages("MemTotal: 8 kB\nMemAvailable: 4096 kB") == 1024)
        #expect(Self.pages("XMemAvailable: 4096 kB\n") == nil)
        #expect(Self.pages("MemAvailable:\n") == nil)
        #expect(Self.pages("MemAvail") == nil)
        #expect(Self.pages("") == nil)
    }

    @Test("this machine's /proc/meminfo gives a positive figure")
    func live() {
        #expect((DefenceSupport.availablePages() ?? 0) > 0)
    }
}
