import Foundation
import XCTest

/// hooks/vfwire-runc in front of Debian's runc: networks are attached before `runc create`,
/// into a namespace the wrapper made, so that they outlive a killed init and a vfio VF's
/// devices can be named in config.json. The vfio path itself needs an IOMMU and runs in the VM
/// tier; here its refusals run for real, since this machine has no IOMMU.
final class RuncWrapperTests: XCTestCase {
    var scratch = ""
    var runcExe = ""
    var pf: SimPF!
    let suffix = randomSuffix(6)
    var ids: [String] = []
    let fm = FileManager.default

    override func setUpWithError() throws {
        runcExe = try requireTool("runc", install: "apt-get install -y runc")
        pf = try SimPF(vfs: 2)
        scratch = try makeScratch("vfwire-wrap-")
        try busyboxRootfs(scratch + "/rootfs")
        XCTAssertEqual(sh([runcExe, "spec", "--bundle", scratch]).status, 0, "runc spec")
    }

    override func tearDown() {
        for c in ids {
            runc(["kill", c, "KILL"])
            wrapper(["delete", "-f", c])
            removeCgroups(named: c)
            sh(["umount", "-l", "/run/vfwire/netns/" + c]); unlink("/run/vfwire/netns/" + c)
        }
        if !scratch.isEmpty { removeScratch(scratch) }
        pf = nil
    }

    var hookSettings: [String] { hookArgs(cache: scratch + "/cache", confDir: scratch + "/net.d") }

    @discardableResult
    func runc(_ args: [String]) -> Run { sh([runcExe, "--root", scratch + "/runc-root"] + args) }

    /// The wrapper as containerd's shim runs it: runc's arguments, settings in the environment.
    @discardableResult
    func wrapper(_ args: [String]) -> Run {
        let env = ["PATH": runtimePath, "VFWIRE_RUNC": runcExe, "VFWIRE_HOOK": vfwireHook,
                   "VFWIRE_HOOK_ARGS": hookSettings.joined(separator: " ")]
        return detached([repoRoot + "/hooks/vfwire-runc", "--root", scratch + "/runc-root"] + args, env: env, in: scratch)
    }

    func network(_ name: String, _ extra: [String: Any]) throws {
        var plugin: [String: Any] = ["type": "vfwire", "pf": pf.name, "vlan": 100,
                                     "ipam": ["type": "static", "addresses": [["address": "198.18.12.1/24"]]]]
        plugin.merge(extra) { _, b in b }
        try fm.createDirectory(atPath: scratch + "/net.d", withIntermediateDirectories: true)
        try json(["cniVersion": "1.0.0", "name": name, "plugins": [plugin]])
            .write(toFile: "\(scratch)/net.d/10-\(name).conflist", atomically: true, encoding: .utf8)
    }

    /// A bundle for container `id` asking for `networks`, as `docker run -e VFWIRE_NETWORKS=` does.
    func bundle(_ id: String, networks: String, edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        ids.append(id)
        let dir = scratch + "/b-" + id
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/config.json"))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["terminal"] = false
        process["args"] = ["sleep", "300"]
        process["env"] = ((process["env"] as? [String]) ?? []) + ["VFWIRE_NETWORKS=" + networks]
        config["process"] = process
        config["root"] = ["path": scratch + "/rootfs"]
        edit(&config)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try json(config).write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        return dir
    }

