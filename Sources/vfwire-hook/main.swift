import CNIClient
import CNIProtocol
import FoundationEssentials
import FileSystem
import OCIHook
import Sandbox
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// vfwire-hook [create|poststop] [--conf-dir DIR] [--bin-dir DIR[:DIR…]] [--cache-dir DIR]
/// The stage comes from the first argument or, without one, from the state's status.
/// vfwire-hook prepare --bundle DIR --id ID [...] runs before `runc create`, from vfwire-runc.

var stage: String?
var confDir = "/etc/cni/net.d"
var binDirs = ["/opt/cni/bin"]
var cacheDir = "/var/lib/cni/vfwire-hook"
var bundle: String?
var containerID: String?
if let why = Sandbox.lockDown(.hook) { FS.write(fd: 2, "vfwire-hook: no seccomp sandbox: \(why)\n") }
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--conf-dir" where !args.isEmpty: confDir = args.removeFirst()
    case "--bin-dir" where !args.isEmpty: binDirs = args.removeFirst().split(separator: ":").map(String.init)
    case "--cache-dir" where !args.isEmpty: cacheDir = args.removeFirst()
    case "--bundle" where !args.isEmpty: bundle = args.removeFirst()
    case "--id" where !args.isEmpty: containerID = args.removeFirst()
    case "create", "createRuntime", "prestart", "poststop", "prepare": stage = a
    default:
        FS.write(fd: 2, "usage: vfwire-hook [create|prestart|poststop] [--conf-dir DIR] [--bin-dir DIR[:DIR]] [--cache-dir DIR]\n"
            + "       vfwire-hook prepare --bundle DIR --id ID [--conf-dir DIR] [--bin-dir DIR[:DIR]] [--cache-dir DIR]\n")
        exit(2)
    }
}

let hook = Hook(confDir: confDir, client: CNIClient(binDirs: binDirs, cacheDir: cacheDir))
if stage == "prepare" {
    guard let bundle, let containerID else { FS.write(fd: 2, "vfwire-hook: prepare needs --bundle DIR and --id ID\n"); exit(2) }
    do {
        let me = FS.readlink("/proc/self/exe") ?? CommandLine.arguments[0]
        let teardown = ["vfwire-hook", "poststop", "--conf-dir", confDir, "--bin-dir", binDirs.joined(separator: ":"), "--cache-dir", cacheDir]
        let (done, warnings) = try hook.prepare(bundle: bundle, id: containerID, teardown: (me, teardown))
        for w in warnings { FS.write(fd: 2, "vfwire-hook: warning: \(containerID): \(w)\n") }
        if !done.isEmpty { FS.write(fd: 2, "vfwire-hook: \(containerID): attached \(done.joined(separator: ", "))\n") }
        exit(0)
    } catch {
        FS.write(fd: 2, "vfwire-hook: \(containerID): \(error)\n")
        exit(1)
    }
}

let input = CNISkel.readStdin()
do {
    let state = try OCIState.parse(input)
    let which = stage ?? (state.status == "stopped" ? "poststop" : "create")
    if which == "poststop" {
        let done = try hook.poststop(state)
        if !done.isEmpty { FS.write(fd: 2, "vfwire-hook: \(state.id): detached \(done.joined(separator: ", "))\n") }
    } else {
        let done = try hook.create(state)
        if !done.isEmpty { FS.write(fd: 2, "vfwire-hook: \(state.id): attached \(done.joined(separator: ", "))\n") }
    }
    exit(0)
} catch {
    FS.write(fd: 2, "vfwire-hook: \(error)\n")
    exit(1)
}
