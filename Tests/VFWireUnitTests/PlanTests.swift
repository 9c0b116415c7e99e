import XCTest
import CNIClient
import CNIProtocol
import Topology
import VFWireTypes

/// Topology planning: pure, and the same on every host.
final class PlanTests: XCTestCase {
    let line = """
    name: t1
    defaults:
      pf: ens1
      vlans: 100-199
      addresses: 198.18.40.0/24
      mtu: 9000
    nodes:
      a: {}
      b: {}
      c: {}
    links:
      - endpoints: ["a:eth1", "b:eth1"]
        vlan: 100
      - endpoints: ["b:eth2", "c:eth1"]
        mac: ["02:00:00:00:00:0b", "02:00:00:00:00:0c"]
    """

    func plan(_ text: String) throws -> Plan { try Plan(try Topology.parse(text)) }

    func testVLANsAddressesAndMACs() throws {
        let p = try plan(line)
        XCTAssertEqual(p.links.map(\.vlan.id), [100, 101], "the next free VLAN skips one a link names")
        XCTAssertEqual(p.links.map { [$0.a.address.description, $0.b.address.description] },
                       [["198.18.40.1/30", "198.18.40.2/30"], ["198.18.40.5/30", "198.18.40.6/30"]])
        XCTAssertEqual(p.links[1].a.mac.description, "02:00:00:00:00:0b", "a MAC the file names is kept")
        let planned = p.links[0].a.mac
        XCTAssertEqual(planned.bytes[0], 0x02, "locally administered unicast")
        XCTAssertEqual(try plan(line).links[0].a.mac, planned, "the same on every run")
        XCTAssertNotEqual(p.links[0].a.mac, p.links[0].b.mac)
        XCTAssertEqual(p.links[0].a.network, "t1-a-eth1")
    }

    func testRoutesGoThroughTheNeighborOnTheShortestPath() throws {
        let p = try plan(line)
        XCTAssertEqual(p.routes["a"]?.map { "\($0.dst.description) via \($0.via.ip) dev \($0.ifname)" },
                       ["198.18.40.4/30 via 198.18.40.2 dev eth1"])
        XCTAssertEqual(p.routes["c"]?.map(\.via.ip), ["198.18.40.5"])
        XCTAssertEqual(p.routes["b"], [], "b is on both links")
    }

    func testNetworkListIsWhatVfwireNeeds() throws {
        let p = try plan(line)
        let l = p.links[0]
        let list = p.networkList(l.a, l, in: "/x")
        XCTAssertEqual(list.name, "t1-a-eth1")
        XCTAssertEqual(list.cniVersion, .latest)
        XCTAssertEqual(list.path, "/x/net.d/t1-a-eth1.conflist")
        let plugin = try XCTUnwrap(list.plugins.first)
        XCTAssertEqual(plugin["type"], .string("vfwire"))
        XCTAssertEqual(plugin["vlan"], .number(100))
        XCTAssertEqual(plugin["mtu"], .number(9000))
        XCTAssertEqual(plugin["pf"], .array([.string("ens1")]))
        XCTAssertEqual(plugin["mac"], .string(l.a.mac.description))
        XCTAssertEqual(plugin["capabilities"], .object(["mac": .bool(true), "vlan": .bool(true)]))
        XCTAssertEqual(plugin["ipam"]?["addresses"], .array([.object(["address": .string("198.18.40.1/30")])]))
        XCTAssertEqual(plugin["ipam"]?["routes"], .array([.object(["dst": .string("198.18.40.4/30"), "gw": .string("198.18.40.2")])]))
    }

    func testWriteLeavesWhatTheRunnerUses() throws {
        let dir = try scratchDirectory(self)
        let p = try plan(line)
        try p.write(to: dir)
        for l in p.links {
            for e in [l.a, l.b] {
                let planned = p.networkList(e, l, in: dir)
                let read = try NetworkList.parse(planned.path)
                XCTAssertEqual(read.name, planned.name)
                XCTAssertEqual(read.cniVersion, planned.cniVersion)
                XCTAssertEqual(read.plugins, planned.plugins)
            }
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/nodes/b.networks", encoding: .utf8), "t1-b-eth1:eth1,t1-b-eth2:eth2\n")
    }

    func testPlanningRefusals() {
        let tooMany = line.replacingOccurrences(of: "198.18.40.0/24", with: "198.18.40.0/30")
        XCTAssertThrowsError(try plan(tooMany)) { e in
            XCTAssertTrue("\(e)".contains("2 links need 2 /30s"), "\(e)")
        }
        let noVLAN = line.replacingOccurrences(of: "100-199", with: "100-100")
        XCTAssertThrowsError(try plan(noVLAN)) { e in XCTAssertTrue("\(e)".contains("no VLAN left"), "\(e)") }
        XCTAssertThrowsError(try plan(line.replacingOccurrences(of: "b:eth2", with: "a:eth1"))) { e in
            XCTAssertTrue("\(e)".hasPrefix("line "), "names the line: \(e)")
        }
    }
}
