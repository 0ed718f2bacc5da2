// DNS_CHECK, UDP_CHECK and PING_CHECK: datagram probes with a deadline.
import Foundation
import Glibc
import KeepalivedConfig
import LVSCore
import LVSHealthCheck

/// DNS_CHECK (check_dns.c): a UDP query of `type` for `name` with recursion desired; a reply
/// with the same id, the QR bit and RCODE 0 is success.
enum DNSCheck {
    static let types: [DNSQueryType: UInt16] = [.a: 1, .ns: 2, .cname: 5, .soa: 6, .mx: 15, .txt: 16, .aaaa: 28]

    /// The query message.
    static func query(id: UInt16, name: String, type: DNSQueryType) -> [UInt8] {
        var m: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        if name != "." {
            for label in name.split(separator: ".", omittingEmptySubsequences: true) {
                let bytes = Array(label.utf8.prefix(63))
                m.append(UInt8(bytes.count))
                m += bytes
            }
        }
        m.append(0)
        let t = types[type] ?? 6
        m += [UInt8(t >> 8), UInt8(t & 0xFF), 0, 1]
        return m
    }

    static func run(_ r: ProbeRequest) -> ProbeOutcome {
        guard case .dns(let d) = r.checker.kind else { return .failed("not DNS_CHECK") }
        do {
            let deadline = ProbeDeadline(after: r.timeout)
            let s = try ProbeSocket.connected(for: r, type: Int32(SOCK_DGRAM.rawValue), deadline: deadline)
            let id = UInt16.random(in: 0...UInt16.max)
            try s.sendAll(query(id: id, name: d.name, type: d.type), deadline: deadline)
            while true {
                let reply = try s.receive(max: 4096, deadline: deadline)
                guard reply.count >= 12 else { continue }
                guard UInt16(reply[0]) << 8 | UInt16(reply[1]) == id, reply[2] & 0x80 != 0 else { continue }
                let rcode = reply[3] & 0x0F
                if rcode != 0 { return .failed("read error occurred. (rcode = \(rcode))") }
                return .passed
            }
        } catch {
            return .failed(error.timedOut ? "read timeout from socket" : error.message, timedOut: error.timedOut)
        }
    }
}

/// UDP_CHECK (check_udp.c): sends `payload`; an ICMP port unreachable is failure; a reply, or
/// silence until `connect_timeout`, is success, except that with `require_reply` a reply is
/// needed, and with a reply pattern it must match (within min/max_reply_length).
enum UDPCheck {
    static func run(_ r: ProbeRequest) -> ProbeOutcome {
        guard case .udp(let u) = r.checker.kind else { return .failed("not UDP_CHECK") }
        do {
            let deadline = ProbeDeadline(after: r.timeout)
            let s = try ProbeSocket.connected(for: r, type: Int32(SOCK_DGRAM.rawValue), deadline: deadline)
            let payload = u.payload ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
            try s.sendAll(payload, deadline: deadline)
            let reply: [UInt8]
            do {
                reply = try s.receive(max: Int(u.maxReplyLength) + 1, deadline: deadline)
            } catch  where error.timedOut {
                return u.requireReply ? .failed("no reply", timedOut: true) : .passed
            }
            if let pattern = u.replyPattern, !matches(reply, pattern: pattern, mask: u.replyMask, config: u) {
                return .failed("reply data mismatch")
            }
            return .passed
        } catch {
            return .failed(error.message, timedOut: error.timedOut)
        }
    }

    /// keepalived `check_udp_reply`: the length within bounds and the first bytes matching
    /// the pattern where the mask says they matter (the config keeps, per byte, the bits that must match).
    static func matches(_ reply: [UInt8], pattern: [UInt8], mask: [UInt8]?, config u: UDPCheckConfig) -> Bool {
        if reply.count < Int(u.minReplyLength) || reply.count > Int(u.maxReplyLength) { return false }
        for i in 0..<min(reply.count, pattern.count) {
            let care: UInt8 = mask.map { i < $0.count ? $0[i] : 0xFF } ?? 0xFF
            if (reply[i] ^ pattern[i]) & care != 0 { return false }
        }
        return true
    }
}

