import Foundation
import XCTest

// What the tests that drive real container runtimes (podman, runc, dockerd, containerd, ctr)
// share: scratch directories, commands and daemons that must not hold our descriptors, a
// busybox image, the shipped hooks pointed at this build, private podman and containerd.

typealias Run = (status: Int32, out: String, err: String)

/// Only Debian's tools: /usr/local/bin/docker is an unrelated newer client.
let runtimePath = "/usr/sbin:/usr/bin:/sbin:/bin"

/// A tool from `runtimePath`, or nil.
func findTool(_ name: String) -> String? {
    runtimePath.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A tool the suite needs, from `runtimePath`; missing, it fails the test (CI installs it).
func requireTool(_ name: String, install: String) throws -> String {
    guard let p = findTool(name) else { throw SetupFailure(missingTool(name, install)) }
    return p
}

/// The failure message for a tool the suite needs and does not find.
func missingTool(_ what: String, _ install: String) -> String {
    "\(what) is not installed (looked in \(runtimePath)): this test needs it; CI installs it (`\(install)`, or ./install.sh --test-deps)"
}

// MARK: Scratch directories

/// A fresh scratch directory, /tmp/`prefix`XXXXXX.
func makeScratch(_ prefix: String) throws -> String {
    let r = sh(["mktemp", "-d", "/tmp/\(prefix)XXXXXX"])
    let dir = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    guard r.status == 0, dir.hasPrefix("/tmp/" + prefix) else {
        throw SetupFailure("mktemp -d /tmp/\(prefix)XXXXXX: \(r.out)\(r.err)")
    }
    return dir
}

/// Unmounts what a runtime left mounted under a scratch directory, then removes it.
func removeScratch(_ dir: String) {
    unmountAll(under: dir)
    try? FileManager.default.removeItem(atPath: dir)
}

/// Lazily unmounts everything mounted under `dir`, deepest first (`-n`: no /run/mount/utab).
func unmountAll(under dir: String) {
    let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    let points = mounts.split(separator: "\n").compactMap { line -> String? in
        let f = line.split(separator: " ")
        return f.count > 4 && f[4].hasPrefix(dir + "/") ? String(f[4]) : nil
    }
    for p in points.sorted(by: { $0.count > $1.count }) { sh(["umount", "-n", "-l", p]) }
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

// MARK: Commands that leave something running

/// Closes every descriptor above 2 of the shell it runs in. Long-lived processes (conmon after
/// `podman run -d`, a container's init after `runc create`, dockerd, containerd, shims) must not
/// inherit ours: Foundation's Process learns that a child exited when a socket it gave the child
/// closes, and a pipe reaches EOF only when its last writer closes, so either left open in such a
/// process would block `sh` until it exits; and Process reaps with a blocking waitpid on the one
/// thread that serves every Process, so it would hold up every other one too.
let closeDescriptors = #"for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi; done 2>/dev/null"#

/// Runs a command to its end with nothing but stdin (/dev/null), stdout and stderr open, its
/// output in files under `dir`, so that whatever it leaves running holds none of our descriptors.
@discardableResult
func detached(_ args: [String], env: [String: String]? = nil, in dir: String) -> Run {
    let io = dir + "/io." + randomSuffix(8)
    defer { for f in [io + ".out", io + ".err"] { try? FileManager.default.removeItem(atPath: f) } }
    let script = """
        o=$1 e=$2; shift 2
        \(closeDescriptors)
        exec "$@" </dev/null >"$o" 2>"$e"
        """
    let r = sh(["/bin/bash", "-c", script, "detached", io + ".out", io + ".err"] + args, env: env)
    let read = { (f: String) in (try? String(contentsOfFile: f, encoding: .utf8)) ?? "" }
    return (r.status, read(io + ".out"), read(io + ".err") + r.err)
}

/// A command running in the background: a daemon, or a command the test must not wait for. A
/// shell closes its descriptors above 2, starts the command from a subshell that notes its pid
/// and, when it ends, its exit status in files next to its output (`io.out`, `io.err`), and
/// exits at once. Not `detached` for a daemon: there the shell execs the command, so Process
/// reaps the daemon itself, with a blocking waitpid that held up every other Process of the
/// test until it exited (`ctr version` hung behind a containerd started that way).
final class Background {
    let io: String
    let pid: Int32

    init(_ args: [String], io: String, env: [String: String] = ["PATH": runtimePath]) throws {
        self.io = io
        let script = """
            io=$1; shift
            \(closeDescriptors)
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
            throw SetupFailure("cannot start \(args): \(r.err)")
        }
        self.pid = pid
    }

    /// The exit status, once it ended.
    var status: Int32? { read(".status").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
    var finished: Bool { status != nil }
    /// stdout, then stderr, so far.
    var output: String { (read(".out") ?? "") + (read(".err") ?? "") }
    /// The last `lines` lines of the output, for a failure message.
    func tail(_ lines: Int = 15) -> String { output.split(separator: "\n").suffix(lines).joined(separator: "\n") }
    private func read(_ suffix: String) -> String? { try? String(contentsOfFile: io + suffix, encoding: .utf8) }

    /// Waits up to `seconds` for it to end; whether it did.
    @discardableResult
    func wait(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !finished && Date() < deadline { usleep(20_000) }
        return finished
    }

    /// Stops it: SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double) {
        guard !finished else { return }
        kill(pid, SIGTERM)
        if !wait(seconds: grace) { kill(pid, SIGKILL); wait(seconds: 5) }
    }
}

/// The command line of a live (not zombie) process, or nil.
func commandLine(_ pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")"), stat.distance(from: close, to: stat.endIndex) > 2 else { return nil }
    let state = stat[stat.index(close, offsetBy: 2)]
    guard state != "Z", state != "X", let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
    return String(decoding: cmd.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
}

/// Every live process but this one whose command line names `mark` (a scratch directory).
func processes(naming mark: String) -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter {
        $0 != getpid() && commandLine($0)?.contains(mark) == true
    }
}

/// Stops one process a test started (its command line names `mark`): SIGTERM, then SIGKILL
/// after `grace` seconds. Not necessarily our child, so being gone or a zombie both count.
func stopProcess(_ pid: Int32, mark: String, grace: TimeInterval) {
    guard pid > 1, commandLine(pid)?.contains(mark) == true else { return }
    kill(pid, SIGTERM)
    if !isGone(pid, within: grace) {
        kill(pid, SIGKILL)
        _ = isGone(pid, within: 5)
    }
}

func isGone(_ pid: Int32, within seconds: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while commandLine(pid) != nil {
        if Date() > deadline { return false }
        usleep(50_000)
    }
    return true
}

/// Cgroup directories named `name`, anywhere in the v1 hierarchies and the v2 one.
func cgroups(named name: String) -> [String] {
    sh(["find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", name]).out
        .split(separator: "\n").map(String.init)
}

/// Removes cgroups named `name` and the (empty) cgroups below them.
func removeCgroups(named name: String) {
    for d in cgroups(named: name) { sh(["find", d, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]) }
}

/// A file's text for a failure message.
func fileText(_ title: String, _ path: String) -> String {
    "\n\(title):\n" + ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "(none)")
}

// MARK: Networks, images and hooks

/// A conflist of one plugin: vfwire on `pf`, `vlan`, a static address, a debug log.
func vfwireConflist(_ name: String, pf: SimPF, vlan: Int, address: String, log: String) -> String {
    json(["cniVersion": "1.0.0", "name": name, "plugins": [
        ["type": "vfwire", "pf": pf.name, "vlan": vlan, "logLevel": "debug", "logFile": log,
         "ipam": ["type": "static", "addresses": [["address": address]]]] as [String: Any],
    ]])
}

/// `vfwireConflist` written to `dir`/10-`name`.conflist.
func writeNetwork(_ name: String, pf: SimPF, vlan: Int, address: String, to dir: String, log: String) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try vfwireConflist(name, pf: pf, vlan: vlan, address: address, log: log)
        .write(toFile: "\(dir)/10-\(name).conflist", atomically: true, encoding: .utf8)
}

/// A busybox root filesystem with every applet linked: nothing can be pulled here.
func busyboxRootfs(_ rootfs: String) throws {
    let fm = FileManager.default
    guard fm.isExecutableFile(atPath: "/bin/busybox") else {
        throw SetupFailure(missingTool("busybox (static)", "apt-get install -y busybox-static"))
    }
    try fm.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
    try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
    let list = sh([rootfs + "/bin/busybox", "--list"])
    let applets = list.out.split(separator: "\n").map(String.init)
    guard list.status == 0, applets.contains("sh") else { throw SetupFailure("busybox --list: \(list.out)\(list.err)") }
    for a in applets where a != "busybox" && !a.contains("/") {
        try fm.createSymbolicLink(atPath: rootfs + "/bin/" + a, withDestinationPath: "busybox")
    }
}

/// `tar -C rootfs -c . | cli... import - image`, detached (`cli` may be a client of a daemon).
func importImage(_ rootfs: String, _ image: String, with cli: [String], env: [String: String], in dir: String) -> Run {
    detached(["/bin/sh", "-c", #"r=$1 i=$2; shift 2; tar -C "$r" -c . | "$@" import - "$i""#, "import", rootfs, image] + cli,
             env: env, in: dir)
}

/// vfwire-hook's arguments for this build: its plugins and a private cache, and a conf dir if given.
func hookArgs(cache: String, confDir: String? = nil) -> [String] {
    (confDir.map { ["--conf-dir", $0] } ?? []) + ["--bin-dir", buildDir + ":" + referencePlugins, "--cache-dir", cache]
}

/// A hook entry as shipped, run from this build's vfwire-hook with `args` after its own.
func thisBuildsHook(_ hook: [String: Any], adding args: [String]) -> [String: Any] {
    var h = hook
    h["path"] = vfwireHook
    h["args"] = (h["args"] as? [String] ?? []) + args
    return h
}

/// The shipped hooks.d files (hooks/vfwire-hook-*.json) written to `dir`, each changed only in
/// its hook (`thisBuildsHook`); the stages they ask for.
@discardableResult
func writeShippedHooksDir(_ dir: String, adding args: [String]) throws -> [String] {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var stages: [String] = []
    for name in ["vfwire-hook-create.json", "vfwire-hook-poststop.json"] {
        let data = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/hooks/" + name))
        guard var file = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let hook = file["hook"] as? [String: Any] else { throw SetupFailure("hooks/\(name) has no hook object") }
        file["hook"] = thisBuildsHook(hook, adding: args)
        stages += file["stages"] as? [String] ?? []
        try json(file).write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }
    return stages
}

// MARK: podman

/// podman with everything it keeps in one scratch directory of its own.
final class Podman {
    let exe: String
    let scratch: String
    let env: [String: String]
    /// What podman creates outside its scratch directory when it is missing: the image
    /// blob-info cache, runc's state root, the cgroups conmon and the containers go in.
    let globals: GlobalPaths
    let image = "localhost/vfwire-bb"
    var netDir: String { scratch + "/net.d" }

    /// Debian's podman 4.x (the last with the CNI backend), missing, fails the test; a fresh
    /// scratch directory named `scratchPrefix`...; `alsoCreates`: paths outside it (children
    /// first) the test makes podman create, removed with `remove()` if they were not there.
    init(scratchPrefix: String, alsoCreates extra: [String] = []) throws {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin"
        guard let exe = path.split(separator: ":").map({ $0 + "/podman" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SetupFailure("podman is not installed (looked in PATH, /usr/bin, /usr/local/bin): these tests need Debian's podman 4.3 "
                + "with the CNI backend, e.g. `apt-get install -y --no-install-recommends podman catatonit`")
        }
        let version = sh([exe, "--version"])
        guard version.status == 0, version.out.contains("version 4.") else {
            throw SetupFailure("\(exe) --version: \(version.out)\(version.err): these tests need podman 4.x, the last with the CNI backend")
        }
        let cgroups = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).sorted().flatMap {
            ["/sys/fs/cgroup/\($0)/libpod_parent/conmon", "/sys/fs/cgroup/\($0)/libpod_parent"]
        }
        globals = GlobalPaths(extra + ["/var/lib/containers/cache/blob-info-cache-v1.boltdb", "/var/lib/containers/cache",
                                       "/var/lib/containers", "/run/runc"] + cgroups)
        let scratch = try makeScratch(scratchPrefix)
        self.exe = exe
        self.scratch = scratch
        env = ["PATH": runtimePath, "HOME": scratch + "/home",
               "CONTAINERS_CONF": scratch + "/containers.conf",
               "CONTAINERS_STORAGE_CONF": scratch + "/storage.conf"]
    }

    /// podman's storage, the scratch directory, and what podman made outside it (after the
    /// test removed its containers).
    func remove() {
        self(["system", "reset", "-f"])
        removeScratch(scratch)
        globals.cleanUp()
    }

    /// Private containers.conf and storage.conf: CNI from our net.d and plugin dirs, vfs storage,
    /// hooks from `hooksDir` only if given.
    func writeConfig(hooksDir: String? = nil) throws {
        let fm = FileManager.default
        for d in ["net.d", "root", "runroot", "tmp", "home"] {
            try fm.createDirectory(atPath: scratch + "/" + d, withIntermediateDirectories: true)
        }
        // No CAP_SYS_RESOURCE here: podman's default ulimits fail with EPERM.
        try """
        [containers]
        default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
        [network]
        network_backend = "cni"
        cni_plugin_dirs = ["\(buildDir)", "\(referencePlugins)"]
        network_config_dir = "\(scratch)/net.d"
        [engine]
        cgroup_manager = "cgroupfs"
        events_logger = "file"
        runtime = "runc"
        tmp_dir = "\(scratch)/tmp"
        \(hooksDir.map { "hooks_dir = [\"\($0)\"]\n" } ?? "")
        """.write(toFile: scratch + "/containers.conf", atomically: true, encoding: .utf8)
        try """
        [storage]
        driver = "vfs"
        graphroot = "\(scratch)/root"
        runroot = "\(scratch)/runroot"

        """.write(toFile: scratch + "/storage.conf", atomically: true, encoding: .utf8)
    }

    /// Runs podman detached: `podman run -d` and `podman start` leave a conmon behind that keeps
    /// every descriptor podman inherited.
    @discardableResult
    func callAsFunction(_ args: [String], cniArgs: String? = nil) -> Run {
        var e = env
        if let cniArgs { e["CNI_ARGS"] = cniArgs }
        return detached([exe] + args, env: e, in: scratch)
    }

    /// `writeConfig`, then a busybox root filesystem imported as `image`.
    func prepare(hooksDir: String? = nil) throws {
        try writeConfig(hooksDir: hooksDir)
        try busyboxRootfs(scratch + "/rootfs")
        let imported = importImage(scratch + "/rootfs", image, with: [exe], env: env, in: scratch)
        guard imported.status == 0 else { throw SetupFailure("podman import: \(imported.out)\(imported.err)") }
    }
}

// MARK: containerd

/// containerd with its root, state, sockets and plugin directory under `dir`, without the CRI
/// plugin, and ctr pointed at it.
final class Containerd {
    let dir: String
    let namespace: String
    let exe: String
    let ctrExe: String
    var socket: String { dir + "/containerd.sock" }
    var config: String { dir + "/containerd.toml" }
    var daemon: Background?

    init(dir: String, namespace: String, exe: String, ctr: String) {
        self.dir = dir; self.namespace = namespace; self.exe = exe; self.ctrExe = ctr
    }

    func writeConfig() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        version = 2
        root = "\(dir)/root"
        state = "\(dir)/state"
        disabled_plugins = ["io.containerd.grpc.v1.cri"]
        [grpc]
          address = "\(socket)"
        [ttrpc]
          address = "\(socket).ttrpc"
        [debug]
          address = "\(dir)/debug.sock"
        [plugins."io.containerd.internal.v1.opt"]
          path = "\(dir)/opt"

        """.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// Starts containerd with `env` and waits until it answers.
    func start(env: [String: String] = ["PATH": runtimePath]) throws {
        let daemon = try Background([exe, "--config", config], io: dir + "/daemon", env: env)
        self.daemon = daemon
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !daemon.finished {
            if ctr(["version"]).status == 0 { return }
            usleep(50_000)
        }
        throw SetupFailure("containerd did not come up on \(socket):\n" + log())
    }

    /// The tail of containerd's output, for a failure message.
    func log() -> String { daemon?.tail(20) ?? "(not started)" }

    func ctrCommand(_ args: [String]) -> [String] { [ctrExe, "--address", socket, "--namespace", namespace] + args }

    @discardableResult
    func ctr(_ args: [String]) -> Run { sh(ctrCommand(args)) }

    /// Stops containerd (SIGKILL after `grace` seconds), then any shim it left (found by our
    /// socket in its command line).
    func stop(grace: Double = 5) {
        daemon?.stop(grace: grace)
        for pid in processes(naming: socket) { stopProcess(pid, mark: socket, grace: 5) }
    }
}
