import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// One run's histogram as `--hist FILE` wrote it to FILE.json.
public struct HistogramJSON: Decodable, Sendable {
    public var label: String
    public var sent: Int
    public var received: Int
    /// [value_us, count], ascending.
    public var buckets: [[Double]]

    public static func read(_ bytes: [UInt8]) throws -> HistogramJSON {
        try JSONDecoder().decode(HistogramJSON.self, from: Data(bytes))
    }

    /// (value, cumulative fraction) at every bucket.
    public var cdf: [(us: Double, fraction: Double)] {
        let total = buckets.reduce(0) { $0 + ($1.count > 1 ? $1[1] : 0) }
        var seen = 0.0
        return buckets.compactMap { b in
            guard b.count > 1, total > 0 else { return nil }
            seen += b[1]
            return (b[0], seen / total)
        }
    }
}

/// Latency CDFs as SVG, one line per run over a shared logarithmic time axis: small enough to
/// have no dependency, and SVG is what papers and browsers take.
public enum CDFPlot {
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    static let (width, height, left, right, top, bottom) = (720.0, 440.0, 70.0, 20.0, 20.0, 60.0)

    public static func svg(_ runs: [HistogramJSON], title: String = "latency CDF") -> String {
        let values = runs.flatMap { $0.cdf.map(\.us) }.filter { $0 > 0 }
        let lo = floorPow10(values.min() ?? 1), hi = ceilPow10(max(values.max() ?? 10, lo * 10))
        let plotW = width - left - right, plotH = height - top - bottom
        func x(_ us: Double) -> Double { left + plotW * (log10(max(us, lo)) - log10(lo)) / (log10(hi) - log10(lo)) }
        func y(_ f: Double) -> Double { top + plotH * (1 - f) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<title>\(escape(title))</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        var decade = lo
        while decade <= hi * 1.0001 {
            let px = n(x(decade))
            s += "<line x1=\"\(px)\" y1=\"\(n(top))\" x2=\"\(px)\" y2=\"\(n(top + plotH))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(px)\" y=\"\(n(top + plotH + 16))\" text-anchor=\"middle\">\(label(decade))</text>\n"
            decade *= 10
        }
        for f in stride(from: 0.0, through: 1.0, by: 0.25) {
            s += "<line x1=\"\(n(left))\" y1=\"\(n(y(f)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(f)))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y(f) + 4))\" text-anchor=\"end\">\(n(f))</text>\n"
        }
        s += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 20))\" text-anchor=\"middle\">round-trip time (µs)</text>\n"
        s += "<text transform=\"translate(16 \(n(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">cumulative fraction</text>\n"
        for (i, run) in runs.enumerated() {
            let colour = colours[i % colours.count]
            // A step function: each bucket's fraction holds until the next bucket's value.
            var points: [String] = []
            var previous = 0.0
            for p in run.cdf {
                points.append("\(n(x(p.us))),\(n(y(previous)))")
                points.append("\(n(x(p.us))),\(n(y(p.fraction)))")
                previous = p.fraction
            }
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
            let ly = top + 16 + Double(i) * 16
            s += "<line x1=\"\(n(left + 10))\" y1=\"\(n(ly - 4))\" x2=\"\(n(left + 30))\" y2=\"\(n(ly - 4))\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            s += "<text x=\"\(n(left + 36))\" y=\"\(n(ly))\">\(escape(run.label)) (\(run.received)/\(run.sent))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func floorPow10(_ v: Double) -> Double { pow(10, (log10(max(v, 1e-3))).rounded(.down)) }
    static func ceilPow10(_ v: Double) -> Double { pow(10, (log10(max(v, 1e-3))).rounded(.up)) }
    static func n(_ v: Double) -> String { HistogramFiles.fixed(v, 2) }
    static func label(_ us: Double) -> String { us >= 1 ? String(Int64(us.rounded())) : HistogramFiles.fixed(us, 3) }
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }
}
