// libFuzzer target: every datagram through the sync decoder (with and without a key, every sync-id
// filter), the backup engine, and the decoded entries through a backup's IPVS table, with invariants.
import LVSCore
import LVSSync

// Invariants (a violation traps and libFuzzer keeps the input):
// - the decoder reads only inside the datagram (it sits exactly sized at the end of its allocation);
// - a datagram it accepts re-encodes (as version 1) into a message that decodes to the same entries;
// - applying any accepted entry to a table never traps, and the table's count stays consistent.

let key = SyncKey(Array("fuzz-key".utf8))
nonisolated(unsafe) var backup = SyncBackupEngine(syncID: 0, maximumLength: 65507)
nonisolated(unsafe) let table: IPVS = {
    let ipvs = IPVS()
    let vip = ServiceKey.endpoint(.tcp, Endpoint(.v4(IPv4Address(192, 168, 0, 240)), 80))
    try? ipvs.addService(VirtualServiceSpec(key: vip, scheduler: "rr", flags: .persistent, persistenceTimeout: 60))
    try? ipvs.addRealServer(RealServerSpec(endpoint: Endpoint(.v4(IPv4Address(192, 168, 0, 223)), 80)), to: vip)
    return ipvs
}()
nonisolated(unsafe) var now: UInt64 = 1_000_000_000

func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fatalError("invariant: \(what())") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 1)
    defer { exact.deallocate() }
    let datagram = UnsafeMutableRawBufferPointer(rebasing: exact[(max(size, 1) - size)...])
    if size > 0 { datagram.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: size)) }
    let input = UnsafeRawBufferPointer(datagram)
    now &+= 10_000_000
    for id in [UInt8(0), 7] {
        _ = SyncDecoder(syncID: id, key: key).decode(input)
        _ = SyncDecoder(syncID: id, maximumLength: 1472).decode(input)
    }
    _ = backup.receive(input, now: Timestamp(nanoseconds: now))
    guard case .success(.connections(let m)) = SyncDecoder().decode(input) else { return 0 }
    // Round trip: what was accepted encodes and decodes to the same entries.
    var builder = SyncMessageBuilder(syncID: m.syncID, maximumLength: 65507)
    var out: [[UInt8]] = []
    for c in m.connections where m.version == 1 {
        if let done = builder.append(c, version: 1, now: .zero) { out.append(done) }
    }
    if let last = builder.finish() { out.append(last) }
    var again: [SyncConnection] = []
    for o in out {
        guard case .success(.connections(let d)) = o.withUnsafeBytes({ SyncDecoder().decode($0) }) else {
            fatalError("invariant: re-encoded message does not decode")
        }
        again += d.connections
    }
    if m.version == 1 { check(again == m.connections, "round trip") }
    // Apply to a backup table.
    for c in m.connections { _ = table.applySynced(c, now: Timestamp(nanoseconds: now)) }
    table.advance(to: Timestamp(nanoseconds: now))
    check(table.connectionCount == table.connections(now: Timestamp(nanoseconds: now)).count, "count")
    if table.connectionCount > 50_000 { table.advance(to: Timestamp(nanoseconds: now &+ 1 << 50)) }
    return 0
}
