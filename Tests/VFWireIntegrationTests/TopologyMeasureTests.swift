import Foundation
import XCTest

/// Shaping and probing a topology's links: the file's impairments and max_tx_rate applied by
/// `up`, `topo netem set/show` at run time, and `topo probe` between two nodes, on netns nodes
/// over the emulated NIC.
final class TopologyMeasureTests: XCTestCase {
    var dir = ""
    var file = ""

    override func setUpWithError() throws { dir = try makeScratch("vfwire-topomeasure-") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func topo(_ args: [String]) -> (status: Int32, out: String, err: String) {
        sh([vfwirectl, "topo"] + args,
           env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VFWIRE_TOPO_STATE": dir + "/state",
                 "VFWIRE_CNI_PATH": buildDir + ":" + referencePlugins])
    }

    /// a — b — c; a:eth1 limited to 1 Mbit/s by a tbf and its VF to 100 Mbps, c:eth1 delayed.
    func write(pf: String, name: String) throws {
        file = dir + "/shaped.yaml"
        try """
        name: \(name)
        defaults: {pf: \(pf), vlans: 100-199, addresses: 198.18.46.0/24}
        nodes: {a: {}, b: {}, c: {}}
        links:
          - endpoints: ["a:eth1", "b:eth1"]
            rate: [1000, ~]
            max_tx_rate: [100, ~]
          - endpoints: ["b:eth2", "c:eth1"]
            delay: [~, 2ms]
        """.write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// `topo netem set|show FILE …`.
    func netem(_ args: [String]) -> (status: Int32, out: String, err: String) { topo(["netem", args[0], file] + args.dropFirst()) }

    func testShapedEndsComeUpAndTopoNetemReplacesWhatUpSet() throws {
        let pf = try SimPF(vfs: 4, prefix: "tm")
        let name = "tm" + runID
        try write(pf: pf.name, name: name)
        let before = hostSnapshot(pf)
        defer { _ = topo(["down", file]) }
        let ns = { (n: String) in "vfw-\(name)-\(n)" }

        let up = topo(["up", file])
        // This kernel may or may not have netem; tc's own answer, in a namespace of the test's, says which.
        let probeNS = Netns(prefix: "tm-")
        let hasNetem = probeNS.exec(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]).status == 0
        if hasNetem {
            XCTAssertEqual(up.status, 0, up.err)
            XCTAssertEqual(netem(["show", "c:eth1"]).out, "c:eth1 --delay 2ms\n")
        } else {
            XCTAssertEqual(up.status, 1, "an end left unshaped fails up: \(up.out)")
            XCTAssertTrue(up.err.contains("link 2 c:eth1 is up but not shaped as the file says (--delay 2ms)") && up.err.contains("sch_netem"), up.err)
            XCTAssertEqual(netem(["show", "c:eth1"]).out, "c:eth1 none\n", "nothing half-set")
        }
        let ping = sh(["ip", "netns", "exec", ns("a"), "ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.46.6"])
        XCTAssertEqual(ping.status, 0, "every link is up, the unshaped one too: \(ping.out)")
        XCTAssertTrue(up.out.contains("link 1 a:eth1: --rate 1000"), up.out)
        XCTAssertTrue(sh(["ip", "netns", "exec", ns("a"), "tc", "qdisc", "show", "dev", "eth1"]).out.contains("qdisc tbf 1: root"))
        XCTAssertEqual(netem(["show", "a:eth1"]).out, "a:eth1 --rate 1000\n")
        XCTAssertEqual(netem(["show", "b:eth1"]).out, "b:eth1 none\n", "a null in the file's list leaves that end alone")
        XCTAssertEqual(pf.table().values.filter { $0["max_tx_rate"] == "100" }.count, 1, "a's VF, and only it, limited by the NIC")

        // 1 Mbit/s against 16 Mbit/s of probes must drop; cleared, the same probe loses nothing;
        // set again at run time, it drops again.
        let probe = ["probe", file, "a", "b", "--count", "400", "--rate", "2000", "--size", "1000", "--json", "--no-ping"]
        let received = { () -> Int? in
            let r = self.topo(probe)
            XCTAssertEqual(r.status, 0, r.err)
            return (try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])?["received"] as? Int
        }
        XCTAssertLessThan(received() ?? 400, 400, "up's tbf shapes a:eth1")
        XCTAssertEqual(netem(["set", "a:eth1"]).status, 0)
        XCTAssertEqual(netem(["show", "a:eth1"]).out, "a:eth1 none\n")
        XCTAssertEqual(received(), 400, "cleared")
        let set = netem(["set", "a:eth1", "--rate", "1000"])
        XCTAssertEqual(set.status, 0, set.err)
        XCTAssertLessThan(received() ?? 400, 400, "topo netem set shapes it again")
        XCTAssertEqual(netem(["set", "a:eth1", "--rate", "100mbit"]).status, 0)
        XCTAssertEqual(netem(["show"]).out.split(separator: "\n").first, "a:eth1 --rate 100000", "a set replaces the one before")

