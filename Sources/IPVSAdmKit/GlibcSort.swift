// The order ipvsadm's qsort gives: glibc's merge sort with ipvsadm's wrapping comparators.
import LVSCore

/// glibc's `qsort` is a top-down merge sort (`msort_with_tmp`: split at n/2, merge taking the
/// left element while `cmp(left, right) <= 0`). ipvsadm's comparators subtract unsigned 32-bit
/// values into an `int`, so addresses more than 2³¹ apart compare "backwards" (10.0.0.1 sorts
/// after 192.168.0.1). Reproducing both gives the same screen order as ipvsadm on glibc.
public enum GlibcSort {
    /// Sorts `a` in place with glibc's merge sort and a C-style comparator.
    public static func mergeSort<T>(_ a: inout [T], by cmp: (T, T) -> Int32) {
        guard a.count > 1 else { return }
        var tmp = a
        sort(&a, &tmp, 0, a.count, cmp)
    }

    static func sort<T>(_ a: inout [T], _ tmp: inout [T], _ lo: Int, _ n: Int, _ cmp: (T, T) -> Int32) {
        if n <= 1 { return }
        let n1 = n / 2
        let n2 = n - n1
        sort(&a, &tmp, lo, n1, cmp)
        sort(&a, &tmp, lo + n1, n2, cmp)
        var i = lo
        var j = lo + n1
        let iEnd = lo + n1
        let jEnd = lo + n
        var k = lo
        while i < iEnd && j < jEnd {
            if cmp(a[i], a[j]) <= 0 {
                tmp[k] = a[i]
                i += 1
            } else {
                tmp[k] = a[j]
                j += 1
            }
            k += 1
        }
        while i < iEnd {
            tmp[k] = a[i]
            i += 1
            k += 1
        }
        // Elements left in the right half are already in place.
        for m in lo..<k { a[m] = tmp[m] }
    }

    /// The four 32-bit words of an address as `union nf_inet_addr` holds it (IPv4 in word 0).
    static func words(_ a: IPAddress) -> (UInt32, UInt32, UInt32, UInt32) {
        switch a {
        case .v4(let v): return (v.value, 0, 0, 0)
        case .v6(let v): return v.words
        }
    }

    @inline(__always) static func diff(_ a: UInt32, _ b: UInt32) -> Int32 { Int32(bitPattern: a &- b) }

    /// `ipvs_cmp_services`: fwmark, family, protocol, address, port, each as a wrapping difference.
    public static func compareServices(_ s1: VirtualServiceEntry, _ s2: VirtualServiceEntry) -> Int32 {
        let k1 = s1.spec.key
        let k2 = s2.spec.key
        var r = diff(k1.firewallMark, k2.firewallMark)
        if r != 0 { return r }
        r = Int32(k1.family.rawValue) - Int32(k2.family.rawValue)
        if r != 0 { return r }
        r = Int32(protocolNumber(k1)) - Int32(protocolNumber(k2))
        if r != 0 { return r }
        let a1 = address(k1)
        let a2 = address(k2)
        if k1.family == .inet6 {
            let w1 = words(a1)
            let w2 = words(a2)
            r = diff(w1.0, w2.0)
            if r == 0 { r = diff(w1.1, w2.1) }
            if r == 0 { r = diff(w1.2, w2.2) }
            if r == 0 { r = diff(w1.3, w2.3) }
        } else {
            r = diff(words(a1).0, words(a2).0)
        }
        if r != 0 { return r }
        return Int32(k1.port) - Int32(k2.port)
    }

    /// `ipvs_cmp_dests`: address (by the first server's family) then port.
    public static func compareRealServers(_ d1: RealServerEntry, _ d2: RealServerEntry) -> Int32 {
        let w1 = words(d1.spec.endpoint.address)
        let w2 = words(d2.spec.endpoint.address)
        var r: Int32
        if d1.spec.endpoint.address.family == .inet6 {
            r = diff(w1.0, w2.0)
            if r == 0 { r = diff(w1.1, w2.1) }
            if r == 0 { r = diff(w1.2, w2.2) }
            if r == 0 { r = diff(w1.3, w2.3) }
        } else {
            r = diff(w1.0, w2.0)
        }
        if r != 0 { return r }
        return Int32(d1.spec.endpoint.port) - Int32(d2.spec.endpoint.port)
    }

    /// The protocol number the kernel reports for a service (0 for fwmark services).
    static func protocolNumber(_ k: ServiceKey) -> UInt8 {
        if case .endpoint(let p, _) = k { return p.rawValue }
        return 0
    }

    static func address(_ k: ServiceKey) -> IPAddress {
        if case .endpoint(_, let e) = k { return e.address }
        return .any(k.family)
    }
}
