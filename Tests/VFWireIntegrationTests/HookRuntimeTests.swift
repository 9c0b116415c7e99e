import Foundation
import XCTest

/// vfwire under two real runtimes that have no vfwire-specific support:
/// - podman 4.3 runs the freshly built vfwire-hook from a private hooks.d directory holding the
///   shipped hooks/vfwire-hook-create.json and hooks/vfwire-hook-poststop.json, changed only in
///   the hook's path and directories; the containers themselves have `--network none`;
/// - containerd 1.6's own CNI client (`ctr run --cni`) runs the freshly built plugin.
/// Each runtime keeps its state under a scratch directory; what it creates elsewhere is removed
/// afterwards when it was not there before.
final class HookRuntimeTests: XCTestCase {

    // MARK: podman, hooks.d

    func testPodmanHooksDirAttachesByAnnotation() throws {
        guard let exe = PodmanTests.requirePodman() else { return }
        let fm = FileManager.default
        // What podman creates outside its scratch directory when it is missing (as in PodmanTests).
        let cgroups = ((try? fm.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).sorted().flatMap {
            ["/sys/fs/cgroup/\($0)/libpod_parent/conmon", "/sys/fs/cgroup/\($0)/libpod_parent"]
        }
        let globals = GlobalPaths(["/var/lib/containers/cache/blob-info-cache-v1.boltdb", "/var/lib/containers/cache",
                                   "/var/lib/containers", "/run/runc"] + cgroups)

        let pf = try SimPF(vfs: 2)
        let scratch = try Self.makeScratch("/tmp/vfwire-hookpm-")
        let podman = PodmanTests.Podman(exe: exe, scratch: scratch)
        let suffix = randomSuffix(6)
        let network = "vfwhook-" + suffix
        let plain = "vfw-plain-" + suffix, attached = "vfw-hook-" + suffix, broken = "vfw-broken-" + suffix
        let hooksDir = scratch + "/hooks.d", hookCache = scratch + "/hook-cache", log = scratch + "/vfwire.log"
        let mac = "02:00:00:00:0c:01"
        /// Every podman call reads hooks from our directory only (`--hooks-dir` replaces hooks_dir).
        @discardableResult
        func pm(_ args: [String]) -> (status: Int32, out: String, err: String) { podman(["--hooks-dir", hooksDir] + args) }
        func pluginLog() -> String { "\nvfwire log:\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "(none)") }

        defer {
            // Containers first (the poststop hook gives the VF back), then podman's storage.
            pm(["rm", "-f", "-t", "0", "--ignore", plain, attached, broken])
            pm(["system", "reset", "-f"])
            Self.unmountAll(under: scratch)
            try? fm.removeItem(atPath: scratch)
            globals.cleanUp()
            withExtendedLifetime(pf) {}
        }

        let before = hostSnapshot(pf)
        try podman.writeConfig()
        let imported = try podman.importBusybox()
        XCTAssertEqual(imported.status, 0, "podman import: \(imported.out)\(imported.err)")
        try json(["cniVersion": "1.0.0", "name": network, "plugins": [
            ["type": "vfwire", "pf": pf.name, "vlan": 100, "logLevel": "debug", "logFile": log,
             "ipam": ["type": "static", "addresses": [["address": "198.18.12.1/24"]]]] as [String: Any],
        ]]).write(toFile: "\(podman.netDir)/\(network).conflist", atomically: true, encoding: .utf8)

        // The shipped hooks.d files, pointed at the built hook and at our directories.
        try fm.createDirectory(atPath: hooksDir, withIntermediateDirectories: true)
        var stages: [String] = []
        for name in ["vfwire-hook-create.json", "vfwire-hook-poststop.json"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/hooks/" + name))
            var file = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], name)
            var hook = try XCTUnwrap(file["hook"] as? [String: Any], "\(name) has a hook")
            hook["path"] = vfwireHook
            hook["args"] = (hook["args"] as? [String] ?? []) + ["--conf-dir", podman.netDir,
                "--bin-dir", buildDir + ":" + referencePlugins, "--cache-dir", hookCache]
            file["hook"] = hook
            stages += file["stages"] as? [String] ?? []
            try json(file).write(toFile: hooksDir + "/" + name, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(stages, ["createRuntime", "poststop"], "the stages the shipped hooks.d files ask for")

        // No annotation: the `when` clause keeps the hook away. It would attach net1 from the
        // environment variable if it ran, so no net1 means it did not run.
        let runPlain = pm(["run", "-d", "--name", plain, "--network", "none", "--env", "VFWIRE_NETWORKS=\(network)",
                           podman.image, "sleep", "300"])
        XCTAssertEqual(runPlain.status, 0, "podman run without the annotation: \(runPlain.out)\(runPlain.err)")
        let plainLinks = pm(["exec", plain, "ip", "-o", "link"]).out
        XCTAssertTrue(plainLinks.contains(": lo:") && !plainLinks.contains("net1"), "no VF without the annotation: \(plainLinks)")
        XCTAssertEqual(hostSnapshot(pf), before, "no VF taken without the annotation\(pluginLog())")

        // The annotation: the hook attaches the network at createRuntime.
        let started = Date()
        let run = pm(["run", "-d", "--name", attached, "--annotation", "vfwire.io/networks=\(network):eth1;mac=\(mac)",
                      "--network", "none", podman.image, "sleep", "300"])
        let runTime = Date().timeIntervalSince(started)
        XCTAssertEqual(run.status, 0, "podman run with the annotation: \(run.out)\(run.err)\(pluginLog())")
        guard run.status == 0 else { return }
        let id = run.out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(pm(["exec", attached, "cat", "/sys/class/net/eth1/address"]).out.trimmingCharacters(in: .whitespacesAndNewlines),
                       mac, "eth1's MAC inside")
        let addr = pm(["exec", attached, "ip", "-o", "-4", "addr", "show", "dev", "eth1"])
        XCTAssertTrue(addr.out.contains("198.18.12.1/24"), "eth1's address inside: \(addr.out)\(addr.err)")
        let table = pf.table()
        let vf = table.values.first { $0["mac"] == mac }
        XCTAssertEqual(vf?["vlan"], "100", "the VF carrying the container's MAC: \(table)")
        XCTAssertEqual(vf?["netdev"], "-", "its netdev left the host: \(table)")
        XCTAssertEqual(table.values.filter { $0["netdev"] == "-" }.count, 1, "one VF taken, none for \(plain): \(table)")
        XCTAssertTrue(fm.fileExists(atPath: "\(hookCache)/\(id)/\(network)-eth1.json"), "the hook cached the attachment for poststop")

        // A create hook that fails aborts podman run with the hook's message and leaves nothing.
        let taken = hostSnapshot(pf)
        let runBroken = pm(["run", "-d", "--name", broken, "--annotation", "vfwire.io/networks=nosuchnet-\(suffix):eth1",
                            "--network", "none", podman.image, "sleep", "300"])
        XCTAssertNotEqual(runBroken.status, 0, "podman run naming no network: \(runBroken.out)")
        XCTAssertTrue(runBroken.err.contains("vfwire-hook: no CNI network named nosuchnet-\(suffix)"), "podman run: \(runBroken.err)")
        XCTAssertEqual(hostSnapshot(pf), taken, "a failed create hook changes nothing\(pluginLog())")

        // podman rm: the poststop hook gives the VF back exactly as it was.
        let rm = pm(["rm", "-f", "-t", "0", "--ignore", plain, attached, broken])
        XCTAssertEqual(rm.status, 0, "podman rm: \(rm.out)\(rm.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after podman rm\(pluginLog())")
        XCTAssertEqual((try? fm.contentsOfDirectory(atPath: hookCache)) ?? [], [], "the hook's cache is empty again")
        print("HookRuntimeTests: podman run with the hook took \(String(format: "%.2f", runTime)) s")
    }

    // MARK: containerd, ctr run --cni

    func testContainerdCtrRunsThePlugin() throws {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: "/usr/bin/containerd"), fm.isExecutableFile(atPath: "/usr/bin/ctr") else {
            XCTFail("containerd and ctr are not installed (/usr/bin/containerd, /usr/bin/ctr): this test needs Debian's "
                + "containerd 1.6, e.g. `apt-get install -y docker.io` (install.sh --test-deps does it)")
            return
        }
        let version = sh(["/usr/bin/containerd", "--version"])
        guard version.status == 0, version.out.contains(" 1.") else {
            XCTFail("containerd --version: \(version.out)\(version.err): this test was written against containerd 1.6")
            return
        }
        // What containerd, its runc shim and ctr create outside the scratch directory when it
        // is missing: the shim's socket directory (fixed in 1.6), libcni's result cache, and
        // the two directories ctr reads CNI from, which we mount over.
        let globals = GlobalPaths(["/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni",
                                   "/etc/cni/net.d", "/etc/cni", "/opt/cni/bin", "/opt/cni"])
        let pf = try SimPF(vfs: 2)
        let scratch = try Self.makeScratch("/tmp/vfwire-ctr-")
        let suffix = randomSuffix(6)
        let containerd = Containerd(scratch: scratch, namespace: "vfwire-" + suffix)
        let id = "hr-" + suffix, network = "vfwctr-" + suffix
        let netDir = scratch + "/net.d", binDir = scratch + "/bin", rootfs = scratch + "/rootfs"
        let log = scratch + "/vfwire.log", calls = scratch + "/calls.log"
        let conflist = json(["cniVersion": "1.0.0", "name": network, "plugins": [
            ["type": "vfwire", "pf": pf.name, "vlan": 200, "logLevel": "debug", "logFile": log,
             "ipam": ["type": "static", "addresses": [["address": "198.18.13.1/24"]]]] as [String: Any],
        ]])
        func pluginLog() -> String {
            "\ncalls:\n" + ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "(none)")
                + "\nvfwire log:\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "(none)")
        }
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
            Self.unmountAll(under: scratch)
            try? fm.removeItem(atPath: scratch)
            globals.cleanUp()
            withExtendedLifetime(pf) {}
        }

