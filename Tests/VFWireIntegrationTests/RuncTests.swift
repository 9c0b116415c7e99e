import Foundation
import XCTest

/// vfwire-hook run by Debian's runc 1.1, which has no CNI of its own, from the hooks of
/// hooks/runc-hooks.json in a bundle's config.json. runc's state root, the bundles and the
/// hook's cache live under a scratch directory and are removed afterwards.
///
/// A container's init after `runc create` keeps create's stdio, so create runs `detached`.
final class RuncTests: XCTestCase {
    func testRuncRunsTheHook() throws {
        let runcExe = try requireTool("runc", install: "apt-get install -y runc")
        let fm = FileManager.default
        let pf = try SimPF(vfs: 2)
        let scratch = try makeScratch("vfwire-runc-")
        let suffix = randomSuffix(6)
        let network = "rtnet-" + suffix
        let id = "vfw-runc-\(suffix)-a", bad = "vfw-runc-\(suffix)-b"
        let root = scratch + "/runc-root", bundle = scratch + "/bundle"
        let mac = "02:00:00:00:0b:01"
        func runc(_ args: [String]) -> Run { sh([runcExe, "--root", root] + args) }

        defer {
            // Even when an assertion failed: the containers (delete runs poststop, which gives
            // the VF back), their cgroups, the scratch dir, then the PF.
            for c in [id, bad] {
                _ = runc(["kill", c, "KILL"])
                _ = runc(["delete", "-f", c])
                removeCgroups(named: c)
            }
            removeScratch(scratch)
            withExtendedLifetime(pf) {}
        }

        try writeNetwork(network, pf: pf, vlan: 100, address: "198.18.11.1/24", to: scratch + "/net.d", log: scratch + "/vfwire.log")
        let log = { fileText("vfwire log", scratch + "/vfwire.log") }
        try busyboxRootfs(bundle + "/rootfs")
        let spec = sh([runcExe, "spec", "--bundle", bundle])
        XCTAssertEqual(spec.status, 0, "runc spec: \(spec.err)")

        // runc spec's config, with the hooks of hooks/runc-hooks.json pointed at this build.
        let fragment = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repoRoot + "/hooks/runc-hooks.json"))) as! [String: Any]
        let extra = hookArgs(cache: scratch + "/cache", confDir: scratch + "/net.d")
        let hooks = (fragment["hooks"] as! [String: [[String: Any]]]).mapValues { $0.map { thisBuildsHook($0, adding: extra) } }
        XCTAssertEqual(Set(hooks.keys), ["createRuntime", "poststop"], "hooks/runc-hooks.json: \(hooks)")
        func writeConfig(_ dir: String, networks: String) throws {
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))) as! [String: Any]
            var process = config["process"] as! [String: Any]
            process["terminal"] = false
            process["args"] = ["sleep", "300"]
            config["process"] = process
            var rootfs = config["root"] as! [String: Any]
            rootfs["path"] = bundle + "/rootfs"
            config["root"] = rootfs
            config["hooks"] = hooks
            config["annotations"] = ["vfwire.io/networks": networks]
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try json(config).write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        }
        try writeConfig(scratch + "/bundle-a", networks: "\(network):eth1;mac=\(mac)")
        try writeConfig(scratch + "/bundle-b", networks: "nosuchnet-\(suffix):eth1")

        let before = hostSnapshot(pf)

        // create runs the createRuntime hook; the container's init keeps create's stdio.
        let create = detached([runcExe, "--root", root, "create", "--bundle", scratch + "/bundle-a", id], in: scratch)
        XCTAssertEqual(create.status, 0, "runc create: \(create.out)\(create.err)\(log())")
        guard create.status == 0 else { return }
        let start = runc(["start", id])
        XCTAssertEqual(start.status, 0, "runc start: \(start.err)")

        // Inside: eth1 with the requested MAC and the network's address.
        let addr = runc(["exec", id, "ip", "-o", "addr", "show", "dev", "eth1"])
        XCTAssertTrue(addr.out.contains("inet 198.18.11.1/24"), "eth1 in the container: \(addr.out)\(addr.err)")
        let address = runc(["exec", id, "cat", "/sys/class/net/eth1/address"])
        XCTAssertEqual(address.out.trimmingCharacters(in: .whitespacesAndNewlines), mac, "eth1's MAC: \(address.err)")

        // The PF's table: the VF carries the VLAN and the MAC, and its netdev left the host.
        let row = pf.table().values.first { $0["mac"] == mac }
        XCTAssertEqual(row?["vlan"], "100", "the VF table: \(pf.table())")
        XCTAssertEqual(row?["netdev"], "-", "the VF netdev is in the container: \(pf.table())")
        XCTAssertTrue(fm.fileExists(atPath: "\(scratch)/cache/\(id)/\(network)-eth1.json"), "the hook cached the attachment")

        // The container dies; delete runs the poststop hook, which gives the VF back.
        XCTAssertEqual(runc(["kill", id, "KILL"]).status, 0)
        var state = ""
        let deadline = Date().addingTimeInterval(5)
        repeat {
            state = runc(["state", id]).out
            if state.contains("\"status\": \"stopped\"") { break }
            usleep(50_000)
        } while Date() < deadline
        XCTAssertTrue(state.contains("\"status\": \"stopped\""), "runc state after kill: \(state)")
        let delete = runc(["delete", id])
        XCTAssertEqual(delete.status, 0, "runc delete: \(delete.out)\(delete.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after runc delete\(log())")
        XCTAssertFalse(fm.fileExists(atPath: "\(scratch)/cache/\(id)"), "poststop dropped the cached attachment")
        XCTAssertEqual(cgroups(named: id), [], "runc removed the container's cgroups")

        // A network that does not exist: the hook fails, so runc aborts create and leaves nothing.
        let failed = detached([runcExe, "--root", root, "create", "--bundle", scratch + "/bundle-b", bad], in: scratch)
        XCTAssertNotEqual(failed.status, 0, "runc create with an unknown network: \(failed.out)")
        XCTAssertTrue(failed.err.contains("error running hook") && failed.err.contains("no CNI network named nosuchnet-\(suffix)"),
                      "runc create with an unknown network: \(failed.err)")
        XCTAssertNotEqual(runc(["state", bad]).status, 0, "no container \(bad) is left")
        XCTAssertEqual(hostSnapshot(pf), before, "a failed create changes nothing")
        XCTAssertEqual(cgroups(named: bad), [], "runc removed the failed container's cgroups")
    }
}
