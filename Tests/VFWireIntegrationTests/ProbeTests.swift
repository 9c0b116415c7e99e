import Foundation
import XCTest

/// Two namespaces joined by a veth pair, addressed from 198.18.0.0/15 with no route out.
final class VethPair {
    let a: Netns, b: Netns
    let ifA = "pa", ifB = "pb"
    let addrA: String, addrB: String
    /// `prefix` names its namespaces and host-side links apart from another suite's.
    init(subnet: Int, prefix: String = "vf") throws {
        a = Netns(prefix: prefix + "t-"); b = Netns(prefix: prefix + "t-")
        addrA = "198.19.\(subnet).1"; addrB = "198.19.\(subnet).2"
        let host = prefix + "p" + randomSuffix(6)
        for cmd in [["ip", "link", "add", host + "a", "type", "veth", "peer", "name", host + "b"],
                    ["ip", "link", "set", host + "a", "netns", a.name, "name", ifA],
                    ["ip", "link", "set", host + "b", "netns", b.name, "name", ifB],
                    ["ip", "-n", a.name, "addr", "add", addrA + "/30", "dev", ifA],
                    ["ip", "-n", b.name, "addr", "add", addrB + "/30", "dev", ifB],
                    ["ip", "-n", a.name, "link", "set", ifA, "up"], ["ip", "-n", b.name, "link", "set", ifB, "up"]] {
            let r = sh(cmd)
            guard r.status == 0 else { throw SetupFailure("\(cmd.joined(separator: " ")): \(r.err)") }
        }
    }
}

func probe(_ args: [String]) -> (status: Int32, out: String, err: String, json: [String: Any]) {
    let r = sh([vfwirectl, "probe"] + args)
    let j = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]) ?? [:]
    return (r.status, r.out, r.err, j)
}

