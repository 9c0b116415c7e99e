import Foundation
import XCTest

/// Tunnel links between two "hosts" that are network namespaces joined by an underlay veth,
/// each running `topo up --host` from the same file, as two machines would.
final class TunnelTests: XCTestCase {
    var dir = ""
    let hosts = ["tnh1-" + runID, "tnh2-" + runID]
    let topoName = "tn" + runID

    override func setUpWithError() throws {
        dir = try makeScratch("vfwire-tunnel-")
        let a = "tnua" + runID, b = "tnub" + runID
        for h in hosts {
            _ = sh(["ip", "netns", "del", h])
            try step(["ip", "netns", "add", h])
            try step(["ip", "-n", h, "link", "set", "lo", "up"])
        }
        try step(["ip", "-n", hosts[0], "link", "add", a, "type", "veth", "peer", "name", b, "netns", hosts[1]])
        for (i, h) in hosts.enumerated() {
            let dev = i == 0 ? a : b
            try step(["ip", "-n", h, "addr", "add", "198.18.251.\(i + 1)/30", "dev", dev])
            try step(["ip", "-n", h, "link", "set", dev, "up"])
        }
    }

    override func tearDown() {
        for (i, h) in hosts.enumerated() { _ = topo(i, ["down"]) ; _ = sh(["ip", "netns", "del", h]) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    func step(_ args: [String]) throws {
        let r = sh(args)
        guard r.status == 0 else { throw SetupFailure("\(args.joined(separator: " ")): \(r.err)") }
    }

    /// `topo VERB FILE --host hN`, run in host N's network namespace with that host's own state.
    /// nsenter rather than `ip netns exec`, whose private mount namespace would hide the nodes'
    /// namespace mounts from everyone else.
    func topo(_ host: Int, _ args: [String]) -> (status: Int32, out: String, err: String) {
        sh(["nsenter", "--net=/run/netns/" + hosts[host], vfwirectl, "topo", args[0], dir + "/t.yaml", "--host", "h\(host + 1)"] + args.dropFirst(),
           env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VFWIRE_TOPO_STATE": dir + "/state\(host + 1)",
                 "VFWIRE_CNI_PATH": buildDir + ":" + referencePlugins])
    }

    func testVXLANLinksJoinNodesOfTwoHostsEachOnItsOwnSegment() throws {
        // One subnet for both links, so only the tunnels keep them apart, not routing.
        try """
        name: \(topoName)
        hosts:
          h1: {underlay: 198.18.251.1}
          h2: {underlay: 198.18.251.2}
        nodes:
          a1: {host: h1}
          a2: {host: h1}
          b1: {host: h2}
          b2: {host: h2}
        links:
          - endpoints: ["a1:eth1", "b1:eth1"]
            kind: vxlan
            addresses: [198.18.52.1/24, 198.18.52.2/24]
          - endpoints: ["a2:eth1", "b2:eth1"]
            kind: vxlan
            addresses: [198.18.52.3/24, 198.18.52.4/24]
        """.write(toFile: dir + "/t.yaml", atomically: true, encoding: .utf8)
        for h in 0..<2 {
            let up = topo(h, ["up"])
            XCTAssertEqual(up.status, 0, up.err)
        }
        let ns = { (n: String) in "vfw-\(self.topoName)-\(n)" }
        let ping = { (from: String, to: String) in
            sh(["ip", "netns", "exec", ns(from), "ping", "-c", "2", "-i", "0.2", "-W", "1", to]).status == 0
        }
        XCTAssertTrue(ping("a1", "198.18.52.2"), "a1 on h1 reaches b1 on h2 through the tunnel")
        XCTAssertTrue(ping("b2", "198.18.52.3"), "b2 on h2 reaches a2 on h1 through the other")
        XCTAssertFalse(ping("a1", "198.18.52.4"), "a1 cannot reach b2: another VNI, though one subnet")
        let link = sh(["ip", "-n", ns("a1"), "-d", "link", "show", "eth1"]).out
        XCTAssertTrue(link.contains("mtu 1450") && link.contains("vxlan id") && link.contains("remote 198.18.251.2")
                      && link.contains("dstport 4789"), link)
        let inspect = topo(0, ["inspect"])
        XCTAssertEqual(inspect.out.split(separator: "\n").filter { $0.contains("attached") && $0.contains("vxlan") }.count, 2, inspect.out)
        XCTAssertEqual(topo(0, ["up"]).status, 0, "up again changes nothing")
        XCTAssertTrue(ping("a1", "198.18.52.2"), "and the tunnel still carries")

        for h in 0..<2 { XCTAssertEqual(topo(h, ["down"]).status, 0) }
        for n in ["a1", "a2", "b1", "b2"] { XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/" + ns(n))) }
        for h in hosts {
            let left = sh(["ip", "-n", h, "-o", "link"]).out
            XCTAssertFalse(left.contains("vxlan") || left.contains("vfwt"), "down leaves no tunnel in \(h): \(left)")
        }
    }
}