        // a and c are no neighbours: the probe goes to c's address through b.
        let routed = topo(["probe", file, "a", "c", "--count", "200", "--rate", "2000", "--json"])
        XCTAssertEqual(routed.status, 0, routed.err)
        let j = (try? JSONSerialization.jsonObject(with: Data(routed.out.utf8)) as? [String: Any]) ?? [:]
        for k in ["sent", "received", "min_us", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "ping_avg_us"] {
            XCTAssertNotNil(j[k], "probe's --json contract, key \(k): \(routed.out)")
        }
        XCTAssertEqual(j["received"] as? Int, 200)
        if hasNetem { XCTAssertGreaterThan(j["min_us"] as? Double ?? 0, 2000, "c's 2 ms is on the way back") }
        let text = topo(["probe", file, "a", "c", "--count", "20", "--no-ping"])
        XCTAssertTrue(text.out.hasPrefix("probe a->c: 20 sent, 20 received"), text.out)
        XCTAssertTrue(sh(["ip", "netns", "pids", ns("c")]).out.isEmpty, "no reflector left in c")

        XCTAssertEqual(topo(["up", file]).status, up.status, "up again: the same")
        XCTAssertEqual(netem(["show", "a:eth1"]).out, "a:eth1 --rate 1000\n", "up puts the file's impairments back")
        XCTAssertEqual(topo(["down", file]).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before, "down gives every VF back, its rate limit lifted")
    }

    func testTopoNetemAndProbeNameWhatIsNotThere() throws {
        try write(pf: "tmnone0", name: "tm" + runID)
        let cases: [([String], Int32, String)] = [
            (["netem", "show", file, "a:eth1"], 1, "node a is not running on this host: run topo up first"),
            (["netem", "show", file], 1, "no node of topology tm\(runID) is running on this host: run topo up first"),
            (["probe", file, "a", "b"], 1, "node a is not running on this host"),
            (["netem", "set", file, "z:eth1"], 1, "has no node z (its nodes: a, b, c)"),
            (["netem", "set", file, "a:eth9", "--rate", "1000"], 1, "a:eth9 is no link end of topology tm\(runID) (a's ends: eth1)"),
            (["netem", "set", file, "a"], 1, "'a' is not NODE:IFACE"),
            (["netem", "set", file, "a:eth1", "--dealy", "1ms"], 2, "unknown impairment --dealy"),
            (["netem", "set", file, "a:eth1", "--jitter", "1ms"], 2, "--jitter varies a --delay"),
            (["netem", "set", file], 2, "topo netem set takes FILE NODE:IFACE"),
            (["probe", file, "a"], 2, "topo probe takes FILE NODE NODE"),
            (["probe", file, "a", "a"], 1, "topo probe needs two different nodes"),
            (["probe", file, "a", "b", "--to", "x:198.18.0.1"], 2, "drop --to"),
        ]
        for (args, status, message) in cases {
            let r = topo(args)
            XCTAssertEqual(r.status, status, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
        }
    }
}
