import CProbe
import Namespaces
#if canImport(Glibc)
import Glibc
#endif

public enum ProbeError: Error, CustomStringConvertible, Sendable {
    case failed(String)
    public var description: String { switch self { case .failed(let m): m } }
}

/// What to measure: from a socket in one namespace to a reflector bound to `address` in another.
public struct ProbeOptions: Sendable {
    public var from: String
    public var to: String
    public var address: String
    public var count = 1000
    public var rate = 1000.0
    /// UDP payload bytes; ping's -s takes the same number, so both send equal frames.
    public var size = 32
    public var senderCPU: Int32?
    public var reflectorCPU: Int32?
    /// How long to wait for answers after the last probe.
    public var drainNs: Int64 = 1_000_000_000
    public init(from: String, to: String, address: String) { self.from = from; self.to = to; self.address = address }
}

/// A run's figures, and how its times were taken.
public struct ProbeResult: Sendable {
    public var latencies: Latencies
    /// Samples whose both ends were kernel (software or hardware) timestamps; the rest fell
    /// back to the probe's own clock reads around send and receive.
    public var kernelStamped: Int
    public var hardwareStamped: Int
}

/// A socket in a network namespace: sockets keep the namespace they were made in, so only
/// their creation needs the namespace, and every thread can use them afterwards.
func socket(in nsName: String, bind address: sockaddr_in?, connect peer: sockaddr_in?) throws -> Int32 {
    let ns = try NetNS(path: namespacePath(nsName))
    return try ns.run { () throws -> Int32 in
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ProbeError.failed("socket: \(lastError())") }
        if var a = address {
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc != 0 { let m = lastError(); close(fd); throw ProbeError.failed("cannot bind \(describe(a)) in \(nsName): \(m)") }
        }
        if var p = peer {
            let rc = withUnsafePointer(to: &p) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc != 0 { let m = lastError(); close(fd); throw ProbeError.failed("cannot reach \(describe(p)) from \(nsName): \(m)") }
        }
        return fd
    }
}

/// A name under /run/netns (as `ip netns` makes them), or a path such as /proc/PID/ns/net.
public func namespacePath(_ name: String) -> String { name.contains("/") ? name : "/run/netns/\(name)" }

func lastError() -> String { String(cString: strerror(errno)) }

func inet(_ text: String, port: UInt16) throws -> sockaddr_in {
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = port.bigEndian
    guard inet_pton(AF_INET, text, &a.sin_addr) == 1 else { throw ProbeError.failed("'\(text)' is not an IPv4 address") }
    return a
}

func describe(_ a: sockaddr_in) -> String {
    var a = a
    var buf = [UInt8](repeating: 0, count: 64)
    _ = buf.withUnsafeMutableBufferPointer { b in b.withMemoryRebound(to: CChar.self) { inet_ntop(AF_INET, &a.sin_addr, $0.baseAddress, 64) } }
    return "\(String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)):\(UInt16(bigEndian: a.sin_port))"
}

func boundPort(_ fd: Int32) -> UInt16 {
    var a = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: a.sin_port)
}

func pin(_ cpu: Int32?, _ who: String) throws {
    guard let cpu else { return }
    if vfw_probe_pin(cpu) != 0 { throw ProbeError.failed("cannot pin the \(who) to CPU \(cpu): \(lastError())") }
}

public enum Probe {
    /// Sends `count` probes at `rate` and times each answer with the kernel's timestamps.
    public static func run(_ o: ProbeOptions) throws -> ProbeResult {
        guard o.count > 0, o.rate > 0 else { throw ProbeError.failed("count and rate must be positive") }
        guard o.size >= 16, o.size <= 65000 else { throw ProbeError.failed("size must be 16..65000 bytes (a sequence number and a session fit in 16)") }
        let reflector = try Reflector(namespace: o.to, address: o.address, mode: .echo, cpu: o.reflectorCPU)
        defer { _ = reflector.stop() }
        let fd = try socket(in: o.from, bind: nil, connect: try inet(o.address, port: reflector.port))
        defer { close(fd) }
        if vfw_probe_enable_timestamps(fd) != 0 { throw ProbeError.failed("SO_TIMESTAMPING: \(lastError())") }
        // Answers must wait out a descheduled sender on a busy machine, not be lost as the link's loss.
        var big: Int32 = 16 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, socklen_t(MemoryLayout<Int32>.size))
        try pin(o.senderCPU, "sender")

