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
/// Label values are escaped as the format requires (`\\`, `\"`, `\n`). Bytes go through a raw
/// buffer (`ByteSink`), integers and IPv4 addresses without `String`: a scrape of 10,000
/// services × 10 real servers writes about a million lines. Copies of a writer share its buffer.
public struct PrometheusWriter: Sendable {
    let sink: ByteSink

    public init(capacity: Int = 1 << 16) { sink = ByteSink(capacity: capacity) }

    /// The bytes written so far (a copy).
    public var bytes: [UInt8] { sink.array }
    /// How many bytes are written.
    public var count: Int { sink.count }
    /// Calls `body` with the bytes written, in place (no copy).
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: sink.base, count: sink.count))
    }

    /// Appends text that is already in the exposition format (another library's output).
    public mutating func append(raw: [UInt8]) { sink.bytes(raw) }

    /// Forgets what was written, keeping the buffer (a scrape every 15 s reuses its memory
    /// instead of faulting in ~10^8 fresh bytes).
    public mutating func removeAll() { sink.truncate(to: 0) }

    /// The text written so far.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Metric types.
    public enum Kind: String, Sendable {
        case counter, gauge, untyped
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    public mutating func family(_ name: StaticString, _ kind: Kind, help: StaticString) {
        sink.bytes("# HELP ")
        sink.bytes(name)
        sink.byte(0x20)
        sink.bytes(help)
        sink.bytes("\n# TYPE ")
        sink.bytes(name)
        sink.byte(0x20)
        sink.bytes(kind.rawValue)
        sink.byte(0x0A)
    }

    /// Starts a family whose name or help is built at run time (providers added later).
    public mutating func family(name: String, _ kind: Kind, help: String) {
        sink.bytes("# HELP ")
        sink.bytes(name)
        sink.byte(0x20)
        sink.bytes(help, escaping: { $0 == 0x5C || $0 == 0x0A }) { [sink] b in
            switch b {
            case 0x5C: sink.bytes("\\\\")
            case 0x0A: sink.bytes("\\n")
            default: sink.byte(b)
            }
        }
        sink.bytes("\n# TYPE ")
        sink.bytes(name)
        sink.byte(0x20)
        sink.bytes(kind.rawValue)
        sink.byte(0x0A)
    }

    // MARK: - Samples

    /// A family of one sample without labels (`process_open_fds 12`).
    mutating func single(_ name: StaticString, _ kind: Kind, help: StaticString, value: UInt64) {
        family(name, kind, help: help)
        sample(name, value: value) { _ in }
    }

    /// A family of one floating-point sample without labels.
    mutating func single(_ name: StaticString, _ kind: Kind, help: StaticString, float value: Double) {
        family(name, kind, help: help)
        sample(name, float: value) { _ in }
    }

    /// A family of one integer sample per item, labelled by `labels`.
    mutating func family<Item>(
        _ name: StaticString, _ kind: Kind, help: StaticString, each items: some Sequence<Item>,
        value: (Item) -> UInt64, labels: (Item, inout PrometheusWriter) -> Void
    ) {
        family(name, kind, help: help)
        for i in items { sample(name, value: value(i)) { labels(i, &$0) } }
    }

    /// A family of one floating-point sample per item whose value is not nil, labelled by `labels`.
    mutating func family<Item>(
        _ name: StaticString, _ kind: Kind, help: StaticString, each items: some Sequence<Item>,
        float value: (Item) -> Double?, labels: (Item, inout PrometheusWriter) -> Void
    ) {
        family(name, kind, help: help)
        for i in items {
            guard let v = value(i) else { continue }
            sample(name, float: v) { labels(i, &$0) }
        }
    }

    /// `name{labels} value` with an integer value. `labels` writes the inside of the braces
    /// (nothing writes no braces).
    public mutating func sample(
        _ name: StaticString, value: UInt64, labels: (inout PrometheusWriter) -> Void
    ) {
        sink.bytes(name)
        openLabels(labels)
        sink.byte(0x20)
        sink.decimal(value)
        sink.byte(0x0A)
    }

    /// `name{labels} value` with a floating-point value.
    public mutating func sample(_ name: StaticString, float value: Double, labels: (inout PrometheusWriter) -> Void) {
        sink.bytes(name)
        openLabels(labels)
        sink.byte(0x20)
        append(value)
        sink.byte(0x0A)
    }

    /// A sample of a family named at run time.
    public mutating func sample(name: String, value: Double, labels: [(String, String)] = []) {
        sink.bytes(name)
        if !labels.isEmpty {
            sink.byte(0x7B)
            for (i, (k, v)) in labels.enumerated() {
                if i > 0 { sink.byte(0x2C) }
                sink.bytes(k)
                sink.bytes("=\"")
                appendEscaped(v)
                sink.byte(0x22)
            }
            sink.byte(0x7D)
        }
        sink.byte(0x20)
        append(value)
        sink.byte(0x0A)
    }

    /// `name{block} value`, the label block copied from `blocks` (bytes `range`).
    mutating func sample(_ name: StaticString, value: UInt64, block blocks: ByteSink, _ range: Range<Int>) {
        sink.bytes(name)
        sink.byte(0x7B)
        sink.bytes(blocks.base + range.lowerBound, range.count)
        sink.bytes("} ")
        sink.decimal(value)
        sink.byte(0x0A)
    }

    mutating func openLabels(_ labels: (inout PrometheusWriter) -> Void) {
        let before = sink.count
        sink.byte(0x7B)
        let inside = sink.count
        labels(&self)
        if sink.count == inside {
            sink.truncate(to: before)
        } else {
            sink.byte(0x7D)
        }
    }

    // MARK: - Labels (inside the braces)

    /// `name="value"`, preceded by a comma unless it is the first label.
    public mutating func label(_ name: StaticString, _ value: String) {
        labelStart(name)
        appendEscaped(value)
        sink.byte(0x22)
    }

    /// `name="123"`.
    public mutating func label(_ name: StaticString, _ value: UInt64) {
        labelStart(name)
        sink.decimal(value)
        sink.byte(0x22)
    }

    /// `name="10.0.0.1"` (inet_ntop's text; empty for nil).
    public mutating func label(_ name: StaticString, _ address: IPAddress?) {
        labelStart(name)
        switch address {
        case .v4(let a)?: append(a)
        case .v6(let a)?: sink.bytes(a.description)
        case nil: break
        }
        sink.byte(0x22)
    }

    /// A label whose value needs no escaping.
    mutating func labelRaw(_ name: StaticString, _ value: StaticString) {
        labelStart(name)
        sink.bytes(value)
        sink.byte(0x22)
    }

    mutating func labelRaw(_ name: StaticString, _ value: String) {
        labelStart(name)
        sink.bytes(value)
        sink.byte(0x22)
    }

    /// Ends a label block in a block buffer: the next label starts a new block (no comma).
    mutating func separate() { sink.byte(0x7B) }

    mutating func labelStart(_ name: StaticString) {
        if let last = sink.last, last != 0x7B { sink.byte(0x2C) }
        sink.bytes(name)
        sink.bytes("=\"")
    }

    // MARK: - Values

    /// A label value: backslash, double quote and newline escaped.
    mutating func appendEscaped(_ s: String) {
        sink.bytes(s, escaping: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) { [sink] b in
            switch b {
            case 0x5C: sink.bytes("\\\\")
            case 0x22: sink.bytes("\\\"")
            case 0x0A: sink.bytes("\\n")
            default: sink.byte(b)
            }
        }
    }

    /// Dotted quad of an IPv4 address.
    mutating func append(_ a: IPv4Address) {
        let v = a.value
        sink.decimal(UInt64(v >> 24))
        sink.byte(0x2E)
        sink.decimal(UInt64((v >> 16) & 0xFF))
        sink.byte(0x2E)
        sink.decimal(UInt64((v >> 8) & 0xFF))
        sink.byte(0x2E)
        sink.decimal(UInt64(v & 0xFF))
    }

    /// A float as Prometheus reads it: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
    mutating func append(_ d: Double) {
        if d.isNaN {
            sink.bytes("NaN")
        } else if d.isInfinite {
            sink.bytes(d > 0 ? "+Inf" : "-Inf")
        } else if d == d.rounded(), abs(d) < 1e15 {
            if d < 0 { sink.byte(0x2D) }
            sink.decimal(UInt64(abs(d)))
        } else {
            sink.bytes(d.description)
        }
    }
}
