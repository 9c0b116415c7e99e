import Foundation
import XCTest

/// containerlab files, scriptable output, live inspect, VLAN owners, pictures and vfio ends,
/// through the same `topo` helper as the rest of `vfwirectl topo`.
extension TopologyTests {
    /// The shape of containerlab's FRR examples: a ring of three routers of kind linux, its
    /// image from `kinds`, links in the short form.
    func triangle(_ name: String) -> String {
        """
        name: \(name)
        topology:
          kinds:
            linux:
              image: quay.io/frrouting/frr:9.1.0
          nodes:
            router1:
              kind: linux
              exec: ["ip addr add 198.18.41.1/32 dev lo"]
            router2: {kind: linux}
            router3: {kind: linux}
          links:
            - endpoints: ["router1:eth1", "router2:eth1"]
            - endpoints: ["router2:eth2", "router3:eth1"]
            - type: veth
              endpoints:
                - {node: router3, interface: eth2, mac: "02:00:00:00:33:02"}
                - {node: router1, interface: eth2}
              mtu: 1400
        """
    }

    func jsonObject(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func endpoints(_ doc: [String: Any]) -> [[String: Any]] {
        (doc["links"] as? [[String: Any]] ?? []).flatMap { $0["endpoints"] as? [[String: Any]] ?? [] }
    }

    func testContainerlabTriangleComesUpAndInspectShowsWhatIsLive() throws {
        let pf = try SimPF(vfs: 6)
        let name = "tri" + runID
        let file = try write("tri.clab.yml", triangle(name))
        let flags = ["--pf", pf.name, "--runtime", "netns"]
        let before = hostSnapshot(pf)
        let ns = { (n: String) in "vfw-\(name)-\(n)" }
        defer { _ = topo(["down"] + flags, file) }
        let up = topo(["up"] + flags, file)
        XCTAssertEqual(up.status, 0, up.err)
        XCTAssertTrue(up.out.contains("node router1: 1 exec command done"), up.out)
        XCTAssertTrue(sh(["ip", "-n", ns("router1"), "addr", "show", "lo"]).out.contains("198.18.41.1/32"), "exec ran in the node")
        let ping = { (from: String, to: String) in
            sh(["ip", "netns", "exec", ns(from), "ping", "-c", "1", "-W", "1", to]).status == 0
        }
        // Link 3 is 198.18.0.8/30: router3 .9, router1 .10.
        XCTAssertTrue(ping("router1", "198.18.0.2"), "router1 reaches router2 over link 1")
        XCTAssertTrue(ping("router1", "198.18.0.9"), "router1 reaches router3 over link 3, closing the ring")
        XCTAssertEqual(sh(["ip", "-n", ns("router3"), "link", "show", "eth2"]).out.contains("02:00:00:00:33:02"), true, "the endpoint's mac")
        XCTAssertTrue(sh(["ip", "-n", ns("router3"), "link", "show", "eth2"]).out.contains("mtu 1400"), "the link's mtu")

        var doc = try jsonObject(topo(["inspect", "--json"] + flags, file).out)
        XCTAssertEqual(doc["name"] as? String, name)
        var ends = endpoints(doc)
        XCTAssertEqual(ends.count, 6)
        XCTAssertEqual(Set(ends.map { $0["state"] as? String }), ["attached"], "\(ends)")
        XCTAssertEqual(Set(ends.compactMap { $0["pf"] as? String }), [pf.name])
        let vfs = Set(pf.table().values.compactMap { $0["pci"] })
        XCTAssertTrue(ends.allSatisfy { vfs.contains($0["vf"] as? String ?? "") }, "vf is the VF's PCI address: \(ends)")
        XCTAssertEqual(ends.first { $0["node"] as? String == "router3" && $0["interface"] as? String == "eth2" }?["mac"] as? String, "02:00:00:00:33:02")

        // router3's namespace dies behind vfwire's back: inspect says so, whatever the plan says.
        sh(["ip", "netns", "del", ns("router3")])
        doc = try jsonObject(topo(["inspect", "--json"] + flags, file).out)
        let nodes = doc["nodes"] as? [[String: Any]] ?? []
        XCTAssertEqual(nodes.first { $0["name"] as? String == "router3" }?["state"] as? String, "gone", "\(nodes)")
        XCTAssertEqual(nodes.first { $0["name"] as? String == "router1" }?["state"] as? String, "up")
        ends = endpoints(doc)
        XCTAssertEqual(ends.filter { $0["node"] as? String == "router3" }.map { $0["state"] as? String }, ["host", "host"], "its VFs are back on the host: \(ends)")
        XCTAssertEqual(ends.filter { $0["node"] as? String == "router1" }.map { $0["state"] as? String }, ["attached", "attached"])
        XCTAssertTrue(topo(["inspect"] + flags, file).out.contains("router3  gone"), "the table says so too")

        XCTAssertEqual(topo(["down"] + flags, file).status, 0)
        XCTAssertEqual(settledSnapshot(pf, before), before, "down gives every VF back")
    }

    func testPlanJSONHasTheDocumentedShape() throws {
        let file = try write("tri.clab.yml", triangle("tj" + runID))
        let r = topo(["plan", "--json", "--pf", "ens9", "--out", dir + "/p"], file)
        XCTAssertEqual(r.status, 0, r.err)
        let doc = try jsonObject(r.out)
        XCTAssertEqual((doc["nodes"] as? [[String: Any]])?.map { $0["name"] as? String }, ["router1", "router2", "router3"])
        let links = try XCTUnwrap(doc["links"] as? [[String: Any]])
        XCTAssertEqual(links.map { $0["vlan"] as? Int }, [100, 101, 102])
        XCTAssertEqual(links[2]["mtu"] as? Int, 1400)
        let end = try XCTUnwrap((links[0]["endpoints"] as? [[String: Any]])?.first)
        XCTAssertEqual(end["node"] as? String, "router1")
        XCTAssertEqual(end["interface"] as? String, "eth1")
        XCTAssertEqual(end["address"] as? String, "198.18.0.1/30")
        XCTAssertEqual(end["mode"] as? String, "kernel")
        XCTAssertNotNil(end["mac"] as? String)
        XCTAssertEqual(end["pf"] as? String, "ens9", "the PF the placement gave the end")
        XCTAssertEqual(links[0]["path"] as? String, "internal")
        for key in ["vf", "state"] { XCTAssertTrue(end[key] is NSNull, "\(key) is only known to inspect") }
        XCTAssertTrue(r.err.contains("ens9 not on this host; VF capacity not checked"), r.err)
    }

    func testContainerlabKeysWithoutVFMeaningAreEachNamedAndStartNothing() throws {
        let pf = try SimPF(vfs: 4)
        let before = hostSnapshot(pf)
        let name = "un" + runID
        let file = try write("un.clab.yml", """
        name: \(name)
        mgmt:
          ipv4-subnet: 198.18.50.0/24
        topology:
          nodes:
            a:
              kind: linux
              image: alpine
              ports: ["8080:80"]
            b:
              kind: nokia_srlinux
              image: ghcr.io/nokia/srlinux
              startup-config: b.cfg
              healthcheck: {test: ["CMD", "true"]}
            br: {kind: bridge}
          links:
            - endpoints: ["a:eth1", "b:e1-1"]
            - endpoints: ["a:eth2", "host:a-eth2"]
            - endpoints: ["b:e1-2", "mgmt-net:b-e1-2"]
            - type: macvlan
              endpoint: {node: a, interface: eth3}
            - endpoints: ["a:eth4", "br:a-eth4"]
        """)
        let flags = ["--pf", pf.name, "--runtime", "netns"]
        let r = topo(["up"] + flags, file)
        XCTAssertEqual(r.status, 1)
        let lines = r.err.split(separator: "\n").map(String.init)
        for (line, what) in [(2, "'mgmt' has no vfwire equivalent"), (9, "'ports'"), (13, "'startup-config'"), (14, "'healthcheck'"),
                             (15, "kind bridge is not a container"), (18, "host:a-eth2 leaves the lab's containers"),
                             (19, "mgmt-net:b-e1-2 leaves"), (20, "type macvlan"), (22, "a link to skipped node br")] {
            XCTAssertEqual(lines.filter { $0.contains("line \(line): ") && $0.contains(what) }.count, 1, "\(what) at line \(line):\n\(r.err)")
        }
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("(remove it, or skip it with --ignore-unsupported)") }, r.err)
        XCTAssertEqual(hostSnapshot(pf), before, "nothing attached")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/vfw-\(name)-a"), "no node started")

