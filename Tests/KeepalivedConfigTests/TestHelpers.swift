// Small helpers shared by the KeepalivedConfig tests.
import KeepalivedConfig

/// Reads `text` as `keepalived.conf` and returns the words of each logical line.
func words(_ text: String, configID: String? = nil, environment: [String: String] = [:]) -> [[String]] {
    readLines(text, configID: configID, environment: environment).lines.map(\.words)
}

/// Reads `text` as `keepalived.conf` and returns its logical lines and the reader's diagnostics.
func readLines(_ text: String, configID: String? = nil, environment: [String: String] = [:])
    -> (lines: [ConfigLine], diagnostics: [Diagnostic])
{
    KeepalivedConfigLoader.readLines(
        file: "keepalived.conf", fileSystem: InMemoryConfigFileSystem(["keepalived.conf": text]),
        options: ConfigReaderOptions(configID: configID, environment: environment))
}

/// Checks `text` as `keepalived.conf`.
func check(_ text: String, configID: String? = nil) -> ConfigCheckResult {
    KeepalivedConfigLoader.check(text: text, options: ConfigReaderOptions(configID: configID))
}

/// The diagnostics of a result, as `file:line: message` strings.
func messages(_ result: ConfigCheckResult, atLeast severity: DiagnosticSeverity = .note) -> [String] {
    result.diagnostics.filter { $0.severity >= severity }.map(\.description)
}

/// A minimal virtual server wrapped around `body`, for LVS tests.
func virtualServer(_ body: String, header: String = "10.0.0.1 80") -> String {
    "virtual_server \(header) {\n\(body)\n}\n"
}
