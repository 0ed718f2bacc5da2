// Entry points: read, check and load a keepalived.conf (`lvsd -t` and `lvsd -f`).

/// The outcome of reading and checking a configuration.
public struct ConfigCheckResult: Hashable, Sendable {
    /// The typed configuration (whatever could be read, even when there are errors).
    public var configuration: KeepalivedConfiguration
    /// Every problem found, in file order.
    public var diagnostics: [Diagnostic]

    /// keepalived's `-t` exit code for these diagnostics.
    public var exitCode: ConfigTestExitCode { ConfigTestExitCode(diagnostics: diagnostics) }
    /// False when the configuration cannot run (a fatal problem); `lvsd -f` then refuses to start.
    public var canRun: Bool { exitCode != .cannotRun }
    /// The problems that stop the configuration from running.
    public var fatalDiagnostics: [Diagnostic] { diagnostics.filter { $0.severity == .fatal } }
    /// The IPVS table the configuration describes.
    public var ipvs: ConfiguredIPVSTable { configuration.ipvsConfiguration() }
}

/// Why `lvsd -f` refuses a configuration: its fatal problems, each as `file:line: message`.
public struct ConfigLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The configuration cannot run (`-t` would exit 3).
        case cannotRun
    }
    public var code: Code
    /// Every diagnostic of the configuration (the fatal ones first).
    public var diagnostics: [Diagnostic]

    public init(code: Code, diagnostics: [Diagnostic]) {
        self.code = code
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.filter { $0.severity == .fatal }.map(\.description).joined(separator: "\n")
    }
}

/// Reads keepalived.conf files.
///
/// ```
///  ConfigReader (lines) ─▶ ConfigTreeBuilder (keywords, blocks) ─▶ ConfigBuilder (types)
///      ─▶ ConfigValidator (defaults, cascade, drops) ─▶ KeepalivedConfiguration ─▶ IPVS specs
/// ```
public enum KeepalivedConfigLoader {
    /// Reads and checks a configuration file and everything it includes (`lvsd -t FILE`).
    public static func check(
        file path: String, fileSystem: any ConfigFileSystem = LocalConfigFileSystem(),
        options: ConfigReaderOptions = ConfigReaderOptions()
    ) -> ConfigCheckResult {
        let reader = ConfigReader(fileSystem: fileSystem, options: options)
        guard reader.open(mainFile: path) else {
            return ConfigCheckResult(configuration: KeepalivedConfiguration(), diagnostics: reader.diagnostics)
        }
        let nodes = ConfigTreeBuilder(reader: reader).parse()
        var builder = ConfigBuilder()
        var config = builder.build(nodes)
        config.files = reader.filesRead
        var validator = ConfigValidator()
        validator.validateVRRP(&config)
        validator.resolveVirtualServers(builder.parsedVirtualServers, in: &config)
        validator.checkScriptSecurity(config)
        let all = reader.diagnostics + builder.diagnostics + validator.diagnostics
        return ConfigCheckResult(configuration: config, diagnostics: order(all, files: reader.filesRead))
    }

    /// Reads and checks configuration text held in memory, as if it were the file `name`.
    public static func check(
        text: String, name: String = "keepalived.conf", options: ConfigReaderOptions = ConfigReaderOptions()
    ) -> ConfigCheckResult {
        check(file: name, fileSystem: InMemoryConfigFileSystem([name: text]), options: options)
    }

    /// The logical lines of a configuration as the parser sees them (after comments,
    /// continuation, includes, `@id`, parameters, `~SEQ`/`~LST` and brace splitting), with the
    /// reader's diagnostics. Useful to see what a tricky configuration turns into.
    public static func readLines(
        file path: String, fileSystem: any ConfigFileSystem = LocalConfigFileSystem(),
        options: ConfigReaderOptions = ConfigReaderOptions()
    ) -> (lines: [ConfigLine], diagnostics: [Diagnostic]) {
        let reader = ConfigReader(fileSystem: fileSystem, options: options)
        guard reader.open(mainFile: path) else { return ([], reader.diagnostics) }
        var lines: [ConfigLine] = []
        while let line = reader.next() { lines.append(line) }
        return (lines, reader.diagnostics)
    }

    /// Loads a configuration for running (`lvsd -f FILE`): throws, with every problem, when it
    /// cannot run; otherwise returns it with its (non-fatal) diagnostics.
    public static func load(
        file path: String, fileSystem: any ConfigFileSystem = LocalConfigFileSystem(),
        options: ConfigReaderOptions = ConfigReaderOptions()
    ) throws(ConfigLoadError) -> ConfigCheckResult {
        let result = check(file: path, fileSystem: fileSystem, options: options)
        guard result.canRun else {
            throw ConfigLoadError(
                code: .cannotRun,
                diagnostics: result.fatalDiagnostics + result.diagnostics.filter { $0.severity != .fatal })
        }
        return result
    }

    /// Orders diagnostics by file (in the order files were read) and line, keeping the order
    /// they were found in for the same line.
    private static func order(_ diagnostics: [Diagnostic], files: [String]) -> [Diagnostic] {
        let rank = Dictionary(files.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return diagnostics.enumerated().sorted { x, y in
            let fx = rank[x.element.file] ?? -1
            let fy = rank[y.element.file] ?? -1
            if fx != fy { return fx < fy }
            if x.element.line != y.element.line { return x.element.line < y.element.line }
            return x.offset < y.offset
        }.map(\.element)
    }
}
