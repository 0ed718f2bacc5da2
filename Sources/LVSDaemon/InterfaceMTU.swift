// Interface MTUs from the kernel (SIOCGIFMTU), for the sync daemon's message size and ENODEV.
import Glibc

/// Reads network interfaces' MTUs in the calling process's network namespace.
public enum InterfaceMTU {
    /// The MTU of interface `name`, or nil when there is no such interface.
    public static func of(_ name: String) -> Int? {
        guard !name.isEmpty, name.utf8.count < Int(IFNAMSIZ), if_nametoindex(name) != 0 else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { buf in
            for (i, b) in name.utf8.enumerated() { buf[i] = b }
        }
        guard ioctl(fd, UInt(SIOCGIFMTU), &request) == 0 else { return nil }
        return Int(request.ifr_ifru.ifru_mtu)
    }
}
