// ipvsadm-restore's `grep -v '^#'`: lines starting with '#' never reach `ipvsadm -R`.

/// Wraps an input and drops every line whose first byte is `#`, as the ipvsadm-restore script's
/// `grep -v "^#" | ipvsadm -R` does.
public final class CommentStrippingInput: IPVSAdmInput {
    private let base: any IPVSAdmInput
    private var pending: [UInt8] = []
    private var ready: [UInt8] = []
    private var atEnd = false

    public init(_ base: any IPVSAdmInput) { self.base = base }

    public func read(maximum: Int) -> [UInt8] {
        while ready.isEmpty && !atEnd {
            let more = base.read(maximum: maximum)
            if more.isEmpty {
                atEnd = true
                if !pending.isEmpty && pending.first != 0x23 { ready.append(contentsOf: pending) }
                pending.removeAll()
                break
            }
            pending.append(contentsOf: more)
            var start = 0
            while let nl = pending[start...].firstIndex(of: 0x0A) {
                if pending[start] != 0x23 {
                    ready.append(contentsOf: pending[start...nl])
                }
                start = nl + 1
            }
            pending.removeSubrange(0..<start)
        }
        let n = min(maximum, ready.count)
        defer { ready.removeSubrange(0..<n) }
        return Array(ready[0..<n])
    }
}
