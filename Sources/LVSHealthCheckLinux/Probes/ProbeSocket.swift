// A socket for probes: non-blocking connect with a deadline, bindto/bind_port, SO_MARK, device.
import Foundation
import Glibc
import LVSCore
import LVSHealthCheck
import LVSPlatform

/// Why a probe's socket operation failed.
struct ProbeSocketError: Error {
    var message: String
    var timedOut = false

    static func errno(_ what: String) -> ProbeSocketError {
        ProbeSocketError(message: "\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// A point in time by which a probe step must finish.
typealias ProbeDeadline = PollDeadline

/// Builds a `sockaddr_in` / `sockaddr_in6` for an endpoint.
func withSocketAddress<R>(_ e: Endpoint, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    SocketAddress.with(e.address, port: e.port, body)
}

/// A non-blocking socket owned by one probe run; closed when released.
final class ProbeSocket {
    let fd: Int32
    let family: AddressFamily

    init(family: AddressFamily, type: Int32, protocol proto: Int32) throws(ProbeSocketError) {
        self.family = family
        let domain = family == .inet ? AF_INET : AF_INET6
        fd = socket(domain, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        if fd < 0 { throw .errno("socket") }
    }

    deinit { close(fd) }

    /// `bindto` / `bind_port`, `bind_if` (SO_BINDTODEVICE) and `fwmark` (SO_MARK).
    func configure(source: Endpoint?, interface: String?, mark: UInt32?) throws(ProbeSocketError) {
        if let interface {
            let ok = interface.withCString { p in
                setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p, socklen_t(strlen(p) + 1))
            }
            if ok != 0 { throw .errno("bind_if \(interface)") }
        }
        if var m = mark, m != 0 {
            if setsockopt(fd, SOL_SOCKET, SO_MARK, &m, socklen_t(MemoryLayout<UInt32>.size)) != 0 {
                throw .errno("fwmark")
            }
        }
        if let source {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let r = withSocketAddress(source) { Glibc.bind(fd, $0, $1) }
            if r != 0 { throw .errno("bind \(source)") }
        }
    }

    /// Waits for `events` until the deadline; false on timeout.
    func wait(_ events: Int16, until deadline: ProbeDeadline) throws(ProbeSocketError) -> Bool {
        while true {
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, deadline.remainingMilliseconds)
            if r > 0 { return true }
            if r == 0 { return false }
            if errno == EINTR { continue }
            throw .errno("poll")
        }
    }

    /// connect(2) with a deadline: timeout, RST (`Connection refused`) or an ICMP error fail.
    func connect(to destination: Endpoint, deadline: ProbeDeadline) throws(ProbeSocketError) {
        let r = withSocketAddress(destination) { Glibc.connect(fd, $0, $1) }
        if r == 0 { return }
        guard errno == EINPROGRESS else { throw .errno("connect to \(destination)") }
        guard try wait(Int16(POLLOUT), until: deadline) else {
            throw ProbeSocketError(message: "connection to \(destination) timed out", timedOut: true)
        }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        if err != 0 {
            throw ProbeSocketError(message: "connect to \(destination): \(String(cString: strerror(err)))")
        }
    }

    /// Sends every byte before the deadline.
    func sendAll(_ bytes: [UInt8], deadline: ProbeDeadline) throws(ProbeSocketError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { b in
                Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                guard try wait(Int16(POLLOUT), until: deadline) else {
                    throw ProbeSocketError(message: "write timed out", timedOut: true)
                }
                continue
            }
            throw .errno("send")
        }
    }

    /// Receives up to `max` bytes before the deadline; empty at end of stream.
    func receive(max: Int, deadline: ProbeDeadline) throws(ProbeSocketError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        while true {
            // Data arriving does not extend the deadline (a trickling peer).
            if deadline.expired { throw ProbeSocketError(message: "read timed out", timedOut: true) }
            let n = buf.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, max, 0) }
            if n >= 0 { return Array(buf[0..<n]) }
            if errno == EAGAIN || errno == EINTR {
                guard try wait(Int16(POLLIN), until: deadline) else {
                    throw ProbeSocketError(message: "read timed out", timedOut: true)
                }
                continue
            }
            throw .errno("recv")
        }
    }

    /// Reads one line (up to `\n`) from a stream, before the deadline.
    func readLine(buffer: inout [UInt8], deadline: ProbeDeadline) throws(ProbeSocketError) -> String {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[..<nl]
                buffer.removeSubrange(...nl)
                var s = String(decoding: line, as: UTF8.self)
                if s.hasSuffix("\r") { s.removeLast() }
                return s
            }
            if buffer.count > 65536 { throw ProbeSocketError(message: "line too long") }
            let chunk = try receive(max: 4096, deadline: deadline)
            if chunk.isEmpty { throw ProbeSocketError(message: "connection closed") }
            buffer += chunk
        }
    }
}

/// The text of a NUL-terminated C buffer.
func stringFromCBuffer(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension ProbeSocket {
    /// A socket of `type` for the request's destination, bound as the checker says (`bindto`,
    /// `bind_port`, `bind_if`, `fwmark`) and connected within `deadline`.
    static func connected(for r: ProbeRequest, type: Int32, deadline: ProbeDeadline) throws(ProbeSocketError)
        -> ProbeSocket
    {
        let s = try ProbeSocket(family: r.destination.address.family, type: type, protocol: 0)
        try s.configure(
            source: r.source, interface: r.checker.connection.bindInterface, mark: r.checker.connection.firewallMark)
        try s.connect(to: r.destination, deadline: deadline)
        return s
    }
}
