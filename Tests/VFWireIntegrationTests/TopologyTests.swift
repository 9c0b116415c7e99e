import Foundation
import XCTest

/// `vfwirectl topo` on the emulated NIC, with network-namespace nodes.
final class TopologyTests: TopologyTestCase {
    func line(_ pf: String, name: String) -> String {
        """
        name: \(name)
        defaults:
          pf: \(pf)
          vlans: 100-199
          addresses: 198.18.40.0/24
        nodes:
          a: {}
          b: {}
          c: {}
        links:
          - endpoints: ["a:eth1", "b:eth1"]
          - endpoints: ["b:eth2", "c:eth1"]
        """
    }

    func testLineOfThreeRoutesThroughTheMiddleAndDownRestoresEverything() throws {
        let pf = try SimPF(vfs: 4)
        let name = "l3" + runID
        let file = try write("line.yaml", line(pf.name, name: name))
        let before = hostSnapshot(pf)
        defer { _ = topo(["down"], file) }
        let up = topo(["up"], file)
        XCTAssertEqual(up.status, 0, up.err)
        XCTAssertTrue(up.out.contains("node b: up") && up.out.contains("link 2 c:eth1 vlan 101: attached"), up.out)
        let ns = { (n: String) in "vfw-\(name)-\(n)" }
        let ping = { (from: String, to: String) in self.ping(in: ns(from), to) }
        XCTAssertTrue(ping("a", "198.18.40.2"), "a reaches b over link 1")
        XCTAssertTrue(ping("a", "198.18.40.6"), "a reaches c through b, which forwards")
        XCTAssertTrue(ping("c", "198.18.40.1"), "and back")
        // With a's VF on c's VLAN this would answer.
        assertNoDirectPath(in: ns("a"), to: "198.18.40.6", borrowing: "198.18.40.7/30",
                           route: ["198.18.40.4/30", "via", "198.18.40.2", "dev", "eth1", "proto", "static"],
                           "a cannot reach c's link directly")

        let inspect = topo(["inspect"], file)
        XCTAssertEqual(inspect.status, 0)
        XCTAssertEqual(inspect.out.split(separator: "\n").filter { $0.contains("attached") && $0.contains(pf.name) }.count, 4, inspect.out)
        XCTAssertEqual(topo(["up"], file).status, 0, "up again changes nothing")
        XCTAssertEqual(topo(["down"], file).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before, "down gives every VF back")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/" + ns("a")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/state/" + name), "down leaves no state behind")
        XCTAssertEqual(topo(["down"], file).status, 0, "down twice")
    }

    /// Each host of a multi-host file counts only its own ends against its PF, and a plan made
    /// without --host cannot know which host it is on.
    func testPlanCountsVFsForTheHostItIsGiven() throws {
        let pf = try SimPF(vfs: 2)
        let file = try write("hosts.yaml", line(pf.name, name: "mh" + runID)
            .replacingOccurrences(of: "a: {}", with: "a: {host: h1}").replacingOccurrences(of: "b: {}", with: "b: {host: h1}")
            .replacingOccurrences(of: "c: {}", with: "c: {host: h2}"))
        let all = topo(["plan", "--out", dir + "/p"], file)
        XCTAssertEqual(all.status, 0, all.err)
        XCTAssertTrue(all.err.contains("nodes on 2 hosts; VF capacity checked only with --host"), all.err)
        let h1 = topo(["plan", "--host", "h1", "--out", dir + "/p"], file)
        XCTAssertEqual(h1.status, 1, "h1 has three ends and the PF two VFs: \(h1.err)")
        let h2 = topo(["plan", "--host", "h2", "--out", dir + "/p"], file)
        XCTAssertEqual(h2.status, 0, h2.err)
    }

    func testPlanIsTheSameOnEveryRunAndHost() throws {
        let file = try write("line.yaml", line("sim0", name: "det"))
        let one = topo(["plan", "--out", dir + "/p1"], file)
        let two = topo(["plan", "--out", dir + "/p2"], file)
        XCTAssertEqual(one.status, 0, one.err)
        XCTAssertEqual(one.out, two.out)
        for f in try FileManager.default.contentsOfDirectory(atPath: dir + "/p1/net.d") {
            XCTAssertEqual(try String(contentsOfFile: dir + "/p1/net.d/" + f, encoding: .utf8),
                           try String(contentsOfFile: dir + "/p2/net.d/" + f, encoding: .utf8), f)
        }
        XCTAssertTrue(one.out.contains("198.18.40.4/30  198.18.40.2  eth1"), "a's route to link 2 goes via b:\n\(one.out)")
        let graph = topo(["graph"], file)
        XCTAssertTrue(graph.out.contains("\"a\" -- \"b\" [label=\"vlan 100\""), graph.out)
        XCTAssertTrue(topo(["graph", "--mermaid"], file).out.contains("b ---|\"eth2 vlan 101 eth1\"| c"))
    }

    func testBadFilesNameTheLineAndStartNothing() throws {
        let pf = try SimPF(vfs: 2)
        let before = hostSnapshot(pf)
        let head = "name: bad\(runID)\ndefaults:\n  pf: \(pf.name)\n  vlans: 100-110\nnodes:\n  a: {}\n  b: {}\n"
        let cases: [(String, String, String)] = [
            ("duplicate endpoint", head + "links:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n  - endpoints: [\"a:eth1\", \"b:eth2\"]\n",
             "line 10: endpoint a:eth1 is used twice (first at line 9)"),
            ("unknown node", head + "links:\n  - endpoints: [\"a:eth1\", \"z:eth1\"]\n", "line 9: endpoint z:eth1 names an unknown node z"),
            ("vlan out of range", head + "links:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n    vlan: 500\n", "line 10: vlan 500 is out of the range 100-110"),
            ("vlan reused", head + "links:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n    vlan: 105\n  - endpoints: [\"a:eth2\", \"b:eth2\"]\n    vlan: 105\n",
             "line 12: vlan 105 is used by another link (line 10)"),
            ("more links than VFs", head + "links:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n  - endpoints: [\"a:eth2\", \"b:eth2\"]\n",
             "4 link ends need a VF each"),
            ("bad key", head + "links:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n    color: red\n", "line 10: unknown key 'color'"),
            ("not yaml", "name: [unclosed\n", "not valid YAML"),
        ]
        for (what, yaml, message) in cases {
            let file = try write("bad.yaml", yaml)
            let r = topo(["up"], file)
            XCTAssertEqual(r.status, 1, what)
            XCTAssertTrue(r.err.contains(message), "\(what): \(r.err)")
            XCTAssertEqual(hostSnapshot(pf), before, "\(what): nothing attached")
            XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/vfw-bad\(runID)-a"), "\(what): no node started")
        }
    }
}
