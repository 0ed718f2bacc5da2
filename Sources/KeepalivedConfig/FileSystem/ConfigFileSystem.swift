// The file-access seam of the config reader: a protocol, and an in-memory fake for tests.
import LVSCore

/// What a path names, as far as the config reader cares.
public enum ConfigFileKind: Hashable, Sendable {
    /// A regular file; `executable` when any execute bit is set (keepalived skips those).
    case regularFile(executable: Bool)
    /// A directory (matched by a glob, never read).
    case directory
    /// Anything else (device, socket, ...).
    case other
}

/// The kinds of failure of a file read.
public enum ConfigFileErrorCode: String, Hashable, Sendable {
    case notFound
    case permissionDenied
    case notAFile
    case ioError
}

/// Why a file could not be read; `message` is the system's wording of the error (e.g.
/// `No such file or directory`).
public typealias ConfigFileError = CodedError<ConfigFileErrorCode>

/// The reader's only window onto files. `LocalConfigFileSystem` reads the real disk;
/// `InMemoryConfigFileSystem` holds files in a dictionary for tests.
public protocol ConfigFileSystem: Sendable {
    /// Expands a pattern with `*`, `?` and `[...]` wildcards (no braces: the reader expands
    /// csh `{a,b}` itself) into the existing paths it matches, sorted. A pattern without
    /// wildcards yields itself if it exists, else nothing.
    func expandWildcards(_ pattern: String) -> [String]
    /// What `path` is, or nil if it does not exist.
    func kind(of path: String) -> ConfigFileKind?
    /// The bytes of a file.
    func contents(of path: String) throws(ConfigFileError) -> [UInt8]
}

/// A file system held in memory: a map from absolute (or cwd-relative) paths to contents.
/// Directories exist implicitly as the parents of files.
public struct InMemoryConfigFileSystem: ConfigFileSystem {
    /// File contents by path.
    public var files: [String: [UInt8]]
    /// Paths whose execute bit is set.
    public var executables: Set<String>

    /// Creates a file system from text files.
    public init(_ files: [String: String] = [:], executables: Set<String> = []) {
        self.files = files.mapValues { Array($0.utf8) }
        self.executables = executables
    }

    /// Adds or replaces a text file.
    public mutating func write(_ path: String, _ text: String) {
        files[Self.normalise(path)] = Array(text.utf8)
    }

    private var directories: Set<String> {
        var dirs: Set<String> = []
        for path in files.keys {
            var parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            while !parts.isEmpty {
                let d = parts.joined(separator: "/")
                if !d.isEmpty { dirs.insert(d) }
                parts = parts.dropLast()
            }
        }
        return dirs
    }

    public func kind(of path: String) -> ConfigFileKind? {
        let p = Self.normalise(path)
        if files[p] != nil { return .regularFile(executable: executables.contains(p)) }
        return directories.contains(p) ? .directory : nil
    }

    public func contents(of path: String) throws(ConfigFileError) -> [UInt8] {
        let p = Self.normalise(path)
        if let bytes = files[p] { return bytes }
        if directories.contains(p) { throw ConfigFileError(.notAFile, "Is a directory") }
        throw ConfigFileError(.notFound, "No such file or directory")
    }

    public func expandWildcards(_ pattern: String) -> [String] {
        let normalised = Self.normalise(pattern)
        let wanted = normalised.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var matches: [String] = []
        for candidate in Set(files.keys).union(directories) {
            let parts = candidate.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == wanted.count else { continue }
            if zip(wanted, parts).allSatisfy({ GlobPattern.matches(segment: $1, pattern: $0) }) {
                matches.append(candidate)
            }
        }
        return matches.sorted()
    }

    /// Resolves `.` and `..` segments and doubled slashes so that joined paths compare equal.
    static func normalise(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var out: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = out.last, last != ".." {
                out.removeLast()
                continue
            }
            if part == ".." && absolute { continue }
            out.append(part)
        }
        let joined = out.joined(separator: "/")
        return absolute ? "/" + joined : joined
    }
}