        let before = hostSnapshot(pf)
        // ctr reads /etc/cni/net.d and runs plugins from /opt/cni/bin: ours are mounted over them.
        for d in [netDir, binDir, rootfs + "/bin", "/etc/cni/net.d", "/opt/cni/bin"] {
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
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        let installed = sh(["chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin"])
        XCTAssertEqual(installed.status, 0, "busybox --install: \(installed.err)")

        try containerd.writeConfig()
        let ready = Date()
        if let failure = containerd.start() { XCTFail(failure); return }
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
        print("HookRuntimeTests: containerd ready in \(String(format: "%.2f", readyTime)) s; ctr run to eth0 up "
            + "\(String(format: "%.2f", addTime)) s, to DEL done \(String(format: "%.2f", total)) s")
    }

    /// containerd with its root, state, sockets and plugin directory under one scratch directory,
    /// without the CRI plugin, and ctr pointed at it.
    final class Containerd {
        let scratch: String
        let namespace: String
        var socket: String { scratch + "/containerd.sock" }
        var daemon: Background?

        init(scratch: String, namespace: String) { self.scratch = scratch; self.namespace = namespace }

        func writeConfig() throws {
            try """
            version = 2
            root = "\(scratch)/root"
            state = "\(scratch)/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(socket)"
            [ttrpc]
              address = "\(socket).ttrpc"
            [plugins."io.containerd.internal.v1.opt"]
              path = "\(scratch)/opt"

            """.write(toFile: scratch + "/containerd.toml", atomically: true, encoding: .utf8)
        }

