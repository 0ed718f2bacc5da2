// nf_tables over netlink: tables, base chains and rules as values, encoded as one batch (no `nft` program).

/// The part of nf_tables lvsd and lvs-realserver use, as values, and its netlink encoding
/// (linux/netfilter/nf_tables.h, nfnetlink.h).
///
/// ```
///  batch:  BATCH_BEGIN | NEWTABLE t | DELTABLE t | NEWTABLE t {flags, comment} | NEWSET, NEWSETELEM…
///          | NEWCHAIN | NEWRULE… | BATCH_END          (or only DELSETELEM / NEWSETELEM: a change of contents)
///  message: | nlmsghdr | nfgenmsg: family u8, version 0, res_id be16 | attributes (nested: NLA_F_NESTED) |
///  rule:   NFTA_RULE_EXPRESSIONS [ meta/payload → reg N, cmp / bitwise reg 1, lookup reg 1 in a set, verdict ]
/// ```
/// The kernel applies a batch as one transaction: every message succeeds, or none is applied
/// and each failing message is answered with an NLMSG_ERROR carrying its sequence number.
/// Integers inside attributes are big-endian (nf_tables' NLA_U32 are `__be32`).
public enum NFTables {
    /// NFPROTO_* families of a table.
    public enum Family: UInt8, Sendable, Hashable {
        case inet = 1
        case ipv4 = 2
        case netdev = 5
        case ipv6 = 10
    }

    /// Where a base chain hooks in: netdev ingress (with its devices), inet/ip prerouting or output.
    public enum Hook: Sendable, Hashable {
        /// NF_NETDEV_INGRESS (0) on these devices.
        case ingress(devices: [String])
        /// NF_INET_PRE_ROUTING (0).
        case prerouting
        /// NF_INET_LOCAL_IN (1): packets routed to this host.
        case input
        /// NF_INET_LOCAL_OUT (3): packets the local stack sends.
        case output

        var number: UInt32 {
            switch self {
            case .ingress, .prerouting: 0
            case .input: 1
            case .output: 3
            }
        }
    }

    /// NF_DROP / NF_ACCEPT.
    public enum Verdict: UInt32, Sendable, Hashable {
        case drop = 0
        case accept = 1
    }

    /// NFT_PAYLOAD_*_HEADER.
    public enum PayloadBase: UInt32, Sendable, Hashable {
        case link = 0
        case network = 1
        case transport = 2
    }

    /// NFT_META_* keys used here.
    public enum MetaKey: UInt32, Sendable, Hashable {
        /// skb->protocol, the ethertype (2 bytes, network order).
        case `protocol` = 1
        /// skb->mark, the firewall mark (4 bytes, host order).
        case mark = 3
        /// The input interface's name (16 bytes, NUL-padded).
        case inputInterfaceName = 6
        /// The layer-3 protocol family of an inet table's packet (1 byte: NFPROTO_IPV4 2, _IPV6 10).
        case nfproto = 15
        /// The layer-4 protocol number (1 byte), after IPv6 extension headers.
        case l4Protocol = 16
    }

    /// NFT_CMP_EQ / NFT_CMP_NEQ.
    public enum Comparison: UInt32, Sendable, Hashable {
        case equal = 0
        case notEqual = 1
    }

    /// One expression. Loads go to register `into` (1 = the first 16-byte register; 9, 10, 12,
    /// 13… are 32-bit registers, for the parts of a concatenated set key, which the kernel
    /// zero-pads to 4 bytes each); comparisons, masks and look-ups read register 1.
    public enum Expression: Sendable, Hashable {
        case meta(MetaKey, into: UInt32 = 1)
        case payload(PayloadBase, offset: UInt32, length: UInt32, into: UInt32 = 1)
        /// `length` bytes at `offset` in the IPv6 extension header `type` → register 1 (no match
        /// when the packet has no such header).
        case ipv6ExtensionHeader(type: UInt8, offset: UInt32, length: UInt32)
        case compare(Comparison, [UInt8])
        /// reg 1 = (reg 1 & mask) ^ 0, over the mask's length.
        case mask([UInt8])
        /// Matches if the key starting at register 1 is an element of the named set.
        case lookup(set: String)
        /// `log group N`: the packet (whole) to the nfnetlink_log group N (NF_LOG_TYPE_ULOG).
        case log(group: UInt16)
        case verdict(Verdict)
    }

