// The lexical rules of keepalived.conf (keepalived lib/parser.c), one test per rule.
import KeepalivedConfig
import Testing

@Suite("Reader: comments, whitespace, quotes, continuation")
struct ReaderLexicalTests {
    @Test("K:parser.c decomment: '#' and '!' start a comment anywhere on a line")
    func comments() {
        #expect(
            words("# whole line\n! also\npriority 100 # trailing\nadvert_int 1 ! bang\nvirtual_router_id 121# 虚拟路由")
                == [["priority", "100"], ["advert_int", "1"], ["virtual_router_id", "121"]])
    }

    @Test("K:parser.c decomment: comment characters inside \"...\" are kept")
    func commentInQuotes() {
        #expect(words(#"script "/bin/check a#b!c" # real comment"#) == [["script", "/bin/check a#b!c"]])
    }

    @Test("K:parser.c decomment: \\# and \\! outside quotes are the literal characters")
    func escapedCommentCharacters() {
        #expect(words(##"router_id a\#b\!c"##) == [["router_id", "a#b!c"]])
    }

    @Test("K:parser.c std definitions: ${_HASH} and ${_BANG} give '#' and '!' without starting a comment")
    func hashAndBangDefinitions() {
        #expect(words("router_id a${_HASH}b${_BANG}c") == [["router_id", "a#b!c"]])
    }

    @Test("K:parser.c: leading and trailing blanks are stripped; words split on blanks and tabs")
    func whitespace() {
        #expect(words("   \t router_id \t  r1   \t\n\n   \n") == [["router_id", "r1"]])
    }

    @Test("K:keepalived.conf(5): a trailing '\\' continues the line on the next one")
    func continuation() {
        let (lines, _) = readLines("virtual_server 10.0.0.1 \\\n      80 {\n  lb_algo rr\n}")
        #expect(lines.map(\.words) == [["virtual_server", "10.0.0.1", "80"], ["{"], ["lb_algo", "rr"], ["}"]])
        #expect(lines.map(\.location.line) == [1, 1, 3, 4])
    }

    @Test("K:parser.c alloc_strvec: \"...\" is one word and the quotes are dropped")
    func quotedWords() {
        #expect(
            words(#"notification_email_from "Ops Team <ops@example.com>" x"y z""#)
                == [["notification_email_from", "Ops Team <ops@example.com>", "x", "y z"]])
    }

    @Test("K:parser.c: an unmatched quote is reported with its line")
    func unmatchedQuote() {
        let (_, diagnostics) = readLines("router_id a\nscript \"/bin/x\n")
        #expect(diagnostics.map(\.description).contains("keepalived.conf:2: unterminated quote in 'script \"/bin/x'"))
    }

    @Test("CRLF line endings read like LF ones")
    func crlf() {
        #expect(
            words("global_defs {\r\n  router_id r1\r\n}\r\n") == [["global_defs"], ["{"], ["router_id", "r1"], ["}"]])
    }

    @Test("No-break and full-width spaces pasted from web pages read as spaces (noted once per file)")
    func foreignSpaces() {
        let (lines, diagnostics) = readLines("\u{A0} \u{A0} state\u{A0}MASTER\n\u{3000}priority\u{3000}100")
        #expect(lines.map(\.words) == [["state", "MASTER"], ["priority", "100"]])
        #expect(
            diagnostics.map(\.description) == [
                "keepalived.conf:1: non-ASCII space characters (such as U+00A0 or U+3000) read as spaces"
            ])
        #expect(diagnostics.first?.severity == .note)
    }
}

@Suite("Reader: braces")
struct ReaderBraceTests {
    @Test("K:parser.c read_line: 'kw {' splits at the first unquoted brace")
    func braceOnKeywordLine() {
        #expect(words("global_defs {\nrouter_id r\n}") == [["global_defs"], ["{"], ["router_id", "r"], ["}"]])
    }

    @Test("K:parser.c read_line: '{' on the next line works the same")
    func braceOnNextLine() {
        #expect(words("global_defs\n{\nrouter_id r\n}") == [["global_defs"], ["{"], ["router_id", "r"], ["}"]])
    }

