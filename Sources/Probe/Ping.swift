import Namespaces
#if canImport(Glibc)
import Glibc
#endif

/// `ping -c N -i 0 -q` over the probe's own path: the reference the probe's cost is read
/// against (ICMP echo answered in the far kernel, no socket or thread of ours at that end).
public struct PingResult: Sendable {
    public var minUs: Double
    public var avgUs: Double
    public var maxUs: Double
    public var mdevUs: Double
    public var sent: Int
    public var received: Int

    /// Reads iputils' summary: "N packets transmitted, M received" and "rtt min/avg/max/mdev = a/b/c/d ms".
    public init?(output: String) {
        var sent: Int?, received: Int?, rtt: [Double]?
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "transmitted,"), i >= 2 {
                sent = Int(words[i - 2])
                if i + 1 < words.count { received = Int(words[i + 1]) }
            }
            if line.hasPrefix("rtt ") || line.hasPrefix("round-trip "), let eq = words.firstIndex(of: "="), eq + 1 < words.count {
                rtt = words[eq + 1].split(separator: "/").compactMap { Double($0) }
            }
        }
        guard let sent, let received, let rtt, rtt.count == 4 else { return nil }
        self.sent = sent; self.received = received
        minUs = rtt[0] * 1000; avgUs = rtt[1] * 1000; maxUs = rtt[2] * 1000; mdevUs = rtt[3] * 1000
    }

    /// Runs ping from inside `namespace`: a child starts in the namespace of the thread that
    /// spawns it.
    public static func run(namespace: String, address: String, count: Int, size: Int) throws -> PingResult {
        let ns = try NetNS(path: namespacePath(namespace))
        let argv = ["ping", "-n", "-q", "-c", String(count), "-i", "0", "-s", String(size), "-W", "1", address]
        let (_, text) = try ns.run { try capture(argv) }
        guard let r = PingResult(output: text) else { throw ProbeError.failed("cannot read ping's summary: \(text)") }
        return r
    }
}
