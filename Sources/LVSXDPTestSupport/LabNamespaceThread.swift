// Runs a closure on a thread inside a lab namespace: XDP attach, AF_XDP bind and BPF_PROG_TEST_RUN act in the caller's namespace.
import Glibc
import LVSTestSupport

/// Runs `body` on a new thread that has entered the network namespace `namespace` (setns), and
/// waits for it. Sockets it opens stay in that namespace; netlink (XDP attach) and
/// BPF_PROG_TEST_RUN act there.
public func inNamespace<T>(_ namespace: String, _ body: @escaping () throws -> T) throws -> T {
    let fd = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw LabError("open /run/netns/\(namespace): errno \(errno)") }
    defer { close(fd) }
    var result: Result<T, any Error>?
    let box = NamespaceWork(fd) { result = Result { try body() } }
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { arg in
            let w = Unmanaged<NamespaceWork>.fromOpaque(arg!).takeUnretainedValue()
            if setnsFunction(w.ns, 0x4000_0000) != 0 {
                w.failed = errno
                return nil
            }
            w.run()
            return nil
        }, Unmanaged.passUnretained(box).toOpaque())
    guard rc == 0 else { throw LabError("pthread_create: \(rc)") }
    pthread_join(thread, nil)
    if box.failed != 0 { throw LabError("setns \(namespace): errno \(box.failed)") }
    return try result!.get()
}

final class NamespaceWork: @unchecked Sendable {
    let ns: Int32
    let run: () -> Void
    var failed: Int32 = 0
    init(_ ns: Int32, _ run: @escaping () -> Void) {
        self.ns = ns
        self.run = run
    }
}

/// setns(2), looked up at run time (glibc declares it only with _GNU_SOURCE).
let setnsFunction: @convention(c) (Int32, Int32) -> Int32 = {
    let sym = dlsym(dlopen(nil, RTLD_NOW), "setns")
    return unsafeBitCast(sym!, to: (@convention(c) (Int32, Int32) -> Int32).self)
}()
