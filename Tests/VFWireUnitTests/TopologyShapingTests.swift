import XCTest
import CNIProtocol
import Shaping
import Topology

/// A topology file's shaping keys: impairments per link end, and the VF's own max_tx_rate.
final class TopologyShapingTests: XCTestCase {
    let head = """
    name: shaped
    defaults: {pf: ens1, vlans: 100-199, addresses: 198.18.40.0/24}
    nodes: {a: {}, b: {}, c: {}}
    links:
      - endpoints: ["a:eth1", "b:eth1"]
    """

    func plan(_ links: String) throws -> Plan { try Plan(try Topology.parse(head + "\n" + links)) }

    func testOneValueForBothEndsOrOnePerEnd() throws {
        let p = try plan("""
            delay: [2ms, ~]
            jitter: [100us, ~]
            rate: 1000
            max_tx_rate: [100, 0]
          - endpoints: ["b:eth2", "c:eth1"]
            loss: 10
            corruption: [0.1%, 0]
        """)
        let (a, b, b2, c) = (p.links[0].a, p.links[0].b, p.links[1].a, p.links[1].b)
        XCTAssertEqual(a.impairment.flags, "--delay 2ms --jitter 100us --rate 1000")
        XCTAssertEqual(b.impairment.flags, "--rate 1000", "a null leaves its end alone; one value is both ends'")
        XCTAssertEqual(b2.impairment.flags, "--loss 10% --corruption 0.1%", "a bare loss is percent, as containerlab's")
        XCTAssertEqual(c.impairment.flags, "--loss 10%", "a 0 corruption is none")
        XCTAssertEqual([a.maxTxRate, b.maxTxRate, c.maxTxRate], [100, 0, nil])

        let netconf = { (e: Plan.PlannedEnd, l: Plan.PlannedLink) in p.networkList(e, l, in: "/x").plugins.first }
        XCTAssertEqual(netconf(a, p.links[0])?["max_tx_rate"], .number(100), "the VF's limit is the plugin's")
        XCTAssertEqual(netconf(b, p.links[0])?["max_tx_rate"], .number(0), "0 lifts a limit")
        XCTAssertNil(netconf(c, p.links[1])?["max_tx_rate"], "a limit the file does not name is never touched")
        XCTAssertNil(netconf(a, p.links[0])?["delay"], "impairments are the node's qdisc, not the plugin's")

        let table = p.table()
        XCTAssertTrue(table.contains("LINK  NODE  IFNAME  MAX_TX_RATE  EGRESS"), table)
        XCTAssertTrue(table.contains("1     a     eth1    100 Mbps     --delay 2ms --jitter 100us --rate 1000"), table)
        XCTAssertTrue(table.contains("2     c     eth1    -            --loss 10%"), table)

        let ends = p.document()["links"]?.arrayValue?.first?["endpoints"]?.arrayValue
        XCTAssertEqual(ends?[0]["max_tx_rate"], .number(100))
        XCTAssertEqual(ends?[0]["impairments"], .object(["delay": .string("2ms"), "jitter": .string("100us"), "rate": .string("1000")]))
    }

    func testAnUnshapedFileHasNoShapingTableOrKeys() throws {
        let p = try plan("")
        XCTAssertFalse(p.table().contains("EGRESS"), p.table())
        XCTAssertNil(p.networkList(p.links[0].a, p.links[0], in: "/x").plugins.first?["max_tx_rate"])
        XCTAssertEqual(p.document()["links"]?.arrayValue?.first?["endpoints"]?.arrayValue?.first?["impairments"], .null)
    }

    func testBadShapingNamesItsLine() {
        let cases: [(String, String)] = [
            ("    delay: 2", "line 6: delay 2: not a duration such as 1ms"),
            ("    loss: [1, 2, 3]", "line 6: loss needs one value per endpoint"),
            ("    loss: 200%", "line 6: loss 200%: not a percentage 0-100"),
            ("    rate: fast", "line 6: rate fast: not a rate in kbit/s"),
            ("    jitter: 1ms", "line 5: endpoint a:eth1: jitter varies a delay"),
            ("    max_tx_rate: -1", "line 6: max_tx_rate must be Mbps"),
            ("    max_tx_rate: [10, 1.5]", "line 6: max_tx_rate must be Mbps"),
            ("    mode: [vfio, kernel]\n    delay: 1ms", "line 5: endpoint a:eth1 is vfio: its packets bypass the kernel"),
            ("    dealy: 1ms", "line 6: unknown key 'dealy'"),
        ]
        for (links, message) in cases {
            XCTAssertThrowsError(try plan(links), links) { e in XCTAssertTrue("\(e)".contains(message), "\(links): \(e)") }
        }
        XCTAssertNoThrow(try plan("    mode: [vfio, kernel]\n    max_tx_rate: 50"), "the VF's own limit holds for a vfio end")
    }

    /// containerlab's files have no impairments (its `tools netem set` is run time only).
    func testAContainerlabFileIsToldWhereImpairmentsGo() {
        let clab = "name: c\ntopology:\n  nodes: {a: {}, b: {}}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n      delay: 1ms\n"
        XCTAssertThrowsError(try Topology.parse(clab)) { e in
            XCTAssertTrue("\(e)".contains("line 6: link: 'delay' is vfwire's, not containerlab's: shape a containerlab file's links with vfwirectl topo netem set"), "\(e)")
        }
    }
}