        let session = UInt64.random(in: 1...UInt64.max)
        var packet = [UInt8](repeating: 0, count: o.size)
        var reply = [UInt8](repeating: 0, count: o.size + 64)
        var txKernel = [Int64](repeating: 0, count: o.count), txSched = txKernel, txHW = txKernel, txUser = txKernel
        var rxKernel = txKernel, rxHW = txKernel, rxUser = txKernel
        var answered = [Bool](repeating: false, count: o.count)
        var received = 0

        func drain() {
            var st = vfw_probe_stamp()
            while true {
                let n = reply.withUnsafeMutableBytes { vfw_probe_recv(fd, $0.baseAddress, $0.count, 1, &st) }
                if n < 0 { break }
                guard st.is_tx != 0, Int(st.id) < o.count else { continue }
                if st.is_sched != 0 { txSched[Int(st.id)] = st.sw } else { txKernel[Int(st.id)] = st.sw; txHW[Int(st.id)] = st.hw }
            }
            while true {
                let n = reply.withUnsafeMutableBytes { vfw_probe_recv(fd, $0.baseAddress, $0.count, 0, &st) }
                if n < 0 { break }
                let now = vfw_probe_realtime_ns()
                guard n >= 12 else { continue }
                let (s, seq) = reply.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), Int($0.loadUnaligned(fromByteOffset: 8, as: UInt32.self))) }
                guard s == session, seq < o.count, !answered[seq] else { continue }
                answered[seq] = true
                received += 1
                rxKernel[seq] = st.sw; rxHW[seq] = st.hw; rxUser[seq] = now
            }
        }

        let interval = Int64(1e9 / o.rate)
        let start = vfw_probe_monotonic_ns()
        for seq in 0..<o.count {
            let due = start + Int64(seq) * interval
            while true {
                let now = vfw_probe_monotonic_ns()
                if now >= due { break }
                _ = vfw_probe_wait(fd, -1, due - now)
                drain()
            }
            packet.withUnsafeMutableBytes {
                $0.storeBytes(of: session, as: UInt64.self)
                $0.storeBytes(of: UInt32(seq), toByteOffset: 8, as: UInt32.self)
            }
            txUser[seq] = vfw_probe_realtime_ns()
            if packet.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) < 0 {
                // A full queue (a shaper's) is loss the probe must count, not an error.
                if errno != ENOBUFS && errno != EAGAIN { throw ProbeError.failed("send: \(lastError())") }
            }
            drain()
        }
        let end = vfw_probe_monotonic_ns() + o.drainNs
        while received < o.count {
            let now = vfw_probe_monotonic_ns()
            if now >= end { break }
            _ = vfw_probe_wait(fd, -1, end - now)
            drain()
        }
        // Transmit stamps of the last answers may trail them on the error queue.
        drain()

        var samples: [Int64] = []
        var kernel = 0, hardware = 0
        for i in 0..<o.count where answered[i] {
            // The send as it entered the qdisc where the kernel says so, so the sender's shaping counts.
            let tx = txSched[i] > 0 ? txSched[i] : txKernel[i]
            if txHW[i] > 0, rxHW[i] > 0 { samples.append(rxHW[i] - txHW[i]); hardware += 1; kernel += 1 }
            else if tx > 0, rxKernel[i] > 0 { samples.append(rxKernel[i] - tx); kernel += 1 }
            else { samples.append((rxKernel[i] > 0 ? rxKernel[i] : rxUser[i]) - (tx > 0 ? tx : txUser[i])) }
        }
        return ProbeResult(latencies: Latencies(sent: o.count, samples: samples), kernelStamped: kernel, hardwareStamped: hardware)
    }
}
