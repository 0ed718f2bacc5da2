// Helpers for tests: frames in buffers with headroom, parsing, deterministic random bytes.
import LVSCore
import LVSPacket
import LVSTestSupport

/// Runs `body` on a frame holding `bytes` behind `headroom` bytes, and returns the frame's bytes after.
func withFrame<R>(
    _ bytes: [UInt8], headroom: Int = Frame.recommendedHeadroom, tailroom: Int = 64,
    _ body: (inout Frame, PacketInfo, ParseVerdict) -> R
) -> (R, [UInt8]) {
    var storage = [UInt8](repeating: 0xEE, count: headroom + bytes.count + tailroom)
    return storage.withUnsafeMutableBytes { buf in
        buf.baseAddress!.advanced(by: headroom).copyMemory(from: bytes, byteCount: bytes.count)
        var frame = Frame(buffer: buf, start: headroom, length: bytes.count)
        var info = PacketInfo()
        let v = PacketParser.parse(frame.bytes, into: &info)
        let r = body(&frame, info, v)
        return (r, Array(frame.bytes))
    }
}

/// Parses `bytes`.
func parse(_ bytes: [UInt8]) -> (ParseVerdict, PacketInfo) {
    var info = PacketInfo()
    let v = bytes.withUnsafeBytes { PacketParser.parse($0, into: &info) }
    return (v, info)
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
}
