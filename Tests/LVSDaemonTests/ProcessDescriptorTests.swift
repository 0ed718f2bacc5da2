// Waiting for processes on a process descriptor, and without one (where pidfd_open is refused).
import Glibc
import LVSPlatform
import Testing

@Suite("ProcessDescriptor: waits for a process to end")
struct ProcessDescriptorTests {
    /// Starts `sh -c SCRIPT` as a child.
    func child(_ script: String) throws -> pid_t {
        switch ChildProcess.spawn(["/bin/sh", "-c", script], user: nil, group: nil) {
        case .success(let pid): return pid
        case .failure(let e): throw e
        }
    }

    @Test("with a descriptor and without one (kernel before 5.3, seccomp): an ending child is seen, not reaped")
    func ends() throws {
        for fallback in [false, true] {
            let pid = try child("sleep 0.2; exit 7")
            let end = fallback ? ProcessDescriptor(withoutDescriptorFor: pid) : ProcessDescriptor(pid)
            #expect((end.descriptor >= 0) == !fallback)
            #expect(end.waitForEnd(timeout: .seconds(20)) == .ended)
            // Seeing the end does not reap: the exit status is still the caller's to take.
            let status = ChildProcess.reap(pid)
            #expect(status.map { ($0 >> 8) & 0xFF } == 7)
        }
    }

    @Test("a process still running when the time is up: timed out; a readable descriptor interrupts the wait")
    func timesOutAndInterrupts() throws {
        for fallback in [false, true] {
            let pid = try child("sleep 30")
            let end = fallback ? ProcessDescriptor(withoutDescriptorFor: pid) : ProcessDescriptor(pid)
            #expect(end.waitForEnd(timeout: .milliseconds(100)) == .timedOut)
            let wake = try WakeDescriptor()
            wake.signal()
            #expect(end.waitForEnd(timeout: .seconds(20), orReadable: wake.descriptor) == .interrupted)
            kill(pid, SIGKILL)
            #expect(end.waitForEnd(timeout: .seconds(20)) == .ended)
            ChildProcess.reap(pid)
        }
    }

    @Test("a process that is gone (not our child, or no longer there) has ended")
    func gone() throws {
        let pid = try child("exit 0")
        ChildProcess.reap(pid)
        #expect(ProcessDescriptor(pid).waitForEnd(timeout: .seconds(5)) == .ended)
        #expect(ProcessDescriptor(withoutDescriptorFor: pid).waitForEnd(timeout: .seconds(5)) == .ended)
    }
}
