import Foundation
import XCTest

/// Two emulated PFs cabled back to back (`vfwirectl sim cable`) and topologies placed on them.
final class CabledPFTests: TopologyTestCase {
    func sim(_ args: String...) -> (status: Int32, out: String, err: String) { sh([vfwirectl, "sim"] + args) }

    /// Network name -> the PF its VF came from, from `vfwirectl ls --json` as a script reads it.
    func pfOfNetwork() -> [String: String] {
        let out = sh([vfwirectl, "ls", "--json"]).out
        let rows = ((try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any])?["vfs"] as? [[String: Any]] ?? []
        var m: [String: String] = [:]
        for r in rows { if let o = r["owner"] as? [String: Any], let n = o["network"] as? String { m[n] = r["pf"] as? String } }
        return m
    }

    /// a—b—c over the cable (wire), c—d inside PF a's switch (internal).
    func testWireLinksCrossTheCableOnlyAndDownRestoresBothPFs() throws {
        let pfA = try SimPF(vfs: 4, prefix: "pl"), pfB = try SimPF(vfs: 3, prefix: "pl")
        XCTAssertEqual(sim("cable", pfA.name, pfB.name).status, 0)
        XCTAssertTrue(sim("show", pfA.name).out.contains("cable to \(pfB.name)"), sim("show", pfA.name).out)
        let before = (hostSnapshot(pfA), hostSnapshot(pfB))
        let name = "plw" + runID
        let file = try write("topo.yaml", """
        name: \(name)
        defaults:
          pairs: [[\(pfA.name), \(pfB.name)]]
          vlans: 100-199
          addresses: 198.18.44.0/24
        nodes: {a: {}, b: {}, c: {}, d: {}}
        links:
          - endpoints: ["a:eth1", "b:eth1"]
          - endpoints: ["b:eth2", "c:eth1"]
          - endpoints: ["c:eth2", "d:eth1"]
            placement: internal
        """)
        defer { _ = topo(["down"], file) }

        let plan = topo(["plan", "--json", "--out", dir + "/plan"], file)
        XCTAssertEqual(plan.status, 0, plan.err)
        let links = ((try? JSONSerialization.jsonObject(with: Data(plan.out.utf8))) as? [String: Any])?["links"] as? [[String: Any]] ?? []
        XCTAssertEqual(links.map { $0["path"] as? String ?? "" }, ["wire", "wire", "internal"])
        let planned = links.map { ($0["endpoints"] as? [[String: Any]] ?? []).map { $0["pf"] as? String ?? "" } }
        XCTAssertEqual(planned, [[pfA.name, pfB.name], [pfA.name, pfB.name], [pfA.name, pfA.name]])

        let up = topo(["up"], file)
        XCTAssertEqual(up.status, 0, up.err)
        let took = pfOfNetwork()
        XCTAssertEqual(["a-eth1", "b-eth1", "b-eth2", "c-eth1", "c-eth2", "d-eth1"].map { took["\(name)-\($0)"] ?? "-" },
                       [pfA.name, pfB.name, pfA.name, pfB.name, pfA.name, pfA.name],
                       "each wire link's VFs sit on the two PFs, the internal link's on one")

        let ns = { (n: String) in "vfw-\(name)-\(n)" }
        let ping = { (from: String, to: String) in self.ping(in: ns(from), to) }
        XCTAssertTrue(ping("a", "198.18.44.2"), "a reaches b over the cable")
        XCTAssertTrue(ping("a", "198.18.44.10"), "a reaches d: twice over the cable, then through one PF's switch")
        XCTAssertTrue(ping("c", "198.18.44.10"), "c reaches d inside the PF")

        // Links stay isolated across the cable: a is on VLAN 100 of PF a, c on VLAN 101 of PF b.
        assertNoDirectPath(in: ns("a"), to: "198.18.44.6", borrowing: "198.18.44.7/30",
                           route: ["198.18.44.4/30", "via", "198.18.44.2", "dev", "eth1", "proto", "static"],
                           "VLAN 100 of one PF does not meet VLAN 101 of the other")

        // The cable is the wire links' only path: without it a no longer reaches b, while the
        // internal link is untouched; cabled again, a reaches b again.
        XCTAssertEqual(sim("uncable", pfA.name, pfB.name).status, 0)
        XCTAssertFalse(sim("show", pfA.name).out.contains("cable"))
        XCTAssertFalse(ping("a", "198.18.44.2"), "no cable, no path between a link's two PFs")
        XCTAssertTrue(ping("c", "198.18.44.10"), "the internal link does not need the cable")
        XCTAssertEqual(sim("cable", pfA.name, pfB.name).status, 0)
        XCTAssertTrue(ping("a", "198.18.44.2"), "the cable carries the link's VLAN again")

        XCTAssertEqual(topo(["down"], file).status, 0)
        XCTAssertEqual(hostSnapshot(pfA), before.0, "down restores PF a's VF table and switch")
        XCTAssertEqual(hostSnapshot(pfB), before.1, "and PF b's")
    }

