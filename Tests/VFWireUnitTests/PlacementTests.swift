import XCTest
import CNIClient
import CNIProtocol
import Topology
import VFWireTypes

/// Placement: which path each link takes and which PF each end takes its VF from.
final class PlacementTests: XCTestCase {
    /// A line a-b-c-d; `defaults` and `extra` (keys of the last link) vary per test.
    func file(_ defaults: String, last extra: String = "", hosts: [String: String] = [:]) -> String {
        let nodes = ["a", "b", "c", "d"].map { n in "  \(n): {\(hosts[n].map { "host: \($0)" } ?? "")}" }.joined(separator: "\n")
        return """
        name: pl
        defaults:
        \(defaults)
        nodes:
        \(nodes)
        links:
          - endpoints: ["a:eth1", "b:eth1"]
          - endpoints: ["b:eth2", "c:eth1"]
          - endpoints: ["c:eth2", "d:eth1"]
        \(extra)
        """
    }

    func plan(_ text: String) throws -> Plan { try Plan(try Topology.parse(text)) }

    func pfs(_ p: Plan) -> [[String]] { p.links.map { [$0.a.pf?.value ?? "-", $0.b.pf?.value ?? "-"] } }

    func testPairsPutEveryLinkOnTheWireTakingPairsInTurn() throws {
        let p = try plan(file("  pairs: [[p0, p1], [q0, q1]]"))
        XCTAssertEqual(p.links.map(\.path), [.wire, .wire, .wire], "wire is the default where pairs exist")
        XCTAssertEqual(pfs(p), [["p0", "p1"], ["q0", "q1"], ["p0", "p1"]], "each end on one PF of a pair, pairs in turn")
        let l = p.links[0]
        XCTAssertEqual(p.networkList(l.a, l, in: "/x").plugins.first?["pf"], .array([.string("p0")]), "the network names exactly one PF")
        XCTAssertEqual(p.networkList(l.b, l, in: "/x").plugins.first?["pf"], .array([.string("p1")]))
        XCTAssertEqual(pfs(try plan(file("  pairs: [[p0, p1], [q0, q1]]"))), pfs(p), "the same on every run")
    }

    func testInternalLinksTakeOnePFEachInTurn() throws {
        let p = try plan(file("  pf: [e0, e1]"))
        XCTAssertEqual(p.links.map(\.path), [.internal, .internal, .internal], "internal where there are no pairs")
        XCTAssertEqual(pfs(p), [["e0", "e0"], ["e1", "e1"], ["e0", "e0"]], "both ends on one PF, PFs in turn")
        let mixed = try plan(file("  pf: [e0]\n  pairs: [[p0, p1]]", last: "    placement: internal"))
        XCTAssertEqual(mixed.links.map(\.path), [.wire, .wire, .internal])
        XCTAssertEqual(pfs(mixed), [["p0", "p1"], ["p0", "p1"], ["e0", "e0"]], "an internal link overrides the default, and takes pf first")
        let wired = try plan(file("  pf: [e0]\n  pairs: [[p0, p1]]", last: "    placement: wire"))
        XCTAssertEqual(wired.links.map(\.path), [.wire, .wire, .wire])
        XCTAssertEqual(pfs(try plan(file("  vlans: 100-199"))), [["-", "-"], ["-", "-"], ["-", "-"]], "no PFs named, none chosen")
    }

    func testLinksBetweenHostsGoHostToHost() throws {
        let p = try plan(file("  pf: e0\n  pairs: [[p0, p1]]", hosts: ["a": "h1", "b": "h1", "c": "h2", "d": "h2"]))
        XCTAssertEqual(p.links.map(\.path), [.wire, .hostToHost, .wire], "only b-c crosses between hosts")
        XCTAssertEqual(pfs(p)[1], ["e0", "e0"], "each end leaves through its own host's PF")
        XCTAssertTrue(p.table().contains("host-to-host"), p.table())
        let doc = p.document().text
        XCTAssertTrue(doc.contains("\"path\" : \"host-to-host\"") && doc.contains("\"pf\" : \"p1\""), doc)
    }

    func testThePlanTableShowsEachLinksPathAndPFs() throws {
        let t = try plan(file("  pairs: [[p0, p1]]", last: "    placement: internal")).table()
        let rows = t.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows[0].prefix(6), ["LINK", "VLAN", "PATH", "NODE", "IFNAME", "PF"])
        XCTAssertEqual(rows[1...6].map { [$0[0], $0[2], $0[3], $0[5]] },
                       [["1", "wire", "a", "p0"], ["1", "wire", "b", "p1"], ["2", "wire", "b", "p0"], ["2", "wire", "c", "p1"],
                        ["3", "internal", "c", "p0"], ["3", "internal", "d", "p0"]])
    }

    func testImpossiblePlacementsNameTheirLine() {
        let cases: [(String, String, String)] = [
            (file("  pf: e0", last: "    placement: wire"), "line 13: placement wire needs cabled PFs: declare them in defaults as pairs", "wire without pairs"),
            (file("  pairs: [[p0, p0]]"), "line 3: pair [p0, p0] cables p0 to itself", "a PF cabled to itself"),
            (file("  pairs:\n    - [p0, p1]\n    - [p2, p0]"), "line 5: p0 is in two pairs (first at line 4)", "a PF in two pairs"),
            (file("  pairs: [p0, p1]"), "line 3: pairs must be a list of cabled PF pairs", "not a list of pairs"),
            (file("  pf: e0", last: "    placement: hairpin"), "line 13: placement 'hairpin' is unknown: it is wire", "an unknown placement"),
            (file("  pairs: [[p0, p1]]", last: "    placement: wire", hosts: ["c": "h1", "d": "h2"]),
             "line 13: placement wire: c is on host h1 and d on h2, so the link goes host to host", "a placement across hosts"),
        ]
        for (text, message, what) in cases {
            XCTAssertThrowsError(try plan(text), what) { e in XCTAssertTrue("\(e)".contains(message), "\(what): \(e)") }
        }
    }
}
