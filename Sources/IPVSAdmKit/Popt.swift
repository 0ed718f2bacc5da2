// The subset of popt 1.19 that ipvsadm uses: short clusters, long options, optional arguments, leftovers.

/// How an option takes its argument (`POPT_ARG_NONE`, `POPT_ARG_STRING`, `…|POPT_ARGFLAG_OPTIONAL`).
public enum PoptArgument: Sendable {
    case none
    case required
    case optional
}

/// One row of a popt option table.
public struct PoptOption<Tag: Sendable>: Sendable {
    public var long: String
    public var short: UInt8?
    public var argument: PoptArgument
    public var tag: Tag

    public init(_ long: String, _ short: Character?, _ argument: PoptArgument, _ tag: Tag) {
        self.long = long
        self.short = short.map { $0.asciiValue! }
        self.argument = argument
        self.tag = tag
    }
}

/// popt's error codes that ipvsadm can meet, with `poptStrerror`'s text.
public enum PoptError: Int, Sendable {
    case noArgument = -10
    case badOption = -11
    case unwantedArgument = -12

    /// `poptStrerror`.
    public var text: String {
        switch self {
        case .noArgument: return "missing argument"
        case .badOption: return "unknown option"
        case .unwantedArgument: return "option does not take an argument"
        }
    }
}

/// A popt context over one argument vector (`argv[0]` included, as bytes).
///
/// Behaviour reproduced from popt 1.19 `poptGetNextOpt`: arguments not starting with `-` (and a
/// lone `-`) are set aside as leftovers; `--` makes every later argument a leftover; `--name=value`
/// and `--name value` for long options; `-abc` clusters of short options, where an option taking
/// an argument consumes the rest of the cluster (after one optional `=`) or else the next
/// argument; an optional argument is not taken from the next argument when that starts with `-`.
/// Single-dash long options do not exist in ipvsadm's table.
public struct PoptContext<Tag: Sendable> {
    public let argv: [[UInt8]]
    let options: [PoptOption<Tag>]
    var next = 1
    var charArg: (index: Int, offset: Int)?
    var restLeftover = false
    public private(set) var leftovers: [[UInt8]] = []
    var nextLeftover = 0

    public init(argv: [[UInt8]], options: [PoptOption<Tag>]) {
        self.argv = argv
        self.options = options
    }

    /// One result of `getNextOption`.
    public enum Event {
        /// An option and its argument (nil for none, or an absent optional argument).
        case option(Tag, [UInt8]?)
        /// No more options.
        case end
        case error(PoptError)
    }

    /// `poptBadOption(con, POPT_BADOPTION_NOALIAS)`: the last argument consumed.
    public var badOption: [UInt8] { next >= 1 && next - 1 < argv.count ? argv[next - 1] : [] }

    /// `poptGetArg`: the next leftover argument.
    public mutating func nextArgument() -> [UInt8]? {
        guard nextLeftover < leftovers.count else { return nil }
        defer { nextLeftover += 1 }
        return leftovers[nextLeftover]
    }

    func findLong(_ name: ArraySlice<UInt8>) -> PoptOption<Tag>? {
        for o in options where o.long.utf8.elementsEqual(name) { return o }
        return nil
    }

    func findShort(_ c: UInt8) -> PoptOption<Tag>? {
        guard c != 0 else { return nil }
        for o in options where o.short == c { return o }
        return nil
    }

    /// `poptGetNextOpt`.
    public mutating func getNextOption() -> Event {
        while true {
            if charArg == nil && next == argv.count { return .end }
            var opt: PoptOption<Tag>?
            var longArg: ArraySlice<UInt8>?
            if charArg == nil {
                let s = argv[next]
                let index = next
                next += 1
                if restLeftover || s.first != 0x2D || s.count == 1 {
                    leftovers.append(s)
                    continue
                }
                if s.count == 2 && s[1] == 0x2D {
                    restLeftover = true
                    continue
                }
                var body = s[1...]
                var singleDash = true
                if body.first == 0x2D {
                    body = body.dropFirst()
                    singleDash = false
                }
                var name = body
                if let eq = body.firstIndex(of: 0x3D) {
                    name = body[body.startIndex..<eq]
                    longArg = body[(eq + 1)...]
                }
                if !singleDash {
                    opt = findLong(name)
                    if opt == nil { return .error(.badOption) }
                } else {
                    charArg = (index, 1)
                    longArg = nil
                }
            }
            if let (index, offset) = charArg {
                charArg = nil
                let s = argv[index]
                let c: UInt8 = offset < s.count ? s[offset] : 0
                guard let o = findShort(c) else { return .error(.badOption) }
                opt = o
                let after = offset + 1
                if after < s.count { charArg = (index, after + (s[after] == 0x3D ? 1 : 0)) }
            }
            guard let o = opt else { return .error(.badOption) }
            switch o.argument {
            case .none:
                if longArg != nil { return .error(.unwantedArgument) }
                if let (index, offset) = charArg, offset < argv[index].count, argv[index][offset] == 0x3D {
                    return .error(.unwantedArgument)
                }
                return .option(o.tag, nil)
            case .required, .optional:
                if let longArg { return .option(o.tag, Array(longArg)) }
                if let (index, offset) = charArg {
                    charArg = nil
                    let s = argv[index]
                    var start = offset
                    if start < s.count && s[start] == 0x3D { start += 1 }
                    return .option(o.tag, start < s.count ? Array(s[start...]) : [])
                }
                if next == argv.count {
                    if o.argument == .required { return .error(.noArgument) }
                    return .option(o.tag, nil)
                }
                if o.argument == .optional && argv[next].first == 0x2D { return .option(o.tag, nil) }
                next += 1
                return .option(o.tag, argv[next - 1])
            }
        }
    }
}