        let skip = topo(["plan", "--json", "--ignore-unsupported", "--out", dir + "/p"] + flags, file)
        XCTAssertEqual(skip.status, 0, skip.err)
        XCTAssertEqual(skip.err.components(separatedBy: "; skipped").count - 1, 9, "one warning per key: \(skip.err)")
        let doc = try jsonObject(skip.out)
        XCTAssertEqual(endpoints(doc).map { "\($0["node"]!):\($0["interface"]!)" }, ["a:eth1", "b:e1-1"], "only the VF link is left")
    }

    func testEveryErrorOfAFileIsReportedAndPlanCountsVFs() throws {
        let pf = try SimPF(vfs: 2)
        let file = try write("bad.yaml", """
        name: ev\(runID)
        defaults: {pf: \(pf.name), vlans: 100-110}
        nodes:
          a: {}
          b: {}
        links:
          - endpoints: ["a:eth1", "z:eth1"]
          - endpoints: ["a:eth2", "b:eth2"]
            vlan: 500
            color: red
        """)
        let r = topo(["plan"], file)
        XCTAssertEqual(r.status, 1)
        for message in ["line 7: endpoint z:eth1 names an unknown node z", "line 9: vlan 500 is out of the range", "line 10: unknown key 'color'"] {
            XCTAssertTrue(r.err.contains(message), "\(message):\n\(r.err)")
        }
        let fits = try write("fits.yaml", line(pf.name, name: "fit" + runID).replacingOccurrences(of: "\n  - endpoints: [\"b:eth2\", \"c:eth1\"]", with: ""))
        XCTAssertEqual(topo(["plan", "--out", dir + "/p1"], fits).status, 0, "one link fits two VFs")
        let tooMany = try write("many.yaml", line(pf.name, name: "many" + runID))
        let plan = topo(["plan", "--out", dir + "/p2"], tooMany)
        XCTAssertEqual(plan.status, 1)
        XCTAssertTrue(plan.err.contains("4 link ends need a VF each of \(pf.name), and it has 2 free"), plan.err)
    }

    func testUpRefusesAVLANAnotherOwnerHasOnThePF() throws {
        let pf = try SimPF(vfs: 6)
        let before = hostSnapshot(pf)
        let two = { (name: String, vlans: String) in
            "name: \(name)\ndefaults: {pf: \(pf.name), vlans: \(vlans), addresses: 198.18.42.0/24}\nnodes: {a: {}, b: {}}\nlinks:\n  - endpoints: [\"a:eth1\", \"b:eth1\"]\n"
        }
        let first = try write("first.yaml", two("va" + runID, "300-309"))
        let other = try write("other.yaml", two("vb" + runID, "320-329"))
        let clash = try write("clash.yaml", two("vc" + runID, "300-309"))
        defer { for f in [first, other, clash] { _ = topo(["down"], f) } }
        XCTAssertEqual(topo(["up"], first).status, 0)
        let fine = topo(["up"], other)
        XCTAssertEqual(fine.status, 0, "another VLAN on the same PF is fine: \(fine.err)")
        XCTAssertEqual(topo(["down"], other).status, 0)
        let r = topo(["up"], clash)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("line 5: link 1: vlan 300 on \(pf.name) is already used by topology va\(runID) (va\(runID)-a-eth1)"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/vfw-vc\(runID)-a"), "nothing started")
        XCTAssertEqual(topo(["down"], first).status, 0)

        // A plain CNI attachment on VLAN 320 owns it just as much.
        let box = Netns()
        let conf = json(["cniVersion": "1.0.0", "name": "plain" + runID, "type": "vfwire", "pf": pf.name, "vlan": 320])
        XCTAssertEqual(cni("ADD", conf, containerID: "plain", netns: box.path).status, 0)
        defer { _ = cni("DEL", conf, containerID: "plain", netns: box.path) }
        let r2 = topo(["up"], other)
        XCTAssertEqual(r2.status, 1)
        XCTAssertTrue(r2.err.contains("vlan 320 on \(pf.name) is already used by network plain\(runID) of container \(cid("plain"))"), r2.err)
        XCTAssertEqual(cni("DEL", conf, containerID: "plain", netns: box.path).status, 0)
        XCTAssertEqual(settledSnapshot(pf, before), before)
    }

    func testAFailingCommandIsReportedByItsExitCode() throws {
        let pf = try SimPF(vfs: 2)
        let name = "ex" + runID
        let file = try write("exec.clab.yml", """
        name: \(name)
        topology:
          nodes:
            a: {kind: linux, exec: ["exit 3"]}
            b: {kind: linux, exec: ["true"]}
          links:
            - endpoints: ["a:eth1", "b:eth1"]
        """)
        let flags = ["--pf", pf.name, "--runtime", "netns"]
        defer { _ = topo(["down"] + flags, file) }
        let r = topo(["up"] + flags, file)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.out.contains("node b: 1 exec command done"), "the same probe succeeds where it should: \(r.out)")
        XCTAssertTrue(r.err.contains("node a exec: ip netns exec vfw-\(name)-a sh -c exit 3 failed (exit code 3)"), r.err)
        XCTAssertFalse(r.err.contains("status 768"), r.err)
    }

    func testAVFIOEndIsRefusedWithoutAnIOMMUAndNothingIsLeft() throws {
        guard (try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/iommu_groups"))?.isEmpty ?? true else {
            throw XCTSkip("this machine has an IOMMU; the VM tier covers vfio")
        }
        let pf = try SimPF(vfs: 2)
        let before = hostSnapshot(pf)
        let name = "vf" + runID
        let text = line(pf.name, name: name).replacingOccurrences(of: "\n  - endpoints: [\"b:eth2\", \"c:eth1\"]", with: "")
        let kernel = try write("kernel.yaml", text)
        let vfio = try write("vfio.yaml", text + "\n    mode: [kernel, vfio]\n")
        XCTAssertEqual(topo(["up"], kernel).status, 0, "the same file in kernel mode comes up")
        XCTAssertEqual(topo(["down"], kernel).status, 0)
        let r = topo(["up"], vfio)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("line 11: link 1 b:eth1 is vfio: no IOMMU"), r.err)
        XCTAssertEqual(hostSnapshot(pf), before, "nothing attached")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/run/netns/vfw-\(name)-a"), "no node started")
    }

    func testGraphDrawsPicturesThroughDotAndRingsAsRings() throws {
        let ring = try write("tri.clab.yml", triangle("gr" + runID))
        XCTAssertTrue(topo(["graph"], ring).out.contains("layout=circo"), "a ring is laid out as a ring")
        let straight = try write("line.yaml", line("sim0", name: "gl" + runID))
        XCTAssertTrue(topo(["graph"], straight).out.contains("layout=neato"))
        let svg = dir + "/t.svg"
        let r = topo(["graph", "--svg", svg], ring)
        XCTAssertEqual(r.status, 0, r.err)
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        for label in ["<svg", "vlan 100", "eth2", "198.18.0.9/30"] { XCTAssertTrue(picture.contains(label), label) }
        XCTAssertEqual(topo(["graph", "--png", dir + "/t.png"], ring).status, 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/t.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4e, 0x47], "a PNG")

        let page = dir + "/t.html"
        XCTAssertEqual(topo(["graph", "--html", page], ring).status, 0)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>") && html.contains("<svg") && html.contains("<td>198.18.0.9/30</td>"), html)
        XCTAssertFalse(html.contains("<?xml") || html.contains("src=") || html.contains("<link") || html.contains("<script"), "self-contained, one document")

        let noDot = sh([vfwirectl, "topo", "graph", ring, "--svg", dir + "/n.svg"], env: ["PATH": "/nonexistent"])
        XCTAssertEqual(noDot.status, 1)
        XCTAssertTrue(noDot.err.contains("--svg needs Graphviz's dot, which is not installed: apt-get install graphviz"), noDot.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/n.svg"))
    }

    func testShippedExamplesPlan() throws {
        for f in try FileManager.default.contentsOfDirectory(atPath: repoRoot + "/examples").sorted() {
            let r = topo(["plan", "--pf", "ens9", "--out", dir + "/" + f], repoRoot + "/examples/" + f)
            XCTAssertEqual(r.status, 0, "\(f): \(r.err)")
        }
    }
}

