// Plain OS threads for blocking socket work (never the cooperative pool).
import Glibc

/// Starts `body` on a new OS thread; returns the thread (joinable unless `detached`), or nil if
/// the system refused to create one.
@discardableResult
func startThread(detached: Bool, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(box).release()
        return nil
    }
    if detached { pthread_detach(thread) }
    return thread
}
