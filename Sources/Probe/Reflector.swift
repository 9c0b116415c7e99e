import CProbe
#if canImport(Glibc)
import Glibc
#endif

/// The far end of a probe: a socket made inside the target namespace and a thread serving it,
/// so the probe needs no helper process and nothing outlives it.
final class Reflector: @unchecked Sendable {
    enum Mode { case echo, count }

    let fd: Int32
    let port: UInt16
    let mode: Mode
    let cpu: Int32?
    /// Written once by stop(); the thread wakes on it.
    private var stopPipe: [Int32] = [-1, -1]
    private var thread = pthread_t()
    /// Set by the thread: packets taken, first and last arrival (monotonic ns), and a failure.
    private(set) var count = 0
    private(set) var firstNs: Int64 = 0
    private(set) var lastNs: Int64 = 0
    private(set) var failure: String?

    init(namespace: String, address: String, mode: Mode, cpu: Int32?) throws {
        fd = try socket(in: namespace, bind: try inet(address, port: 0), connect: nil)
        port = boundPort(fd)
        self.mode = mode
        self.cpu = cpu
        // A flood must not be measured as the socket buffer's size.
        var big: Int32 = 16 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, socklen_t(MemoryLayout<Int32>.size))
        guard vfw_probe_pipe(&stopPipe) == 0 else { close(fd); throw ProbeError.failed("pipe: \(lastError())") }
        let me = Unmanaged.passRetained(self).toOpaque()
        guard pthread_create(&thread, nil, { arg in
            let r = Unmanaged<Reflector>.fromOpaque(arg!).takeRetainedValue()
            r.serve()
            return nil
        }, me) == 0 else {
            Unmanaged<Reflector>.fromOpaque(me).release()
            close(fd); close(stopPipe[0]); close(stopPipe[1])
            throw ProbeError.failed("cannot start the reflector thread")
        }
    }

    private func serve() {
        if let cpu, vfw_probe_pin(cpu) != 0 { failure = "cannot pin the reflector to CPU \(cpu): \(lastError())" }
        var buf = [UInt8](repeating: 0, count: 65536)
        var peer = sockaddr_in()
        while true {
            _ = vfw_probe_wait(fd, stopPipe[0], -1)
            if pollStop() { return }
            while mode == .count {
                let n = vfw_probe_recv_batch(fd)
                if n <= 0 { break }
                let now = vfw_probe_monotonic_ns()
                if count == 0 { firstNs = now }
                lastNs = now
                count += Int(n)
            }
            while mode == .echo {
                var len = socklen_t(MemoryLayout<sockaddr_in>.size)
                let n = buf.withUnsafeMutableBytes { b in
                    withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len) } }
                }
                if n < 0 { break }
                let now = vfw_probe_monotonic_ns()
                if count == 0 { firstNs = now }
                lastNs = now
                count += 1
                _ = buf.withUnsafeBytes { b in
                    withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, b.baseAddress, n, 0, $0, len) } }
                }
            }
        }
    }

    private func pollStop() -> Bool {
        var p = pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Stops the thread and waits for it; afterwards its counts are final.
    func stop() -> String? {
        guard stopPipe[1] >= 0 else { return failure }
        var b: UInt8 = 1
        _ = write(stopPipe[1], &b, 1)
        pthread_join(thread, nil)
        close(stopPipe[0]); close(stopPipe[1]); close(fd)
        stopPipe = [-1, -1]
        return failure
    }
}
