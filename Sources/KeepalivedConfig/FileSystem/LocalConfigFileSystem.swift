// The real file system behind the config reader: glob(3), stat(2) and read(2) through Glibc.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads configuration files from the local disk. Relative paths resolve against the process's
/// working directory (the reader makes include paths absolute against the including file).
public struct LocalConfigFileSystem: ConfigFileSystem {
    public init() {}

    public func expandWildcards(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        var paths: [String] = []
        for i in 0..<Int(result.gl_pathc) {
            if let p = result.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return paths.sorted()
    }

    public func kind(of path: String) -> ConfigFileKind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regularFile(executable: st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH) != 0)
        default: return .other
        }
    }

    public func contents(of path: String) throws(ConfigFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw Self.error(errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.error(errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    /// The short host name (up to the first `.`), keepalived's default config-id (`-i`).
    public static func shortHostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, 255) == 0 else { return "" }
        let full = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(full.split(separator: ".", maxSplits: 1).first ?? "")
    }

    private static func error(_ code: Int32) -> ConfigFileError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT, ENOTDIR: return ConfigFileError(.notFound, reason)
        case EACCES, EPERM: return ConfigFileError(.permissionDenied, reason)
        case EISDIR: return ConfigFileError(.notAFile, reason)
        default: return ConfigFileError(.ioError, reason)
        }
    }
}