        /// Starts containerd and waits until it answers; nil, or what went wrong.
        func start() -> String? {
            do { daemon = try Background(["/usr/bin/containerd", "--config", scratch + "/containerd.toml"], io: scratch + "/containerd") }
            catch { return "cannot start containerd: \(error)" }
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && daemon?.finished == false {
                if ctr(["version"]).status == 0 { return nil }
                usleep(50_000)
            }
            let log = (daemon?.output ?? "").split(separator: "\n").suffix(20).joined(separator: "\n")
            return "containerd did not come up on \(socket):\n" + log
        }

        func ctrCommand(_ args: [String]) -> [String] { ["/usr/bin/ctr", "--address", socket, "--namespace", namespace] + args }

        @discardableResult
        func ctr(_ args: [String]) -> (status: Int32, out: String, err: String) { sh(ctrCommand(args)) }

        /// Stops containerd, then any shim it left (found by our socket in its command line).
        func stop() {
            if let daemon, !daemon.finished {
                kill(daemon.pid, SIGTERM)
                if !daemon.wait(seconds: 5) { kill(daemon.pid, SIGKILL); daemon.wait(seconds: 5) }
            }
            for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap({ Int32($0) }) ?? [] {
                guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                if String(decoding: cmd, as: UTF8.self).contains(socket) { kill(pid, SIGKILL) }
            }
        }
    }