    @Test("K:parser.c read_line: one-line 'virtual_ipaddress { 1.2.3.4 }' gives one token per line")
    func oneLineBlock() {
        #expect(
            words("virtual_ipaddress { 1.2.3.4 5.6.7.8 } advert_int 1")
                == [["virtual_ipaddress"], ["{"], ["1.2.3.4", "5.6.7.8"], ["}"], ["advert_int", "1"]])
        let vips = check("vrrp_instance V { virtual_router_id 1\n virtual_ipaddress { 1.2.3.4 } }")
            .configuration.vrrpInstances.first?.virtualIPAddresses.map(\.address.description)
        #expect(vips == ["1.2.3.4"])
    }

    @Test("K:parser.c read_line: braces inside \"...\" do not split the line")
    func quotedBraces() {
        #expect(words(#"notify_master "/bin/x {a}" root"#) == [["notify_master", "/bin/x {a}", "root"]])
    }

    @Test("K:parser.c: an extra '}' is reported with its line")
    func extraBrace() {
        let r = check("global_defs {\n router_id r\n}\n}\n")
        #expect(messages(r) == ["keepalived.conf:4: extra '}'"])
    }

    @Test("K:parser.c process_stream: a block keyword without '{' reports the missing brace")
    func missingOpenBrace() {
        let r = check("global_defs\n router_id r\n}\n")
        #expect(messages(r) == ["keepalived.conf:2: missing '{' after 'global_defs'"])
        #expect(r.configuration.globalDefs.routerID == "r")
    }

    @Test("K:parser.c init_data: a block left open at the end is reported (keepalived: missing '}')")
    func missingCloseBrace() {
        let r = check("global_defs {\n router_id r\n")
        #expect(
            messages(r) == ["keepalived.conf:1: 'global_defs' block is not closed: missing '}' at end of configuration"]
        )
        #expect(r.exitCode == .errors)
    }
}

@Suite("Reader: conditional lines (@id, @^id)")
struct ReaderConditionalTests {
    let text =
        "@main router_id main_router\n@backup router_id backup_router\n@^main peer not_main\n@^backup peer not_backup\n@main\n"

    @Test("K:keepalived.conf(5): '@id line' is kept only when id is the config-id")
    func matching() {
        #expect(words(text, configID: "main") == [["router_id", "main_router"], ["peer", "not_backup"]])
        #expect(words(text, configID: "backup") == [["router_id", "backup_router"], ["peer", "not_main"]])
    }

    @Test("K:keepalived.conf(5): '@^id line' is kept only when id is not the config-id")
    func otherID() {
        #expect(words(text, configID: "other") == [["peer", "not_main"], ["peer", "not_backup"]])
    }

    @Test("Without a config-id every '@id' line is dropped and every '@^id' line kept")
    func noID() {
        #expect(words(text) == [["peer", "not_main"], ["peer", "not_backup"]])
    }
}

@Suite("Reader: parameters ($NAME=VALUE, $NAME, ${NAME})")
struct ReaderParameterTests {
    @Test("K:keepalived.conf(5): $NAME and ${NAME} are replaced; ${NAME} needs no blank after it")
    func simple() {
        #expect(
            words("$PRIO=240\npriority $PRIO\nweight ${PRIO}0\nx $PRIOx") == [
                ["priority", "240"], ["weight", "2400"], ["x", "$PRIOx"],
            ])
    }

    @Test("K:keepalived.conf(5): substitution happens at use time, recursively (ADDRESS_BASE example)")
    func useTime() {
        let text = """
            $ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}
            $ADDRESS_BASE_SUB=0
            ${ADDRESS_BASE}.100/32
            $ADDRESS_BASE_SUB=10
            ${ADDRESS_BASE}.100/32
            """
        #expect(words(text) == [["10.2.0.100/32"], ["10.2.10.100/32"]])
    }

    @Test("K:keepalived.conf(5): a parameter may hold a conditional ('$IF_MAIN=@main')")
    func conditionalInParameter() {
        #expect(words("$IF_MAIN=@main\n$IF_MAIN priority 240", configID: "main") == [["priority", "240"]])
        #expect(words("$IF_MAIN=@main\n$IF_MAIN priority 240", configID: "backup") == [])
    }

    @Test("K:keepalived.conf(5): no space before '='; undefined names stay as written")
    func notDefinitions() {
        #expect(words("$X =1\nrouter_id $UNDEFINED") == [["$X", "=1"], ["router_id", "$UNDEFINED"]])
    }

    @Test("A parameter defined by itself is reported, not expanded forever")
    func selfReference() {
        let (_, diagnostics) = readLines("$A=x$A\nrouter_id $A")
        #expect(
            diagnostics.contains { $0.line == 2 && $0.message.hasPrefix("parameter substitution does not terminate") })
    }

    @Test("K:keepalived.conf(5): multi-line definitions end each line with '\\' and expand where used")
    func multiline() {
        let text = """
            $INSTANCE= \\
            vrrp_instance VI_${NUM} { \\
                interface eth0.${NUM} \\
                virtual_router_id 1${NUM} \\
            }

            $NUM=0
            $INSTANCE
            $NUM=1
            $INSTANCE
            """
        let (lines, _) = readLines(text)
        #expect(
            lines.map(\.words) == [
                ["vrrp_instance", "VI_0"], ["{"], ["interface", "eth0.0"], ["virtual_router_id", "10"], ["}"],
                ["vrrp_instance", "VI_1"], ["{"], ["interface", "eth0.1"], ["virtual_router_id", "11"], ["}"],
            ])
        #expect(lines.map(\.location.line) == [8, 8, 8, 8, 8, 10, 10, 10, 10, 10])
        let r = check(text)
        #expect(r.configuration.vrrpInstances.map(\.name) == ["VI_0", "VI_1"])
        #expect(r.configuration.vrrpInstances.map(\.virtualRouterID) == [10, 11])
    }

    @Test("K:keepalived.conf(5): predefined ${_INSTANCE}, ${_PWD}, ${_ENV NAME}, ${_RANDOM MIN MAX}")
    func predefined() {
        #expect(
            words("a ${_INSTANCE} ${_PWD} ${_ENV ZONE} ${_RANDOM 7 7}", configID: "lvs1", environment: ["ZONE": "eu"])
                == [["a", "lvs1", ".", "eu", "7"]])
        let fs = InMemoryConfigFileSystem(["/etc/keepalived/keepalived.conf": "router_id ${_PWD}"])
        let lines = KeepalivedConfigLoader.readLines(file: "/etc/keepalived/keepalived.conf", fileSystem: fs).lines
        #expect(lines.map(\.words) == [["router_id", "/etc/keepalived"]])
    }
}

