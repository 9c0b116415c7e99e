import Foundation
import XCTest

/// The plugin binary against real network namespaces and the emulated NIC.
final class PluginTests: XCTestCase {
    func conf(_ pf: SimPF, version: String = "1.1.0", name: String = "vfnet", extra: [String: Any] = [:],
              address: String? = "198.18.0.1/24") -> String {
        var o: [String: Any] = ["cniVersion": version, "name": name, "type": "vfwire", "pf": pf.name]
        if let address { o["ipam"] = ["type": "static", "addresses": [["address": address]]] }
        for (k, v) in extra { o[k] = v }
        return json(o)
    }

    func testAddCheckDelForEveryResultVersion() throws {
        let pf = try SimPF(vfs: 2)
        let before = hostSnapshot(pf)
        for version in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            let ns = Netns()
            let c = conf(pf, version: version, extra: ["vlan": 100, "vlanQoS": 3, "mac": "02:00:00:00:aa:01",
                                                      "mtu": 1400, "spoofchk": "off", "trust": "on",
                                                      "max_tx_rate": 100, "link_state": "enable"])
            let add = cni("ADD", c, netns: ns.path)
            XCTAssertEqual(add.status, 0, "\(version): \(add.out) \(add.err)")
            let r = add.json
            XCTAssertEqual(r["cniVersion"] as? String, version)
            let ifaces = r["interfaces"] as? [[String: Any]] ?? []
            XCTAssertEqual(ifaces.first?["name"] as? String, "net1")
            XCTAssertEqual(ifaces.first?["mac"] as? String, "02:00:00:00:aa:01")
            XCTAssertEqual(ifaces.first?["sandbox"] as? String, ns.path)
            let ips = r["ips"] as? [[String: Any]] ?? []
            XCTAssertEqual(ips.first?["address"] as? String, "198.18.0.1/24")
            if version.hasPrefix("0.") {
                XCTAssertEqual(ips.first?["version"] as? String, "4", "0.x results carry ips[].version")
                XCTAssertNil(ifaces.first?["pciID"])
            } else {
                XCTAssertNil(ips.first?["version"], "1.x results have no ips[].version")
            }
            if version == "1.1.0" {
                XCTAssertEqual(ifaces.first?["pciID"] as? String, pf.vfPCI(0))
                XCTAssertEqual(ifaces.first?["mtu"] as? Int, 1400)
            }

            // The interface inside, as the kernel reports it.
            let link = try XCTUnwrap(ns.link("net1"), version)
            XCTAssertEqual(link["address"] as? String, "02:00:00:00:aa:01")
            XCTAssertEqual(link["mtu"] as? Int, 1400)
            XCTAssertTrue((link["flags"] as? [String] ?? []).contains("UP"))
            let addrs = (link["addr_info"] as? [[String: Any]] ?? []).compactMap { $0["local"] as? String }
            XCTAssertTrue(addrs.contains("198.18.0.1"))
            // The VF table, read back through the PF.
            let vf = pf.table()[0]!
            XCTAssertEqual(vf["netdev"], "-", "the VF netdev left the host")
            XCTAssertEqual(vf["mac"], "02:00:00:00:aa:01")
            XCTAssertEqual(vf["vlan"], "100")
            XCTAssertEqual(vf["qos"], "3")
            XCTAssertEqual(vf["spoofchk"], "off")
            XCTAssertEqual(vf["trust"], "on")
            XCTAssertEqual(vf["max_tx_rate"], "100")
            XCTAssertEqual(vf["link-state"], "enable")
            XCTAssertTrue(sh(["tc", "qdisc", "show", "dev", "\(pf.name)_0"]).out.contains("tbf"), "max_tx_rate is a tbf on the port")

            if version != "0.3.0" && version != "0.3.1" {
                var prev = try JSONSerialization.jsonObject(with: Data(c.utf8)) as! [String: Any]
                prev["prevResult"] = r
                let check = cni("CHECK", json(prev), netns: ns.path)
                XCTAssertEqual(check.status, 0, "\(version) CHECK: \(check.out)")
                // CHECK notices when the interface no longer matches.
                let flush = ns.exec(["ip", "addr", "flush", "dev", "net1"])
                XCTAssertEqual(flush.status, 0, "ip addr flush dev net1: \(flush.err)")
                let bad = cni("CHECK", json(prev), netns: ns.path)
                XCTAssertEqual(bad.code, 105, "\(version) CHECK after flush: \(bad.out)")
            }

            let del = cni("DEL", c, netns: ns.path)
            XCTAssertEqual(del.status, 0, "\(version) DEL: \(del.out)")
            XCTAssertNil(ns.link("net1"))
            XCTAssertEqual(hostSnapshot(pf), before, "\(version): DEL restores the VF and its netdev")
        }
    }

    func testSameVLANTalksAndOtherVLANIsIsolated() throws {
        let pf = try SimPF(vfs: 3)
        let a = Netns(), b = Netns(), c = Netns()
        defer { for ns in [a, b, c] { _ = cni("DEL", conf(pf), containerID: ns.name, netns: ns.path) } }
        for (ns, vlan, ip) in [(a, 100, "198.18.1.1/24"), (b, 100, "198.18.1.2/24"), (c, 200, "198.18.1.3/24")] {
            let add = cni("ADD", conf(pf, extra: ["vlan": vlan], address: ip), containerID: ns.name, netns: ns.path)
            XCTAssertEqual(add.status, 0, add.out)
        }
        // The probe works (a reaches b) and c holds the address it is probed on, so a failed ping
        // below is the VLANs keeping them apart.
        XCTAssertEqual(a.exec(["ping", "-c", "2", "-W", "1", "-i", "0.2", "198.18.1.2"]).status, 0, "same VLAN reaches")
        let cAddr = c.exec(["ip", "-o", "addr", "show", "dev", "net1"])
        XCTAssertTrue(cAddr.out.contains("inet 198.18.1.3/24"), "c's net1: \(cAddr.out)\(cAddr.err)")
        XCTAssertNotEqual(a.exec(["ping", "-c", "2", "-W", "1", "-i", "0.2", "198.18.1.3"]).status, 0, "other VLAN is isolated")
        XCTAssertNotEqual(c.exec(["ping", "-c", "1", "-W", "1", "198.18.1.2"]).status, 0, "isolation holds both ways")
    }

    func testLinkStateDisableTakesCarrierAway() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let add = cni("ADD", conf(pf, extra: ["link_state": "disable"], address: nil), netns: ns.path)
        XCTAssertEqual(add.status, 0, add.out)
        let flags = ns.link("net1")?["flags"] as? [String] ?? []
        XCTAssertTrue(flags.contains("NO-CARRIER"), "\(flags)")
        XCTAssertEqual(cni("DEL", conf(pf, address: nil), netns: ns.path).status, 0)
    }

    func testParallelAddsGetDistinctVFsAndParallelDelsRestoreAll() throws {
        let n = 32
        let pf = try SimPF(vfs: n)
        let before = hostSnapshot(pf)
        let spaces = (0..<n).map { _ in Netns() }
        let results = UnsafeMutableBufferPointer<CNIRun?>.allocate(capacity: n)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: n) { i in
            results[i] = cni("ADD", conf(pf, extra: ["vlan": 10], address: "198.18.2.\(i + 1)/24"),
                             containerID: "par\(i)", netns: spaces[i].path)
        }
        var pcis: [String] = []
        for i in 0..<n {
            let r = try XCTUnwrap(results[i])
            XCTAssertEqual(r.status, 0, r.out + r.err)
            pcis.append(((r.json["interfaces"] as? [[String: Any]])?.first?["pciID"] as? String) ?? "none")
        }
        XCTAssertEqual(Set(pcis).count, n, "every ADD got its own VF: \(pcis.sorted())")
        let extra = Netns()
        let before33 = hostSnapshot(pf)
        XCTAssertEqual(cni("ADD", conf(pf), containerID: "one-too-many", netns: extra.path).code, 101, "pool exhausted")
        XCTAssertEqual(hostSnapshot(pf), before33)
        DispatchQueue.concurrentPerform(iterations: n) { i in
            results[i] = cni("DEL", conf(pf, extra: ["vlan": 10]), containerID: "par\(i)", netns: spaces[i].path)
        }
        for i in 0..<n { XCTAssertEqual(results[i]?.status, 0, results[i]?.out ?? "") }
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testDelSucceedsWhenTheNamespaceIsGoneOrUnnamed() throws {
        let pf = try SimPF(vfs: 1)
        let before = hostSnapshot(pf)
        let c = conf(pf, extra: ["vlan": 7, "mac": "02:00:00:00:bb:01"])
        for netnsForDel in ["gone", "empty"] {
            var ns: Netns? = Netns()
            let path = ns!.path
            XCTAssertEqual(cni("ADD", c, netns: path).status, 0)
            ns = nil   // deletes the namespace: the VF netdev comes back under the kernel's fallback name
            let del = cni("DEL", c, netns: netnsForDel == "gone" ? path : nil)
            XCTAssertEqual(del.status, 0, "\(netnsForDel): \(del.out)")
            XCTAssertEqual(hostSnapshot(pf), before, netnsForDel)
        }
    }

    func testDelIsIdempotentAndNeedsNoCache() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let c = conf(pf)
        XCTAssertEqual(cni("DEL", c, containerID: "never-added", netns: ns.path).status, 0, "DEL with no record")
        XCTAssertEqual(cni("ADD", c, netns: ns.path).status, 0)
        XCTAssertEqual(cni("DEL", c, netns: ns.path).status, 0)
        XCTAssertEqual(cni("DEL", c, netns: ns.path).status, 0, "DEL repeated")
        XCTAssertEqual(cni("DEL", c, netns: nil).status, 0, "DEL repeated without CNI_NETNS")
    }

    func testADDReclaimsAVFWhoseContainerDied() throws {
        let pf = try SimPF(vfs: 1)
        let before = hostSnapshot(pf)
        var ns: Netns? = Netns()
        XCTAssertEqual(cni("ADD", conf(pf, extra: ["vlan": 5]), containerID: "dead", netns: ns!.path).status, 0)
        ns = nil
        let next = Netns()
        let add = cni("ADD", conf(pf), containerID: "alive", netns: next.path)
        XCTAssertEqual(add.status, 0, add.out)
        XCTAssertEqual(pf.table()[0]?["vlan"], "0", "the dead attachment's VLAN was undone before reuse")
        XCTAssertEqual(cni("DEL", conf(pf), containerID: "alive", netns: next.path).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testDeviceIDAndMACSources() throws {
        let pf = try SimPF(vfs: 3)
        let ns = Netns()
        let vf2 = pf.vfPCI(2)
        // runtimeConfig beats CNI_ARGS, which beats the netconf key.
        var o: [String: Any] = ["cniVersion": "1.0.0", "name": "dev", "type": "vfwire", "deviceID": pf.vfPCI(1),
                                "mac": "02:00:00:00:00:01", "runtimeConfig": ["deviceID": vf2, "mac": "02:00:00:00:00:03"]]
        let add = cni("ADD", json(o), netns: ns.path, args: "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=02:00:00:00:00:02")
        XCTAssertEqual(add.status, 0, add.out)
        XCTAssertEqual(pf.table()[2]?["netdev"], "-", "runtimeConfig.deviceID chose VF 2")
        XCTAssertEqual(ns.link("net1")?["address"] as? String, "02:00:00:00:00:03")
        // The same VF for another container is refused, and nothing changes.
        let snap = hostSnapshot(pf)
        let other = Netns()
        XCTAssertEqual(cni("ADD", json(o), containerID: "c2", netns: other.path).code, 102)
        XCTAssertEqual(hostSnapshot(pf), snap)
        XCTAssertEqual(cni("DEL", json(o), netns: ns.path).status, 0)

        o["runtimeConfig"] = nil
        let add2 = cni("ADD", json(o), netns: ns.path, args: "MAC=02:00:00:00:00:02")
        XCTAssertEqual(add2.status, 0, add2.out)
        XCTAssertEqual(ns.link("net1")?["address"] as? String, "02:00:00:00:00:02", "CNI_ARGS MAC beats mac")
        XCTAssertEqual(cni("DEL", json(o), netns: ns.path).status, 0)
    }

    func testChainedPrevResultIsAppendedTo() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        var o = try JSONSerialization.jsonObject(with: Data(conf(pf).utf8)) as! [String: Any]
        o["prevResult"] = ["cniVersion": "1.1.0", "interfaces": [["name": "eth0", "sandbox": ns.path]],
                           "ips": [["address": "198.18.9.9/24", "interface": 0]]]
        let add = cni("ADD", json(o), netns: ns.path)
        XCTAssertEqual(add.status, 0, add.out)
        let ifaces = add.json["interfaces"] as? [[String: Any]] ?? []
        XCTAssertEqual(ifaces.map { $0["name"] as? String }, ["eth0", "net1"])
        let ips = add.json["ips"] as? [[String: Any]] ?? []
        XCTAssertEqual(ips.map { $0["interface"] as? Int }, [0, 1])
        XCTAssertEqual(cni("DEL", json(o), netns: ns.path).status, 0)
    }

    func testGCReleasesWhatIsNotValid() throws {
        let pf = try SimPF(vfs: 2)
        // GC acts on a whole network: one of this run's own, so no other test's attachments are in scope.
        let gcNet = "gc-" + runID
        let before = hostSnapshot(pf)
        let keep = Netns(), drop = Netns()
        XCTAssertEqual(cni("ADD", conf(pf, name: gcNet, address: nil), containerID: "keep", netns: keep.path).status, 0)
        XCTAssertEqual(cni("ADD", conf(pf, name: gcNet, address: nil), containerID: "drop", netns: drop.path).status, 0)
        var o = try JSONSerialization.jsonObject(with: Data(conf(pf, name: gcNet, address: nil).utf8)) as! [String: Any]
        o["cni.dev/valid-attachments"] = [["containerID": cid("keep"), "ifname": "net1"]]
        let gc = sh([vfwire], stdin: json(o), env: ["CNI_COMMAND": "GC", "CNI_PATH": referencePlugins])
        XCTAssertEqual(gc.status, 0, gc.out)
        XCTAssertNil(drop.link("net1"), "GC took the VF back")
        XCTAssertNotNil(keep.link("net1"), "GC left the valid attachment alone")
        XCTAssertEqual(cni("DEL", conf(pf, name: gcNet, address: nil), containerID: "keep", netns: keep.path).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testStatus() throws {
        let pf = try SimPF(vfs: 1)
        let status = { (c: String) in sh([vfwire], stdin: c, env: ["CNI_COMMAND": "STATUS", "CNI_PATH": referencePlugins]) }
        XCTAssertEqual(status(conf(pf, address: nil)).status, 0)
        let ns = Netns()
        XCTAssertEqual(cni("ADD", conf(pf, address: nil), netns: ns.path).status, 0)
        let full = status(conf(pf, address: nil))
        XCTAssertEqual(full.status, 1)
        XCTAssertTrue(full.out.contains("\"code\":50"), full.out)
        XCTAssertEqual(cni("DEL", conf(pf, address: nil), netns: ns.path).status, 0)
        let missing = status(json(["cniVersion": "1.1.0", "name": "x", "type": "vfwire", "pf": "nosuchpf0"]))
        XCTAssertTrue(missing.out.contains("\"code\":50"), missing.out)
    }

    func testVersion() {
        let r = sh([vfwire], stdin: "{\"cniVersion\":\"0.4.0\"}", env: ["CNI_COMMAND": "VERSION"])
        XCTAssertEqual(r.status, 0)
        let o = try? JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        XCTAssertEqual(o?["cniVersion"] as? String, "0.4.0")
        XCTAssertEqual(o?["supportedVersions"] as? [String], ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    }

    /// stdin is read in 64 KiB chunks; a netconf over several of them (a large runtimeConfig,
    /// say) must arrive whole. Cut short, it would not parse, and VERSION would fall back to
    /// the latest version instead of echoing the one asked for at its end.
    func testStdinLongerThanOneReadArrivesWhole() {
        let padding = String(repeating: "x", count: 200_000)
        let r = sh([vfwire], stdin: "{\"pad\":\"\(padding)\",\"cniVersion\":\"0.4.0\"}", env: ["CNI_COMMAND": "VERSION"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.out.hasPrefix("{\"cniVersion\":\"0.4.0\""), r.out)
    }

    /// Foundation would double the static plugin a runtime execs on every attachment; one
    /// `import FoundationEssentials` in any plugin module brings it back. The hook, built from
    /// the same toolchain, shows that the check sees Foundation where it is linked.
    func testThePluginLinksNoFoundation() {
        func needed(_ binary: String) -> String { sh(["readelf", "-d", binary]).out }
        XCTAssertTrue(needed(buildDir + "/vfwire-hook").contains("libFoundation"))
        XCTAssertTrue(needed(vfwire).contains("libswiftCore"), "a dynamically linked debug build")
        XCTAssertFalse(needed(vfwire).contains("Foundation"), needed(vfwire))
    }
}

/// IPAM delegation as libcni's invoke does it, version negotiation with older plugins, and
/// what a delegate inherits from vfwire.
final class DelegateTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vfwire-ipam-" + randomSuffix()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// An IPAM plugin `type` in `dir`: `script` runs first, then Debian's static plugin
    /// (CNI up to 1.0.0) with the same input. Returns a netconf on `pf` that uses it.
    func probeIPAM(_ type: String, _ script: String, pf: SimPF, version: String) throws -> String {
        try "#!/bin/sh\n\(script)\nexec \(referencePlugins)/static\n".write(toFile: dir + "/" + type, atomically: true, encoding: .utf8)
        chmod(dir + "/" + type, 0o755)
        return json(["cniVersion": version, "name": type, "type": "vfwire", "pf": pf.name,
                     "ipam": ["type": type, "addresses": [["address": "198.18.3.1/24"]]]])
    }

    func testOlderIPAMIsNegotiatedOnceThenRemembered() throws {
        let pf = try SimPF(vfs: 1)
        let log = dir + "/calls"
        let conf = try probeIPAM("logipam", "echo $CNI_COMMAND >> \(log)", pf: pf, version: "1.1.0")
        let calls = { (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? [] }
        let ns = Netns()
        for round in 1...2 {
            let add = cni("ADD", conf, netns: ns.path, path: dir)
            XCTAssertEqual(add.status, 0, add.out)
            XCTAssertEqual(ns.link("net1").map { _ in true }, true)
            XCTAssertEqual(cni("DEL", conf, netns: ns.path, path: dir).status, 0)
            if round == 1 {
                XCTAssertEqual(calls(), ["ADD", "VERSION", "ADD", "DEL"], "refused 1.1.0, asked, ran with 1.0.0")
            } else {
                XCTAssertEqual(calls().dropFirst(4), ["ADD", "DEL"], "the second time it knows")
            }
        }
    }

    func testThePluginSandboxesItselfAndItsDelegates() throws {
        let pf = try SimPF(vfs: 1)
        // An IPAM plugin inherits vfwire's seccomp filter: it reports it, then tries a mount.
        let report = dir + "/report"
        let conf = try probeIPAM("probe", """
            grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > \(report)
            unshare -m true 2>/dev/null; echo "mount: $?" >> \(report)
            """, pf: pf, version: "1.0.0")
        let ns = Netns()
        XCTAssertEqual(cni("ADD", conf, netns: ns.path, path: dir).status, 0)
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("Seccomp:\t2"), "a seccomp filter is installed: \(text)")
        XCTAssertTrue(text.contains("NoNewPrivs:\t1"), text)
        XCTAssertFalse(text.contains("mount: 0"), "mount is denied: \(text)")
        XCTAssertEqual(cni("DEL", conf, netns: ns.path, path: dir).status, 0)
    }
}