    /// A named set of keys (a hash; a concatenated key is its parts each padded to 4 bytes).
    public struct LookupSet: Sendable, Hashable {
        public var name: String
        /// nft's datatype of the key (a concatenation is `t1 << 12 | t2 << 6 | t3`), for listings.
        public var keyType: UInt32
        public var keyLength: UInt32
        /// The elements, in the order they are sent.
        public var elements: [[UInt8]]
        /// Keys in host byte order (`ifname`, `mark`): said in the set's user data, as nft does,
        /// so that `nft list` shows them as written.
        public var hostByteOrder: Bool
        public init(name: String, keyType: UInt32, keyLength: UInt32, elements: [[UInt8]], hostByteOrder: Bool = false)
        {
            self.name = name
            self.keyType = keyType
            self.keyLength = keyLength
            self.elements = elements
            self.hostByteOrder = hostByteOrder
        }
    }

    /// A rule: expressions evaluated in order.
    public struct Rule: Sendable, Hashable {
        public var expressions: [Expression]
        /// What the rule means in nft's words (error messages, logs).
        public var text: String
        public init(_ expressions: [Expression], text: String) {
            self.expressions = expressions
            self.text = text
        }
    }

    /// A base chain of type filter.
    public struct Chain: Sendable, Hashable {
        public var name: String
        public var hook: Hook
        public var priority: Int32
        public var policy: Verdict
        public var rules: [Rule]
        public init(name: String, hook: Hook, priority: Int32, policy: Verdict = .accept, rules: [Rule]) {
            self.name = name
            self.hook = hook
            self.priority = priority
            self.policy = policy
            self.rules = rules
        }
    }

    /// A table and everything in it.
    public struct Table: Sendable, Hashable {
        public var family: Family
        public var name: String
        /// nft's `comment "…"` (table user data).
        public var comment: String?
        /// NFT_TABLE_F_OWNER: the kernel deletes the table when the netlink socket that created
        /// it is closed — by the process ending for any reason, SIGKILL included (Linux 5.12).
        public var ownedBySocket: Bool
        public var sets: [LookupSet]
        public var chains: [Chain]
        public init(
            family: Family, name: String, comment: String? = nil, ownedBySocket: Bool = false,
            sets: [LookupSet] = [], chains: [Chain]
        ) {
            self.family = family
            self.name = name
            self.comment = comment
            self.ownedBySocket = ownedBySocket
            self.sets = sets
            self.chains = chains
        }

        /// The table without its sets' elements: two tables of the same shape differ only in
        /// contents, which a transaction of element changes brings from one to the other.
        public var shape: Table {
            var t = self
            for i in t.sets.indices { t.sets[i].elements = [] }
            return t
        }
    }

    // MARK: - Message numbers

    static let subsystem: UInt16 = 10  // NFNL_SUBSYS_NFTABLES
    static let batchBegin: UInt16 = 0x10  // NFNL_MSG_BATCH_BEGIN
    static let batchEnd: UInt16 = 0x11  // NFNL_MSG_BATCH_END

    /// NFT_MSG_* numbers.
    public enum Message: UInt16, Sendable {
        case newTable = 0
        case getTable = 1
        case deleteTable = 2
        case newChain = 3
        case newRule = 6
        case newSet = 9
        case newSetElement = 12
        case deleteSetElement = 14
        case newGeneration = 15
        case getGeneration = 16

        /// The nlmsg_type: subsystem << 8 | message.
        public var type: UInt16 { NFTables.subsystem << 8 | rawValue }
    }

