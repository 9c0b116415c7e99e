import XCTest
import CNIClient
import CNIProtocol
import PFDriver
@testable import Topology
import VFState
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
        XCTAssertEqual(try String(contentsOfFile: dir + "/nodes/b.networks", encoding: .utf8), "t1-b-eth1:eth1 t1-b-eth2:eth2\n")
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

    /// YAML 1.1 reads "90000:00:40" as a base-60 integer, and Yams traps when it overflows: the
    /// fuzzer found it. A number that is not plain decimal is refused like any bad value.
    func testSexagesimalNumbersAreRefusedNotATrap() {
        let text = line.replacingOccurrences(of: "vlan: 100", with: "vlan: 9000000:00:00:00:00\n    mtu: 90000:00:40:00:00:00")
        XCTAssertNotEqual(text, line)
        XCTAssertThrowsError(try plan(text)) { e in
            XCTAssertTrue("\(e)".contains("mtu must be 68-65535") && "\(e)".contains("vlan"), "\(e)")
        }
    }

    func testContainerlabLayersGiveEachNodeItsSettings() throws {
        var options = Topology.Options()
        options.directory = "/labs/x"
        options.pfs = [InterfaceName("ens2")!]
        let t = try Topology.parse("""
        name: layers
        topology:
          defaults:
            kind: linux
            env: {A: defaults, B: defaults}
          kinds:
            linux:
              image: kind-image
              cmd: sleep "1 h"
          groups:
            edge:
              image: group-image
              env: {B: group}
              binds: [cfg/edge.conf:/etc/edge.conf:ro]
          nodes:
            e1: {group: edge, env: {C: node}, exec: ["ip link"]}
            plain: {}
            nos: {kind: ceos, image: ceos:4.32}
          links:
            - endpoints: ["e1:eth1", "plain:eth1"]
              mtu: 9000
        """, options: options)
        XCTAssertEqual(t.defaults.pfs.map(\.value), ["ens2"], "PFs come from the command line")
        let e1 = try XCTUnwrap(t.nodes.first { $0.name == "e1" })
        XCTAssertEqual(e1.runtime, .docker, "containerlab's nodes run on Docker")
        XCTAssertEqual(e1.image, "group-image", "the group is more specific than the kind")
        XCTAssertEqual(e1.env, ["A": "defaults", "B": "group", "C": "node"], "env merges, the most specific wins")
        XCTAssertEqual(e1.binds, ["/labs/x/cfg/edge.conf:/etc/edge.conf:ro"], "relative to the file")
        XCTAssertEqual(e1.cmd, ["sleep", "1 h"], "a string cmd splits as a shell would")
        XCTAssertEqual(e1.exec, ["ip link"])
        XCTAssertEqual(t.nodes.first { $0.name == "plain" }?.image, "kind-image")
        XCTAssertEqual(t.nodes.first { $0.name == "nos" }?.image, "ceos:4.32", "a NOS kind is one more container")
        XCTAssertEqual(t.links.first?.mtu, 9000)
        let p = try Plan(t)
        XCTAssertEqual(p.networkList(p.links[0].a, p.links[0], in: "/x").plugins.first?["mtu"], .number(9000), "the link's mtu")
    }

    func testAVFIOEndAsksThePluginForVFIO() throws {
        let p = try plan(line + "\n    mode: [kernel, vfio]\n")
        let l = p.links[1]
        XCTAssertNil(p.networkList(l.a, l, in: "/x").plugins.first?["mode"], "kernel mode is the plugin's default")
        XCTAssertEqual(p.networkList(l.b, l, in: "/x").plugins.first?["mode"], .string("vfio"))
        XCTAssertThrowsError(try plan(line + "\n    mode: dpdk\n")) { e in XCTAssertTrue("\(e)".contains("line 16: mode must be kernel or vfio"), "\(e)") }
        let podman = line.replacingOccurrences(of: "c: {}", with: "c: {runtime: podman, image: x}") + "\n    mode: vfio\n"
        XCTAssertThrowsError(try plan(podman)) { e in XCTAssertTrue("\(e)".contains("vfio on a podman node"), "\(e)") }
    }

    func testEveryProblemIsReportedInFileOrder() {
        // Links come before defaults here, and are still reported after them.
        let linksFirst = "name: o\nlinks:\n  - endpoints: [\"a:eth1\", \"z:eth1\"]\nnodes: {a: {}}\ndefaults: {mtu: 1}\n"
        XCTAssertThrowsError(try plan(linksFirst)) { e in
            XCTAssertEqual("\(e)".split(separator: "\n").map { $0.prefix(7) }, ["line 3:", "line 5:"], "\(e)")
        }
        let bad = line.replacingOccurrences(of: "mtu: 9000", with: "mtu: 10").replacingOccurrences(of: "vlan: 100", with: "vlan: 5000")
            .replacingOccurrences(of: "c: {}", with: "c: {colour: red}")
        XCTAssertThrowsError(try plan(bad)) { e in
            XCTAssertEqual("\(e)".split(separator: "\n").map { $0.prefix(8) }, ["line 6: ", "line 10:", "line 13:"], "\(e)")
        }
    }
}

/// How `Runner` runs the steps of up and down.
final class RunnerStepTests: XCTestCase {
    /// Steps wait on the kernel and on children far more than they compute, so more of them
    /// run at once than there are CPUs. Each step here waits until all have started: run one
    /// per CPU at a time, the first ones give up and fail.
    func testStepsOverlapBeyondOnePerCPU() throws {
        let dir = try scratchDirectory(self)
        let plan = try Plan(try Topology.parse("name: w\nnodes:\n  a: {}\n"))
        var said: [String] = []
        let runner = Runner(plan: plan, stateDir: dir, binDirs: [], host: nil, nics: NICs([]),
                            vfState: StateDir(RunPaths(root: dir + "/run")), say: { said.append($0) })
        let n = Runner.width
        XCTAssertGreaterThan(n, ProcessInfo.processInfo.activeProcessorCount)
        let arrived = NSCondition()
        var started = 0
        let steps = (0..<n).map { i in ("step \(i)", { () throws -> String in
            arrived.lock(); defer { arrived.unlock() }
            started += 1
            arrived.broadcast()
            let deadline = Date().addingTimeInterval(10)
            while started < n { if !arrived.wait(until: deadline) { throw TopologyError(line: nil, message: "only \(started) of \(n) started") } }
            return "step \(i) done"
        }) }
        XCTAssertNoThrow(try runner.parallel(steps))
        XCTAssertEqual(said.count, n)
    }
}
