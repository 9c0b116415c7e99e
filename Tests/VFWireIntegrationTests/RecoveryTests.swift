import Foundation
import XCTest

/// VFs given back when what vfwire knew of them is out of date: a VF the container passed on
/// into another namespace.
final class RecoveryTests: XCTestCase {
    func conf(_ pf: SimPF, _ extra: [String: Any] = [:]) -> [String: Any] {
        var o: [String: Any] = ["cniVersion": "1.1.0", "name": "t2recovery", "type": "vfwire", "pf": pf.name, "vlan": 42]
        for (k, v) in extra { o[k] = v }
        return o
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The container moved its VF into a namespace of its own and renamed it there; DEL still
    /// brings it home with its name, VLAN and MAC, and drops the record.
    func testVFMovedIntoAnotherNamespaceIsGivenBack() throws {
        let pf = try SimPF(vfs: 1, prefix: "t2")
        let ns = Netns(prefix: "t2-"), other = Netns(prefix: "t2-")
        let c = json(conf(pf, ["mac": "02:00:00:00:42:02"]))
        let before = hostSnapshot(pf)
        XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
        XCTAssertEqual(ns.exec(["ip", "link", "set", "net1", "netns", other.name]).status, 0)
        XCTAssertEqual(other.exec(["ip", "link", "set", "net1", "name", "eth7"]).status, 0)
        XCTAssertNotNil(other.link("eth7"), "the probe sees the VF in the second namespace")
        XCTAssertNotEqual(hostSnapshot(pf), before)
        let del = cni("DEL", c, netns: ns.path)
        XCTAssertEqual(del.status, 0, del.out + del.err)
        XCTAssertNil(other.link("eth7"), "the VF left the second namespace")
        XCTAssertEqual(settledSnapshot(pf, before), before, "name, MAC, VLAN restored, record gone")
    }
}