    static let nested: UInt16 = 0x8000  // NLA_F_NESTED

    // MARK: - Transactions

    /// The messages of one batch, each with what it does (for the error line).
    public struct Transaction: Sendable {
        public struct Item: Sendable {
            public var type: UInt16
            public var flags: UInt16
            public var family: Family
            public var attributes: [UInt8]
            public var what: String
        }
        public private(set) var items: [Item] = []

        public init() {}

        public var isEmpty: Bool { items.isEmpty }

        /// Creates the table if it is missing (no flags: an existing table is left as it is).
        public mutating func ensure(_ family: Family, _ name: String) {
            var a = Attributes()
            a.string(1, name)  // NFTA_TABLE_NAME
            items.append(
                Item(
                    type: Message.newTable.type, flags: RTNetlink.fRequest | RTNetlink.fCreate, family: family,
                    attributes: a.bytes,
                    what: "table \(family.nftName) \(name)"))
        }

        /// Deletes the table and everything in it (it must exist in the transaction).
        public mutating func delete(_ family: Family, _ name: String) {
            var a = Attributes()
            a.string(1, name)
            items.append(
                Item(
                    type: Message.deleteTable.type, flags: RTNetlink.fRequest, family: family, attributes: a.bytes,
                    what: "delete table \(family.nftName) \(name)"))
        }

        /// Replaces the table atomically: creates it if missing, deletes it, adds it anew.
        public mutating func replace(_ table: Table) {
            ensure(table.family, table.name)
            delete(table.family, table.name)
            add(table)
        }

        /// Adds the table, its chains and their rules.
        public mutating func add(_ table: Table) {
            var t = Attributes()
            t.string(1, table.name)
            if table.ownedBySocket { t.u32(2, 0x2) }  // NFTA_TABLE_FLAGS: NFT_TABLE_F_OWNER
            if let comment = table.comment {
                // libnftnl's user-data TLV, as nft writes it: NFTNL_UDATA_TABLE_COMMENT (0), length,
                // the string with its NUL.
                let text = Array(comment.utf8.prefix(253)) + [0]
                t.raw(6, [0, UInt8(text.count)] + text)  // NFTA_TABLE_USERDATA
            }
            let tableName = "table \(table.family.nftName) \(table.name)"
            items.append(
                Item(
                    type: Message.newTable.type, flags: RTNetlink.fRequest | RTNetlink.fCreate, family: table.family,
                    attributes: t.bytes,
                    what: tableName))
            for (i, set) in table.sets.enumerated() {
                var a = Attributes()
                a.string(1, table.name)  // NFTA_SET_TABLE
                a.string(2, set.name)  // NFTA_SET_NAME
                a.u32(3, 0)  // NFTA_SET_FLAGS: a plain hash
                a.u32(4, set.keyType)  // NFTA_SET_KEY_TYPE
                a.u32(5, set.keyLength)  // NFTA_SET_KEY_LEN
                a.u32(10, UInt32(i + 1))  // NFTA_SET_ID
                // NFTA_SET_USERDATA: NFTNL_UDATA_SET_KEYBYTEORDER (0), 4 bytes, BYTEORDER_HOST_ENDIAN (1).
                if set.hostByteOrder { a.raw(13, [0, 4] + withUnsafeBytes(of: UInt32(1)) { Array($0) }) }
                items.append(
                    Item(
                        type: Message.newSet.type, flags: RTNetlink.fRequest | RTNetlink.fCreate, family: table.family,
                        attributes: a.bytes, what: "\(tableName) set \(set.name)"))
                elements(.newSetElement, table.family, table.name, set.name, set.elements)
            }
            for chain in table.chains {
                var c = Attributes()
                c.string(1, table.name)  // NFTA_CHAIN_TABLE
                c.string(3, chain.name)  // NFTA_CHAIN_NAME
                c.nest(4) { h in  // NFTA_CHAIN_HOOK
                    h.u32(1, chain.hook.number)  // NFTA_HOOK_HOOKNUM
                    h.u32(2, UInt32(bitPattern: chain.priority))  // NFTA_HOOK_PRIORITY
                    if case .ingress(let devices) = chain.hook {
                        if devices.count == 1 {
                            h.string(3, devices[0])  // NFTA_HOOK_DEV (every kernel with netdev)
                        } else {
                            h.nest(4) { d in for dev in devices { d.string(1, dev) } }  // NFTA_HOOK_DEVS (5.5)
                        }
                    }
                }
                c.u32(5, chain.policy.rawValue)  // NFTA_CHAIN_POLICY
                c.string(7, "filter")  // NFTA_CHAIN_TYPE
                var hookText = "hook prerouting"
                if case .ingress(let devices) = chain.hook {
                    hookText = "hook ingress devices = { \(devices.joined(separator: ", ")) }"
                } else if chain.hook == .output {
                    hookText = "hook output"
                } else if chain.hook == .input {
                    hookText = "hook input"
                }
                items.append(
                    Item(
                        type: Message.newChain.type, flags: RTNetlink.fRequest | RTNetlink.fCreate,
                        family: table.family,
                        attributes: c.bytes,
                        what: "\(tableName) chain \(chain.name) (\(hookText) priority \(chain.priority))"))
                for rule in chain.rules {
                    var r = Attributes()
                    r.string(1, table.name)  // NFTA_RULE_TABLE
                    r.string(2, chain.name)  // NFTA_RULE_CHAIN
                    r.nest(4) { list in  // NFTA_RULE_EXPRESSIONS
                        for e in rule.expressions { list.nest(1) { $0.expression(e) } }  // NFTA_LIST_ELEM
                    }
                    items.append(
                        Item(
                            type: Message.newRule.type,
                            flags: RTNetlink.fRequest | RTNetlink.fCreate | RTNetlink.fAppend, family: table.family,
                            attributes: r.bytes, what: "\(tableName) chain \(chain.name) rule: \(rule.text)"))
                }
            }
        }

