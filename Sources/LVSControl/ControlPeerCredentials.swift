// Who is at the other end of a control socket: SO_PEERCRED, and CAP_NET_ADMIN from /proc/PID/status
// (with SO_PEERPIDFD to make sure the pid still names the peer when the status was read).
#if canImport(Glibc)
    import Glibc

    /// The credentials of a connected Unix socket's peer.
    public struct ControlPeerCredentials: Hashable, Sendable {
        public var pid: Int32
        public var uid: UInt32
        public var gid: UInt32

        /// `CAP_NET_ADMIN`'s bit number (linux/capability.h).
        public static let capNetAdmin = 12

        /// `SO_PEERCRED` of a connected Unix socket (the peer's credentials at connect/listen time).
        public static func of(_ fd: Int32) -> ControlPeerCredentials? {
            struct UCred {
                var pid: Int32 = 0
                var uid: UInt32 = 0
                var gid: UInt32 = 0
            }
            var cred = UCred()
            var len = socklen_t(MemoryLayout<UCred>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else { return nil }
            return ControlPeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid)
        }

        /// The effective capability set from the text of `/proc/PID/status` (`CapEff:` in hex), or
        /// nil when the line is missing or malformed.
        public static func effectiveCapabilities(statusText: String) -> UInt64? {
            for line in statusText.split(separator: "\n") where line.hasPrefix("CapEff:") {
                let hex = line.dropFirst("CapEff:".count).trimmingCharacters
                guard !hex.isEmpty, hex.count <= 16 else { return nil }
                return UInt64(hex, radix: 16)
            }
            return nil
        }

        /// True when the peer process holds CAP_NET_ADMIN in its effective set, as the kernel asks of a
        /// netlink sender before it changes IPVS (`GENL_ADMIN_PERM`). The peer's pidfd
        /// (`SO_PEERPIDFD`) is checked after the status was read, so a pid reused by another process
        /// in between is not mistaken for the peer. False when anything cannot be read.
        public static func peerHasNetAdmin(_ fd: Int32, pid: Int32) -> Bool {
            let pidfd = peerPIDFD(fd)
            defer { if pidfd >= 0 { close(pidfd) } }
            guard let status = readSmallFile("/proc/\(pid)/status"),
                let caps = effectiveCapabilities(statusText: status)
            else { return false }
            if pidfd >= 0 {
                // The pidfd names the peer for good: its fdinfo says which pid it is now (-1 once gone).
                guard let info = readSmallFile("/proc/self/fdinfo/\(pidfd)") else { return false }
                let pidLine = info.split(separator: "\n").first { $0.hasPrefix("Pid:") }
                guard let pidLine, Int32(pidLine.dropFirst(4).trimmingCharacters) == pid else { return false }
            }
            return caps & (1 << UInt64(capNetAdmin)) != 0
        }

        /// `SO_PEERPIDFD` (Linux 6.5+), or -1.
        static func peerPIDFD(_ fd: Int32) -> Int32 {
            var pidfd: Int32 = -1
            var len = socklen_t(MemoryLayout<Int32>.size)
            let soPeerPIDFD: Int32 = 77
            guard getsockopt(fd, SOL_SOCKET, soPeerPIDFD, &pidfd, &len) == 0 else { return -1 }
            return pidfd
        }

        /// A /proc file's text (at most 64 KiB), or nil.
        static func readSmallFile(_ path: String) -> String? {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while bytes.count < 65_536 {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 4096) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    extension Substring {
        fileprivate var trimmingCharacters: Substring {
            var s = self
            while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
            while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
            return s
        }
    }
#endif