    func waitStopped(_ id: String) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        repeat {
            if runc(["state", id]).out.contains("\"status\": \"stopped\"") { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }

    func testNetworksAttachBeforeCreateAndSurviveAKilledInit() throws {
        let net = "wrap-" + suffix, id = "vfw-wrap-\(suffix)-a"
        try network(net, [:])
        let b = try bundle(id, networks: net + ":eth1")
        let before = hostSnapshot(pf)

        let create = wrapper(["create", "--bundle", b, id])
        XCTAssertEqual(create.status, 0, "vfwire-runc create: \(create.out)\(create.err)")
        guard create.status == 0 else { return }
        // config.json now names the namespace the VF went into, made before runc ran.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b + "/config.json"))) as! [String: Any]
        let namespaces = (config["linux"] as? [String: Any])?["namespaces"] as? [[String: String]] ?? []
        XCTAssertTrue(namespaces.contains { $0["type"] == "network" && $0["path"] == "/run/vfwire/netns/" + id }, "\(namespaces)")
        XCTAssertEqual((config["annotations"] as? [String: String])?["vfwire.io/prepared"], "true")
        XCTAssertEqual(runc(["start", id]).status, 0)
        let addr = runc(["exec", id, "ip", "-o", "addr", "show", "dev", "eth1"])
        XCTAssertTrue(addr.out.contains("inet 198.18.12.1/24"), "eth1 in the container: \(addr.out)\(addr.err)")

        // kill -9 of init: the namespace outlives it, so the VF stays where DEL will look.
        XCTAssertEqual(runc(["kill", id, "KILL"]).status, 0)
        XCTAssertTrue(waitStopped(id), "the container stopped")
        XCTAssertEqual(pf.table().values.filter { $0["netdev"] == "-" }.count, 1, "the VF is still in the namespace: \(pf.table())")
        let delete = wrapper(["delete", id])
        XCTAssertEqual(delete.status, 0, "vfwire-runc delete: \(delete.out)\(delete.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the host after delete")
        XCTAssertFalse(fm.fileExists(atPath: "/run/vfwire/netns/" + id), "the namespace is gone")
        XCTAssertFalse(fm.fileExists(atPath: "\(scratch)/cache/\(id)"), "nothing cached")
    }

    func testAFailedCreateDetachesAtOnce() throws {
        let net = "wrapf-" + suffix, id = "vfw-wrap-\(suffix)-f"
        try network(net, [:])
        // runc refuses a mount whose source does not exist, after the wrapper attached.
        let b = try bundle(id, networks: net + ":eth1") { c in
            c["mounts"] = ((c["mounts"] as? [[String: Any]]) ?? []) + [["destination": "/x", "type": "bind", "source": "/nonexistent-\(self.suffix)", "options": ["rbind"]]]
        }
        let before = hostSnapshot(pf)
        let create = wrapper(["create", "--bundle", b, id])
        XCTAssertNotEqual(create.status, 0, "runc create with a missing mount source: \(create.out)")
        XCTAssertTrue(create.err.contains("attached \(net):eth1"), "the wrapper attached first: \(create.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the host after a failed create")
        XCTAssertFalse(fm.fileExists(atPath: "/run/vfwire/netns/" + id), "the namespace is gone")
    }

    /// Refused before anything is attached: config.json, the PF and /run/vfwire stay as they were.
    func testVFIORefusalsLeaveNothing() throws {
        let net = "wrapv-" + suffix
        try network(net, ["mode": "vfio"])
        let noIOMMU = ((try? fm.contentsOfDirectory(atPath: "/sys/kernel/iommu_groups")) ?? []).isEmpty
        let cases: [(String, String, (inout [String: Any]) -> Void)] = [
            // Without an IOMMU that is the refusal; with one, the emulated VF cannot leave its driver.
            ("vfio", noIOMMU ? "no IOMMU" : "driver_override", { _ in }),
            ("confidential", "confidential guest", { c in c["annotations"] = ["io.katacontainers.config.hypervisor.confidential_guest": "true"] }),
        ]
        let before = hostSnapshot(pf)
        for (i, (what, message, edit)) in cases.enumerated() {
            let id = "vfw-wrap-\(suffix)-v\(i)"
            let b = try bundle(id, networks: net + ":net1", edit: edit)
            let original = try String(contentsOfFile: b + "/config.json", encoding: .utf8)
            let create = wrapper(["create", "--bundle", b, id])
            XCTAssertNotEqual(create.status, 0, what)
            XCTAssertTrue(create.err.contains(message), "\(what): \(create.err)")
            XCTAssertNotEqual(runc(["state", id]).status, 0, "\(what): no container")
            XCTAssertEqual(try String(contentsOfFile: b + "/config.json", encoding: .utf8), original, "\(what): config.json untouched")
            XCTAssertEqual(hostSnapshot(pf), before, "\(what): nothing attached")
            XCTAssertFalse(fm.fileExists(atPath: "/run/vfwire/netns/" + id), "\(what): no namespace left")
        }
        // A hook alone cannot give a container a device: at createRuntime it says what to use.
        let id = "vfw-wrap-\(suffix)-h"
        let b = try bundle(id, networks: net + ":net1")
        let state = "{\"ociVersion\":\"1.0.2\",\"id\":\"\(id)\",\"status\":\"creating\",\"pid\":\(getpid()),\"bundle\":\"\(b)\"}"
        let hook = sh([vfwireHook, "create"] + hookSettings, stdin: state)
        XCTAssertNotEqual(hook.status, 0)
        XCTAssertTrue(hook.err.contains("vfio mode") && hook.err.contains("vfwire-runc"), hook.err)
        XCTAssertEqual(hostSnapshot(pf), before, "nothing attached by the hook")
    }
}
