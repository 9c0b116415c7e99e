import Foundation
import XCTest

/// Topology nodes as podman containers, their link ends attached by vfwire-hook from the plan.
final class TopologyPodmanTests: XCTestCase {
    func testPodmanNodesTalkOverTheirLink() throws {
        let pf = try SimPF(vfs: 2)
        let podman = try Podman(scratchPrefix: "vfwire-topo-podman-")
        let scratch = podman.scratch
        let name = "tp" + runID
        // The hook takes a topology's configs only from under /run/vfwire/topo.
        let state = "/run/vfwire/topo/" + name
        defer {
            for n in ["a", "b"] { podman(["rm", "-f", "-t", "0", "vfw-\(name)-\(n)"]) }
            podman.remove()
            try? FileManager.default.removeItem(atPath: state)
            withExtendedLifetime(pf) {}
        }
        // The hooks.d files as shipped, with this build's binaries and a private cache.
        let hooks = scratch + "/hooks.d"
        try writeShippedHooksDir(hooks, adding: hookArgs(cache: scratch + "/hook-cache"))
        try podman.prepare(hooksDir: hooks)
        let file = scratch + "/topo.yaml"
        try """
        name: \(name)
        defaults: {pf: \(pf.name), vlans: 300-309, addresses: 198.18.44.0/24, runtime: podman, image: \(podman.image)}
        nodes:
          a: {cmd: [sleep, "300"]}
          b: {cmd: [sleep, "300"]}
        links:
          - endpoints: ["a:eth1", "b:eth1"]
            rate: [1000, ~]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let before = hostSnapshot(pf)
        var env = podman.env
        env["VFWIRE_CNI_PATH"] = buildDir + ":" + referencePlugins
        let topo = { (verb: String, args: [String]) in sh([vfwirectl, "topo"] + verb.split(separator: " ").map(String.init) + [file] + args, env: env) }
        let up = topo("up", [])
        XCTAssertEqual(up.status, 0, up.err)
        XCTAssertEqual(pf.table().values.filter { $0["netdev"] == "-" && $0["vlan"] == "300" }.count, 2, "both ends on the link's VLAN")
        let ping = podman(["exec", "vfw-\(name)-a", "ping", "-c", "2", "-W", "2", "198.18.44.2"])
        XCTAssertEqual(ping.status, 0, "a reaches b: \(ping.out)\(ping.err)")
        // The containers' namespaces, found through their PIDs: up shaped a's end in a's.
        XCTAssertEqual(topo("netem show", ["a:eth1"]).out, "a:eth1 --rate 1000\n")
        XCTAssertEqual(topo("netem set", ["a:eth1"]).status, 0)
        XCTAssertEqual(topo("netem show", []).out, "a:eth1 none\nb:eth1 none\n")
        let probe = topo("probe", ["a", "b", "--count", "50", "--json", "--no-ping"])
        XCTAssertEqual(probe.status, 0, probe.err)
        XCTAssertTrue(probe.out.contains("\"received\":50,"), "the reflector in b's container answered: \(probe.out)")
        XCTAssertEqual(topo("up", []).status, 0, "up again")
        XCTAssertEqual(topo("down", []).status, 0)
        XCTAssertEqual(settledSnapshot(pf, before), before, "down gives both VFs back")
    }
}
