import Foundation
import XCTest

/// vfwire-hook run by real runtimes that have no CNI of their own: Debian's runc 1.1 with the
/// hooks in a bundle's config.json, and Debian's dockerd 20.10 + containerd 1.6 through the
/// hooks/vfwire-runc wrapper. Every daemon, state root, socket, image and container lives under
/// a scratch directory and is removed afterwards; nothing of the system's docker or containerd
/// (/var/lib/docker, /run/docker.sock, /run/containerd/containerd.sock, ...) is used.
///
/// Long-lived processes (a container's init after `runc create`, dockerd, containerd) must not
/// inherit this process's descriptors: Foundation's Process learns that a child exited when the
/// socket it gave the child closes, and then waits for it with a blocking waitpid on the one
/// thread that serves every Process. So a command that leaves something behind runs with
/// descriptors above 2 closed and its output in files, and a daemon is started in the
/// background of a shell that exits at once (`daemon(...)`), never as a direct Process.
final class RuntimeHookTests: XCTestCase {
    typealias Run = (status: Int32, out: String, err: String)

    /// Only Debian's tools: /usr/local/bin/docker is an unrelated newer client.
    static let path = "/usr/sbin:/usr/bin:/sbin:/bin"

    static func find(_ name: String) -> String? {
        path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a command with nothing but stdin (/dev/null), stdout and stderr open, its output in
    /// files under `dir`, so that whatever it leaves running holds none of our descriptors.
    @discardableResult
    static func detached(_ args: [String], env: [String: String]? = nil, in dir: String) -> Run {
        let io = dir + "/io." + randomSuffix(8)
        defer { for f in [io + ".out", io + ".err"] { try? FileManager.default.removeItem(atPath: f) } }
        let script = """
            o=$1 e=$2; shift 2
            for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done 2>/dev/null
            exec "$@" </dev/null >"$o" 2>"$e"
            """
        let r = sh(["/bin/bash", "-c", script, "detached", io + ".out", io + ".err"] + args, env: env)
        let read = { (f: String) in (try? String(contentsOfFile: f, encoding: .utf8)) ?? "" }
        return (r.status, read(io + ".out"), read(io + ".err") + r.err)
    }

    /// Starts a daemon in the background of a shell that exits at once, with descriptors above 2
    /// closed and its output appended to `log`; returns its pid.
    static func daemon(_ args: [String], env: [String: String], log: String) -> Int32? {
        let pidFile = log + ".pid"
        let script = """
            log=$1 pidf=$2; shift 2
            for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done 2>/dev/null
            "$@" </dev/null >>"$log" 2>&1 &
            echo $! >"$pidf"
            """
        sh(["/bin/bash", "-c", script, "daemon", log, pidFile] + args, env: env)
        return (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The command line of a live (not zombie) process, or nil.
    static func commandLine(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.distance(from: close, to: stat.endIndex) > 2 else { return nil }
        let state = stat[stat.index(close, offsetBy: 2)]
        guard state != "Z", state != "X", let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return String(decoding: cmd.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    /// Stops one process this test started (its command line names `mark`): SIGTERM, then
    /// SIGKILL after `grace` seconds. It is an orphan, so being gone or a zombie both count.
    static func stop(_ pid: Int32, mark: String, grace: TimeInterval) {
        guard pid > 1, commandLine(pid)?.contains(mark) == true else { return }
        kill(pid, SIGTERM)
        if !gone(pid, within: grace) {
            kill(pid, SIGKILL)
            _ = gone(pid, within: 5)
        }
    }

    static func gone(_ pid: Int32, within seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while commandLine(pid) != nil {
            if Date() > deadline { return false }
            usleep(50_000)
        }
        return true
    }

    /// Every live process whose command line names `mark` (a scratch directory).
    static func processes(naming mark: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter {
            $0 != getpid() && commandLine($0)?.contains(mark) == true
        }
    }

    /// Unmounts everything mounted under `dir`, deepest first.
    static func unmountAll(under dir: String) {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let points = mounts.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            return f.count > 4 && f[4].hasPrefix(dir + "/") ? String(f[4]) : nil
        }
        for p in points.sorted(by: { $0.count > $1.count }) { sh(["umount", "-l", p]) }
    }

    /// Cgroup directories named `name`, anywhere in the v1 hierarchies and the v2 one.
    static func cgroups(named name: String) -> [String] {
        sh(["find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", name]).out
            .split(separator: "\n").map(String.init)
    }

    /// Removes cgroups named `name` and the (empty) cgroups below them.
    static func removeCgroups(named name: String) {
        for d in cgroups(named: name) { sh(["find", d, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]) }
    }

    /// A busybox root filesystem with every applet linked.
    static func busyboxRootfs(_ rootfs: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        for a in sh([rootfs + "/bin/busybox", "--list"]).out.split(separator: "\n").map(String.init)
        where a != "busybox" && !a.contains("/") {
            try? fm.createSymbolicLink(atPath: rootfs + "/bin/" + a, withDestinationPath: "busybox")
        }
    }

    /// One network of one plugin: vfwire on `pf`, VLAN 100, a static address, a debug log.
    static func writeNetwork(_ name: String, pf: SimPF, address: String, to dir: String, log: String) throws {
        let list: [String: Any] = ["cniVersion": "1.0.0", "name": name, "plugins": [
            ["type": "vfwire", "pf": pf.name, "vlan": 100, "logLevel": "debug", "logFile": log,
             "ipam": ["type": "static", "addresses": [["address": address]]]] as [String: Any],
        ]]
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try json(list).write(toFile: "\(dir)/10-\(name).conflist", atomically: true, encoding: .utf8)
    }


    /// A file's text for a failure message.
    static func text(_ title: String, _ path: String) -> String {
        "\n\(title):\n" + ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "(none)")
    }

    static func missing(_ what: String, _ install: String) -> String {
        "\(what) is not installed (looked in \(path)): this test needs it; CI installs it (`\(install)`, or ./install.sh --test-deps)"
    }

    // MARK: runc

    func testRuncRunsTheHook() throws {
        guard let runcExe = Self.find("runc") else {
            return XCTFail(Self.missing("runc", "apt-get install -y runc"))
        }
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else {
            return XCTFail(Self.missing("busybox (static)", "apt-get install -y busybox-static"))
        }
        let fm = FileManager.default
        let pf = try SimPF(vfs: 2)
        let scratch = sh(["mktemp", "-d", "/tmp/vfwire-runc-XXXXXX"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard scratch.hasPrefix("/tmp/vfwire-runc-") else { return XCTFail("mktemp: \(scratch)") }
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
                runc(["kill", c, "KILL"])
                runc(["delete", "-f", c])
                Self.removeCgroups(named: c)
            }
            Self.unmountAll(under: scratch)
            try? fm.removeItem(atPath: scratch)
            withExtendedLifetime(pf) {}
        }

        try Self.writeNetwork(network, pf: pf, address: "198.18.11.1/24", to: scratch + "/net.d", log: scratch + "/vfwire.log")
        let log = { Self.text("vfwire log", scratch + "/vfwire.log") }
        try Self.busyboxRootfs(bundle + "/rootfs")
        let spec = sh([runcExe, "spec", "--bundle", bundle])
        XCTAssertEqual(spec.status, 0, "runc spec: \(spec.err)")

        // runc spec's config, with the hooks of hooks/runc-hooks.json pointed at this build.
        let fragment = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repoRoot + "/hooks/runc-hooks.json"))) as! [String: Any]
        var hooks = fragment["hooks"] as! [String: [[String: Any]]]
        let extra = ["--conf-dir", scratch + "/net.d", "--bin-dir", buildDir + ":" + referencePlugins, "--cache-dir", scratch + "/cache"]
        for (stage, list) in hooks {
            hooks[stage] = list.map { h in
                var h = h
                h["path"] = vfwireHook
                h["args"] = (h["args"] as? [String] ?? []) + extra
                return h
            }
        }
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
        let create = Self.detached([runcExe, "--root", root, "create", "--bundle", scratch + "/bundle-a", id], in: scratch)
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
        XCTAssertEqual(Self.cgroups(named: id), [], "runc removed the container's cgroups")

        // A network that does not exist: the hook fails, so runc aborts create and leaves nothing.
        let failed = Self.detached([runcExe, "--root", root, "create", "--bundle", scratch + "/bundle-b", bad], in: scratch)
        XCTAssertNotEqual(failed.status, 0, "runc create with an unknown network: \(failed.out)")
        XCTAssertTrue(failed.err.contains("error running hook") && failed.err.contains("no CNI network named nosuchnet-\(suffix)"),
                      "runc create with an unknown network: \(failed.err)")
        XCTAssertNotEqual(runc(["state", bad]).status, 0, "no container \(bad) is left")
        XCTAssertEqual(hostSnapshot(pf), before, "a failed create changes nothing")
        XCTAssertEqual(Self.cgroups(named: bad), [], "runc removed the failed container's cgroups")
    }

