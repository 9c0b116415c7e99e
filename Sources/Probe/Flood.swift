import CProbe
#if canImport(Glibc)
import Glibc
#endif

/// A packet rate: datagrams sent as fast as one socket can, bounded in count and time, and
/// how many the far namespace's socket took over how long.
public struct FloodResult: Sendable {
    public var sent: Int
    public var received: Int
    public var seconds: Double
    /// Received datagrams per second, between the first and the last arrival.
    public var pps: Double { seconds > 0 ? Double(received) / seconds : 0 }
}

extension Probe {
    /// 18 payload bytes make a 64-byte Ethernet frame with its FCS, pktgen's smallest.
    public static let minimumFramePayload = 18

    public static func flood(_ o: ProbeOptions, maxSeconds: Double) throws -> FloodResult {
        let sink = try Reflector(namespace: o.to, address: o.address, mode: .count, cpu: o.reflectorCPU)
        var stopped = false
        defer { if !stopped { _ = sink.stop() } }
        let fd = try socket(in: o.from, bind: nil, connect: try inet(o.address, port: sink.port))
        defer { close(fd) }
        try pin(o.senderCPU, "sender")
        let packet = [UInt8](repeating: 0x5a, count: o.size)
        let deadline = vfw_probe_monotonic_ns() + Int64(maxSeconds * 1e9)
        var sent = 0
        while sent < o.count {
            // The clock is read once per batch, so the bound costs the sender next to nothing.
            if vfw_probe_monotonic_ns() >= deadline { break }
            let n = packet.withUnsafeBytes { vfw_probe_send_batch(fd, $0.baseAddress, $0.count, UInt32(min(o.count - sent, Int(VFW_PROBE_BATCH)))) }
            if n >= 0 { sent += Int(n) }
            else if errno != ENOBUFS && errno != EAGAIN { throw ProbeError.failed("sendmmsg: \(lastError())") }
        }
        // What is still in flight arrives within microseconds; the sink then sees nothing more.
        var last = -1
        while sink.count != last { last = sink.count; usleep(100_000) }
        stopped = true
        if let f = sink.stop() { throw ProbeError.failed(f) }
        return FloodResult(sent: sent, received: sink.count, seconds: Double(sink.lastNs - sink.firstNs) / 1e9)
    }
}
