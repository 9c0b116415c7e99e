import Foundation
import XCTest

/// `vfwirectl netem` on a veth end inside a namespace.
final class NetemTests: XCTestCase {
    func netem(_ args: [String]) -> (status: Int32, out: String, err: String) { sh([vfwirectl, "netem"] + args) }
    func qdiscs(_ ns: Netns, _ dev: String) -> String { ns.exec(["tc", "qdisc", "show", "dev", dev]).out }

    func testRateAloneIsATokenBucketThatShapes() throws {
        let p = try VethPair(subnet: 60)
        let args = ["--from", p.a.name, "--to", "\(p.b.name):\(p.addrB)", "--count", "400", "--rate", "2000", "--size", "1000", "--json", "--no-ping"]
        XCTAssertEqual(probe(args).json["received"] as? Int, 400, "the same probe loses nothing unshaped")
        let set = netem(["set", p.a.name, p.ifA, "--rate", "1000"])
        XCTAssertEqual(set.status, 0, set.err)
        XCTAssertTrue(qdiscs(p.a, p.ifA).contains("qdisc tbf 1: root"), qdiscs(p.a, p.ifA))
        XCTAssertEqual(netem(["show", p.a.name, p.ifA]).out, "\(p.ifA) --rate 1000\n")
        // 1 Mbit/s against 16 Mbit/s of probes.
        let shaped = probe(args)
        XCTAssertLessThan(shaped.json["received"] as? Int ?? 400, 400, shaped.out)

        XCTAssertEqual(netem(["set", p.a.name, p.ifA, "--rate", "100mbit"]).status, 0)
        XCTAssertEqual(netem(["show", p.a.name, p.ifA]).out, "\(p.ifA) --rate 100000\n", "a set replaces the one before")
        XCTAssertEqual(netem(["set", p.a.name, p.ifA]).status, 0)
        XCTAssertEqual(netem(["show", p.a.name, p.ifA]).out, "\(p.ifA) none\n")
        XCTAssertFalse(qdiscs(p.a, p.ifA).contains("tbf"))
        XCTAssertEqual(probe(args).json["received"] as? Int, 400, "cleared, the link is whole again")
    }

    /// The kernel decides which branch: tc's own answer says whether it has netem.
    func testNetemOrAnErrorNamingTheModule() throws {
        let p = try VethPair(subnet: 70)
        let probeQdisc = p.a.exec(["tc", "qdisc", "add", "dev", p.ifA, "root", "netem", "delay", "1ms"])
        _ = p.a.exec(["tc", "qdisc", "del", "dev", p.ifA, "root"])
        let r = netem(["set", p.a.name, p.ifA, "--delay", "1ms", "--jitter", "100us", "--loss", "10%", "--rate", "1000", "--corruption", "0.1%"])
        if probeQdisc.status == 0 {
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(netem(["show", p.a.name, p.ifA]).out,
                           "\(p.ifA) --delay 1ms --jitter 100us --loss 10% --rate 1000 --corruption 0.1%\n")
        } else {
            XCTAssertEqual(r.status, 1)
            XCTAssertTrue(r.err.contains("sch_netem"), r.err)
            XCTAssertEqual(netem(["show", p.a.name, p.ifA]).out, "\(p.ifA) none\n", "no half-set tbf left behind")
        }
    }

    func testUsageErrors() throws {
        let p = try VethPair(subnet: 80)
        XCTAssertEqual(netem(["set", p.a.name, p.ifA, "--loss", "200"]).status, 2)
        XCTAssertEqual(netem(["set", p.a.name, p.ifA, "--delay"]).status, 2)
        let missing = netem(["show", p.a.name, "nope0"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("no interface nope0"), missing.err)
    }
}
