// An ipvsadm run: parse, talk to the director, print what ipvsadm 1.31 prints, return its exit status.
import LVSControl
import LVSCore

/// Runs ipvsadm command lines against a director.
///
/// ```
///  argv ──parse──▶ IPVSAdmCommand ──ControlRequest──▶ backend (lvsd) ──ControlResult──▶ listing / message
/// ```
/// `-R` reads stdin line by line; consecutive state changes travel to lvsd in batches (one
/// round trip per batch), flushed before anything is printed so messages keep their order.
public final class IPVSAdm {
    public let parser: IPVSAdmParser
    public let formatter: IPVSListingFormatter
    public let backend: any IPVSAdmBackend
    public let output: any IPVSAdmOutput
    public let input: any IPVSAdmInput
    /// Most state changes sent to lvsd in one request during `-R`.
    public var restoreBatchSize = 2000
    /// Told how far `-R` got after each batch (the command line sets one when stderr is a
    /// terminal; it never writes to stdout).
    public var restoreProgress: (any RestoreProgress)?

    /// `program` is argv[0] as invoked (it appears in the help and "Try" texts).
    public init(
        program: String, backend: any IPVSAdmBackend, resolver: any IPVSAdmNameResolver,
        output: any IPVSAdmOutput, input: any IPVSAdmInput
    ) {
        parser = IPVSAdmParser(program: program, resolver: resolver)
        formatter = IPVSListingFormatter(resolver: resolver)
        self.backend = backend
        self.output = output
        self.input = input
    }

    /// ipvsadm terminates here with this status (`exit()` in the C program).
    struct Terminate: Error {
        var status: Int32
    }

    /// Runs one invocation (`arguments` excludes argv[0]) and returns the exit status.
    public func run(_ arguments: [String]) -> Int32 { run(bytes: arguments.map { Array($0.utf8) }) }

    /// Runs one invocation given as raw argument bytes.
    public func run(bytes arguments: [[UInt8]]) -> Int32 {
        do {
            if arguments.isEmpty {
                try listAll(.init())
                return 0
            }
            let r = try runLine([Array(parser.program.utf8)] + arguments, readingStdin: false)
            return r == 0 ? 0 : 255
        } catch let t as Terminate {
            return t.status
        } catch {
            return 1
        }
    }

    // MARK: one invocation

    /// `process_options`: 0 on success, -1 on failure; throws `Terminate` where ipvsadm exits.
    func runLine(_ argv: [[UInt8]], readingStdin: Bool) throws -> Int32 {
        switch parser.parse(argv) {
        case .exit(let status, let out, let err): throw parserExit(status, out: out, err: err)
        case .poptFailure(let err):
            output.writeErr(Array(err.utf8))
            return -1
        case .run(let cmd):
            return try execute(cmd, readingStdin: readingStdin)
        }
    }

    func execute(_ cmd: IPVSAdmCommand, readingStdin: Bool) throws -> Int32 {
        switch cmd.kind {
        case .list:
            if cmd.has(.connection) {
                let conns = try expect(.listConnections, as: .list) { r -> [ConnectionEntry]? in
                    if case .connections(let c) = r { return c }
                    return nil
                }
                output.writeOut(formatter.listConnections(conns, format: cmd.format))
            } else if cmd.has(.service) {
                guard let key = cmd.service.key else { throw Terminate(status: 1) }
                let entry = try service(key, as: .list)
                output.writeOut(formatter.listService(entry, format: cmd.format))
            } else if cmd.has(.timeout) {
                let t = try expect(.getTimeouts, as: .list) { r -> IPVSTimeouts? in
                    if case .timeouts(let t) = r { return t }
                    return nil
                }
                output.writeOut(Array(IPVSListingFormatter.timeouts(t).utf8))
            } else if cmd.has(.daemon) {
                let d = try expect(.getSyncDaemons, as: .list) { r -> [SyncDaemonSpec]? in
                    if case .syncDaemons(let d) = r { return d }
                    return nil
                }
                output.writeOut(Array(IPVSListingFormatter.syncDaemons(d).utf8))
            } else {
                try listAll(cmd.format)
            }
            return 0
        case .save:
            try listAll(cmd.format.union(.rule))
            return 0
        case .getLocalAddress:
            guard let key = cmd.service.key else { throw Terminate(status: 2) }
            let entry = try service(key, as: .getLocalAddress)
            output.writeOut(formatter.listLocalAddresses(entry, format: cmd.format))
            return 0
        case .restore:
            if readingStdin {
                output.writeErr(Array(IPVSAdmUsage.tryHelp(parser.program).utf8))
                throw Terminate(status: 255)
            }
            return try restore()
        default:
            guard let request = Self.request(for: cmd) else { throw Terminate(status: 2) }
            let result = try perform([request])[0]
            return report(result, command: cmd.kind)
        }
    }