    // MARK: dockerd + containerd

    func testDockerRunsTheHookThroughTheWrapper() throws {
        var tools: [String: String] = [:]
        for (name, install) in [("docker", "apt-get install -y docker.io"), ("dockerd", "apt-get install -y docker.io"),
                                ("containerd", "apt-get install -y docker.io"), ("containerd-shim-runc-v2", "apt-get install -y docker.io"),
                                ("runc", "apt-get install -y runc"), ("jq", "apt-get install -y jq")] {
            guard let p = Self.find(name) else { return XCTFail(Self.missing(name, install)) }
            tools[name] = p
        }
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else {
            return XCTFail(Self.missing("busybox (static)", "apt-get install -y busybox-static"))
        }
        let dockerExe = tools["docker"]!
        let fm = FileManager.default
        let suffix = randomSuffix(6)
        let cgroupParent = "vfwire-docker-" + suffix

        // What dockerd and containerd make outside their roots when it is missing: shim sockets
        // go in /run/containerd/s, dockerd makes /run/docker/plugins. Removed afterwards if it
        // was not there before (rmdir: only when empty, so never something another daemon uses).
        let globals = ["/run/containerd/s", "/run/containerd", "/run/docker/plugins", "/run/docker"]
        let preexisting = Set(globals.filter { fm.fileExists(atPath: $0) })

        let pf = try SimPF(vfs: 2)
        let scratch = sh(["mktemp", "-d", "/tmp/vfwire-docker-XXXXXX"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard scratch.hasPrefix("/tmp/vfwire-docker-") else { return XCTFail("mktemp: \(scratch)") }
        let network = "dknet-" + suffix
        let image = "vfwire-bb-" + suffix
        let containerdSocket = scratch + "/containerd/containerd.sock"
        let dockerHost = "unix://\(scratch)/docker.sock"
        let execRoot = scratch + "/docker-exec"
        var daemons: [Int32] = []

        // The hook's settings reach the wrapper through the environment of the shim that runs it,
        // which containerd starts: containerd's environment, not dockerd's (dockerd passes its own
        // only to a containerd it starts itself). Both get them.
        let hookArgs = "--conf-dir \(scratch)/net.d --bin-dir \(buildDir):\(referencePlugins) --cache-dir \(scratch)/cache"
        let env = ["PATH": Self.path, "HOME": scratch + "/home", "DOCKER_CONFIG": scratch + "/home/.docker",
                   "VFWIRE_HOOK": vfwireHook, "VFWIRE_HOOK_ARGS": hookArgs]
        func docker(_ args: [String]) -> Run { Self.detached([dockerExe, "-H", dockerHost] + args, env: env, in: scratch) }
        func logs() -> String {
            ["containerd", "dockerd"].map { name in
                let text = (try? String(contentsOfFile: "\(scratch)/\(name).log", encoding: .utf8)) ?? "(none)"
                return "\n\(name) log (tail):\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
            }.joined() + Self.text("vfwire log", scratch + "/vfwire.log")
        }

        defer {
            // Even when an assertion failed: containers (their delete runs poststop, which gives
            // the VF back), dockerd, containerd, any shim they left, any container a shim left,
            // mounts, the scratch dir, what they made outside it, then the PF.
            if let pid = daemons.first, Self.commandLine(pid) != nil {
                let all = docker(["ps", "-aq"]).out.split(separator: "\n").map(String.init)
                if !all.isEmpty { docker(["rm", "-f"] + all) }
            }
            for pid in daemons.reversed() { Self.stop(pid, mark: scratch, grace: 15) }
            for pid in Self.processes(naming: scratch) { Self.stop(pid, mark: scratch, grace: 5) }
            let runcRoot = execRoot + "/runtime-runc/moby"
            for c in sh([tools["runc"]!, "--root", runcRoot, "list", "-q"]).out.split(separator: "\n") {
                sh([tools["runc"]!, "--root", runcRoot, "delete", "-f", String(c)])
            }
            Self.unmountAll(under: scratch)
            try? fm.removeItem(atPath: scratch)
            for g in globals where !preexisting.contains(g) { _ = rmdir(g) }
            Self.removeCgroups(named: cgroupParent)
            withExtendedLifetime(pf) {}
        }

        try Self.writeNetwork(network, pf: pf, address: "198.18.12.1/24", to: scratch + "/net.d", log: scratch + "/vfwire.log")
        try fm.createDirectory(atPath: scratch + "/home/.docker", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: scratch + "/containerd", withIntermediateDirectories: true)

        // containerd: private root, state, sockets and opt dir; no CRI.
        try """
        version = 2
        root = "\(scratch)/containerd/root"
        state = "\(scratch)/containerd/state"
        disabled_plugins = ["io.containerd.grpc.v1.cri"]
        [grpc]
          address = "\(containerdSocket)"
        [ttrpc]
          address = "\(containerdSocket).ttrpc"
        [debug]
          address = "\(scratch)/containerd/debug.sock"
        [plugins."io.containerd.internal.v1.opt"]
          path = "\(scratch)/containerd/opt"

        """.write(toFile: scratch + "/containerd/config.toml", atomically: true, encoding: .utf8)
        // dockerd: private roots, socket, pidfile and key, no networking of its own, the wrapper
        // as a runtime, cgroups under a parent of this run's.
        let daemonJSON: [String: Any] = [
            "data-root": scratch + "/docker", "exec-root": execRoot, "pidfile": scratch + "/docker.pid",
            "hosts": [dockerHost], "containerd": containerdSocket, "deprecated-key-path": scratch + "/docker-key.json",
            "storage-driver": "vfs", "iptables": false, "ip-masq": false, "bridge": "none",
            "exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "/" + cgroupParent,
            "runtimes": ["vfwire": ["path": repoRoot + "/hooks/vfwire-runc"]],
        ]
        try json(daemonJSON).write(toFile: scratch + "/daemon.json", atomically: true, encoding: .utf8)

        let t0 = Date()
        guard let containerd = Self.daemon([tools["containerd"]!, "--config", scratch + "/containerd/config.toml"],
                                           env: env, log: scratch + "/containerd.log") else {
            return XCTFail("containerd did not start\(logs())")
        }
        daemons.append(containerd)
        var deadline = Date().addingTimeInterval(10)
        while !fm.fileExists(atPath: containerdSocket) && Date() < deadline && Self.commandLine(containerd) != nil { usleep(20_000) }
        guard fm.fileExists(atPath: containerdSocket) else { return XCTFail("containerd is not listening on \(containerdSocket)\(logs())") }

        guard let dockerd = Self.daemon([tools["dockerd"]!, "--config-file", scratch + "/daemon.json"],
                                        env: env, log: scratch + "/dockerd.log") else {
            return XCTFail("dockerd did not start\(logs())")
        }
        daemons.append(dockerd)
        var info: Run = (1, "", "")
        deadline = Date().addingTimeInterval(20)
        repeat {
            usleep(100_000)
            info = docker(["info", "--format", "{{.ServerVersion}} {{.Driver}} {{json .Runtimes}}"])
        } while info.status != 0 && Date() < deadline && Self.commandLine(dockerd) != nil
        XCTAssertEqual(info.status, 0, "docker info: \(info.out)\(info.err)\(logs())")
        guard info.status == 0 else { return }
        XCTAssertTrue(info.out.contains("vfs") && info.out.contains("\"vfwire\""), "docker info: \(info.out)")
        let ready = Date().timeIntervalSince(t0)

        // An image without a registry: a busybox rootfs, imported.
        try Self.busyboxRootfs(scratch + "/rootfs")
        let imported = Self.detached(["/bin/sh", "-c", "tar -C \"$1\" -c . | \"$2\" -H \"$3\" import - \"$4\"", "import",
                                      scratch + "/rootfs", dockerExe, dockerHost, image], env: env, in: scratch)
        XCTAssertEqual(imported.status, 0, "docker import: \(imported.out)\(imported.err)")

        let before = hostSnapshot(pf)

        // Without VFWIRE_NETWORKS the wrapper adds no hook: the container runs, no VF is taken.
        let plain = docker(["run", "--rm", "--runtime", "vfwire", "--network", "none", image, "ip", "-o", "link"])
        XCTAssertEqual(plain.status, 0, "docker run without VFWIRE_NETWORKS: \(plain.out)\(plain.err)\(logs())")
        XCTAssertFalse(plain.out.contains("eth1"), "no network asked for, none attached: \(plain.out)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "a container without VFWIRE_NETWORKS takes no VF")

        // With it: the wrapper adds vfwire-hook, the hook attaches the network at createRuntime.
        let run = docker(["run", "-d", "--runtime", "vfwire", "--network", "none", "-e", "VFWIRE_NETWORKS=\(network):eth1",
                          image, "sleep", "300"])
        XCTAssertEqual(run.status, 0, "docker run: \(run.out)\(run.err)\(logs())")
        guard run.status == 0 else { return }
        let container = run.out.trimmingCharacters(in: .whitespacesAndNewlines)

        let addr = docker(["exec", container, "ip", "-o", "addr", "show", "dev", "eth1"])
        XCTAssertTrue(addr.out.contains("inet 198.18.12.1/24"), "eth1 in the container: \(addr.out)\(addr.err)")
        let rows = pf.table().values.filter { $0["vlan"] == "100" }
        XCTAssertEqual(rows.count, 1, "one VF on VLAN 100: \(pf.table())")
        XCTAssertEqual(rows.first?["netdev"], "-", "the VF netdev is in the container: \(pf.table())")
        let cached = "\(scratch)/cache/\(container)/\(network)-eth1.json"
        XCTAssertTrue(fm.fileExists(atPath: cached), "the hook cached the attachment")
        let attachment = Self.text("the hook's cached attachment", cached)

        // docker rm -f: the task's delete runs runc delete, and with it the poststop hook.
        let rm0 = Date()
        let rm = docker(["rm", "-f", container])
        let rmTime = Date().timeIntervalSince(rm0)
        XCTAssertEqual(rm.status, 0, "docker rm -f: \(rm.out)\(rm.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after docker rm -f\(attachment)\(logs())")
        XCTAssertFalse(fm.fileExists(atPath: "\(scratch)/cache/\(container)"), "poststop dropped the cached attachment")
        print("RuntimeHookTests: containerd+dockerd ready in \(String(format: "%.2f", ready)) s, docker rm -f took \(String(format: "%.2f", rmTime)) s")
    }
}