        /// Adds `keys` to the set (they must not be there).
        public mutating func addElements(_ family: Family, table: String, set: String, _ keys: [[UInt8]]) {
            elements(.newSetElement, family, table, set, keys)
        }

        /// Removes `keys` from the set (they must be there).
        public mutating func deleteElements(_ family: Family, table: String, set: String, _ keys: [[UInt8]]) {
            elements(.deleteSetElement, family, table, set, keys)
        }

        /// NEWSETELEM / DELSETELEM messages of at most 512 keys each (a nested attribute's length
        /// is 16 bits).
        mutating func elements(_ m: Message, _ family: Family, _ table: String, _ set: String, _ keys: [[UInt8]]) {
            var start = 0
            while start < keys.count {
                let chunk = keys[start..<min(start + 512, keys.count)]
                var a = Attributes()
                a.string(1, table)  // NFTA_SET_ELEM_LIST_TABLE
                a.string(2, set)  // NFTA_SET_ELEM_LIST_SET
                a.nest(3) { list in  // NFTA_SET_ELEM_LIST_ELEMENTS
                    for key in chunk {
                        // NFTA_LIST_ELEM { NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE } }
                        list.nest(1) { e in e.nest(1) { $0.raw(1, key) } }
                    }
                }
                let verb = m == .newSetElement ? "add" : "delete"
                let what =
                    "\(verb) \(chunk.count == 1 ? "element" : "elements") of set \(family.nftName) \(table) \(set)"
                items.append(
                    Item(
                        type: m.type, flags: RTNetlink.fRequest | (m == .newSetElement ? RTNetlink.fCreate : 0),
                        family: family,
                        attributes: a.bytes, what: what))
                start += chunk.count
            }
        }