final class ProbeTests: XCTestCase {
    let contract = ["sent", "received", "min_us", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us"]

    /// Every contract key, figures ordered min ≤ p50 ≤ … ≤ max, all below a second and above zero.
    func assertSane(_ j: [String: Any], count: Int, file: StaticString = #filePath, line: UInt = #line) {
        for k in contract { XCTAssertNotNil(j[k], "key \(k) in \(j)", file: file, line: line) }
        XCTAssertEqual(j["sent"] as? Int, count, file: file, line: line)
        let figures = contract.dropFirst(2).compactMap { j[$0] as? Double }
        XCTAssertEqual(figures.count, 7, "\(j)", file: file, line: line)
        XCTAssertEqual(figures, figures.sorted(), "percentiles in order: \(j)", file: file, line: line)
        XCTAssertGreaterThan(figures.first ?? 0, 0, file: file, line: line)
        XCTAssertLessThan(figures.last ?? .infinity, 1_000_000, file: file, line: line)
    }

    func testVethProbeIsSaneAndLossless() throws {
        let p = try VethPair(subnet: 10)
        let r = probe(["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "500", "--rate", "2000", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        assertSane(r.json, count: 500)
        XCTAssertEqual(r.json["received"] as? Int, 500, "no loss on a bare veth")
        XCTAssertGreaterThan(r.json["kernel_stamped"] as? Int ?? 0, 450, "kernel timestamps, not our clock: \(r.json)")
        XCTAssertEqual(r.json["ping_received"] as? Int, 500, "ping ran over the same path")
        XCTAssertNotNil(r.json["ping_avg_us"] as? Double)

        let text = probe(["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "100", "--rate", "5000"])
        XCTAssertEqual(text.status, 0, text.err)
        for word in ["min", "p50", "p90", "p99", "p99.9", "p99.99", "max", "loss 0.00 %", "ping -c 100 -i 0", "load"] {
            XCTAssertTrue(text.out.contains(word), "'\(word)' in \(text.out)")
        }
        XCTAssertTrue(sh(["ip", "netns", "pids", p.b.name]).out.isEmpty, "no reflector left in the far namespace")
    }

    func testEmulatedVFsProbe() throws {
        let pf = try SimPF(vfs: 2)
        let a = Netns(), b = Netns()
        defer { sh(["ip", "netns", "del", a.name]); sh(["ip", "netns", "del", b.name]) }
        let table = pf.table()
        for (i, ns) in [(0, a), (1, b)] {
            XCTAssertEqual(sh([vfwirectl, "vf", "set", pf.name, String(i), "vlan=300"]).status, 0)
            let dev = try XCTUnwrap(table[i]?["netdev"])
            for cmd in [["ip", "link", "set", dev, "netns", ns.name, "name", "eth1"],
                        ["ip", "-n", ns.name, "addr", "add", "198.19.20.\(i + 1)/30", "dev", "eth1"],
                        ["ip", "-n", ns.name, "link", "set", "eth1", "up"]] {
                let r = sh(cmd)
                XCTAssertEqual(r.status, 0, "\(cmd): \(r.err)")
            }
        }
        let r = probe(["--from", a.name, "--to", "\(b.name):198.19.20.2", "--count", "300", "--rate", "2000", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        assertSane(r.json, count: 300)
        XCTAssertEqual(r.json["received"] as? Int, 300)
    }

    func testLossThroughAShaperIsReported() throws {
        let p = try VethPair(subnet: 30)
        let args = ["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "400", "--rate", "2000", "--size", "1000", "--json", "--no-ping"]
        let clean = probe(args)
        XCTAssertEqual(clean.status, 0, clean.err)
        XCTAssertEqual(clean.json["received"] as? Int, 400, "the same probe loses nothing before the shaper")
        // 1 Mbit/s with room for one frame against 16 Mbit/s of probes: tbf must drop.
        let tc = sh(["ip", "netns", "exec", p.a.name, "tc", "qdisc", "add", "dev", p.ifA, "root", "tbf",
                     "rate", "1mbit", "burst", "1100", "limit", "1100"])
        XCTAssertEqual(tc.status, 0, tc.err)
        let shaped = probe(args)
        XCTAssertEqual(shaped.status, 0, shaped.err)
        let received = shaped.json["received"] as? Int ?? 400
        XCTAssertLessThan(received, 400, "\(shaped.json)")
        XCTAssertGreaterThan(shaped.json["loss_pct"] as? Double ?? 0, 0)
    }

    /// Shaping on the sender's own egress is part of the path: a tbf fed 2.4 Mbit/s at 1 Mbit/s
    /// holds each probe longer than the last, half of them for over half a second, and the
    /// driver's transmit stamp, taken after the queue, would hide all of it.
    func testTheSendersOwnQueueIsInTheRoundTrip() throws {
        let p = try VethPair(subnet: 35, prefix: "tm")
        let args = ["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "300", "--rate", "300", "--size", "1000", "--json", "--no-ping"]
        let tc = sh(["ip", "netns", "exec", p.a.name, "tc", "qdisc", "add", "dev", p.ifA, "root", "tbf",
                     "rate", "1mbit", "burst", "1600", "limit", "200000"])
        XCTAssertEqual(tc.status, 0, tc.err)
        let r = probe(args)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertGreaterThan(r.json["p50_us"] as? Double ?? 0, 100_000, "the queue's wait is in the round trip: \(r.out)")
        XCTAssertGreaterThan(r.json["kernel_stamped"] as? Int ?? 0, 0, "and the kernel timed it: \(r.out)")
    }

    func testEverythingDroppedGivesNullFiguresAndFullLoss() throws {
        let p = try VethPair(subnet: 40)
        let args = ["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "50", "--rate", "1000", "--json", "--no-ping"]
        XCTAssertEqual(probe(args).json["received"] as? Int, 50, "the same probe gets through before the route")
        // Every answer dropped on its way back (this kernel has no gact for a tc drop action).
        let route = sh(["ip", "-n", p.b.name, "route", "add", "blackhole", p.addrA + "/32"])
        XCTAssertEqual(route.status, 0, route.err)
        let r = probe(args)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.json["received"] as? Int, 0)
        XCTAssertEqual(r.json["loss_pct"] as? Double, 100)
        XCTAssertTrue(r.json["p50_us"] is NSNull, "no sample, no figure: \(r.out)")
    }

    func testHistogramFilesAndPlots() throws {
        let dir = try makeScratch("vfwire-probe-")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try VethPair(subnet: 50)
        for run in ["a", "b"] {
            let r = probe(["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "200", "--rate", "4000", "--no-ping",
                           "--hist", "\(dir)/\(run)", "--plot", "\(dir)/\(run).svg", "--label", "run \(run)"])
            XCTAssertEqual(r.status, 0, r.err)
        }
        let csv = try String(contentsOfFile: dir + "/a.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "value_us,count,cumulative_fraction")
        XCTAssertEqual(csv.dropFirst().reduce(0) { $0 + Int($1.split(separator: ",")[1])! }, 200)
        let h = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/a.json"))) as? [String: Any]
        XCTAssertEqual(h?["received"] as? Int, 200)
        XCTAssertEqual(h?["label"] as? String, "run a", "--label names the run in plots")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a.hgrm"))
        XCTAssertTrue(try String(contentsOfFile: dir + "/a.svg", encoding: .utf8).contains("<polyline"))

        let svg = sh([vfwirectl, "probe", "plot", dir + "/a.json", dir + "/b.json", "--out", dir + "/both.svg"])
        XCTAssertEqual(svg.status, 0, svg.err)
        XCTAssertEqual(try String(contentsOfFile: dir + "/both.svg", encoding: .utf8).components(separatedBy: "<polyline").count - 1, 2)
        let png = sh([vfwirectl, "probe", "plot", dir + "/a.json", dir + "/b.json", "--out", dir + "/both.png"])
        XCTAssertEqual(png.status, 0, png.err)
        let magic = try Data(contentsOf: URL(fileURLWithPath: dir + "/both.png")).prefix(4)
        XCTAssertEqual(Array(magic), [0x89, 0x50, 0x4e, 0x47], "a PNG from matplotlib")
    }

    func testFloodCountsWhatArrivesAndStopsInTime() throws {
        let p = try VethPair(subnet: 90)
        let r = probe(["--flood", "--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "20000", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.json["sent"] as? Int, 20000)
        // A descheduled sink may drop some on this busy machine; what it reports must be what came.
        let received = r.json["received"] as? Int ?? 0
        XCTAssertTrue((1...20000).contains(received), r.out)
        XCTAssertGreaterThan(r.json["pps"] as? Double ?? 0, 1000)
        XCTAssertEqual(r.json["size"] as? Int, 18, "a 64-byte frame by default")
        // Bounded by time: a count no socket sends in half a second stops at the deadline.
        let start = Date()
        let bounded = probe(["--flood", "--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "1000000000", "--duration", "0.5", "--json"])
        XCTAssertEqual(bounded.status, 0, bounded.err)
        XCTAssertLessThan(bounded.json["sent"] as? Int ?? Int.max, 1_000_000_000)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    func testBadArgumentsAreUsageErrors() {
        XCTAssertEqual(probe(["--from", "x"]).status, 2)
        XCTAssertEqual(probe(["--from", "x", "--to", "y:198.19.0.1", "--count", "0"]).status, 2)
        let missing = probe(["--from", "vft-none-" + randomSuffix(), "--to", "vft-none:198.19.0.1"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("network namespace"), missing.err)
    }
}