    func testCablingMistakesAreRefusedAndDestroyNeedsForce() throws {
        let pfA = try SimPF(vfs: 1, prefix: "pl"), pfB = try SimPF(vfs: 1, prefix: "pl"), pfC = try SimPF(vfs: 1, prefix: "pl")
        let before = hostSnapshot(pfA)
        XCTAssertTrue(sim("cable", pfA.name, pfA.name).err.contains("cannot cable \(pfA.name) to itself"))
        XCTAssertTrue(sim("uncable", pfA.name, pfB.name).err.contains("\(pfA.name) is not cabled to \(pfB.name): it is not cabled"))
        XCTAssertEqual(sim("cable", pfA.name, pfB.name).status, 0)
        let again = sim("cable", pfC.name, pfB.name)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("\(pfB.name) is cabled to \(pfA.name) already: vfwirectl sim uncable"), again.err)
        XCTAssertTrue(sim("list").out.contains("\(pfB.name) \(pfB.pci) 1 VFs cabled to \(pfA.name)"))
        let refused = sim("destroy", pfB.name)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("\(pfB.name) is cabled to \(pfA.name): vfwirectl sim uncable"), refused.err)
        XCTAssertEqual(sim("destroy", pfB.name, "--force").status, 0)
        XCTAssertFalse(sim("show", pfA.name).out.contains("cable"), "destroying one end uncables the other")
        XCTAssertEqual(hostSnapshot(pfA), before, "and leaves none of the cable on it")
    }

    func testUpRefusesAPairShortOfVFsNamingTheLine() throws {
        let pfA = try SimPF(vfs: 2, prefix: "pl"), pfB = try SimPF(vfs: 1, prefix: "pl")
        let before = (hostSnapshot(pfA), hostSnapshot(pfB))
        let name = "pls" + runID
        let file = try write("topo.yaml", """
        name: \(name)
        defaults:
          pairs: [[\(pfA.name), \(pfB.name)]]
        nodes: {a: {}, b: {}, c: {}}
        links:
          - endpoints: ["a:eth1", "b:eth1"]
          - endpoints: ["b:eth2", "c:eth1"]
        """)
        let r = topo(["up"], file)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("line 7: 2 link ends need a VF each of \(pfB.name) (pair [\(pfA.name), \(pfB.name)] at line 3), "
            + "and it has 1 free: link 2 c:eth1 is the first without one"), r.err)
        XCTAssertEqual(hostSnapshot(pfA), before.0, "nothing attached")
        XCTAssertEqual(hostSnapshot(pfB), before.1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/vfw-\(name)-a"), "no node started")
    }

    func testAHostNoNodeIsOnIsAnError() throws {
        let hosts = try write("topo.yaml", "name: plh\(runID)\nnodes: {a: {host: h1}, b: {host: h2}}\nlinks:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n")
        for verb in ["up", "down", "inspect"] {
            let r = topo([verb, "--host", "h9"], hosts)
            XCTAssertEqual(r.status, 1, verb)
            XCTAssertTrue(r.err.contains("no node is on host h9: the file's hosts are h1, h2"), "\(verb): \(r.err)")
        }
        XCTAssertEqual(topo(["inspect", "--host", "h1"], hosts).status, 0, "a host the file has")
        let none = try write("topo.yaml", "name: plh\(runID)\nnodes: {a: {}, b: {}}\nlinks:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n")
        XCTAssertTrue(topo(["up", "--host", "h1"], none).err.contains("the file places no node on a host"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/vfw-plh\(runID)-a"), "no node started")
    }
}