        /// The batch: BATCH_BEGIN, the messages numbered from `firstSequence + 1`, BATCH_END.
        /// Message `i` of `items` has sequence `firstSequence + 1 + i`.
        public func encoded(firstSequence: UInt32) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(64 + items.reduce(0) { $0 + 20 + $1.attributes.count })
            // res_id of the batch messages: the subsystem, big-endian.
            NFTables.message(
                into: &out, type: batchBegin, flags: RTNetlink.fRequest, sequence: firstSequence, family: 0,
                resource: subsystem, attributes: [])
            for (i, item) in items.enumerated() {
                NFTables.message(
                    into: &out, type: item.type, flags: item.flags, sequence: firstSequence &+ 1 &+ UInt32(i),
                    family: item.family.rawValue, resource: 0, attributes: item.attributes)
            }
            NFTables.message(
                into: &out, type: batchEnd, flags: RTNetlink.fRequest,
                sequence: firstSequence &+ 1 &+ UInt32(items.count),
                family: 0, resource: subsystem, attributes: [])
            return out
        }
    }

    /// One netlink message: nlmsghdr (host order), nfgenmsg, attributes.
    static func message(
        into out: inout [UInt8], type: UInt16, flags: UInt16, sequence: UInt32, family: UInt8, resource: UInt16,
        attributes: [UInt8]
    ) {
        var m = RTNetlinkRequest(type: type, flags: flags, sequence: sequence)
        m.append([family, 0, UInt8(resource >> 8), UInt8(resource & 0xFF)])
        m.append(attributes)
        out += m.message
        while out.count % 4 != 0 { out.append(0) }
    }

    /// A request for the ruleset generation (NFT_MSG_GETGEN): its answer comes after every
    /// answer to what was sent before it, so it marks the end of a batch's errors.
    public static func generationRequest(sequence: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        message(
            into: &out, type: Message.getGeneration.type, flags: RTNetlink.fRequest, sequence: sequence, family: 0,
            resource: 0,
            attributes: [])
        return out
    }

    /// A request for one table (NFT_MSG_GETTABLE); answered by NEWTABLE or an error (ENOENT).
    public static func tableRequest(_ family: Family, _ name: String, sequence: UInt32) -> [UInt8] {
        var a = Attributes()
        a.string(1, name)
        var out: [UInt8] = []
        message(
            into: &out, type: Message.getTable.type, flags: RTNetlink.fRequest, sequence: sequence,
            family: family.rawValue,
            resource: 0, attributes: a.bytes)
        return out
    }

    /// A table as the kernel describes it (NEWTABLE answer): flags and comment.
    public struct TableInfo: Sendable, Hashable {
        public var flags: UInt32
        public var comment: String?
        /// NFT_TABLE_F_OWNER.
        public var isOwned: Bool { flags & 0x2 != 0 }

        /// Parses a NEWTABLE payload (after nlmsghdr).
        public init?(_ payload: UnsafeRawBufferPointer) {
            guard payload.count >= 4 else { return nil }
            let a = RTNetlinkAttributes(payload, fixed: 4)
            flags = a[2].flatMap { RTNetlink.u32($0) }.map { UInt32(bigEndian: $0) } ?? 0
            comment = nil
            if let u = a[6] {
                // User-data TLVs: type u8, length u8, value.
                var i = 0
                while i + 2 <= u.count {
                    let t = u[i]
                    let n = Int(u[i + 1])
                    guard i + 2 + n <= u.count else { break }
                    if t == 0 {
                        comment = String(decoding: u[(i + 2)..<(i + 2 + n)].prefix { $0 != 0 }, as: UTF8.self)
                    }
                    i += 2 + n
                }
            }
        }
    }
}

extension NFTables.Family {
    /// nft's word for the family.
    public var nftName: String {
        switch self {
        case .inet: "inet"
        case .ipv4: "ip"
        case .netdev: "netdev"
        case .ipv6: "ip6"
        }
    }
}