    // MARK: Helpers

    /// A command running in the background: a daemon, or a command the test must not wait for.
    /// Neither `sh` nor a Process of our own will do: Foundation's Process waits until no
    /// process holds the descriptors it gave its child, and a child that closes them (as
    /// PodmanTests.Podman's shell does) is then reaped with a blocking waitpid, which held up
    /// every other Process of the test until that child exited (`ctr version` hung behind a
    /// containerd started that way). Here a shell closes every descriptor above 2, starts the
    /// command from a subshell that notes its pid and, when it ends, its exit status in files
    /// next to its output (`io.out`, `io.err`), and exits at once.
    final class Background {
        let io: String
        let pid: Int32

        init(_ args: [String], io: String, env: [String: String] = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]) throws {
            self.io = io
            let script = """
                io=$1; shift
                for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done
                (
                    "$@" </dev/null >"$io.out" 2>"$io.err" &
                    echo $! >"$io.pid.tmp" && mv "$io.pid.tmp" "$io.pid"
                    wait $!
                    echo $? >"$io.status.tmp" && mv "$io.status.tmp" "$io.status"
                ) </dev/null >/dev/null 2>&1 &
                while [ ! -e "$io.pid" ]; do sleep 0.01; done
                cat "$io.pid"
                """
            let r = sh(["/bin/bash", "-c", script, "background", io] + args, env: env)
            guard r.status == 0, let pid = Int32(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw NSError(domain: "HookRuntimeTests", code: 2, userInfo: [NSLocalizedDescriptionKey: "cannot start \(args): \(r.err)"])
            }
            self.pid = pid
        }

        /// The exit status, once it ended.
        var status: Int32? { read(".status").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        var finished: Bool { status != nil }
        /// stdout, then stderr, so far.
        var output: String { (read(".out") ?? "") + (read(".err") ?? "") }
        private func read(_ suffix: String) -> String? { try? String(contentsOfFile: io + suffix, encoding: .utf8) }

        /// Waits up to `seconds` for it to end; whether it did.
        @discardableResult
        func wait(seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !finished && Date() < deadline { usleep(20_000) }
            return finished
        }
    }


    /// A fresh scratch directory named `prefix` + random.
    static func makeScratch(_ prefix: String) throws -> String {
        let dir = sh(["mktemp", "-d", prefix + "XXXXXX"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard dir.hasPrefix(prefix) else {
            throw NSError(domain: "HookRuntimeTests", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "mktemp -d \(prefix)XXXXXX failed: \(dir)"])
        }
        return dir
    }

    /// Lazily unmounts everything mounted under `dir`, deepest first (`-n`: no /run/mount/utab).
    static func unmountAll(under dir: String) {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let mine = mounts.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            return f.count > 4 && f[4].hasPrefix(dir + "/") ? String(f[4]) : nil
        }
        for m in mine.sorted(by: >) { sh(["umount", "-n", "-l", m]) }
    }

    /// Paths a runtime creates outside its scratch directory when they are missing, listed
    /// children first. `cleanUp` removes those that were not there before and are empty again,
    /// so a path that something else started using meanwhile stays.
    struct GlobalPaths {
        let paths: [String]
        let preexisting: Set<String>

        init(_ paths: [String]) {
            self.paths = paths
            preexisting = Set(paths.filter { FileManager.default.fileExists(atPath: $0) })
        }

        func cleanUp() {
            for p in paths where !preexisting.contains(p) {
                if p.hasSuffix(".boltdb") { try? FileManager.default.removeItem(atPath: p) } else { _ = rmdir(p) }
            }
        }
    }
}
