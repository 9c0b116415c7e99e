/// Round-trip times of one run, kept whole: a probe run holds at most a few million samples, so
/// percentiles are exact ranks rather than a histogram's estimates.
public struct Latencies: Sendable {
    public private(set) var sent: Int
    /// Nanoseconds, one per answered probe.
    public private(set) var samples: [Int64]

    public init(sent: Int, samples: [Int64]) {
        self.sent = sent
        self.samples = samples.sorted()
    }

    public var received: Int { samples.count }
    public var loss: Double { sent == 0 ? 0 : Double(sent - received) / Double(sent) }

    /// The nearest-rank percentile, as hdrhistogram reports it: the smallest sample with at
    /// least `p` percent of the samples at or below it.
    public func percentile(_ p: Double) -> Int64? {
        guard !samples.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(samples.count)).rounded(.up))
        return samples[min(max(rank, 1), samples.count) - 1]
    }

    public static let reported: [(key: String, label: String, p: Double)] = [
        ("min_us", "min", 0), ("p50_us", "p50", 50), ("p90_us", "p90", 90), ("p99_us", "p99", 99),
        ("p999_us", "p99.9", 99.9), ("p9999_us", "p99.99", 99.99), ("max_us", "max", 100),
    ]

    /// The contract's figures in microseconds; nil when nothing came back.
    public var summary: [(key: String, label: String, us: Double?)] {
        Self.reported.map { r in (r.key, r.label, percentile(r.p).map { Double($0) / 1000 }) }
    }

    /// HDR-style buckets: every power of two split into 1024 equal steps, so a bucket's lower
    /// bound is within 0.1 % of every value it counts (three significant digits).
    public var buckets: [(lowerNs: Int64, count: Int)] {
        var out: [(lowerNs: Int64, count: Int)] = []
        for s in samples {
            let lower = Self.bucketLower(s)
            if out.last?.lowerNs == lower { out[out.count - 1].count += 1 } else { out.append((lower, 1)) }
        }
        return out
    }

    static func bucketLower(_ v: Int64) -> Int64 {
        guard v > 1023 else { return max(v, 0) }
        let shift = (63 - v.leadingZeroBitCount) - 10
        return (v >> shift) << shift
    }
}

/// A run's histogram as files: CSV and JSON for scripts and `probe plot`, and hdrhistogram's
/// percentile distribution (.hgrm), which its plotter and HistogramLogAnalyzer read.
public enum HistogramFiles {
    public static func csv(_ l: Latencies) -> String {
        var out = "value_us,count,cumulative_fraction\n"
        var seen = 0
        for b in l.buckets {
            seen += b.count
            out += "\(us(b.lowerNs)),\(b.count),\(fraction(seen, l.received))\n"
        }
        return out
    }

    public static func json(_ l: Latencies, label: String) -> String {
        let summary = l.summary.map { "\"\($0.key)\":\($0.us.map(us) ?? "null")" }.joined(separator: ",")
        let buckets = l.buckets.map { "[\(us($0.lowerNs)),\($0.count)]" }.joined(separator: ",")
        return "{\"label\":\(quoted(label)),\"unit\":\"us\",\"sent\":\(l.sent),\"received\":\(l.received),\(summary),"
            + "\"buckets\":[\(buckets)]}\n"
    }

    public static func hgrm(_ l: Latencies) -> String {
        var out = "\(pad("Value", 12)) \(pad("Percentile", 14)) \(pad("TotalCount", 10)) 1/(1-Percentile)\n\n"
        var seen = 0
        for b in l.buckets {
            seen += b.count
            let p = Double(seen) / Double(max(l.received, 1))
            let inverse = p < 1 ? fixed(1 / (1 - p), 2) : "inf"
            out += "\(pad(fixed(Double(b.lowerNs) / 1000, 3), 12)) \(pad(fixed(p, 12), 14)) \(pad(String(seen), 10)) \(inverse)\n"
        }
        let mean = l.samples.isEmpty ? 0 : Double(l.samples.reduce(0, +)) / Double(l.samples.count) / 1000
        out += "#[Mean    = \(fixed(mean, 3)), Max = \(fixed(Double(l.samples.last ?? 0) / 1000, 3))]\n"
        out += "#[Total count    = \(l.received)]\n"
        return out
    }

    /// Microseconds with nanosecond resolution, as plain decimal text.
    public static func us(_ ns: Int64) -> String { fixed(Double(ns) / 1000, 3) }
    public static func us(_ v: Double) -> String { fixed(v, 3) }

    static func fraction(_ a: Int, _ b: Int) -> String { fixed(Double(a) / Double(max(b, 1)), 6) }

    /// Formats without Foundation's locale-dependent String(format:).
    public static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (abs(v) * scale).rounded()
        let whole = Int64(r / scale)
        let frac = Int64(r - Double(whole) * scale)
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        return (v < 0 && r != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + f : "")
    }

    static func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }

    public static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