    /// The state change a command asks for (nil for listings, save and restore).
    static func request(for cmd: IPVSAdmCommand) -> ControlRequest? {
        switch cmd.kind {
        case .add: return cmd.serviceSpec.map { .addService($0) }
        case .edit: return cmd.serviceSpec.map { .editService($0) }
        case .delete: return cmd.service.key.map { .deleteService($0) }
        case .flush: return .flush
        case .addDest: return cmd.service.key.map { .addRealServer(cmd.destination.spec, $0) }
        case .editDest: return cmd.service.key.map { .editRealServer(cmd.destination.spec, $0) }
        case .deleteDest: return cmd.service.key.map { .deleteRealServer(cmd.destination.endpoint, $0) }
        case .zero: return .zero(cmd.service.key)
        case .timeout: return .setTimeouts(cmd.timeouts)
        case .startDaemon: return .startSyncDaemon(cmd.daemon.spec)
        case .stopDaemon: return .stopSyncDaemon(cmd.daemon.role)
        case .addLocalAddress:
            guard let a = cmd.localAddress, let k = cmd.service.key else { return nil }
            return .addLocalAddress(a, k)
        case .deleteLocalAddress:
            guard let a = cmd.localAddress, let k = cmd.service.key else { return nil }
            return .deleteLocalAddress(a, k)
        case .list, .save, .restore, .getLocalAddress: return nil
        }
    }

    /// Prints ipvsadm's message for a refused state change; 0 or -1 as `process_options` returns.
    func report(_ result: ControlResult, command: IPVSAdmCommandKind) -> Int32 {
        if case .failure(let e) = result {
            output.writeErr(Array((IPVSAdmMessages.message(for: e, command: command) + "\n").utf8))
            return -1
        }
        return 0
    }

    func listAll(_ format: ListingFormat) throws {
        let results = try perform([.getInfo, .listServices])
        guard case .info(let info) = results[0], case .services(let services) = results[1] else {
            for r in results {
                if case .failure(let e) = r {
                    output.writeErr(Array((IPVSAdmMessages.message(for: e, command: .list) + "\n").utf8))
                    throw Terminate(status: 1)
                }
            }
            throw unexpected()
        }
        output.writeOut(formatter.listAll(info: info, services: services, format: format))
    }

    func expect<T>(_ request: ControlRequest, as command: IPVSAdmCommandKind, _ pick: (ControlResult) -> T?) throws
        -> T
    {
        let r = try perform([request])[0]
        if let v = pick(r) { return v }
        if case .failure(let e) = r {
            output.writeErr(Array((IPVSAdmMessages.message(for: e, command: command) + "\n").utf8))
            throw Terminate(status: 1)
        }
        throw unexpected()
    }

    /// One virtual service (`getService`), or ipvsadm's message for `command` when lvsd refuses.
    func service(_ key: ServiceKey, as command: IPVSAdmCommandKind) throws -> VirtualServiceEntry {
        try expect(.getService(key), as: command) { r -> VirtualServiceEntry? in
            if case .service(let e) = r { return e }
            return nil
        }
    }

    /// The exit the parser asked for (`-h`, `-v`, a usage error), after printing what it wrote.
    func parserExit(_ status: Int32, out: String, err: String) -> Terminate {
        if !out.isEmpty { output.writeOut(Array(out.utf8)) }
        if !err.isEmpty { output.writeErr(Array(err.utf8)) }
        return Terminate(status: status)
    }