/// Netlink attributes being built: type, length, data padded to 4 bytes; nests fill in their length.
struct Attributes {
    var bytes: [UInt8] = []

    mutating func raw(_ type: UInt16, _ data: [UInt8]) { RTNetlink.appendAttribute(type, data, to: &bytes) }

    /// A NUL-terminated string.
    mutating func string(_ type: UInt16, _ s: String) { raw(type, Array(s.utf8) + [0]) }

    /// A big-endian 32-bit value.
    mutating func u32(_ type: UInt16, _ v: UInt32) {
        raw(type, [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)])
    }

    /// A nested attribute (NLA_F_NESTED) whose contents `body` adds.
    mutating func nest(_ type: UInt16, _ body: (inout Attributes) -> Void) {
        var inner = Attributes()
        body(&inner)
        raw(type | NFTables.nested, inner.bytes)
    }

    /// NFTA_EXPR_NAME and NFTA_EXPR_DATA of one expression (register 1 = NFT_REG_1).
    mutating func expression(_ e: NFTables.Expression) {
        switch e {
        case .meta(let key, let register):
            string(1, "meta")
            nest(2) {
                $0.u32(1, register)  // NFTA_META_DREG
                $0.u32(2, key.rawValue)  // NFTA_META_KEY
            }
        case .payload(let base, let offset, let length, let register):
            string(1, "payload")
            nest(2) {
                $0.u32(1, register)  // NFTA_PAYLOAD_DREG
                $0.u32(2, base.rawValue)  // NFTA_PAYLOAD_BASE
                $0.u32(3, offset)  // NFTA_PAYLOAD_OFFSET
                $0.u32(4, length)  // NFTA_PAYLOAD_LEN
            }
        case .compare(let op, let data):
            string(1, "cmp")
            nest(2) {
                $0.u32(1, 1)  // NFTA_CMP_SREG
                $0.u32(2, op.rawValue)  // NFTA_CMP_OP
                $0.nest(3) { $0.raw(1, data) }  // NFTA_CMP_DATA { NFTA_DATA_VALUE }
            }
        case .mask(let mask):
            string(1, "bitwise")
            nest(2) {
                $0.u32(1, 1)  // NFTA_BITWISE_SREG
                $0.u32(2, 1)  // NFTA_BITWISE_DREG
                $0.u32(3, UInt32(mask.count))  // NFTA_BITWISE_LEN
                $0.nest(4) { $0.raw(1, mask) }  // NFTA_BITWISE_MASK
                $0.nest(5) { $0.raw(1, [UInt8](repeating: 0, count: mask.count)) }  // NFTA_BITWISE_XOR
            }
        case .ipv6ExtensionHeader(let type, let offset, let length):
            string(1, "exthdr")
            nest(2) {
                $0.u32(1, 1)  // NFTA_EXTHDR_DREG
                $0.raw(2, [type])  // NFTA_EXTHDR_TYPE (NLA_U8)
                $0.u32(3, offset)  // NFTA_EXTHDR_OFFSET
                $0.u32(4, length)  // NFTA_EXTHDR_LEN
            }
        case .lookup(let set):
            string(1, "lookup")
            nest(2) {
                $0.string(1, set)  // NFTA_LOOKUP_SET
                $0.u32(2, 1)  // NFTA_LOOKUP_SREG
            }
        case .log(let group):
            string(1, "log")
            nest(2) { $0.raw(1, [UInt8(group >> 8), UInt8(group & 0xFF)]) }  // NFTA_LOG_GROUP (be16)
        case .verdict(let v):
            string(1, "immediate")
            nest(2) {
                $0.u32(1, 0)  // NFTA_IMMEDIATE_DREG: NFT_REG_VERDICT
                $0.nest(2) {  // NFTA_IMMEDIATE_DATA
                    $0.nest(2) { $0.u32(1, v.rawValue) }  // NFTA_DATA_VERDICT { NFTA_VERDICT_CODE }
                }
            }
        }
    }
}
