import CNIClient
import CNIProtocol
import FoundationEssentials
import OCIHook
import Sysfs
import VFWireTypes
#if canImport(Glibc)
import Glibc
#endif

/// vfwire-hook [create|poststop] [--conf-dir DIR] [--bin-dir DIR[:DIR…]] [--cache-dir DIR]
/// The stage comes from the first argument or, without one, from the state's status.
func say(_ fd: Int32, _ s: String) { _ = s.withCString { write(fd, $0, strlen($0)) } }

var stage: String?
var confDir = "/etc/cni/net.d"
var binDirs = ["/opt/cni/bin"]
var cacheDir = "/var/lib/cni/vfwire-hook"
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--conf-dir" where !args.isEmpty: confDir = args.removeFirst()
    case "--bin-dir" where !args.isEmpty: binDirs = args.removeFirst().split(separator: ":").map(String.init)
    case "--cache-dir" where !args.isEmpty: cacheDir = args.removeFirst()
    case "create", "createRuntime", "prestart", "poststop": stage = a
    default:
        say(2, "usage: vfwire-hook [create|prestart|poststop] [--conf-dir DIR] [--bin-dir DIR[:DIR]] [--cache-dir DIR]\n")
        exit(2)
    }
}

let input = CNISkel.readStdin()

let hook = Hook(confDir: confDir, client: CNIClient(binDirs: binDirs, cacheDir: cacheDir))
do {
    let state = try OCIState.parse(input)
    let which = stage ?? (state.status == "stopped" ? "poststop" : "create")
    if which == "poststop" {
        let done = try hook.poststop(state)
        if !done.isEmpty { say(2, "vfwire-hook: \(state.id): detached \(done.joined(separator: ", "))\n") }
    } else {
        let done = try hook.create(state)
        if !done.isEmpty { say(2, "vfwire-hook: \(state.id): attached \(done.joined(separator: ", "))\n") }
    }
    exit(0)
} catch {
    say(2, "vfwire-hook: \(error)\n")
    exit(1)
}
