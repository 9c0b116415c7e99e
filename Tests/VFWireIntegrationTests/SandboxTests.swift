import Foundation
import XCTest

/// vfwire-hook and vfwirectl sandbox themselves as the plugin does: what they run inherits the
/// filter, and a call their profile denies fails. Each probe first shows the call works for root
/// outside the filter, so a denial cannot be an artefact of the probe.
final class SandboxTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try makeScratch("vfwire-sandbox-") }
    override func tearDown() { removeScratch(dir) }

    /// A shell snippet that reports the filter, then tries `call` and says whether it worked.
    func probe(_ call: String, to report: String) -> String {
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > \(report); \(call) >/dev/null 2>&1; echo \"denied: $?\" >> \(report)"
    }

    func report(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func testTheHookSandboxesWhatItRuns() throws {
        // chroot works for root here, and the hook's profile denies it.
        XCTAssertEqual(sh(["chroot", "/", "true"]).status, 0, "chroot works outside the filter")
        let bin = dir + "/bin", out = dir + "/report"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/net.d", withIntermediateDirectories: true)
        // A CNI plugin the hook asks for its versions before anything else.
        try """
            #!/bin/sh
            \(probe("chroot / true", to: out))
            echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'
            """.write(toFile: bin + "/sandprobe", atomically: true, encoding: .utf8)
        chmod(bin + "/sandprobe", 0o755)
        try json(["cniVersion": "1.0.0", "name": "sandnet", "plugins": [["type": "sandprobe"]]])
            .write(toFile: dir + "/net.d/sand.conflist", atomically: true, encoding: .utf8)
        try json(["ociVersion": "1.0.2", "annotations": ["vfwire.io/networks": "sandnet:eth1"]])
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let state = json(["ociVersion": "1.0.2", "id": "sandbox-" + runID, "status": "creating", "pid": Int(getpid()), "bundle": dir])
        _ = sh([vfwireHook, "create", "--conf-dir", dir + "/net.d", "--bin-dir", bin, "--cache-dir", dir + "/cache"], stdin: state)
        let text = report(out)
        XCTAssertTrue(text.contains("Seccomp:\t2"), "the hook's child runs under a filter: \(text)")
        XCTAssertTrue(text.contains("NoNewPrivs:\t1"), text)
        XCTAssertTrue(text.contains("denied: ") && !text.contains("denied: 0"), "chroot is denied: \(text)")
    }

    func testTheCtlSandboxesWhatItRuns() throws {
        // Reading the kernel log through syslog(2) (dmesg -S; plain dmesg reads /dev/kmsg) works
        // for root here, and every profile denies it.
        XCTAssertEqual(sh(["dmesg", "-S"]).status, 0, "dmesg -S works outside the filter")
        let pf = try SimPF(vfs: 2)
        let out = dir + "/report", name = "sb" + runID
        let file = dir + "/t.yaml"
        try """
            name: \(name)
            defaults:
              pf: \(pf.name)
              addresses: 198.18.41.0/24
            nodes:
              a:
                exec: ["\(probe("dmesg -S", to: out).replacingOccurrences(of: "\"", with: "\\\""))"]
              b: {}
            links:
              - endpoints: ["a:eth1", "b:eth1"]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        func topo(_ verb: String) -> Run {
            sh([vfwirectl, "topo", verb, file], env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VFWIRE_TOPO_STATE": dir + "/state",
                                                      "VFWIRE_CNI_PATH": buildDir + ":" + referencePlugins])
        }
        defer { topo("down") }
        let up = topo("up")
        XCTAssertEqual(up.status, 0, "topo up: \(up.out)\(up.err)")
        let text = report(out)
        XCTAssertTrue(text.contains("Seccomp:\t2"), "a node's exec command runs under vfwirectl's filter: \(text)")
        XCTAssertTrue(text.contains("denied: ") && !text.contains("denied: 0"), "syslog is denied: \(text)")
        XCTAssertEqual(topo("down").status, 0)
    }
}
