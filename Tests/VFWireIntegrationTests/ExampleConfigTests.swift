import Foundation
import XCTest

/// The files in cni-conf/ are what users copy: each one is run here, as a runtime would.
final class ExampleConfigTests: XCTestCase {
    func load(_ file: String, substitute: [String: String]) throws -> [String: Any] {
        var text = try String(contentsOfFile: repoRoot + "/cni-conf/" + file, encoding: .utf8)
        for (k, v) in substitute { text = text.replacingOccurrences(of: k, with: v) }
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// host-local keeps leases on disk: give each test its own directory.
    func privateIPAM(_ plugin: [String: Any], _ dir: String) -> [String: Any] {
        var p = plugin
        if var ipam = p["ipam"] as? [String: Any], ipam["type"] as? String == "host-local" {
            ipam["dataDir"] = dir
            p["ipam"] = ipam
        }
        return p
    }

    /// What libcni does with a conflist: each plugin gets the list's name and version, ADD in
    /// order with the previous result, DEL in reverse order with the final result.
    func runList(_ list: [String: Any], _ command: String, netns: String, prev: [String: Any]? = nil,
                 dataDir: String) -> (CNIRun, [String: Any]?) {
        var plugins = (list["plugins"] as! [[String: Any]]).map { privateIPAM($0, dataDir) }
        if command == "DEL" { plugins.reverse() }
        var result = prev
        var last = CNIRun(status: 0, out: "", err: "")
        for p in plugins {
            var conf = p
            conf["name"] = list["name"]
            conf["cniVersion"] = list["cniVersion"]
            if let result { conf["prevResult"] = result }
            let type = p["type"] as! String
            let binary = [buildDir, referencePlugins].map { $0 + "/" + type }.first { FileManager.default.isExecutableFile(atPath: $0) }!
            last = cni(command, json(conf), netns: netns, path: buildDir + ":" + referencePlugins, binary: binary)
            if last.status != 0 { return (last, nil) }
            if command == "ADD" { result = last.json }
        }
        return (last, result)
    }

    func testPoolConflist() throws {
        let pf = try SimPF(vfs: 2)
        let ns = Netns()
        let dir = NSTemporaryDirectory() + "vfwire-ipam-" + randomSuffix()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = hostSnapshot(pf)
        let list = try load("vfwire-pool.conflist", substitute: ["\"sim0\"": "\"\(pf.name)\""])
        let (add, result) = runList(list, "ADD", netns: ns.path, dataDir: dir)
        XCTAssertEqual(add.status, 0, add.out)
        XCTAssertEqual((result?["ips"] as? [[String: Any]])?.first?["address"] as? String, "198.18.100.2/24")
        XCTAssertEqual(pf.table()[0]?["vlan"], "100")
        let (del, _) = runList(list, "DEL", netns: ns.path, prev: result, dataDir: dir)
        XCTAssertEqual(del.status, 0, del.out)
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testDeviceIDConf() throws {
        let pf = try SimPF(vfs: 2)
        let ns = Netns()
        let before = hostSnapshot(pf)
        let conf = try load("vfwire-deviceid.conf", substitute: ["0000:3b:02.1": pf.vfPCI(1)])
        let add = cni("ADD", json(conf), netns: ns.path)
        XCTAssertEqual(add.status, 0, add.out)
        let vf = pf.table()[1]!
        XCTAssertEqual(vf["vlan"], "200")
        XCTAssertEqual(vf["qos"], "2")
        XCTAssertEqual(vf["mac"], "02:00:c6:12:c8:01")
        XCTAssertEqual(vf["max_tx_rate"], "1000")
        XCTAssertTrue(ns.exec(["ip", "route", "show", "198.19.0.0/16"]).out.contains("via 198.18.200.254"))
        XCTAssertEqual(cni("DEL", json(conf), netns: ns.path).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testChainConflist() throws {
        let pf = try SimPF(vfs: 1)
        let ns = Netns()
        let dir = NSTemporaryDirectory() + "vfwire-ipam-" + randomSuffix()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = hostSnapshot(pf)
        let list = try load("vfwire-chain.conflist", substitute: ["\"sim0\"": "\"\(pf.name)\""])
        let (add, result) = runList(list, "ADD", netns: ns.path, dataDir: dir)
        XCTAssertEqual(add.status, 0, add.out)
        XCTAssertEqual((result?["interfaces"] as? [[String: Any]])?.first?["name"] as? String, "net1")
        XCTAssertTrue((ns.link("net1")?["flags"] as? [String] ?? []).contains("PROMISC"), "tuning ran on vfwire's result")
        XCTAssertEqual(ns.exec(["cat", "/proc/sys/net/ipv4/conf/net1/arp_ignore"]).out.trimmingCharacters(in: .whitespacesAndNewlines), "1")
        XCTAssertTrue(ns.exec(["ip", "route", "show", "198.19.30.0/24"]).out.contains("via 198.18.30.254"),
                      "a route without gw goes via the range's gateway")
        var prev = try XCTUnwrap(result)
        prev["cniVersion"] = list["cniVersion"]
        var check = (list["plugins"] as! [[String: Any]])[0]
        check["name"] = list["name"]; check["cniVersion"] = "1.0.0"; check["prevResult"] = prev
        check = privateIPAM(check, dir)
        let c = cni("CHECK", json(check), netns: ns.path)
        XCTAssertEqual(c.status, 0, c.out)
        let (del, _) = runList(list, "DEL", netns: ns.path, prev: result, dataDir: dir)
        XCTAssertEqual(del.status, 0, del.out)
        XCTAssertEqual(hostSnapshot(pf), before)
    }
}

/// What Multus passes for a NetworkAttachmentDefinition backed by the SR-IOV device plugin.
final class MultusInputTests: XCTestCase {
    func testNADConfigWithDeviceIDFromTheDevicePlugin() throws {
        let pf = try SimPF(vfs: 2)
        let ns = Netns()
        let dir = NSTemporaryDirectory() + "vfwire-ipam-" + randomSuffix()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = try String(contentsOfFile: repoRoot + "/cni-conf/kubernetes/vfwire-nad.yaml", encoding: .utf8)
        XCTAssertTrue(yaml.contains("k8s.v1.cni.cncf.io/resourceName"))
        // spec.config is a block scalar: the JSON is everything indented under `config: |`.
        let lines = yaml.components(separatedBy: "\n")
        let start = try XCTUnwrap(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "config: |" })
        let body = lines[(start + 1)...].prefix { $0.hasPrefix("    ") || $0.isEmpty }.joined(separator: "\n")
        var conf = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        var ipam = conf["ipam"] as! [String: Any]
        ipam["dataDir"] = dir
        conf["ipam"] = ipam
        conf["runtimeConfig"] = ["deviceID": pf.vfPCI(1)]
        let before = hostSnapshot(pf)
        let args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=0f1e"
        let add = cni("ADD", json(conf), netns: ns.path, args: args)
        XCTAssertEqual(add.status, 0, add.out)
        XCTAssertEqual(pf.table()[1]?["netdev"], "-", "the device plugin's VF, not the pool's first")
        XCTAssertEqual(pf.table()[1]?["vlan"], "100")
        XCTAssertEqual(cni("DEL", json(conf), netns: ns.path, args: args).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before)
    }
}
