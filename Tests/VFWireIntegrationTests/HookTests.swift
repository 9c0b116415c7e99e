import Foundation
import XCTest

let vfwireHook = buildDir + "/vfwire-hook"

/// vfwire-hook driven directly, as a runtime would: OCI state on stdin, a bundle on disk, and a
/// process in its own network namespace standing in for the container.
final class HookTests: XCTestCase {
    var pf: SimPF!
    var dir = ""
    var network = ""

    override func setUpWithError() throws {
        pf = try SimPF(vfs: 2)
        dir = try makeScratch("vfwire-hook-")
        network = "hooknet-" + runID
        for d in ["net.d", "cache", "bundle"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true)
        }
        let list: [String: Any] = ["cniVersion": "1.0.0", "name": network, "plugins": [
            ["type": "vfwire", "pf": pf.name, "vlan": 100, "capabilities": ["mac": true, "vlan": true],
             "ipam": ["type": "static", "addresses": [["address": "198.18.8.1/24"]]]] as [String: Any],
        ]]
        try json(list).write(toFile: dir + "/net.d/10-hook.conflist", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        pf = nil
    }

    /// A process in a new network namespace, as runc leaves the container's at createRuntime.
    func container() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["-n", "sleep", "120"]
        try p.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: "/proc/\(p.processIdentifier)/ns/net") { usleep(10_000) }
        usleep(50_000)
        return p
    }

    func bundle(env: [String] = [], devices: [String] = []) throws {
        let config: [String: Any] = ["ociVersion": "1.0.2", "process": ["env": env],
                                     "linux": ["devices": devices.map { ["path": $0, "type": "c"] }]]
        try json(config).write(toFile: dir + "/bundle/config.json", atomically: true, encoding: .utf8)
    }

    func hook(_ stage: String, id: String, pid: Int32?, annotations: [String: String] = [:], bundle: String? = nil,
              raw: String? = nil) -> (status: Int32, out: String, err: String) {
        var state: [String: Any] = ["ociVersion": "1.0.2", "id": id, "status": stage == "poststop" ? "stopped" : "creating",
                                    "bundle": bundle ?? dir + "/bundle", "annotations": annotations]
        if let pid { state["pid"] = Int(pid) }
        return sh([vfwireHook, stage, "--conf-dir", dir + "/net.d", "--bin-dir", buildDir + ":" + referencePlugins,
                   "--cache-dir", dir + "/cache"], stdin: raw ?? json(state))
    }

    /// A command's output in the container's network namespace; a failure if it (or nsenter)
    /// fails, so that no check on the output passes on an empty one.
    func inside(_ pid: Int32, _ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        let r = sh(["nsenter", "-t", String(pid), "-n"] + args)
        XCTAssertEqual(r.status, 0, "nsenter -t \(pid) -n \(args.joined(separator: " ")): \(r.err)", file: file, line: line)
        return r.out
    }

    func testAnnotationAttachesAndPoststopDetachesTwice() throws {
        try bundle()
        let before = hostSnapshot(pf)
        let c = try container()
        defer { c.terminate(); c.waitUntilExit() }
        let id = cid("hk1")
        let r = hook("create", id: id, pid: c.processIdentifier,
                     annotations: ["vfwire.io/networks": "\(network):eth1;mac=02:00:00:00:08:01;vlan=300"])
        XCTAssertEqual(r.status, 0, r.err)
        let link = inside(c.processIdentifier, ["ip", "-o", "addr", "show", "dev", "eth1"])
        XCTAssertTrue(link.contains("198.18.8.1/24"), link)
        XCTAssertTrue(inside(c.processIdentifier, ["ip", "-o", "link", "show", "eth1"]).contains("02:00:00:00:08:01"))
        XCTAssertEqual(pf.table()[0]?["vlan"], "300", "the per-container VLAN overrides the network's")
        XCTAssertEqual(hook("poststop", id: id, pid: nil).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before)
        let again = hook("poststop", id: id, pid: nil)
        XCTAssertEqual(again.status, 0, "poststop twice: \(again.err)")
    }

    func testEnvironmentVariableForRuntimesWithoutAnnotations() throws {
        try bundle(env: ["PATH=/bin", "VFWIRE_NETWORKS=\(network)"])
        let before = hostSnapshot(pf)
        let c = try container()
        defer { c.terminate(); c.waitUntilExit() }
        let id = cid("hk2")
        XCTAssertEqual(hook("create", id: id, pid: c.processIdentifier).status, 0)
        XCTAssertTrue(inside(c.processIdentifier, ["ip", "-o", "link"]).contains("net1"), "default name net1")
        XCTAssertEqual(pf.table()[0]?["vlan"], "100")
        // The container dies first, as with runc: poststop faces a namespace that is gone.
        c.terminate(); c.waitUntilExit()
        XCTAssertEqual(hook("poststop", id: id, pid: nil).status, 0)
        XCTAssertEqual(hostSnapshot(pf), before)
    }

    func testBadInputsAttachNothing() throws {
        try bundle()
        let c = try container()
        defer { c.terminate(); c.waitUntilExit() }
        let before = hostSnapshot(pf)
        let good = ["vfwire.io/networks": "\(network):eth1"]
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run(); gone.waitUntilExit()
        let cases: [(String, (status: Int32, out: String, err: String), String)] = [
            ("garbage state", hook("create", id: cid("b1"), pid: c.processIdentifier, raw: "{not json"), "OCI state"),
            ("no bundle", hook("create", id: cid("b2"), pid: c.processIdentifier, annotations: good, bundle: dir + "/nope"), "bundle"),
            ("unknown network", hook("create", id: cid("b3"), pid: c.processIdentifier, annotations: ["vfwire.io/networks": "nosuchnet"]), "no CNI network named nosuchnet"),
            ("pid gone", hook("create", id: cid("b4"), pid: gone.processIdentifier, annotations: good), "gone"),
            ("bad request", hook("create", id: cid("b5"), pid: c.processIdentifier, annotations: ["vfwire.io/networks": "\(network):eth1;vlan=5000"]), "vlan"),
            ("bad id", hook("create", id: "../x", pid: c.processIdentifier, annotations: good), "container id"),
            ("conf dir outside topologies", hook("create", id: cid("b6"), pid: c.processIdentifier,
                                                  annotations: good.merging(["vfwire.io/conf-dir": "/etc"]) { a, _ in a }), "must be"),
        ]
        for (what, r, msg) in cases {
            XCTAssertNotEqual(r.status, 0, what)
            XCTAssertTrue(r.err.contains(msg), "\(what): \(r.err)")
            XCTAssertEqual(hostSnapshot(pf), before, "\(what): nothing attached")
            // The listing shows lo, so it did list the container's links: eth1 is not among them.
            let links = inside(c.processIdentifier, ["ip", "-o", "link"])
            XCTAssertTrue(links.contains(": lo:"), "\(what): the container's links: \(links)")
            XCTAssertFalse(links.contains("eth1"), "\(what): \(links)")
        }
        XCTAssertEqual(hook("poststop", id: cid("b3"), pid: nil).status, 0, "poststop after a failed create")
    }

    func testVFIODevicesAreChecked() throws {
        let c = try container()
        defer { c.terminate(); c.waitUntilExit() }
        try bundle(devices: ["/dev/vfio/4242"])
        let r = hook("create", id: cid("v1"), pid: c.processIdentifier)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("IOMMU"), r.err)
        let tdx = hook("create", id: cid("v2"), pid: c.processIdentifier,
                       annotations: ["io.katacontainers.config.hypervisor.confidential_guest": "true"])
        XCTAssertNotEqual(tdx.status, 0)
        XCTAssertTrue(tdx.err.contains("confidential guest") && tdx.err.contains("not attested"), tdx.err)
        XCTAssertTrue(tdx.err.contains("vfwire.io/allow-confidential-passthrough"), "says how to allow it")
    }
}
