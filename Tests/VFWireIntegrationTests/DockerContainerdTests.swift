import Foundation
import XCTest

/// vfwire-hook run by Debian's dockerd 20.10 + containerd 1.6, which have no CNI of their own,
/// through the hooks/vfwire-runc wrapper. Every daemon, state root, socket, image and container
/// lives under a scratch directory and is removed afterwards; nothing of the system's docker or
/// containerd (/var/lib/docker, /run/docker.sock, /run/containerd/containerd.sock, ...) is used.
/// The daemons run as `Background`, every docker call `detached`.
final class DockerContainerdTests: XCTestCase {
    func testDockerRunsTheHookThroughTheWrapper() throws {
        var tools: [String: String] = [:]
        for (name, install) in [("docker", "apt-get install -y docker.io"), ("dockerd", "apt-get install -y docker.io"),
                                ("containerd", "apt-get install -y docker.io"), ("ctr", "apt-get install -y docker.io"),
                                ("containerd-shim-runc-v2", "apt-get install -y docker.io"),
                                ("runc", "apt-get install -y runc"), ("jq", "apt-get install -y jq")] {
            tools[name] = try requireTool(name, install: install)
        }
        let dockerExe = tools["docker"]!
        let fm = FileManager.default
        let suffix = randomSuffix(6)
        let cgroupParent = "vfwire-docker-" + suffix

        // What dockerd and containerd make outside their roots when it is missing: shim sockets
        // go in /run/containerd/s, dockerd makes /run/docker/plugins. Removed afterwards if it
        // was not there before (rmdir: only when empty, so never something another daemon uses).
        let globals = GlobalPaths(["/run/containerd/s", "/run/containerd", "/run/docker/plugins", "/run/docker"])

        let pf = try SimPF(vfs: 2)
        let scratch = try makeScratch("vfwire-docker-")
        let network = "dknet-" + suffix
        let image = "vfwire-bb-" + suffix
        let containerd = Containerd(dir: scratch + "/containerd", namespace: "moby", exe: tools["containerd"]!, ctr: tools["ctr"]!)
        let dockerHost = "unix://\(scratch)/docker.sock"
        let execRoot = scratch + "/docker-exec"
        var dockerd: Background?

        // The hook's settings reach the wrapper through the environment of the shim that runs it,
        // which containerd starts: containerd's environment, not dockerd's (dockerd passes its own
        // only to a containerd it starts itself). Both get them.
        let env = ["PATH": runtimePath, "HOME": scratch + "/home", "DOCKER_CONFIG": scratch + "/home/.docker", "VFWIRE_HOOK": vfwireHook,
                   "VFWIRE_HOOK_ARGS": hookArgs(cache: scratch + "/cache", confDir: scratch + "/net.d").joined(separator: " ")]
        func docker(_ args: [String]) -> Run { detached([dockerExe, "-H", dockerHost] + args, env: env, in: scratch) }
        func logs() -> String {
            "\ncontainerd log (tail):\n" + containerd.log() + "\ndockerd log (tail):\n" + (dockerd?.tail() ?? "(not started)")
                + fileText("vfwire log", scratch + "/vfwire.log")
        }

        defer {
            // Even when an assertion failed: containers (their delete runs poststop, which gives
            // the VF back), dockerd, containerd, any shim they left, any container a shim left,
            // mounts, the scratch dir, what they made outside it, then the PF.
            if let dockerd, !dockerd.finished {
                let all = docker(["ps", "-aq"]).out.split(separator: "\n").map(String.init)
                if !all.isEmpty { _ = docker(["rm", "-f"] + all) }
            }
            dockerd?.stop(grace: 15)
            containerd.stop(grace: 15)
            for pid in processes(naming: scratch) { stopProcess(pid, mark: scratch, grace: 5) }
            let runcRoot = execRoot + "/runtime-runc/moby"
            for c in sh([tools["runc"]!, "--root", runcRoot, "list", "-q"]).out.split(separator: "\n") {
                sh([tools["runc"]!, "--root", runcRoot, "delete", "-f", String(c)])
            }
            removeScratch(scratch)
            globals.cleanUp()
            removeCgroups(named: cgroupParent)
            withExtendedLifetime(pf) {}
        }

        try writeNetwork(network, pf: pf, vlan: 100, address: "198.18.12.1/24", to: scratch + "/net.d", log: scratch + "/vfwire.log")
        try fm.createDirectory(atPath: scratch + "/home/.docker", withIntermediateDirectories: true)
        try containerd.writeConfig()
        // dockerd: private roots, socket, pidfile and key, no networking of its own, the wrapper
        // as a runtime, cgroups under a parent of this run's.
        let daemonJSON: [String: Any] = [
            "data-root": scratch + "/docker", "exec-root": execRoot, "pidfile": scratch + "/docker.pid",
            "hosts": [dockerHost], "containerd": containerd.socket, "deprecated-key-path": scratch + "/docker-key.json",
            "storage-driver": "vfs", "iptables": false, "ip-masq": false, "bridge": "none",
            "exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "/" + cgroupParent,
            "runtimes": ["vfwire": ["path": repoRoot + "/hooks/vfwire-runc"]],
        ]
        try json(daemonJSON).write(toFile: scratch + "/daemon.json", atomically: true, encoding: .utf8)

        let t0 = Date()
        // containerd gets the hook's settings too (see env).
        try containerd.start(env: env)
        let dockerdDaemon = try Background([tools["dockerd"]!, "--config-file", scratch + "/daemon.json"], io: scratch + "/dockerd", env: env)
        dockerd = dockerdDaemon
        var info: Run = (1, "", "")
        let deadline = Date().addingTimeInterval(20)
        repeat {
            usleep(100_000)
            info = docker(["info", "--format", "{{.ServerVersion}} {{.Driver}} {{json .Runtimes}}"])
        } while info.status != 0 && Date() < deadline && !dockerdDaemon.finished
        XCTAssertEqual(info.status, 0, "docker info: \(info.out)\(info.err)\(logs())")
        guard info.status == 0 else { return }
        XCTAssertTrue(info.out.contains("vfs") && info.out.contains("\"vfwire\""), "docker info: \(info.out)")
        let ready = Date().timeIntervalSince(t0)

        // An image without a registry: a busybox rootfs, imported.
        try busyboxRootfs(scratch + "/rootfs")
        let imported = importImage(scratch + "/rootfs", image, with: [dockerExe, "-H", dockerHost], env: env, in: scratch)
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
        let attachment = fileText("the hook's cached attachment", cached)

        // docker rm -f: the task's delete runs runc delete, and with it the poststop hook.
        let rm0 = Date()
        let rm = docker(["rm", "-f", container])
        let rmTime = Date().timeIntervalSince(rm0)
        XCTAssertEqual(rm.status, 0, "docker rm -f: \(rm.out)\(rm.err)")
        XCTAssertEqual(settledSnapshot(pf, before), before, "the PF's host state after docker rm -f\(attachment)\(logs())")
        XCTAssertFalse(fm.fileExists(atPath: "\(scratch)/cache/\(container)"), "poststop dropped the cached attachment")
        print("DockerContainerdTests: containerd+dockerd ready in \(String(format: "%.2f", ready)) s, docker rm -f took \(String(format: "%.2f", rmTime)) s")
    }
}
