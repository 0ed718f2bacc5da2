// Prometheus text exposition (format 0.0.4) written straight into bytes, fast enough for 10^5 series.
import LVSCore

/// Appends Prometheus text-format lines to a byte buffer. Families are written one after the
/// other: `family(…)` writes the `# HELP` and `# TYPE` lines, then `sample(…)` lines follow.
///
/// ```
///  # HELP node_ipvs_backend_weight The current backend weight by local and remote address.
///  # TYPE node_ipvs_backend_weight gauge
///  node_ipvs_backend_weight{local_address="10.0.0.1",…,remote_port="80"} 1
/// ```
/// Label values are escaped as the format requires (`\\`, `\"`, `\n`). Integers are written
/// without going through `String`: a scrape of 10,000 services × 10 real servers writes about
/// a million lines.
public struct PrometheusWriter: Sendable {
    public internal(set) var bytes: [UInt8]

    public init(capacity: Int = 1 << 16) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Metric types.
    public enum Kind: String, Sendable {
        case counter, gauge, untyped
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    public mutating func family(_ name: StaticString, _ kind: Kind, help: StaticString) {
        append("# HELP ")
        append(name)
        bytes.append(0x20)
        append(help)
        append("\n# TYPE ")
        append(name)
        bytes.append(0x20)
        append(kind.rawValue)
        bytes.append(0x0A)
    }

    /// Starts a family whose name or help is built at run time (providers added later).
    public mutating func family(name: String, _ kind: Kind, help: String) {
        append("# HELP ")
        append(name)
        bytes.append(0x20)
        appendHelp(help)
        append("\n# TYPE ")
        append(name)
        bytes.append(0x20)
        append(kind.rawValue)
        bytes.append(0x0A)
    }

    // MARK: - Samples

    /// `name{labels} value` with an integer value. `labels` writes the inside of the braces
    /// (nothing writes no braces).
    public mutating func sample(
        _ name: StaticString, value: UInt64, labels: (inout PrometheusWriter) -> Void
    ) {
        append(name)
        openLabels(labels)
        bytes.append(0x20)
        append(value)
        bytes.append(0x0A)
    }

    /// `name{labels} value` with a floating-point value.
    public mutating func sample(_ name: StaticString, float value: Double, labels: (inout PrometheusWriter) -> Void) {
        append(name)
        openLabels(labels)
        bytes.append(0x20)
        append(value)
        bytes.append(0x0A)
    }

    /// A sample of a family named at run time.
    public mutating func sample(name: String, value: Double, labels: [(String, String)] = []) {
        append(name)
        if !labels.isEmpty {
            bytes.append(0x7B)
            for (i, (k, v)) in labels.enumerated() {
                if i > 0 { bytes.append(0x2C) }
                append(k)
                append("=\"")
                appendEscaped(v)
                bytes.append(0x22)
            }
            bytes.append(0x7D)
        }
        bytes.append(0x20)
        append(value)
        bytes.append(0x0A)
    }

    mutating func openLabels(_ labels: (inout PrometheusWriter) -> Void) {
        let before = bytes.count
        bytes.append(0x7B)
        let inside = bytes.count
        labels(&self)
        if bytes.count == inside {
            bytes.removeLast(bytes.count - before)
        } else {
            bytes.append(0x7D)
        }
    }

    // MARK: - Labels (inside the braces)

    /// `name="value"`, preceded by a comma unless it is the first label.
    public mutating func label(_ name: StaticString, _ value: String) {
        labelStart(name)
        appendEscaped(value)
        bytes.append(0x22)
    }

    /// `name="123"`.
    public mutating func label(_ name: StaticString, _ value: UInt64) {
        labelStart(name)
        append(value)
        bytes.append(0x22)
    }

    /// `name="10.0.0.1"` (inet_ntop's text; empty for nil).
    public mutating func label(_ name: StaticString, _ address: IPAddress?) {
        labelStart(name)
        switch address {
        case .v4(let a)?: append(a)
        case .v6(let a)?: append(a.description)
        case nil: break
        }
        bytes.append(0x22)
    }

    /// Writes the bytes of another writer's labels (a label block prepared once, used in several
    /// families).
    public mutating func labels(_ block: ArraySlice<UInt8>) {
        if let last = bytes.last, last != 0x7B, !block.isEmpty { bytes.append(0x2C) }
        bytes.append(contentsOf: block)
    }

    mutating func labelStart(_ name: StaticString) {
        if let last = bytes.last, last != 0x7B { bytes.append(0x2C) }
        append(name)
        bytes.append(0x3D)
        bytes.append(0x22)
    }

    // MARK: - Bytes

    mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// HELP text: backslash and newline escaped.
    mutating func appendHelp(_ s: String) {
        for b in s.utf8 {
            switch b {
            case 0x5C:
                bytes.append(0x5C)
                bytes.append(0x5C)
            case 0x0A:
                bytes.append(0x5C)
                bytes.append(0x6E)
            default: bytes.append(b)
            }
        }
    }

    /// A label value: backslash, double quote and newline escaped.
    mutating func appendEscaped(_ s: String) {
        var s = s
        s.withUTF8 { u in
            var plain = true
            for b in u where b == 0x5C || b == 0x22 || b == 0x0A {
                plain = false
                break
            }
            if plain {
                bytes.append(contentsOf: u)
                return
            }
            for b in u {
                switch b {
                case 0x5C:
                    bytes.append(0x5C)
                    bytes.append(0x5C)
                case 0x22:
                    bytes.append(0x5C)
                    bytes.append(0x22)
                case 0x0A:
                    bytes.append(0x5C)
                    bytes.append(0x6E)
                default: bytes.append(b)
                }
            }
        }
    }

    /// Decimal digits of `v`.
    mutating func append(_ v: UInt64) { appendDecimal(v, to: &bytes) }

    /// Dotted quad of an IPv4 address.
    mutating func append(_ a: IPv4Address) {
        let v = a.value
        append(UInt64(v >> 24))
        bytes.append(0x2E)
        append(UInt64((v >> 16) & 0xFF))
        bytes.append(0x2E)
        append(UInt64((v >> 8) & 0xFF))
        bytes.append(0x2E)
        append(UInt64(v & 0xFF))
    }

    /// A float as Prometheus reads it: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
    mutating func append(_ d: Double) {
        if d.isNaN {
            append("NaN")
        } else if d.isInfinite {
            append(d > 0 ? "+Inf" : "-Inf")
        } else if d == d.rounded(), abs(d) < 1e15 {
            if d < 0 { bytes.append(0x2D) }
            append(UInt64(abs(d)))
        } else {
            append(d.description)
        }
    }
}

/// Appends the decimal digits of `v` to `bytes` (no `String` in between).
func appendDecimal(_ v: UInt64, to bytes: inout [UInt8]) {
    if v < 10 {
        bytes.append(0x30 &+ UInt8(v))
        return
    }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
    var n = v
    withUnsafeMutableBytes(of: &digits) { buf in
        var i = 24
        while n > 0 {
            i -= 1
            buf[i] = 0x30 &+ UInt8(n % 10)
            n /= 10
        }
        bytes.append(contentsOf: buf[i..<24])
    }
}
