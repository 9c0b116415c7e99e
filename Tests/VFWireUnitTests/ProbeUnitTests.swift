import XCTest
import Probe
#if canImport(FoundationXML)
import FoundationXML
#endif

final class ProbeUnitTests: XCTestCase {
    func testPercentilesAreNearestRank() {
        let l = Latencies(sent: 12, samples: (1...10).reversed().map { Int64($0) * 1000 })
        XCTAssertEqual(l.received, 10)
        XCTAssertEqual(l.loss, 2.0 / 12, accuracy: 1e-9)
        XCTAssertEqual(l.percentile(0), 1000, "min")
        XCTAssertEqual(l.percentile(50), 5000)
        XCTAssertEqual(l.percentile(90), 9000)
        XCTAssertEqual(l.percentile(99), 10000)
        XCTAssertEqual(l.percentile(100), 10000, "max")
        XCTAssertEqual(l.summary.map(\.key), ["min_us", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us"])
        XCTAssertNil(Latencies(sent: 5, samples: []).percentile(50), "nothing came back: no figure, not a zero")
    }

    func testBucketsKeepThreeSignificantDigits() {
        let values: [Int64] = [7, 1023, 1024, 1025, 2047, 123_456, 123_500, 9_999_999]
        let l = Latencies(sent: values.count, samples: values)
        XCTAssertEqual(l.buckets.reduce(0) { $0 + $1.count }, values.count)
        for v in values {
            let lower = l.buckets.last { $0.lowerNs <= v }!.lowerNs
            XCTAssertLessThanOrEqual(Double(v - lower) / Double(v), 1.0 / 1024, "\(v) in the bucket at \(lower)")
        }
        XCTAssertEqual(l.buckets.first?.lowerNs, 7, "values below 1024 ns are exact")
    }

    func testHistogramFilesRoundTripThroughThePlotter() throws {
        let l = Latencies(sent: 4, samples: [10_000, 20_000, 20_000, 40_000])
        let csv = HistogramFiles.csv(l).split(separator: "\n")
        XCTAssertEqual(csv.first, "value_us,count,cumulative_fraction")
        XCTAssertEqual(csv.last, "40.000,1,1.000000")
        let h = try HistogramJSON.read(Array(HistogramFiles.json(l, label: "a \"b\"").utf8))
        XCTAssertEqual(h.label, "a \"b\"")
        XCTAssertEqual(h.sent, 4)
        XCTAssertEqual(h.cdf.map(\.fraction), [0.25, 0.75, 1])
        XCTAssertTrue(HistogramFiles.hgrm(l).contains("#[Total count    = 4]"))
        XCTAssertEqual(HistogramFiles.fixed(-0.0004, 3), "0.000")
        XCTAssertEqual(HistogramFiles.fixed(12.3456, 2), "12.35")
    }

    func testSVGDrawsOneStepLinePerRun() throws {
        let a = try HistogramJSON.read(Array(HistogramFiles.json(Latencies(sent: 3, samples: [5_000, 6_000, 90_000]), label: "veth").utf8))
        let b = try HistogramJSON.read(Array(HistogramFiles.json(Latencies(sent: 2, samples: [50_000, 60_000]), label: "a<b&c").utf8))
        let svg = CDFPlot.svg([a, b])
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertTrue(svg.contains("veth (3/3)"))
        XCTAssertTrue(svg.contains("a&lt;b&amp;c (2/2)"), "labels are escaped")
        let doc = try XMLDocument(xmlString: svg)
        XCTAssertEqual(doc.rootElement()?.name, "svg")
        // Decade ticks from 1 µs to 100 µs cover both runs.
        for tick in [">1<", ">10<", ">100<"] { XCTAssertTrue(svg.contains(tick), tick) }
        // Every polyline rises monotonically (SVG y grows downwards).
        for line in svg.components(separatedBy: "points=\"").dropFirst() {
            let ys = line.prefix { $0 != "\"" }.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
            XCTAssertEqual(ys, ys.sorted(by: >))
        }
    }

    func testPingSummaryIsRead() {
        let out = """
        PING 198.18.0.2 (198.18.0.2) 32(60) bytes of data.

        --- 198.18.0.2 ping statistics ---
        100 packets transmitted, 97 received, 3% packet loss, time 12ms
        rtt min/avg/max/mdev = 0.004/0.007/0.047/0.002 ms, ipg/ewma 0.123/0.007 ms
        """
        let p = PingResult(output: out)
        XCTAssertEqual(p?.sent, 100)
        XCTAssertEqual(p?.received, 97)
        XCTAssertEqual(p?.minUs ?? 0, 4, accuracy: 1e-9)
        XCTAssertEqual(p?.maxUs ?? 0, 47, accuracy: 1e-9)
        XCTAssertNil(PingResult(output: "ping: connect: Network is unreachable"))
    }
}