@Suite("Reader: repetition (~SEQ, ~SEQx, ~LST)")
struct ReaderRepetitionTests {
    @Test("K:keepalived.conf(5): ~SEQ(SUBNET, 0, 3) repeats the rest of the line for 0...3")
    func seq() {
        let (lines, _) = readLines("\n~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1")
        #expect(lines.map(\.words) == (0...3).map { ["ip_address", "10.0.\($0).1"] })
        #expect(lines.allSatisfy { $0.location.line == 2 })
    }

    @Test("K:keepalived.conf(5): ~SEQ step and start default to ±1")
    func seqDefaults() {
        #expect(words("~SEQ(i, 3) n $i") == [["n", "1"], ["n", "2"], ["n", "3"]])
        #expect(words("~SEQ(i, 3, 1) n $i") == [["n", "3"], ["n", "2"], ["n", "1"]])
        #expect(words("~SEQ(i, -2) n $i") == [["n", "-1"], ["n", "-2"]])
    }

    @Test("K:keepalived.conf(5): ~SEQx formats in hex; several ~SEQ on a line nest")
    func seqxNested() {
        #expect(
            words("~SEQx(SUBNET, 0x90, 0x10, 0xc0) ip_address fe80::20:${SUBNET}:1")
                == ["90", "a0", "b0", "c0"].map { ["ip_address", "fe80::20:\($0):1"] })
        #expect(
            words("~SEQx(AD2, 0x90, 0x10, 0xa0) ~SEQx(AD1, 0x12, -1, 0x11) fe81::10:${AD2}:${AD1}")
                == [["fe81::10:90:12"], ["fe81::10:90:11"], ["fe81::10:a0:12"], ["fe81::10:a0:11"]])
    }

    @Test("K:parser.c add_seq: a step going the wrong way is an error")
    func seqInvalid() {
        let (lines, diagnostics) = readLines("~SEQ(i, 1, -1, 3) n $i")
        #expect(lines.isEmpty)
        #expect(diagnostics.map(\.description) == ["keepalived.conf:1: invalid ~SEQ values '~SEQ(i, 1, -1, 3) n $i'"])
    }

    @Test("K:keepalived.conf(5): ~LST nests, takes {..} groups, and combines with ~SEQ")
    func lst() {
        #expect(
            words("~LST(IP, 1, 2) ~LST(IP1, 5,6) 192.169.${IP}.${IP1}")
                == [["192.169.1.5"], ["192.169.1.6"], ["192.169.2.5"], ["192.169.2.6"]])
        #expect(
            words("~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}") == [["192.168.10.1"], ["192.168.20.4"]])
        #expect(
            words("~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,170) 192.${IP2}.${IP}.${IP1}")
                == [["192.168.10.1"], ["192.170.10.1"], ["192.168.20.4"], ["192.170.20.4"]])
    }

    @Test("~SEQ can generate whole blocks: one real_server per value")
    func seqBlocks() {
        let text = virtualServer(
            "lb_algo rr\nlb_kind DR\nprotocol TCP\n~SEQ(N, 11, 13) real_server 10.0.1.$N 80 { weight $N }")
        let rs = check(text).configuration.virtualServers.first?.realServers
        #expect(rs?.map(\.address.description) == ["10.0.1.11", "10.0.1.12", "10.0.1.13"])
        #expect(rs?.map(\.weight) == [11, 12, 13])
    }
}