/// containerlab's container settings on a real runtime, and a runtime's failure as it reports it.
extension TopologyPodmanTests {
    func testContainerlabEnvAndBindsReachThePodmanNodeAndAFailureShowsItsExitCode() throws {
        let podman = try Podman(scratchPrefix: "vfwire-topo-clab-")
        let scratch = podman.scratch
        let name = "cp" + runID
        defer {
            for n in ["a", "b"] { podman(["rm", "-f", "-t", "0", "vfw-\(name)-\(n)"]) }
            podman.remove()
        }
        try podman.prepare()
        try "from the bind\n".write(toFile: scratch + "/greeting", atomically: true, encoding: .utf8)
        let file = scratch + "/cp.clab.yml"
        try """
        name: \(name)
        topology:
          defaults: {env: {GREETING: hi}}
          kinds:
            linux: {image: \(podman.image), cmd: sleep 300}
          nodes:
            a: {kind: linux, binds: [greeting:/etc/greeting:ro]}
            b: {kind: linux, cmd: /no/such/command}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        var env = podman.env
        env["VFWIRE_TOPO_STATE"] = scratch + "/state"
        let up = sh([vfwirectl, "topo", "up", file, "--runtime", "podman"], env: env)
        XCTAssertEqual(up.status, 1)
        XCTAssertTrue(up.out.contains("node a: up (podman)"), "the same run succeeds where it should: \(up.out)")
        XCTAssertTrue(up.err.contains("/no/such/command failed (exit code 127)"), up.err)
        XCTAssertFalse(up.err.contains("status"), up.err)
        let inside = podman(["exec", "vfw-\(name)-a", "sh", "-c", "echo $GREETING; cat /etc/greeting"])
        XCTAssertEqual(inside.out, "hi\nfrom the bind\n", inside.err)
        XCTAssertEqual(sh([vfwirectl, "topo", "down", file, "--runtime", "podman"], env: env).status, 0)
    }
}
