// `--http ADDR:PORT`: where lvsd's HTTP listener binds, parsed and checked (loopback unless allowed).
import LVSCore

/// The HTTP listener's address: `127.0.0.1:9110`, `[::1]:9110`, `0.0.0.0:9110`.
public struct HTTPBindAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    /// lvsd's default, `127.0.0.1:9110` (9110: next to node_exporter's 9100).
    public static let `default` = HTTPBindAddress(address: .v4(IPv4Address(0x7F00_0001)), port: 9110)

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `ADDR:PORT` (IPv6 in brackets); nil for anything else.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let address = IPAddress(String(host)), let port = UInt16(portText), port != 0 else { return nil }
        self.address = address
        self.port = port
    }

    /// True for 127.0.0.0/8 and ::1 (and ::ffff:127.0.0.0/104).
    public var isLoopback: Bool {
        switch address {
        case .v4(let a): return a.value >> 24 == 127
        case .v6(let a):
            if a.high == 0 && a.low == 1 { return true }
            return a.high == 0 && a.low >> 32 == 0xFFFF && (a.low >> 24) & 0xFF == 127
        }
    }

    public var description: String {
        switch address {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }

    /// Checks `--http VALUE` (with `--http-allow-remote` or not): nil for `off`, the address
    /// otherwise; throws the one-line reason it is refused.
    public static func check(_ value: String, allowRemote: Bool) throws(HTTPBindAddressError) -> HTTPBindAddress? {
        if value == "off" { return nil }
        guard let a = HTTPBindAddress(parsing: value) else {
            throw HTTPBindAddressError(
                message: "--http '\(value)': expected ADDR:PORT (127.0.0.1:9110, [::1]:9110) or off")
        }
        if !a.isLoopback && !allowRemote {
            throw HTTPBindAddressError(
                message: "--http \(a): not a loopback address; the status API and metrics are unauthenticated, "
                    + "so binding beyond loopback needs --http-allow-remote (or keep 127.0.0.1 behind a reverse proxy)")
        }
        return a
    }
}

/// Why `--http` was refused.
public struct HTTPBindAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
