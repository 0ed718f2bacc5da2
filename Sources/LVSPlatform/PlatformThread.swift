// Named OS threads for blocking work (never Swift's cooperative pool): the one thread helper.
import CLVSLinux
import Glibc

/// An OS thread running one closure, named as `ps -L`, `top -H` and perf show it (15
/// characters at most). Joinable unless started `detached`.
///
/// Every long-lived thread of lvsd is one of these: the packet worker, readers of sockets
/// (`DescriptorWatcher`), the VRRP executor (`ThreadExecutor`), the probe pool
/// (`BlockingPool`), the control server's acceptor and its clients.
public final class PlatformThread: @unchecked Sendable {
    private let handle: pthread_t
    private var joined = false

    private init(handle: pthread_t) { self.handle = handle }

    private final class Box {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new joinable thread called `name`; nil if the system refused one.
    public static func start(name: String, stackSize: Int? = nil, _ body: sending @escaping () -> Void)
        -> PlatformThread?
    {
        create(name: name, stackSize: stackSize, detached: false, body).map { PlatformThread(handle: $0) }
    }

    /// Starts `body` on a new detached thread called `name`; false if the system refused one.
    @discardableResult
    public static func detach(name: String, stackSize: Int? = nil, _ body: sending @escaping () -> Void) -> Bool {
        create(name: name, stackSize: stackSize, detached: true, body) != nil
    }

    /// Sets the calling thread's nice value (Linux: nice is per thread). False with `errno` set
    /// if the system refused it (a negative value needs CAP_SYS_NICE).
    public static func setNice(_ value: Int32) -> Bool {
        clvs_set_thread_nice(value) == 0
    }

    /// Waits for the thread to end (once; later calls return at once).
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }

    private static func create(name: String, stackSize: Int?, detached: Bool, _ body: @escaping () -> Void)
        -> pthread_t?
    {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        if let stackSize { pthread_attr_setstacksize(&attr, stackSize) }
        if detached { pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED)) }
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attr,
            { arg in
                let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
                clvs_name_thread(b.name)
                b.body()
                return nil
            }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return nil
        }
        return thread
    }
}
