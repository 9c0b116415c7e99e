import Foundation
import XCTest

/// containerd 1.6's own CNI client (`ctr run --cni`) runs the freshly built plugin. containerd
/// keeps its state under a scratch directory; what it creates elsewhere is removed afterwards
/// when it was not there before.
final class ContainerdCtrTests: XCTestCase {
    func testContainerdCtrRunsThePlugin() throws {
        let fm = FileManager.default
        let containerdExe = try requireTool("containerd", install: "apt-get install -y docker.io")
        let ctrExe = try requireTool("ctr", install: "apt-get install -y docker.io")
        let version = sh([containerdExe, "--version"])
        guard version.status == 0, version.out.contains(" 1.") else {
            throw SetupFailure("containerd --version: \(version.out)\(version.err): this test was written against containerd 1.6")
        }
        // What containerd, its runc shim and ctr create outside the scratch directory when it
        // is missing: the shim's socket directory (fixed in 1.6), libcni's result cache, and
        // the two directories ctr reads CNI from, which we mount over.
        let globals = GlobalPaths(["/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni",
                                   "/etc/cni/net.d", "/etc/cni", "/opt/cni/bin", "/opt/cni"])
        let pf = try SimPF(vfs: 2)
        let scratch = try makeScratch("vfwire-ctr-")
        let suffix = randomSuffix(6)
        let containerd = Containerd(dir: scratch, namespace: "vfwire-" + suffix, exe: containerdExe, ctr: ctrExe)
        let id = "hr-" + suffix, network = "vfwctr-" + suffix
        let netDir = scratch + "/net.d", binDir = scratch + "/bin", rootfs = scratch + "/rootfs"
        let log = scratch + "/vfwire.log", calls = scratch + "/calls.log"
        let conflist = vfwireConflist(network, pf: pf, vlan: 200, address: "198.18.13.1/24", log: log)
        func pluginLog() -> String { fileText("calls", calls) + fileText("vfwire log", log) }
        var run: Background?

        defer {
            // The task and container, containerd and whatever it started, mounts, files.
            if let run, !run.finished { containerd.ctr(["task", "kill", "-s", "KILL", id]); run.wait(seconds: 10) }
            containerd.ctr(["task", "rm", "-f", id])
            containerd.ctr(["container", "rm", id])
            // DEL once more, as a runtime may repeat it: a no-op after ctr's, a clean-up if ctr never sent it.
            sh([vfwire], stdin: conflist, env: ["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "\(containerd.namespace)-\(id)",
                                                "CNI_NETNS": "", "CNI_IFNAME": "eth0", "CNI_PATH": referencePlugins])
            containerd.stop()
            removeScratch(scratch)
            globals.cleanUp()
            withExtendedLifetime(pf) {}
        }

        let before = hostSnapshot(pf)
        // ctr reads /etc/cni/net.d and runs plugins from /opt/cni/bin: ours are mounted over them.
        for d in [netDir, binDir, "/etc/cni/net.d", "/opt/cni/bin"] {
            try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        try conflist.write(toFile: netDir + "/10-\(network).conflist", atomically: true, encoding: .utf8)
        // The built plugin, behind a wrapper that notes each call's command and CNI_NETNS.
        try """
            #!/bin/sh
            echo "$CNI_COMMAND netns=$CNI_NETNS" >>'\(calls)'
            exec '\(vfwire)' "$@"

            """.write(toFile: binDir + "/vfwire", atomically: true, encoding: .utf8)
        chmod(binDir + "/vfwire", 0o755)
        for p in try fm.contentsOfDirectory(atPath: referencePlugins) {
            try fm.createSymbolicLink(atPath: binDir + "/" + p, withDestinationPath: referencePlugins + "/" + p)
        }
        try busyboxRootfs(rootfs)

        try containerd.writeConfig()
        let ready = Date()
        try containerd.start()
        let readyTime = Date().timeIntervalSince(ready)

        // A container that shows its network, then waits for /go (at most 30 s) and exits.
        let script = """
            ip -o -4 addr show dev eth0; ip -o link show dev eth0; echo ready
            i=0; while [ ! -e /go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
            """
        // ctr in a mount namespace of its own, where our directories are /etc/cni/net.d and
        // /opt/cni/bin. Its FIFOs and runc's state go to scratch rather than /run/containerd,
        // and `--cgroup ""` leaves runc a cgroup of the container's own, removed with it.
        let mountCNI = #"mount -n --bind "$1" /etc/cni/net.d && mount -n --bind "$2" /opt/cni/bin && shift 2 && exec "$@""#
        let ctrRunArgs = containerd.ctrCommand(["run", "--rm", "--cni", "--fifo-dir", scratch + "/fifo", "--runc-root", scratch + "/runc",
                                                "--cgroup", "", "--rootfs", rootfs, id, "/bin/sh", "-c", script])
        let started = Date()
        let ctrRun = try Background(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", mountCNI, "mount-cni",
                                     netDir, binDir] + ctrRunArgs, io: scratch + "/ctr-run")
        run = ctrRun
        let deadline = Date().addingTimeInterval(20)
        while !ctrRun.output.contains("ready") && !ctrRun.finished && Date() < deadline { usleep(50_000) }
        let addTime = Date().timeIntervalSince(started)

        // Inside: the VF's netdev as eth0 with the address; in the PF's table: vlan 200, out of the host.
        let seen = ctrRun.output
        XCTAssertTrue(seen.contains("ready"), "the container started: \(seen)\(pluginLog())")
        XCTAssertTrue(seen.contains(": eth0") && seen.contains("inet 198.18.13.1/24"), "eth0 inside: \(seen)\(pluginLog())")
        let table = pf.table()
        let taken = table.values.filter { $0["netdev"] == "-" }
        XCTAssertEqual(taken.count, 1, "one VF out of the host: \(table)")
        XCTAssertEqual(taken.first?["vlan"], "200", "its VLAN: \(table)")

        // The container exits; ctr deletes the task, sends DEL (empty CNI_NETNS), removes the container.
        XCTAssertTrue(fm.createFile(atPath: rootfs + "/go", contents: nil), "the container's signal to exit: \(rootfs)/go")
        XCTAssertTrue(ctrRun.wait(seconds: 20), "ctr run returns after the container exits: \(ctrRun.output)")
        XCTAssertEqual(ctrRun.status, 0, "ctr run: \(ctrRun.output)\(pluginLog())")
        let total = Date().timeIntervalSince(started)
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after ctr removed the container\(pluginLog())")
        let callLines = ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n")
        XCTAssertTrue(callLines.contains { $0.hasPrefix("ADD netns=/proc/") && $0.hasSuffix("/ns/net") }, "ctr's ADD\(pluginLog())")
        XCTAssertTrue(callLines.contains("DEL netns="), "ctr's DEL, with an empty CNI_NETNS\(pluginLog())")
        // ctr answers (exit 0) with an empty list: an error of ctr's own prints nothing on stdout
        // either, so the status tells the two apart. And it refuses the container by name as
        // unknown, rather than failing for another reason.
        for what in ["container", "task"] {
            let ls = containerd.ctr([what, "ls", "-q"])
            XCTAssertEqual(ls.status, 0, "ctr \(what) ls: \(ls.err)")
            XCTAssertEqual(ls.out, "", "no \(what) left")
        }
        let info = containerd.ctr(["container", "info", id])
        XCTAssertNotEqual(info.status, 0, "ctr container info \(id): \(info.out)")
        XCTAssertTrue(info.err.contains("not found"), "ctr refuses \(id) as unknown: \(info.err)")
        let results = (try? fm.contentsOfDirectory(atPath: "/var/lib/cni/results")) ?? []
        XCTAssertEqual(results.filter { $0.contains(suffix) }, [], "ctr dropped its cached result")
        print("ContainerdCtrTests: containerd ready in \(String(format: "%.2f", readyTime)) s; ctr run to eth0 up "
            + "\(String(format: "%.2f", addTime)) s, to DEL done \(String(format: "%.2f", total)) s")
    }
}
