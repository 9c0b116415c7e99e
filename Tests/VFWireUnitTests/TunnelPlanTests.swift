import XCTest
@testable import Topology

/// Tunnel links in the plan: their IDs, MTUs and what the file must say for them.
final class TunnelPlanTests: XCTestCase {
    let file = """
    name: tun
    hosts:
      h1: {underlay: 198.18.250.1}
      h2: {underlay: 198.18.250.2, mtu: 9000}
    nodes:
      a: {host: h1}
      b: {host: h2}
      c: {host: h2}
    links:
      - endpoints: ["a:eth1", "b:eth1"]
        kind: vxlan
      - endpoints: ["a:eth2", "c:eth1"]
        kind: gretap
      - endpoints: ["b:eth2", "c:eth2"]
    """

    func plan(_ text: String) throws -> Plan { try Plan(try Topology.parse(text)) }

    func testTunnelsGetAnIDPerLinkAndTheUnderlaysMTULessTheirOverhead() throws {
        let p = try plan(file)
        XCTAssertEqual(p.links.map(\.kind), [.tunnel(.vxlan), .tunnel(.gretap), .vf])
        // The smaller underlay decides: h1's default 1500.
        XCTAssertEqual(p.links.map(\.mtu), [1450, 1458, nil])
        let ids = p.links.prefix(2).map { Plan.tunnelID("tun", $0.vlan) }
        XCTAssertEqual(Set(ids).count, 2, "one ID per link")
        XCTAssertEqual(ids[0] & 0xfff, 100, "the low bits are the link's number")
        XCTAssertLessThan(ids[0], 1 << 24, "a VNI has 24 bits")
        XCTAssertNotEqual(Plan.tunnelID("other", p.links[0].vlan), ids[0], "another topology's link 1 is another tunnel")
        let end = try XCTUnwrap(p.tunnelEnd(p.links[0].a, p.links[0], namespace: "ns"))
        XCTAssertEqual([end.local, end.remote, "\(end.mtu)"], ["198.18.250.1", "198.18.250.2", "1450"])
        XCTAssertNil(p.tunnelEnd(p.links[2].b, p.links[2], namespace: "ns"), "a VF link has no tunnel end")
        XCTAssertEqual(p.attachments(of: "a"), "", "tunnel ends are no CNI attachments")
        XCTAssertTrue(p.table().contains("vxlan \(ids[0])"), p.table())
    }

    func testATunnelTakesNoPFFromThePool() throws {
        let p = try plan(file.replacingOccurrences(of: "nodes:", with: "defaults: {pf: [p0, p1]}\nnodes:")
                         + "\n  - endpoints: [\"b:eth3\", \"c:eth3\"]")
        XCTAssertEqual(p.links.map(\.path), [.hostToHost, .hostToHost, .internal, .internal])
        XCTAssertEqual(p.links.map { $0.a.pf?.value }, [nil, nil, "p0", "p1"], "the VF links take the PFs in turn")
    }

    func testWhatATunnelNeedsIsNamedWithItsLine() {
        func refused(_ text: String, _ want: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try plan(text), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(want), "\(e)", file: file, line: line)
            }
        }
        refused(file.replacingOccurrences(of: "kind: gretap", with: "kind: gretap\n    mtu: 1480"),
                "line 12: mtu 1480 does not fit a gretap tunnel: its underlay leaves 1458 (42 bytes go to the encapsulation)")
        refused(file.replacingOccurrences(of: "kind: vxlan", with: "kind: geneve"), "line 11: kind must be vf, vxlan or gretap")
        refused(file.replacingOccurrences(of: "b: {host: h2}", with: "b: {host: h1}"), "line 10: link 1 is vxlan within host h1")
        refused(file.replacingOccurrences(of: "b: {host: h2}", with: "b: {}"), "line 10: link 1 is vxlan: both its nodes need a host")
        refused(file.replacingOccurrences(of: "h2: {underlay: 198.18.250.2, mtu: 9000}", with: "h2: {mtu: 9000}"),
                "link 1 is vxlan: host h2 has no underlay address")
        refused(file.replacingOccurrences(of: "198.18.250.2,", with: "h2.example,"), "line 4: underlay of host h2 must be an IPv4 address")
        refused(file.replacingOccurrences(of: "b: {host: h2}", with: "b: {host: h2, runtime: podman, image: x}"),
                "node b runs on podman, and tunnel ends are made only in netns nodes")
    }
}