    func unexpected() -> Terminate {
        output.writeErr(Array("ipvsadm: unexpected answer from lvsd\n".utf8))
        return Terminate(status: 1)
    }

    func perform(_ requests: [ControlRequest]) throws -> [ControlResult] {
        do {
            return try backend.perform(requests)
        } catch {
            output.writeErr(Array((error.message + "\n").utf8))
            throw Terminate(status: error.exitStatus)
        }
    }

    // MARK: restore

    /// `restore_table`: every stdin line is one invocation; the status is the last line's.
    func restore() throws -> Int32 {
        var reader = RestoreLineReader(input: input)
        var pending: [(ControlRequest, IPVSAdmCommandKind)] = []
        // Copied from the reader after each line: `flush` also runs inside `nextLine`.
        var linesRead = 0
        var bytesRead = 0
        var last: Int32 = 0
        let argv0 = Array(parser.program.utf8)

        func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let results = try perform(batch.map { $0.0 })
            for (i, r) in results.enumerated() { last = report(r, command: batch[i].1) }
            restoreProgress?.restored(lines: linesRead, bytes: bytesRead)
        }
        defer { restoreProgress?.finished() }

        while let tokens = try reader.nextLine(beforeBlocking: flush) {
            linesRead = reader.lines
            bytesRead = reader.bytesConsumed
            if tokens.isEmpty { continue }
            let argv = [argv0] + tokens
            let outcome = parser.parse(argv)
            if case .run(let cmd) = outcome, cmd.kind != .restore, let request = Self.request(for: cmd) {
                pending.append((request, cmd.kind))
                if pending.count >= restoreBatchSize { try flush() }
                continue
            }
            try flush()
            switch outcome {
            case .exit(let status, let out, let err): throw parserExit(status, out: out, err: err)
            case .poptFailure(let err):
                output.writeErr(Array(err.utf8))
                last = -1
            case .run(let cmd):
                last = try execute(cmd, readingStdin: true)
            }
        }
        try flush()
        return last
    }
}

/// Splits standard input into ipvsadm-restore lines the way `config_stream_read` does: tokens
/// separated by space, tab, CR or LF; one line per LF; the word `ipvsadm` dropped anywhere.
struct RestoreLineReader {
    let input: any IPVSAdmInput
    var buffer: [UInt8] = []
    var position = 0
    var atEnd = false
    /// Lines returned so far, and the input bytes they took (for progress reports).
    var lines = 0
    var bytesConsumed = 0
    /// Bytes dropped from the front of `buffer` so far.
    private var dropped = 0

    init(input: any IPVSAdmInput) { self.input = input }

    /// The next line's tokens (possibly none), or nil at end of input. `beforeBlocking` runs
    /// before each read of more input, so work queued so far is done while the user types.
    mutating func nextLine(beforeBlocking: () throws -> Void) throws -> [[UInt8]]? {
        while true {
            if let nl = buffer[position...].firstIndex(of: 0x0A) {
                let line = buffer[position..<nl]
                position = nl + 1
                lines += 1
                bytesConsumed = dropped + position
                return Self.tokens(line)
            }
            if atEnd {
                guard position < buffer.count else { return nil }
                let line = buffer[position...]
                position = buffer.count
                lines += 1
                bytesConsumed = dropped + position
                return Self.tokens(line)
            }
            try beforeBlocking()
            dropped += position
            buffer.removeSubrange(0..<position)
            position = 0
            let more = input.read(maximum: 1 << 16)
            if more.isEmpty { atEnd = true } else { buffer.append(contentsOf: more) }
        }
    }

    static let ipvsadmWord = Array("ipvsadm".utf8)

    static func tokens(_ line: ArraySlice<UInt8>) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start: Int?
        for i in line.indices {
            let c = line[i]
            if c == 0x20 || c == 0x09 || c == 0x0D {
                if let s = start {
                    let t = Array(line[s..<i])
                    if t != ipvsadmWord { out.append(t) }
                    start = nil
                }
            } else if start == nil {
                start = i
            }
        }
        if let s = start {
            let t = Array(line[s..<line.endIndex])
            if t != ipvsadmWord { out.append(t) }
        }
        return out
    }
}