/// PING_CHECK (check_ping.c): one ICMP / ICMPv6 echo request; an echo reply within
/// `connect_timeout` is success. Uses a ping socket, or a raw socket when the ping group
/// range does not include us.
enum PingCheck {
    static func checksum(_ b: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < b.count {
            sum += UInt32(b[i]) << 8 | UInt32(b[i + 1])
            i += 2
        }
        if i < b.count { sum += UInt32(b[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func run(_ r: ProbeRequest) -> ProbeOutcome {
        let v6 = r.destination.address.family == .inet6
        let proto = v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP)
        let echoRequest: UInt8 = v6 ? 128 : 8
        let echoReply: UInt8 = v6 ? 129 : 0
        let id = UInt16.random(in: 1...UInt16.max)
        let seq = UInt16.random(in: 0...UInt16.max)
        var packet: [UInt8] = [
            echoRequest, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(seq >> 8), UInt8(seq & 0xFF),
        ]
        packet += (0..<56).map { UInt8($0) }
        if !v6 {
            let c = checksum(packet)
            packet[2] = UInt8(c >> 8)
            packet[3] = UInt8(c & 0xFF)
        }
        do throws(ProbeSocketError) {
            let s: ProbeSocket
            var raw = false
            do throws(ProbeSocketError) {
                s = try ProbeSocket(
                    family: r.destination.address.family, type: Int32(SOCK_DGRAM.rawValue), protocol: proto)
            } catch {
                s = try ProbeSocket(
                    family: r.destination.address.family, type: Int32(SOCK_RAW.rawValue), protocol: proto)
                raw = true
            }
            try s.configure(
                source: r.source, interface: r.checker.connection.bindInterface, mark: r.checker.connection.firewallMark
            )
            let deadline = ProbeDeadline(after: r.timeout)
            let sent = withSocketAddress(Endpoint(r.destination.address, 0)) { sa, len in
                packet.withUnsafeBytes { Glibc.sendto(s.fd, $0.baseAddress, $0.count, 0, sa, len) }
            }
            if sent < 0 { throw ProbeSocketError.errno("send ICMP packet fail") }
            while true {
                var reply = try s.receive(max: 1500, deadline: deadline)
                if raw && !v6 {
                    // Raw IPv4 sockets deliver the IP header; skip it and check the source.
                    guard reply.count >= 20 else { continue }
                    let ihl = Int(reply[0] & 0x0F) * 4
                    let src = IPv4Address(
                        UInt32(reply[12]) << 24 | UInt32(reply[13]) << 16 | UInt32(reply[14]) << 8 | UInt32(reply[15]))
                    guard reply.count >= ihl + 8, IPAddress.v4(src) == r.destination.address else { continue }
                    reply = Array(reply[ihl...])
                }
                guard reply.count >= 8 else { continue }
                if reply[0] == echoReply {
                    if raw && (UInt16(reply[4]) << 8 | UInt16(reply[5])) != id { continue }
                    if (UInt16(reply[6]) << 8 | UInt16(reply[7])) != seq { continue }
                    return .passed
                }
                if raw { continue }
                return .failed("Got ICMP packet with type 0x\(String(reply[0], radix: 16))")
            }
        } catch {
            return .failed(error.message, timedOut: error.timedOut)
        }
    }
}

/// SMTP_CHECK (check_smtp.c): a 220 greeting, `HELO helo_name` answered by 250, then `QUIT`
/// and its answer.
enum SMTPCheck {
    static let defaultHelo = "smtpchecker.keepalived.org"

    /// The status of a reply line: three digits followed by a blank, `-` or the end.
    static func status(_ line: String) -> Int? {
        let digits = line.prefix(3)
        guard digits.count == 3, let n = Int(digits) else { return nil }
        let rest = line.dropFirst(3)
        guard rest.isEmpty || rest.first == " " || rest.first == "-" else { return nil }
        return n
    }

    static func run(_ r: ProbeRequest) -> ProbeOutcome {
        guard case .smtp(let cfg) = r.checker.kind else { return .failed("not SMTP_CHECK") }
        let server = "\(r.destination)"
        do {
            let s = try ProbeSocket.connected(
                for: r, type: Int32(SOCK_STREAM.rawValue), deadline: ProbeDeadline(after: r.timeout))
            var buffer: [UInt8] = []
            guard status(try s.readLine(buffer: &buffer, deadline: ProbeDeadline(after: r.timeout))) == 220 else {
                return .failed("Bad greeting banner from server \(server)")
            }
            try s.sendAll(
                Array("HELO \(cfg.heloName ?? defaultHelo)\r\n".utf8), deadline: ProbeDeadline(after: r.timeout))
            guard status(try s.readLine(buffer: &buffer, deadline: ProbeDeadline(after: r.timeout))) == 250 else {
                return .failed("Bad HELO response from server \(server)")
            }
            try s.sendAll(Array("QUIT\r\n".utf8), deadline: ProbeDeadline(after: r.timeout))
            _ = try s.readLine(buffer: &buffer, deadline: ProbeDeadline(after: r.timeout))
            return .passed
        } catch {
            return .failed("\(error.message) (server \(server))", timedOut: error.timedOut)
        }
    }
}
